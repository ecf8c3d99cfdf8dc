"""Reading a bank statement as banks export it: CSV in UTF-8 (with or without BOM) or GBK/GB18030, often
with a few lines about the account above the header row, Chinese column names, amounts written 1,250.00.

Only credit lines (money in) are kept. The reference a payer quoted (SY + 10 hex digits) is looked for in
every text cell of the line, since banks put the remark (附言) in 摘要, 用途, 附言 or 备注 as they please.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from decimal import Decimal, InvalidOperation
from functools import partial

from core.errors import InvalidInput
from licensing.schemas import StatementLine

REFERENCE = re.compile(r"SY[0-9A-F]{10}", re.IGNORECASE)
CREDIT = ("贷方金额", "贷方发生额", "收入金额", "入账金额", "收入", "贷方", "credit", "credit amount", "amount in")
AMOUNT = ("交易金额", "发生额", "金额", "amount")  # signed: negative is money out
DEBIT = ("借方金额", "借方发生额", "支出金额", "支出", "借方", "debit", "amount out")
PAYER = ("对方户名", "对方账户名称", "对方名称", "付款人名称", "付款人", "payer", "counterparty")
DATE = ("交易日期", "记账日期", "交易时间", "日期", "date", "value date")
MAX_LINES = 20_000


def decode(data: bytes) -> tuple[str, str]:
    """The text and the encoding it was in: UTF-8 first (it rarely decodes by accident), else GB18030."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding), "utf-8" if encoding == "utf-8-sig" else encoding
        except UnicodeDecodeError:
            continue
    raise InvalidInput("The statement is neither UTF-8 nor GBK text; export it as CSV",
                       zh="对账单既不是 UTF-8 也不是 GBK 编码的文本，请从网银导出 CSV 格式")


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    cleaned = [h.strip().lower().replace(" ", "").replace("(元)", "").replace("（元）", "") for h in header]
    for name in names:
        key = name.replace(" ", "")
        if key in cleaned:
            return cleaned.index(key)
    return None


def _amount(text: str) -> int | None:
    cleaned = text.strip().replace(",", "").replace("¥", "").replace("￥", "").replace("元", "")
    if not cleaned or cleaned in ("-", "--"):
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    return int((value * 100).to_integral_value())


def parse(data: bytes) -> tuple[str, list[StatementLine]]:
    """The encoding and the statement's credit lines."""
    text, encoding = decode(data)
    rows = list(csv.reader(io.StringIO(text)))[:MAX_LINES]
    for index, row in enumerate(rows):
        credit, amount = _column(row, CREDIT), _column(row, AMOUNT)
        if credit is not None or amount is not None:
            return encoding, _lines(row, rows[index + 1:], index + 2)
    raise InvalidInput("No header row with an amount column (贷方金额, 收入金额, 交易金额, Credit ...) was found",
                       zh="没有找到含金额列（贷方金额、收入金额、交易金额等）的表头行，请检查导出的对账单")


def _cell(row: list[str], index: int | None) -> str:
    return row[index].strip() if index is not None and index < len(row) else ""


def _lines(header: list[str], rows: list[list[str]], first_line: int) -> list[StatementLine]:
    credit, signed, debit = _column(header, CREDIT), _column(header, AMOUNT), _column(header, DEBIT)
    payer, date = _column(header, PAYER), _column(header, DATE)
    lines = []
    for number, row in enumerate(rows, first_line):
        cell = partial(_cell, row)
        amount = _amount(cell(credit)) if credit is not None else _amount(cell(signed))
        if amount is None or amount <= 0 or (credit is None and debit is not None and _amount(cell(debit))):
            continue  # money out, or a total or blank line
        found = REFERENCE.search(" ".join(row))
        remark = " ".join(c.strip() for i, c in enumerate(row) if i not in (credit, signed, debit, payer, date)
                          and c.strip() and _amount(c) is None)
        fingerprint = hashlib.sha256("\x1f".join(c.strip() for c in row).encode()).hexdigest()
        lines.append(StatementLine(line=number, date=cell(date), payer=cell(payer), text=remark[:200],
                                   amount_minor=amount, reference=found.group(0).upper() if found else None,
                                   outcome="unread", fingerprint=fingerprint))
    return lines

"""The receipt (收据) of a payment as a PDF, in Chinese and English, with an embedded CJK font.

The font is a file the platform's machine has (Debian's fonts-noto-cjk, or SHUYU_PDF_FONT), never one fetched
at run time; only the glyphs used are embedded, so a receipt is a few kilobytes and renders the same everywhere.
"""

from __future__ import annotations

from datetime import timedelta, timezone

from fpdf import FPDF

from core.pdf import cjk_font
from licensing.service.payer import ReceiptData

CST = timezone(timedelta(hours=8), "UTC+8")
DIGITS = "零壹贰叁肆伍陆柒捌玖"
FOOTER = ("本收据根据上列记账凭证生成；许可费为国家非税收入。\n"
          "This receipt is generated from the journal entry above; licence fees are state non-tax revenue.")
METHODS = {"bank_transfer": "银行转账 Bank transfer", "stripe": "银行卡（Stripe）Card (Stripe)"}


def _four(group: int) -> str:
    out, zero = "", False
    for place, unit in ((1000, "仟"), (100, "佰"), (10, "拾"), (1, "")):
        digit = group // place % 10
        if digit == 0:
            zero = bool(out)
            continue
        out += ("零" if zero else "") + DIGITS[digit] + unit
        zero = False
    return out


def _integer(value: int) -> str:
    groups: list[int] = []
    while value:
        value, group = divmod(value, 10000)
        groups.append(group)
    out, gap = "", False
    for index in reversed(range(len(groups))):
        group = groups[index]
        if group == 0:
            gap = True
            continue
        if out and (gap or group < 1000):
            out += "零"
        out += _four(group) + ("", "万", "亿", "万亿")[index]
        gap = False
    return out


def amount_in_words(minor: int) -> str:
    """Fen as written on Chinese financial documents (人民币大写): 123450 → 壹仟贰佰叁拾肆元伍角."""
    yuan, rest = divmod(minor, 100)
    jiao, fen = divmod(rest, 10)
    words = _integer(yuan) + "元" if yuan else ""
    if not jiao and not fen:
        return (words or "零元") + "整"
    if jiao:
        words += DIGITS[jiao] + "角"
    elif yuan:
        words += "零"
    return words + (DIGITS[fen] + "分" if fen else "")


def _money(minor: int, currency: str) -> str:
    whole, cents = divmod(abs(minor), 100)
    return f"{'-' if minor < 0 else ''}{'¥' if currency == 'CNY' else currency + ' '}{whole:,}.{cents:02d}"


def render_receipt(data: ReceiptData) -> bytes:
    """The receipt as PDF bytes."""
    font, index = cjk_font()
    pdf = FPDF(format="A4")
    pdf.set_title(f"收据 Receipt {data.number}")
    pdf.set_author("Shuyu 数域")
    pdf.add_font("cjk", fname=str(font), collection_font_number=index)
    pdf.add_page()
    pdf.set_font("cjk", size=20)
    pdf.cell(0, 12, "收  据   RECEIPT", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=10)
    paid = data.paid_at.astimezone(CST)
    pdf.cell(0, 7, f"编号 No. {data.number}        日期 Date {paid:%Y-%m-%d %H:%M} (UTC+8)", align="C",
             new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    payer = data.payer_name + (f"（统一社会信用代码 {data.payer_credit_code}）" if data.payer_credit_code else "")
    payee = data.payee_account_name + (f"\n开户行 Bank: {data.payee_bank}" if data.payee_bank else "") + (
        f"\n账号 Account: {data.payee_account_number}" if data.payee_account_number else "")
    rows = [
        ("付款单位 Payer", payer),
        ("收款单位 Payee", "非税收入 Non-tax revenue — " + payee),
        ("项目 For", f"数据使用许可 Licence {data.license_id}: {data.listing_title} — {data.offer_name}"
                     f"（{data.term_days} 天 days）"),
        ("金额 Amount", f"{_money(data.amount_minor, data.currency)} {data.currency}"),
        ("大写 In words", ("人民币" if data.currency == "CNY" else data.currency + " ")
         + amount_in_words(data.amount_minor)),
        ("付款方式 Method", METHODS.get(data.method, data.method)
         + (f"，汇款参考号 reference {data.bank_reference}" if data.bank_reference else "")),
        ("记账凭证 Booking", f"分录 Journal entry {data.journal_entry_id} · {data.booking_reference}"),
    ]
    rows += [("已退款 Refunded", f"{_money(r.amount_minor, r.currency)} · {r.created_at.astimezone(CST):%Y-%m-%d}"
              f" · {r.external_key}" + (f" · {r.reason}" if r.reason else "")) for r in data.refunds]
    for label, value in rows:
        y = pdf.get_y()
        pdf.set_xy(pdf.l_margin, y)
        pdf.multi_cell(45, 7, label, border="T", new_x="RIGHT", new_y="TOP")
        pdf.multi_cell(0, 7, value, border="T", new_x="LMARGIN", new_y="NEXT")
        pdf.set_y(max(pdf.get_y(), y + 7))
    pdf.ln(6)
    pdf.set_font("cjk", size=8)
    pdf.multi_cell(0, 5, FOOTER, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())

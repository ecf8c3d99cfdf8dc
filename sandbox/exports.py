"""A released result as a file: CSV or Excel, with a `±` column beside each value and the receipt.

Only what the API already released goes in: the values, their ± at 95%, the ε charged, the privacy
unit of the listing, the dataset version and the signed receipt (as fields and as canonical JSON, so it
can be checked offline with `shuyu receipts verify` or the Python client). Nothing is recomputed.

CSV is UTF-8 with a byte-order mark (Excel in China opens it without garbling), a block of `# key,value`
lines first (read it with `comment="#"` in pandas, `comment_prefix="#"` in Polars), then the table.
Excel has a values sheet and a receipt sheet.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import xlsxwriter
from sqlmodel import Session

from core.auth import Principal
from core.receipts import canonical
from licensing.service import license_service
from market.service.versions import versions
from sandbox.schemas import QueryResult
from sandbox.service import queries

Format = Literal["csv", "xlsx"]
PLUS_MINUS = " ±"  # the accuracy column of `n` is `n ±`
MEDIA = {"csv": "text/csv; charset=utf-8",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@dataclass(frozen=True)
class ExportFile:
    content: bytes
    media_type: str
    filename: str


class Released(Protocol):
    """A released table: a query's result, or an open statistic's table."""

    @property
    def columns(self) -> list[str]: ...
    @property
    def rows(self) -> list[list[Any]]: ...
    @property
    def accuracy(self) -> Any: ...


def table(result: Released) -> tuple[list[str], list[list[Any]]]:
    """The result's header and rows, each released value followed by its ± (empty when none is known)."""
    header: list[str] = []
    for name in result.columns:
        header += [name, name + PLUS_MINUS] if name in result.accuracy else [name]
    rows = []
    for row in result.rows:
        out: list[Any] = []
        for name, value in zip(result.columns, row, strict=True):
            out.append(value)
            if name in result.accuracy:
                out.append(result.accuracy[name].plus_minus)
        rows.append(out)
    return header, rows


def unit_words(unit: dict[str, Any]) -> tuple[str, str]:
    """What ε protects, in English and Chinese."""
    if not unit.get("column"):
        return "one row", "一行数据"
    n = unit.get("max_contributions") or 1
    return f"each {unit['column']}, up to {n} rows", f"每个 {unit['column']}，最多 {n} 行"


def facts(result: QueryResult, unit: dict[str, Any]) -> list[tuple[str, Any]]:
    """The receipt sheet: what the result is, what protects it, and the signed receipt."""
    receipt = result.receipt.model_dump()
    en, zh = unit_words(unit)
    ran_on = result.dataset
    return [
        ("query_id", result.id),
        ("sql", result.sql),
        ("dataset", ran_on.dataset if ran_on else ""),
        ("dataset_version", ran_on.version if ran_on else ""),
        ("privacy_unit", f"{en} / {zh}"),
        ("privacy_unit_column", unit.get("column") or ""),
        ("max_contributions", unit.get("max_contributions") or 1),
        ("epsilon", result.epsilon_spent_on_query),
        ("plus_minus", "± at 95% confidence (alpha 0.05) / 95% 置信水平下的误差范围"),
        ("accuracy_note", result.accuracy_note or ""),
        *((f"receipt.{key}", value) for key, value in receipt.items()),
        ("receipt_json", canonical(receipt).decode()),
        ("verify", "shuyu receipts verify, or shuyu_client.verify_receipt, with GET /api/v1/receipts/public-key"),
    ]


def to_csv(result: QueryResult, unit: dict[str, Any]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["# Shuyu 数域: differentially private result / 差分隐私查询结果"])
    for key, value in facts(result, unit):
        writer.writerow([f"# {key}", "" if value is None else value])
    header, rows = table(result)
    writer.writerow(header)
    writer.writerows([["" if v is None else v for v in row] for row in rows])
    return buffer.getvalue().encode("utf-8-sig")


def to_xlsx(result: QueryResult, unit: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_numbers": False,
                                        "strings_to_formulas": False, "strings_to_urls": False})
    bold = book.add_format({"bold": True})
    values = book.add_worksheet("values 结果")
    header, rows = table(result)
    values.write_row(0, 0, header, bold)
    for i, row in enumerate(rows, start=1):
        for j, value in enumerate(row):
            if value is not None:
                values.write(i, j, value)
    values.freeze_panes(1, 0)
    receipt = book.add_worksheet("receipt 回执")
    receipt.write_row(0, 0, ["field", "value"], bold)
    for i, (key, value) in enumerate(facts(result, unit), start=1):
        receipt.write_string(i, 0, key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            receipt.write_string(i, 1, "" if value is None else str(value))
        else:
            receipt.write_number(i, 1, value)
    receipt.set_column(0, 0, 24)
    receipt.set_column(1, 1, 80)
    book.close()
    return buffer.getvalue()


class ExportService:
    def export(self, session: Session, who: Principal, query_id: int, fmt: Format) -> ExportFile:
        """One of the caller's released results as CSV or Excel (404 for anyone else's)."""
        result = queries.get(session, who, query_id)
        licence = license_service.get(session, who, result.license_id)
        signed = getattr(result.receipt, "privacy_unit", None)  # v2 receipts name the unit; older ones do not
        unit = signed.model_dump() if signed is not None else versions.privacy_unit(session, licence.listing_id)
        content = to_csv(result, unit) if fmt == "csv" else to_xlsx(result, unit)
        return ExportFile(content, MEDIA[fmt], f"shuyu-query-{query_id}.{fmt}")


exports = ExportService()

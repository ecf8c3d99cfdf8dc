"""The privacy unit: what ε protects, said in words, and the public bound on a table's rows.

One home for three rules the market, the sandbox and the pages share:

- `describe` renders the unit sentence, "一名持卡人（card_id）最多 5 条出行记录" / "one card holder
  (card_id), up to 5 trips", or "每一条记录" / "each row" when a row is the unit.
- `row_bound` is the public upper bound on the number of rows that OpenDP is told: the provider's
  declaration, or the platform's default. It is never derived from the data, so no ± value or error
  text can depend on the true count.
- `findings` checks the unit against the upload's profile: an identifier column whose values repeat
  needs a unit (`privacy-unit-required`), and the rows must fit the public bound.
"""

from __future__ import annotations

from typing import Any

from market import contributions
from market.schemas import Dictionary, Finding, PersonRows, PrivacyUnitRead

DEFAULT_ROW_BOUND = 10_000_000  # public: what OpenDP assumes when the provider declares no bound
_FIRM_SUFFIXES = ("企业", "公司", "单位", "机构", "商户", "门店", "医院", "学校")
_VEHICLE_SUFFIXES = ("车", "车辆", "船", "船舶")


def row_bound(dictionary: Dictionary | None) -> int:
    """The public bound on the table's rows: declared in the dictionary, else the platform's default."""
    return (dictionary.row_bound if dictionary else None) or DEFAULT_ROW_BOUND


def _measure_word(label: str) -> str:
    if label.endswith(_FIRM_SUFFIXES):
        return "家"
    if label.endswith(_VEHICLE_SUFFIXES):
        return "辆"
    return "名"


def _plural(noun: str, n: int) -> str:
    if n == 1 or noun.endswith("s"):
        return noun
    if noun.endswith("y") and noun[-2:-1] not in ("a", "e", "i", "o", "u"):
        return noun[:-1] + "ies"
    return noun + ("es" if noun.endswith(("x", "ch", "sh")) else "s")


def describe(dictionary: Dictionary) -> tuple[str, str]:
    """What ε protects, in Chinese and English."""
    unit = dictionary.privacy_unit
    row_zh, row_en = dictionary.row_label_zh or "记录", dictionary.row_label_en or "row"
    if unit.column is None:
        return f"每一条{row_zh}", f"each {row_en}"
    label_zh, label_en = unit.label_zh or "个人", unit.label_en or "person"
    k = unit.max_contributions
    return (f"一{_measure_word(label_zh)}{label_zh}（{unit.column}）最多 {k} 条{row_zh}",
            f"one {label_en} ({unit.column}), up to {k} {_plural(row_en, k)}")


def summary(dictionary: Dictionary) -> PrivacyUnitRead:
    """The unit as the catalog and the query console state it."""
    zh, en = describe(dictionary)
    return PrivacyUnitRead(column=dictionary.privacy_unit.column,
                           max_contributions=dictionary.privacy_unit.max_contributions,
                           description_zh=zh, description_en=en, row_bound=row_bound(dictionary))


def person_rows(profile: dict[str, Any] | None, column: str | None) -> PersonRows | None:
    """Rows per person of one column, as the provider and the reviewer read them."""
    stats = contributions.stats_of(profile, column)
    return PersonRows.model_validate({"column": column, **stats}) if stats and stats.get("keep") else None


def findings(dictionary: dict[str, Any], profile: dict[str, Any]) -> list[Finding]:
    """The unit and the row bound checked against the upload's profile."""
    checked = Dictionary.model_validate(dictionary)
    out = _unit_findings(checked, profile)
    bound = row_bound(checked)
    if int(profile.get("rows", 0)) > bound:
        out.append(Finding(
            column=None, code="row-bound-too-small", severity="error",
            message=f"The data has more rows than the public row bound ({bound:,}): declare a larger row_bound",
            message_zh=f"数据的行数超过了公开的行数上限（{bound:,}）：请在数据字典中声明更大的 row_bound"))
    return out


def _unit_findings(dictionary: Dictionary, profile: dict[str, Any]) -> list[Finding]:
    unit = dictionary.privacy_unit
    if unit.column is not None:
        stats = contributions.stats_of(profile, unit.column)
        if stats and stats.get("max", 0) > unit.max_contributions:
            kept = next((s["rows"] for s in stats["keep"] if s["k"] >= unit.max_contributions), 1.0)
            return [Finding(
                column=unit.column, code="rows-truncated", severity="info",
                message=f"Some persons have more than {unit.max_contributions} rows; about {kept:.0%} of rows "
                        "are kept in each query",
                message_zh=f"部分个人的记录多于 {unit.max_contributions} 条；每次查询约保留 {kept:.0%} 的记录")]
        return []
    out = []
    for column in (c.name for c in dictionary.columns if c.role == "identifier"):
        stats = contributions.stats_of(profile, column)
        if stats is None or stats.get("max", 0) > 1:
            out.append(Finding(
                column=column, code="privacy-unit-required", severity="error",
                message=f"Values of the identifier {column!r} repeat (or the upload could not tell): one person "
                        f"has several rows, so a row cannot be the privacy unit. Make {column!r} the privacy unit "
                        "with a bound on rows per person",
                message_zh=f"标识字段 {column} 的取值有重复（或上传时无法确认不重复）：一个人有多条记录，不能以"
                           f"单条记录作为隐私单位。请把 {column} 设为隐私单位，并设定每人最多保留的记录数"))
    return out

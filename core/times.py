"""Reading dates and times written as text: `2013-01-01`, `2013-01-01 05:17`, `2013-01-01T05:17:09.5`,
`2013/1/1`, `2013/1/1 5:17`. One reader for the upload's checks and the sandbox's queries, so a value
counts as the same instant in both. Anything else (including an impossible date such as 2013-02-30)
reads as missing, never as an error that would carry the value.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Literal

import polars as pl

TimeKind = Literal["date", "datetime"]
_PATTERN = (r"^\s*(\d{4})[-/](\d{1,2})[-/](\d{1,2})"
            r"(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?\s*$")
_RE = re.compile(_PATTERN)


def parse_expr(column: pl.Expr, kind: TimeKind) -> pl.Expr:
    """A text (or already temporal) column as Polars Date or Datetime("us"); unreadable values become null."""
    text = column.cast(pl.String)
    parts = text.str.extract_groups(_PATTERN)

    def field(i: int, default: str = "00") -> pl.Expr:
        return parts.struct.field(str(i)).fill_null(default).str.zfill(2)

    iso = pl.concat_str([parts.struct.field("1"), pl.lit("-"), field(2), pl.lit("-"), field(3), pl.lit(" "),
                         field(4), pl.lit(":"), field(5), pl.lit(":"), field(6)])
    stamp = iso.str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S", strict=False)
    return stamp.dt.date() if kind == "date" else stamp


def parse_series(series: pl.Series, kind: TimeKind) -> pl.Series:
    return pl.select(parse_expr(pl.lit(series), kind)).to_series().alias(series.name)


def parse_one(text: str, kind: TimeKind) -> date | datetime | None:
    """One value as a date or datetime (None when it cannot be read)."""
    match = _RE.match(str(text))
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) if g else 0 for g in match.groups())
    try:
        stamp = datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
    return stamp.date() if kind == "date" else stamp


def iso(value: date | datetime) -> str:
    """The canonical text of a date (`2013-01-01`) or datetime (`2013-01-01 05:17:00`)."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return value.isoformat()

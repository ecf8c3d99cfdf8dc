"""Quality counts that need the rows, taken at upload while the plaintext exists (like `market.profile`).

Only what the dictionary in force at upload makes meaningful is counted: values outside each measure's
bounds, dates outside each date column's declared period (and values that read as no date), and how many
rows each privacy unit has. A first version has no dictionary yet, so its report
rests on the profile alone (completeness, ranges, category values).
"""

from __future__ import annotations

from typing import Any

import polars as pl

from core.times import parse_one, parse_series


def upload_quality(frame: pl.DataFrame, dictionary: dict[str, Any] | None) -> dict[str, Any]:
    """Counts outside the bounds per measure and the rows per privacy unit (JSON for the profile)."""
    if not dictionary:
        return {}
    outside: dict[str, int] = {}
    unreadable: dict[str, int] = {}
    for column in dictionary.get("columns", []):
        bounds = column.get("bounds")
        if column.get("role") == "measure" and bounds and column["name"] in frame.columns:
            values = frame[column["name"]]
            outside[column["name"]] = int(((values < bounds[0]) | (values > bounds[1])).sum())
        if column.get("time") and column["name"] in frame.columns:
            unreadable[column["name"]], count = _times(frame[column["name"]], column["time"], column.get("period"))
            if count is not None:
                outside[column["name"]] = count
    return {"outside_bounds": outside, "unreadable_times": unreadable,
            "rows_per_unit": rows_per_unit(frame, dictionary.get("privacy_unit") or {})}


def _times(values: pl.Series, kind: str, period: list[str] | None) -> tuple[int, int | None]:
    """Values that read as no date, and dates outside the declared period (None without one)."""
    parsed = parse_series(values, "date" if kind == "date" else "datetime")
    unreadable = int((values.is_not_null() & parsed.is_null()).sum())
    if not period:
        return unreadable, None
    first, last = (parse_one(v, "date" if kind == "date" else "datetime") for v in period)
    return unreadable, int(((parsed < first) | (parsed > last)).sum())


def rows_per_unit(frame: pl.DataFrame, unit: dict[str, Any]) -> dict[str, Any] | None:
    """How many rows each unit has, against the bound the dictionary declares."""
    name, bound = unit.get("column"), int(unit.get("max_contributions") or 1)
    if not name or name not in frame.columns:
        return None
    counts = frame.select(pl.col(name)).drop_nulls().group_by(name).len()
    if counts.height == 0:
        return None
    stats = counts.select(pl.col("len").max().alias("max"), pl.col("len").mean().alias("mean"),
                          (pl.col("len") > bound).sum().alias("over")).row(0, named=True)
    return {"column": name, "max_contributions": bound, "units": counts.height, "max_rows": int(stats["max"]),
            "mean_rows": round(float(stats["mean"]), 2), "units_over_bound": int(stats["over"])}

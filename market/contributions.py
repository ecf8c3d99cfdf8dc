"""How many rows each person has, and how often each category value occurs, measured at upload.

The privacy unit must be a person wherever people have several rows, and the provider (and the data
office reviewing the listing) must see what a bound on rows per person would keep. That needs facts
only the plaintext holds, so they are gathered here, at upload, beside the rest of the profile:

- `per_person`: for each column that could be an identifier (text or whole numbers, not category-like),
  the distribution of rows per distinct value (p50/p95/p99/max) and, for candidate bounds k, the share
  of persons whose rows are all kept and the share of rows kept.
- `key_counts`: for each category-like column, the rows and the distinct persons (per candidate
  identifier) behind each value, so keys confirmed from the data can be held to a minimum count.

These are raw-data facts: they stay in the profile, which only the provider reads, and in the review
page of the data office. No catalog entry, public page, query result or error ever carries them.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from market.schemas import ColumnProfile

CANDIDATE_KS = (1, 2, 3, 5, 10, 20, 50, 100, 1000)
MAX_CANDIDATES = 8  # identifier candidates profiled per upload: each costs one hash group-by
# Keys confirmed from the data without the provider's statement that they are public knowledge must each
# occur in at least this many rows and persons, so no single person's presence decides the key list.
MIN_KEY_ROWS = 10
MIN_KEY_PERSONS = 5


def candidates(columns: list[ColumnProfile]) -> list[str]:
    """Columns that may identify a person: text or whole numbers with many distinct values."""
    found = [c for c in columns if c.dtype in ("string", "int") and c.values is None and c.distinct > 1]
    found.sort(key=lambda c: not c.looks_like)  # identifier-looking columns first
    return [c.name for c in found[:MAX_CANDIDATES]]


def profile(frame: pl.DataFrame, columns: list[ColumnProfile]) -> dict[str, Any]:
    """The `per_person` and `key_counts` parts of an upload's profile (JSON-ready)."""
    ids = candidates(columns)
    categories = [c for c in columns if c.values]
    # Counting 64-bit hashes is several times faster than counting strings; a collision can only merge two
    # persons, which overstates rows per person (the cautious direction).
    hashed = frame.select(*[pl.when(pl.col(i).is_null()).then(None).otherwise(pl.col(i).hash(seed=0)).alias(i)
                            for i in ids], *[pl.col(c.name) for c in categories if c.name not in ids])
    per = {name: per_person(hashed[name]) for name in ids}
    # Where every value is on one row (and none is missing), the persons behind a key are its rows.
    repeating = [i for i in ids if per[i].get("max", 0) > 1 or per[i]["null_rows"]]
    return {"per_person": per, "key_counts": {c.name: _key_counts(hashed, c.name, c.values, ids, repeating)
                                              for c in categories}}


def per_person(series: pl.Series) -> dict[str, Any]:
    """Rows per distinct value of `series`: quantiles, maximum, and what each candidate k would keep."""
    present = series.drop_nulls()
    # Run lengths of the sorted values are the rows per value (about 3× faster than a hash group-by here).
    counts = present.sort().rle().struct.field("len").cast(pl.Int64)
    persons, rows = counts.len(), int(counts.sum())
    out: dict[str, Any] = {"persons": persons, "rows": rows, "null_rows": series.len() - present.len()}
    if persons == 0:
        return out | {"p50": 0, "p95": 0, "p99": 0, "max": 0, "keep": []}
    top = int(counts.max())  # type: ignore[arg-type]
    out |= {f"p{q}": int(counts.quantile(q / 100, "higher") or 0) for q in (50, 95, 99)}
    keep = []
    for k in CANDIDATE_KS:
        keep.append({"k": k, "persons": float((counts <= k).sum()) / persons,
                     "rows": float(counts.clip(upper_bound=k).sum()) / rows})
        if k >= top:
            break
    return out | {"max": top, "keep": keep}


def _key_counts(frame: pl.DataFrame, column: str, values: list[Any] | None, ids: list[str],
                repeating: list[str]) -> dict[str, Any]:
    others = [i for i in repeating if i != column]
    # Positional names: a column called like a result column must not collide with it.
    grouped = frame.group_by(pl.col(column).alias("key")).agg(
        pl.len().alias("rows"), *[pl.col(i).drop_nulls().n_unique().alias(f"p{j}") for j, i in enumerate(others)])
    by_value = {row["key"]: row for row in grouped.iter_rows(named=True)}
    ordered = [by_value.get(v, {}) for v in values or []]
    rows = [int(r.get("rows", 0)) for r in ordered]
    persons = {i: [int(r.get(f"p{j}", 0)) for r in ordered] for j, i in enumerate(others)}
    return {"rows": rows, "persons": {i: persons.get(i, rows) for i in ids if i != column}}


def rare_keys(profile: dict[str, Any] | None, column: str, keys: list[Any], unit: str | None) -> list[Any]:
    """The keys of `column` seen in fewer than MIN_KEY_ROWS rows or MIN_KEY_PERSONS persons of the unit.

    With a row as the unit every row is a person. A key the profile cannot vouch for counts as rare."""
    seen = next((c for c in (profile or {}).get("columns", []) if c["name"] == column), None)
    counts = (profile or {}).get("key_counts", {}).get(column)
    if seen is None or counts is None or not seen.get("values"):
        return list(keys)
    index = {str(v): i for i, v in enumerate(seen["values"])}
    persons = counts["persons"].get(unit) if unit else counts["rows"]
    rare = []
    for key in keys:
        i = index.get(str(key))
        if i is None or persons is None or counts["rows"][i] < MIN_KEY_ROWS or persons[i] < MIN_KEY_PERSONS:
            rare.append(key)
    return rare


def stats_of(profile: dict[str, Any] | None, column: str | None) -> dict[str, Any] | None:
    """The rows-per-person statistics of one column, if the upload measured them."""
    if not profile or column is None:
        return None
    found = profile.get("per_person", {}).get(column)
    return dict(found) if found is not None else None

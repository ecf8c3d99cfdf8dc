"""What an upload looks like, computed in memory while the plaintext exists, and the checks of a
dictionary against it.

After the upload request the data is ciphertext that only the sandbox can open, so everything the
provider may later want checked is gathered here: per column its nulls, distinct count, numeric
range, the values of category-like columns (few distinct values, each repeated), and whether the
column looks like a personal identifier. Identifier-looking and unique-per-row columns keep no
values and no range: the profile must not become a copy of the data it describes.
"""

from __future__ import annotations

import math
import re
from typing import Any

import polars as pl

from core.times import iso, parse_one, parse_series
from market import contributions, unit
from market.schemas import ColumnProfile, Finding

KEY_LIMIT = 100  # category values kept per column
KEY_LENGTH = 64  # longer values are free text, not categories
SAMPLE = 5000  # values examined for identifier patterns
PATTERN_SHARE = 0.5
EXACT_DISTINCT = 1000
UNIQUE_SHARE = 0.98  # all but a few values different: a key or free text, not a category
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
ID_RE = re.compile(r"^[1-9]\d{5}(18|19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])\d{3}[\dX]$")
PHONE_RE = re.compile(r"^(?:\+?86)?1[3-9]\d{9}$")


def is_id_card(value: str) -> bool:
    """An 18-digit resident identity number (GB 11643-1999) with a valid ISO 7064 MOD 11-2 check digit."""
    value = value.strip().upper()
    if not ID_RE.match(value):
        return False
    total = sum(int(d) * w for d, w in zip(value[:17], ID_WEIGHTS, strict=True))
    return ID_CHECK[total % 11] == value[17]


def is_mobile_phone(value: str) -> bool:
    return bool(PHONE_RE.match(re.sub(r"[\s-]", "", value)))


def _looks_like(series: pl.Series) -> list[str]:
    sample = series.drop_nulls().cast(pl.String)
    if sample.len() == 0:
        return []
    if sample.len() > SAMPLE:
        sample = sample.sample(SAMPLE, seed=0)
    values = sample.to_list()
    found = []
    for name, test in (("id_card", is_id_card), ("mobile_phone", is_mobile_phone)):
        if sum(map(test, values)) >= PATTERN_SHARE * len(values):
            found.append(name)
    return found


def _distinct(present: pl.Series) -> int:
    """Exact up to EXACT_DISTINCT values; above that a HyperLogLog estimate (exact counting of ten million
    strings costs a second, and nothing here needs more than "many")."""
    if present.len() == 0:
        return 0
    estimate = int(present.approx_n_unique())  # type: ignore[arg-type]
    return int(present.n_unique()) if estimate <= EXACT_DISTINCT else estimate


def _time_range(present: pl.Series) -> tuple[str, str] | None:
    """The earliest and latest value of a text column whose every value reads as a date or time."""
    if present.len() == 0 or parse_series(present.head(SAMPLE), "datetime").null_count():
        return None
    parsed = parse_series(present, "datetime")
    if parsed.null_count():
        return None
    low, high = parsed.min(), parsed.max()
    dated = all(v.hour == v.minute == v.second == 0 for v in (low, high))  # type: ignore[union-attr]
    return (iso(low.date()), iso(high.date())) if dated else (iso(low), iso(high))  # type: ignore[union-attr,arg-type]


def column_profile(series: pl.Series, dtype: str) -> ColumnProfile:
    present = series.drop_nulls()
    distinct = _distinct(present)
    looks_like = _looks_like(series) if dtype in ("string", "int") else []
    times = _time_range(present) if dtype == "string" and not looks_like else None
    # Dates repeat seldom, yet they are not identifiers: a time column is bucketed, never keyed by value.
    if dtype == "string" and times is None and present.len() >= 20 and distinct >= UNIQUE_SHARE * present.len():
        looks_like.append("unique_per_row")
    profile = ColumnProfile(name=series.name, dtype=dtype, nulls=series.null_count(), distinct=distinct,
                            looks_like=looks_like)
    if times is not None:
        profile.earliest, profile.latest = times
    if looks_like:
        return profile
    if dtype in ("int", "float") and present.len():
        low, high = present.min(), present.max()
        profile.min, profile.max = _finite(low), _finite(high)
    if dtype in ("string", "int", "bool") and 0 < distinct <= KEY_LIMIT and distinct * 2 <= present.len():
        values = present.unique().sort().to_list()
        if all(len(str(v)) <= KEY_LENGTH for v in values):
            profile.values = values
    return profile


def _finite(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def profile_frame(frame: pl.DataFrame, dtypes: dict[str, str]) -> dict[str, Any]:
    """The stored profile of one upload (JSON)."""
    columns = [column_profile(frame[name], dtypes[name]) for name in frame.columns]
    return {"rows": frame.height, "columns": [c.model_dump() for c in columns],
            **contributions.profile(frame, columns)}


def findings(dictionary: dict[str, Any] | None, profile: dict[str, Any] | None) -> list[Finding]:
    """The dictionary checked against the data: problems to fix (error), to look at (warning), hints (info)."""
    if not profile:
        return []
    columns = {c["name"]: ColumnProfile.model_validate(c) for c in profile["columns"]}
    if not dictionary:
        return [Finding(column=None, code="no-dictionary", severity="info",
                        message="Write the data dictionary; it will be checked against this data")]
    out: list[Finding] = []
    for entry in dictionary.get("columns", []):
        seen = columns.get(entry["name"])
        if seen is not None:
            out += _column_findings(entry, seen)
    return out + unit.findings(dictionary, profile)


def _column_findings(entry: dict[str, Any], seen: ColumnProfile) -> list[Finding]:
    role, name = entry["role"], entry["name"]
    out: list[Finding] = []
    if seen.looks_like and role in ("dimension", "measure"):
        kinds = " and ".join(k.replace("_", " ") for k in seen.looks_like)
        out.append(Finding(column=name, code="identifier-exposed", severity="error",
                           message=f"{name!r} looks like {kinds} values but is a {role}: make it an identifier "
                                   "or exclude it"))
    if role == "measure":
        out += _bounds_findings(name, entry.get("bounds"), seen)
    if role == "dimension" and entry.get("time"):
        out += _period_findings(name, entry.get("period"), seen)
    elif role == "dimension":
        out += _keys_findings(name, entry.get("keys"), seen)
    return out


def _period_findings(name: str, period: list[str] | None, seen: ColumnProfile) -> list[Finding]:
    if not period:
        return [Finding(column=name, code="period-missing", severity="warning",
                        message=f"Declare the period of {name!r} (its first and last date): without it, queries "
                                "cannot group it by year, month or hour",
                        message_zh=f"请声明 {name} 的时间范围（首末日期）：否则查询无法按年、月或小时分组")]
    if seen.earliest is None or seen.latest is None:
        return [Finding(column=name, code="dates-unreadable", severity="warning",
                        message=f"Some values of {name!r} do not read as dates (2013-01-01, 2013/1/1 or "
                                "2013-01-01 05:17): they count as missing in queries",
                        message_zh=f"{name} 的部分取值无法识别为日期（应为 2013-01-01、2013/1/1 或 2013-01-01 05:17 等"
                                   "格式）：查询时按缺失处理")]
    first, last, low, high = (parse_one(v, "datetime") for v in (*period, seen.earliest, seen.latest))
    if None not in (first, last, low, high) and (low < first or high > last):  # type: ignore[operator]
        return [Finding(column=name, code="dates-outside-period", severity="warning",
                        message=f"The data of {name!r} spans {seen.earliest} to {seen.latest}, outside its declared "
                                f"period {period[0]} to {period[1]}: those rows fall in no time bucket",
                        message_zh=f"{name} 的数据范围为 {seen.earliest} 至 {seen.latest}，超出声明的时间范围 "
                                   f"{period[0]} 至 {period[1]}：这些记录不落入任何时间分组")]
    return []


def _bounds_findings(name: str, bounds: list[float] | None, seen: ColumnProfile) -> list[Finding]:
    if not bounds or seen.min is None or seen.max is None:
        return []
    low, high = bounds
    if seen.min >= low and seen.max <= high:
        return _extremes_findings(name, low, high, seen)
    return [Finding(column=name, code="values-outside-bounds", severity="warning",
                    message=f"The data of {name!r} spans [{seen.min:g}, {seen.max:g}], outside its bounds "
                            f"[{low:g}, {high:g}]: values beyond them are clamped, which biases sums and means")]


def _extremes_findings(name: str, low: float, high: float, seen: ColumnProfile) -> list[Finding]:
    """Bounds are public: copied from the data's own minimum or maximum, they publish that value."""
    if low != seen.min and high != seen.max:
        return []
    return [Finding(column=name, code="bounds-reveal-extremes", severity="warning",
                    message=f"The bounds of {name!r} equal the observed min/max, which reveals them: widen them to "
                            "public limits (e.g. the legal or physical range)",
                    message_zh=f"{name} 的取值范围等于数据中实际出现的最小值/最大值，会泄露这些值：请放宽到公开的"
                               "界限（如法定或物理上的范围）")]


def _keys_findings(name: str, keys: list[Any] | None, seen: ColumnProfile) -> list[Finding]:
    if seen.values is None:
        return [] if keys else [Finding(column=name, code="keys-unknown", severity="info",
                                        message=f"{name!r} has no public keys, and too many distinct values to "
                                                "suggest any")]
    if not keys:
        return [Finding(column=name, code="keys-suggested", severity="info",
                        message=f"{name!r} has {len(seen.values)} distinct values; if they are public knowledge, "
                                "confirm them as its keys (POST /datasets/{id}/dictionary/keys)")]
    data, listed = {str(v) for v in seen.values}, {str(k) for k in keys}
    out = []
    never = sorted(listed - data)
    if never:
        out.append(Finding(column=name, code="keys-never-occur", severity="warning",
                           message=f"Keys of {name!r} that never occur in the data: {', '.join(never[:20])}"))
    missing = sorted(data - listed)
    if missing:
        out.append(Finding(column=name, code="values-not-in-keys", severity="warning",
                           message=f"{len(missing)} values of {name!r} are not among its keys (grouped results "
                                   f"leave them out): {', '.join(missing[:10])}"))
    return out


def dictionary_changes(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[str]:
    """What a proposed dictionary changes, as sentences for the reviewer."""
    if not old:
        return ["First dictionary"] if new else []
    if not new:
        return []
    before = {c["name"]: c for c in old.get("columns", [])}
    after = {c["name"]: c for c in new.get("columns", [])}
    out = [f"Column {n!r} added as {after[n]['role']}" for n in after if n not in before]
    out += [f"Column {n!r} removed" for n in before if n not in after]
    for name in (n for n in after if n in before):
        out += _column_changes(name, before[name], after[name])
    if old.get("privacy_unit") != new.get("privacy_unit"):
        out.append(f"Privacy unit {old.get('privacy_unit')} → {new.get('privacy_unit')}")
    return out


def _column_changes(name: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    out = []
    for field in ("role", "bounds", "time", "period", "description"):
        if old.get(field) != new.get(field):
            out.append(f"{name!r}: {field} {old.get(field)!r} → {new.get(field)!r}")
    added = [k for k in new.get("keys") or [] if k not in (old.get("keys") or [])]
    removed = [k for k in old.get("keys") or [] if k not in (new.get("keys") or [])]
    if added:
        out.append(f"{name!r}: keys added {added}")
    if removed:
        out.append(f"{name!r}: keys removed {removed}")
    return out

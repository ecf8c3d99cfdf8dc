"""QuerySpec → an OpenDP measurement over a LazyFrame, its ε cost and accuracy; then the release.

The measurement is built directly with `make_private_lazyframe` on a placeholder frame (no data):
its noise scale depends only on the plan, the public dictionary and ε, so `compile_query` is cached
by shape. `release` is the only function here that touches data, and only through a LazyFrame.

Plan shape, chosen to stay clear of two open OpenDP 0.16 privacy bugs:
  filter(WHERE) → [truncate rows per identifier] → group_by.agg(noisy stats) → join onto public keys
No column is ever redefined after truncation (#2949): clipping and null-filling happen inside each
aggregate expression. The frame margin's `max_length` (`max_rows`) must be at least the number of
rows one privacy unit may contribute (#2945), which compile_query enforces.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from types import MappingProxyType
from typing import Any, Literal

import opendp.prelude as dp
import polars as pl
from opendp.extras.polars import Bound, Margin, dp_len

from core.times import TimeKind, parse_expr, parse_one
from sandbox import accuracy
from sandbox.spec import (
    Aggregate,
    Bin,
    BoolOp,
    Bucket,
    Case,
    ColumnInfo,
    Comparison,
    Filter,
    Key,
    Policy,
    Post,
    QuerySpec,
    TableInfo,
    bin_of,
    bucket_of,
    case_of,
    period_of,
)
from sandbox.sql import MAX_INTEGER_KEYS, QueryNotAllowed

dp.enable_features("contrib")

ALPHA = 0.05
MAX_GROUPS = 100_000  # public-key cross products beyond this are refused: the release would be all noise
MAX_CANDIDATES = 1001  # quantile candidates across the bounds
_PROBE_THRESHOLD = 2**32 - 1
# Dates and times reach OpenDP as whole numbers (days, or microseconds, since 1970-01-01): order and
# equality are kept, and the domain stays one OpenDP's Polars support is sure of.
_POLARS_TYPES: dict[str, pl.DataType] = {
    "string": pl.String(), "int": pl.Int64(), "float": pl.Float64(), "bool": pl.Boolean(),
    "date": pl.Int64(), "datetime": pl.Int64(),
}
_ATOMS = {pl.String(): "String", pl.Int64(): "i64", pl.Float64(): "f64", pl.Boolean(): "bool"}
_EPOCH = datetime(1970, 1, 1)

StatKind = Literal["len", "count", "sum", "quantile", "sumsq", "distinct"]
Make = Callable[[float, int | None], Any]  # (global noise scale, count threshold) → measurement


@dataclass(frozen=True)
class Stat:
    """One noisy statistic the OpenDP plan releases; several aggregates may share one."""

    name: str
    kind: StatKind
    column: str | None = None
    bounds: tuple[float, float] | None = None
    level: float | None = None


@dataclass(frozen=True)
class Compiled:
    """A compiled query: the measurement, what it costs and how accurate it is.

    `accuracy` maps each aggregate alias to its expected ± at 95% (see `sandbox.accuracy`: means and
    quantiles assume a group's even share of the public row bound until released values refine it).
    `epsilon_cost` and `delta_cost` are OpenDP's own privacy map of the measurement at the table's
    privacy unit.
    """

    spec: QuerySpec
    policy: Policy
    measurement: Any
    d_in: Any
    scale: float
    threshold: int | None
    epsilon_cost: float
    delta_cost: float
    accuracy: dict[str, float | None]
    accuracy_note: str
    stats: tuple[Stat, ...]
    stat_accuracy: Mapping[str, tuple[float, float]]  # stat → (± at α, ± at α/2 for means)
    schema: Mapping[str, pl.DataType]  # the columns the plan reads, with the types the domain claims
    stat_scale: Mapping[str, float]  # stat → its noise scale
    share: float  # rows per group if the public row bound were spread evenly over the public keys
    quantile_geometry: Mapping[str, tuple[float, float]]  # quantile (column|bounds|level) → (rank error R, step)
    times: Mapping[str, TimeKind] = dataclasses.field(default_factory=dict)  # date/datetime columns (see `_prepare`)
    sources: Mapping[str, pl.DataType] = dataclasses.field(default_factory=dict)  # columns bins read, declared types
    periods: Mapping[str, tuple[datetime, datetime]] = dataclasses.field(default_factory=dict)  # bucketed columns


def compile_query(spec: QuerySpec, table: TableInfo, policy: Policy, epsilon: float) -> Compiled:
    """Compile a parsed query into an OpenDP measurement costing at most `epsilon` (cached by shape)."""
    if not (isinstance(epsilon, (int, float)) and math.isfinite(epsilon) and epsilon > 0):
        raise QueryNotAllowed("epsilon must be a positive number", hint="for example 0.5")
    cached = _compile_cached(spec, table, policy, float(epsilon))
    return dataclasses.replace(cached, accuracy=dict(cached.accuracy))  # the caller's own copy


@functools.lru_cache(maxsize=512)
def _compile_cached(spec: QuerySpec, table: TableInfo, policy: Policy, epsilon: float) -> Compiled:
    _check(spec, table, policy)
    unknown_keys = any(_public_keys(_group_info(spec, table, g)) is None for g in spec.group_by)
    stats = _stats(spec, need_len=policy.min_group_size > 0 or unknown_keys)
    schema = _schema(spec, stats, table)
    make = _factory(spec, table, stats, schema, unknown_keys)
    _, d_in = _privacy_unit(table)
    measurement, scale, threshold = _calibrate(make, d_in, epsilon, policy.delta if unknown_keys else None)
    loss = measurement.map(d_in)
    eps_cost, delta_cost = loss if isinstance(loss, tuple) else (loss, 0.0)
    if eps_cost > epsilon:
        raise RuntimeError(f"calibration left the plan at ε={eps_cost}, above the requested {epsilon}")
    stat_acc = _stat_accuracy(measurement)
    scales = _stat_scales(measurement)
    share = table.max_rows / _groups(spec, table)
    geometry = _quantile_geometry(spec, table, scale)
    return Compiled(
        spec=spec, policy=policy, measurement=measurement, d_in=d_in, scale=scale, threshold=threshold,
        epsilon_cost=float(eps_cost), delta_cost=float(delta_cost),
        accuracy=_accuracy(spec, stats, stat_acc, scales, share, geometry),
        accuracy_note=_accuracy_note(spec, table, scale),
        stats=stats, stat_accuracy=MappingProxyType(stat_acc), schema=MappingProxyType(schema),
        stat_scale=MappingProxyType(scales), share=share, quantile_geometry=MappingProxyType(geometry),
        times=MappingProxyType(_times(table)), sources=MappingProxyType(_bin_sources(spec, table)),
        periods=MappingProxyType(_periods(spec, table)),
    )


def _bin_sources(spec: QuerySpec, table: TableInfo) -> dict[str, pl.DataType]:
    """The columns the query's bins read, with their declared types (cleaned as `_clean` does first)."""
    out: dict[str, pl.DataType] = {}
    for name in spec.group_by:
        binned = bin_of(name)
        for column in binned.columns() if binned is not None else ():
            out[column] = _POLARS_TYPES[_info(table, column).dtype]
    return out


def _periods(spec: QuerySpec, table: TableInfo) -> dict[str, tuple[datetime, datetime]]:
    """The declared period of each bucketed column: a row dated outside it falls in no bucket."""
    out: dict[str, tuple[datetime, datetime]] = {}
    for name in spec.group_by:
        bucket = bucket_of(name)
        period = period_of(_info(table, bucket.column)) if bucket is not None else None
        if period is not None:
            out[bucket.column] = period  # type: ignore[union-attr]
    return out


def _factory(spec: QuerySpec, table: TableInfo, stats: tuple[Stat, ...], schema: dict[str, pl.DataType],
             unknown_keys: bool) -> Make:
    """make(scale, threshold) → the measurement of this plan at that noise scale."""
    plan = _plan(spec, table, stats, None if unknown_keys else _keys_frame(spec, table), schema)
    domain = _domain(table, schema, spec.group_by if unknown_keys else ())
    metric, _ = _privacy_unit(table)
    measure = dp.approximate(dp.max_divergence()) if unknown_keys else dp.max_divergence()

    def make(scale: float, threshold: int | None = None) -> Any:
        try:
            return dp.m.make_private_lazyframe(domain, metric, measure, plan, global_scale=scale,
                                               threshold=threshold)
        except dp.OpenDPException as err:
            message = str(err.message or err).strip()
            raise QueryNotAllowed(f"OpenDP cannot release this query privately ({message})",
                                  hint="simplify the query or ask the data provider to review the dictionary"
                                  ) from None

    return make


def _wide_integer_measure(info: ColumnInfo) -> bool:
    """An integer measure with more integers within its bounds than MAX_INTEGER_KEYS (e.g. an income)."""
    if info.role != "measure" or info.dtype != "int" or info.bounds is None:
        return False
    return (info.key_count() or 0) > MAX_INTEGER_KEYS


def _public_keys(info: ColumnInfo) -> tuple[Key, ...] | None:
    """The keys a GROUP BY on this column uses, or None when they are not public: a dimension without
    keys, or a wide integer measure (too many integers to list; where the policy allows unknown keys it is
    grouped like such a dimension, and only groups above OpenDP's noisy threshold are released)."""
    return None if _wide_integer_measure(info) else info.group_keys()


def _info(table: TableInfo, name: str) -> ColumnInfo:
    info = table.column(name, exact=True)
    if info is None:
        raise QueryNotAllowed(f'unknown column "{name}"', hint="parse the query against this table first")
    return info


def _times(table: TableInfo) -> dict[str, TimeKind]:
    return {c.name: "date" if c.dtype == "date" else "datetime" for c in table.columns
            if c.dtype in ("date", "datetime")}


def _group_info(spec: QuerySpec, table: TableInfo, name: str) -> ColumnInfo:
    """A group column as the plan sees it: a table column, or a time bucket with the keys its period implies."""
    try:
        binned, bucket = bin_of(name), bucket_of(name)
    except (ValueError, KeyError, TypeError):  # a spec from elsewhere than our parser
        raise QueryNotAllowed(f'unknown group column "{name}"') from None
    if binned is not None:
        return _bin_info(table, name, binned)
    if bucket is None:
        return _info(table, name)
    source = _info(table, bucket.column)
    period = period_of(source)
    if period is None or (bucket.unit == "hour" and source.dtype == "date"):
        raise QueryNotAllowed(f'column "{source.name}" has no declared period of dates or times to bucket')
    if bucket.count(*period) > MAX_INTEGER_KEYS * 100:
        raise QueryNotAllowed(f'{name}: more than {MAX_INTEGER_KEYS} public keys')
    keys = bucket.keys(source.dtype, *period, spec.where)
    return ColumnInfo(name, "dimension", bucket.dtype, keys=keys)


def _bin_info(table: TableInfo, name: str, binned: Bin) -> ColumnInfo:
    for column in binned.columns():
        info = _info(table, column)
        if info.role not in ("dimension", "measure") or info.dtype in ("date", "datetime") or \
                (binned.column is not None and (info.role != "measure" or info.dtype not in ("int", "float"))):
            raise QueryNotAllowed(f'column "{column}" cannot be binned')
    bounds = _info(table, binned.column).bounds if binned.column is not None else None
    if binned.column is not None and (bounds is None or binned.count(bounds) > MAX_INTEGER_KEYS):
        raise QueryNotAllowed(f'{name}: more than {MAX_INTEGER_KEYS} public keys, or no bounds to bin')
    return ColumnInfo(name, "dimension", binned.dtype, keys=binned.keys(bounds))


def _check(spec: QuerySpec, table: TableInfo, policy: Policy) -> None:
    """Re-check what the privacy analysis relies on: a spec may have come over the wire."""
    if spec.table.lower() != table.name.lower():
        raise QueryNotAllowed(f'the query is for table "{spec.table}", not "{table.name}"')
    bound = table.max_contributions
    if bound < 1 or table.max_rows < bound:
        raise QueryNotAllowed(
            f"the data dictionary is inconsistent: max_rows ({table.max_rows}) must be at least "
            f"max_contributions ({bound}), which must be at least 1",
            hint="ask the data provider to correct the dictionary")
    if table.privacy_unit is not None:
        unit = _info(table, table.privacy_unit)
        if unit.role != "identifier" or unit.dtype not in _POLARS_TYPES:
            raise QueryNotAllowed(f'the privacy unit "{unit.name}" must be an identifier column of a basic type')
    for name in spec.group_by:
        info = _group_info(spec, table, name)
        count = info.key_count()  # a wide measure's keys are never listed: [0, 1e12] would be a trillion
        if info.dtype in ("date", "datetime"):
            raise QueryNotAllowed(f'column "{name}" cannot be grouped on: group by a time bucket of it')
        if (bucket_of(name) or bin_of(name)) is not None and not 0 < (count or 0) <= MAX_INTEGER_KEYS:
            raise QueryNotAllowed(f"{name}: {count or 0} public keys, not between 1 and {MAX_INTEGER_KEYS}")
        if info.role == "dimension" or (count is not None and count <= MAX_INTEGER_KEYS):
            if count is None and not (policy.allow_unknown_keys and policy.delta > 0):
                raise QueryNotAllowed(f'the keys of column "{name}" are not public, so it cannot be grouped on')
            continue
        if _wide_integer_measure(info) and policy.allow_unknown_keys and policy.delta > 0:
            continue  # grouped like a dimension without public keys: OpenDP's threshold decides the groups
        raise QueryNotAllowed(f'column "{name}" cannot be grouped on')
    leaves = _leaves(spec)
    for agg in leaves:
        _check_aggregate(agg, table)
    if any(a.kind == "count_distinct" for a in leaves) and any(a.kind != "count_distinct" for a in leaves):
        raise QueryNotAllowed(
            f'COUNT(DISTINCT {table.privacy_unit}) must be asked in a query of its own',
            hint="it counts persons after grouping rows by person, so other aggregates cannot share its plan; "
                 "ask them in a second query")


def _check_case(agg: Aggregate, case: Case, table: TableInfo) -> None:
    if agg.kind not in ("count", "sum", "avg"):
        raise QueryNotAllowed(f"{agg.alias}: CASE is allowed inside SUM, AVG and COUNT only")
    for name in case.columns():
        if _info(table, name).role not in ("dimension", "measure"):
            raise QueryNotAllowed(f'{agg.alias}: column "{name}" cannot be used in CASE')
    for branch in case.branches:
        if branch[0] == "col":
            info = _info(table, branch[1])
            lo, hi = info.bounds or ((0, 1) if info.dtype == "bool" else (math.nan, math.nan))
            if info.role != "measure" or not lo <= branch[2] <= branch[3] <= hi:
                raise QueryNotAllowed(f'{agg.alias}: the bounds of "{branch[1]}" in CASE must narrow the dictionary\'s')
    if agg.kind != "count" and agg.bounds != case.bounds():
        raise QueryNotAllowed(f"{agg.alias}: the bounds of a CASE are those of its values")


def _leaves(spec: QuerySpec) -> tuple[Aggregate, ...]:
    """Every released aggregate the query needs: those selected, and those inside expressions and HAVING."""
    out: list[Aggregate] = []
    for agg in spec.aggregates:
        out.extend(agg.leaves())
    for _, post in spec.computed:
        out.extend(Aggregate("", "expr", post=post).leaves())
    return tuple(dict.fromkeys(out))


def _check_aggregate(agg: Aggregate, table: TableInfo) -> None:
    if agg.kind == "expr":
        raise QueryNotAllowed(f"{agg.alias}: an expression cannot be nested as a released aggregate")
    if agg.column is None:
        if agg.kind != "count":
            raise QueryNotAllowed(f"{agg.alias}: only COUNT may omit its column")
        return
    case = case_of(agg.column)
    if case is not None:
        _check_case(agg, case, table)
        return
    info = _info(table, agg.column)
    if agg.kind in ("count", "count_distinct") and info.name == table.privacy_unit:
        return  # counting the privacy unit's rows, or its persons
    if agg.kind == "count_distinct":
        raise QueryNotAllowed(f'{agg.alias}: only the privacy unit can be counted distinctly')
    if info.role not in ("dimension", "measure") or (agg.kind != "count" and info.role != "measure"):
        raise QueryNotAllowed(f'{agg.alias}: column "{agg.column}" cannot be aggregated this way')
    if agg.kind != "count":
        lo, hi = agg.bounds or (math.nan, math.nan)
        dict_lo, dict_hi = info.bounds or ((0, 1) if info.dtype == "bool" else (math.nan, math.nan))
        if not (dict_lo <= lo < hi <= dict_hi):
            raise QueryNotAllowed(f'{agg.alias}: the bounds of "{agg.column}" must narrow the dictionary\'s')
    if agg.kind == "quantile" and not (agg.quantile is not None and 0 < agg.quantile < 1):
        raise QueryNotAllowed(f"{agg.alias}: the quantile level must lie strictly between 0 and 1")


# the plan


def _stats(spec: QuerySpec, need_len: bool) -> tuple[Stat, ...]:
    """The distinct noisy statistics behind the aggregates; AVG is a noisy sum over a noisy count."""
    wanted: list[tuple[StatKind, str | None, tuple[float, float] | None, float | None]] = []
    leaves = _leaves(spec)
    for agg in leaves:
        wanted.extend(_stat_keys(agg))
    if need_len and not _distinct(leaves):
        wanted.append(("len", None, None, None))
    # One canonical order: queries asking the same statistics in another order build the same plan,
    # so a stored release can answer them (see sandbox.cache).
    unique = sorted(dict.fromkeys(wanted), key=_stat_order)
    return tuple(Stat(f"__dp{i}", *key) for i, key in enumerate(unique))


def _stat_order(key: tuple[StatKind, str | None, tuple[float, float] | None, float | None]) -> tuple[Any, ...]:
    kind, column, bounds, level = key
    return (kind, column or "", tuple(float(b) for b in bounds or ()), level if level is not None else -1.0)


def _stat_keys(agg: Aggregate) -> list[tuple[StatKind, str | None, tuple[float, float] | None, float | None]]:
    if agg.kind == "count":
        return [("len", None, None, None)] if agg.column is None else [("count", agg.column, None, None)]
    if agg.kind == "sum":
        return [("sum", agg.column, agg.bounds, None)]
    if agg.kind == "avg":
        return [("sum", agg.column, agg.bounds, None), ("count", agg.column, None, None)]
    if agg.kind == "count_distinct":
        return [("distinct", agg.column, None, None)]
    if agg.kind in ("var", "std"):
        return [("sum", agg.column, agg.bounds, None), ("count", agg.column, None, None),
                ("sumsq", agg.column, agg.bounds, None)]
    if agg.kind == "expr":
        return [key for leaf in agg.leaves() for key in _stat_keys(leaf)]
    return [("quantile", agg.column, agg.bounds, agg.quantile)]


def _distinct(aggregates: tuple[Aggregate, ...]) -> bool:
    return any(a.kind == "count_distinct" for a in aggregates)


def _find(stats: tuple[Stat, ...], kind: StatKind, column: str | None = None,
          bounds: tuple[float, float] | None = None, level: float | None = None) -> Stat:
    return next(s for s in stats if (s.kind, s.column, s.bounds, s.level) == (kind, column, bounds, level))


def _schema(spec: QuerySpec, stats: tuple[Stat, ...], table: TableInfo) -> dict[str, pl.DataType]:
    """The columns the plan reads, with the types its domain claims; a time bucket is a column of its own,
    computed row by row from its source column in `_prepare` before OpenDP sees the data."""
    used = set(spec.group_by) | _filter_columns(spec.where)
    for stat in stats:
        case = case_of(stat.column)
        used |= case.columns() if case is not None else {stat.column} if stat.column else set()
    if table.privacy_unit is not None:
        used.add(table.privacy_unit)
    if not used and table.columns:
        # A frame of zero columns has zero rows in Polars: COUNT(*) alone must still read one column.
        used.add(table.columns[0].name)
    schema = {c.name: _POLARS_TYPES[c.dtype] for c in table.columns if c.name in used}
    for name in spec.group_by:
        bucket = bucket_of(name) or bin_of(name)
        if bucket is not None:
            schema[name] = _POLARS_TYPES[bucket.dtype]
    return schema


def _filter_columns(f: Filter | None) -> set[str]:
    if f is None:
        return set()
    if isinstance(f, Comparison):
        return {f.column}
    return set().union(*(_filter_columns(a) for a in f.args))


def predicate(f: Filter, times: Mapping[str, TimeKind] | None = None) -> pl.Expr:
    """A Polars boolean expression for a filter tree (SQL's three-valued logic: null rows drop out).

    `times` names the date and datetime columns, whose constants become the whole numbers `_prepare` gives them."""
    if isinstance(f, BoolOp):
        parts = [predicate(a, times) for a in f.args]
        if f.op == "not":
            return ~parts[0]
        return functools.reduce(lambda a, b: a & b if f.op == "and" else a | b, parts)
    col = pl.col(f.column)
    if f.op == "is_null":
        return col.is_null()
    if f.op == "is_not_null":
        return col.is_not_null()
    value = pl.lit(_epoch(f.value, times[f.column]) if times and f.column in times else f.value)
    ops = {"=": col == value, "!=": col != value, "<": col < value, "<=": col <= value,
           ">": col > value, ">=": col >= value}
    return ops[f.op]


def _stat_expr(stat: Stat, table: TableInfo) -> pl.Expr:
    if stat.kind == "len":
        return dp_len(signed=True).alias(stat.name)  # type: ignore[no-any-return]
    assert stat.column is not None
    case = case_of(stat.column)
    if case is not None:
        return _case_expr(stat, case, table).alias(stat.name)
    info = _info(table, stat.column)
    col = pl.col(stat.column).cast(pl.Int64) if info.dtype == "bool" else pl.col(stat.column)
    if stat.kind == "count":
        return _dp(pl.col(stat.column)).count(signed=True).alias(stat.name)  # type: ignore[no-any-return]
    assert stat.bounds is not None
    integral = info.dtype in ("int", "bool")
    lo, hi = (int(stat.bounds[0]), int(stat.bounds[1])) if integral else stat.bounds
    if stat.kind == "sumsq":
        return _sum_of_squares(col, lo, hi, integral).alias(stat.name)
    if stat.kind == "sum":
        # SQL's SUM skips nulls, which is what adding zero for them does.
        return _dp(col.fill_null(0 if integral else 0.0)).sum((lo, hi)).alias(stat.name)  # type: ignore[no-any-return]
    assert stat.level is not None
    # OpenDP would fill nulls with the middle candidate; SQL ranks the non-null values only.
    return _dp(col.drop_nulls()).quantile(stat.level, _candidates(lo, hi, integral)).alias(stat.name)  # type: ignore[no-any-return]


def _case_expr(stat: Stat, case: Case, table: TableInfo) -> pl.Expr:
    """CASE as arithmetic OpenDP 0.16 accepts (it has no when/then): Σ chosen_k · value_k, where chosen_k
    says the k-th branch is the first whose condition holds (null conditions are false, as in SQL).
    COUNT and AVG's count add chosen_k · [value_k is not null] instead: a sum of 0/1, one per row."""
    dtype: pl.DataType = pl.Int64() if case.dtype == "int" else pl.Float64()
    earlier: pl.Expr = pl.lit(False)
    terms = []
    for condition, branch in (*case.whens, (None, case.otherwise)):
        holds = predicate(condition, _times(table)).fill_null(False) if condition is not None else pl.lit(True)
        chosen = holds & ~earlier
        earlier = earlier | holds
        terms.append(chosen.cast(pl.Int64 if stat.kind == "count" else dtype) * _branch_expr(branch, stat.kind, dtype))
    total = functools.reduce(lambda a, b: a + b, terms)
    if stat.kind == "count":
        return _dp(total).sum((0, 1))  # type: ignore[no-any-return]
    assert stat.bounds is not None
    lo, hi = (int(stat.bounds[0]), int(stat.bounds[1])) if case.dtype == "int" else stat.bounds
    return _dp(total).sum((lo, hi))  # type: ignore[no-any-return]


def _branch_expr(branch: tuple[Any, ...], kind: StatKind, dtype: pl.DataType) -> pl.Expr:
    if kind == "count":
        present = pl.lit(1 if branch[0] == "num" else 0)
        return pl.col(branch[1]).is_not_null().cast(pl.Int64) if branch[0] == "col" else present
    if branch[0] == "num":
        return pl.lit(branch[1]).cast(dtype)
    if branch[0] == "col":
        return pl.col(branch[1]).cast(dtype).clip(branch[2], branch[3]).fill_null(0)
    return pl.lit(0).cast(dtype)


def _sum_of_squares(col: pl.Expr, lo: float, hi: float, integral: bool) -> pl.Expr:
    """Σ(x − c)² about the middle c of the bounds: each row adds at most ((hi − lo)/2)², half the range
    squared, far less than max(lo², hi²) off-centre. Integers use 2x − lo − hi (an integer, so the sum
    stays exact), which is 2(x − c): the statistic is then 4·Σ(x − c)² within [0, (hi − lo)²] per row."""
    if integral:
        z = col.clip(int(lo), int(hi)) * 2 - int(lo + hi)
        return _dp((z * z).fill_null(0)).sum((0, int(hi - lo) ** 2))  # type: ignore[no-any-return]
    z = col.clip(lo, hi) - (lo + hi) / 2
    return _dp((z * z).fill_null(0.0)).sum((0.0, ((hi - lo) / 2) ** 2))  # type: ignore[no-any-return]


def _dp(expr: pl.Expr) -> Any:
    """OpenDP's `.dp` expression namespace, which Polars' type stubs cannot know about."""
    return expr.dp  # type: ignore[attr-defined]


def _candidates(lo: float, hi: float, integral: bool) -> list[Any]:
    if integral and hi - lo < MAX_CANDIDATES:
        return list(range(int(lo), int(hi) + 1))
    step = (hi - lo) / (MAX_CANDIDATES - 1)
    values = [lo + i * step for i in range(MAX_CANDIDATES - 1)] + [hi]
    return sorted({round(v) for v in values}) if integral else values


def _keys_frame(spec: QuerySpec, table: TableInfo) -> pl.DataFrame | None:
    if not spec.group_by:
        return None
    infos = [_group_info(spec, table, g) for g in spec.group_by]
    size = math.prod(len(_public_keys(info) or ()) for info in infos)
    if size > MAX_GROUPS:
        raise QueryNotAllowed(f"the grouping has {size} combinations of public keys, more than {MAX_GROUPS}",
                              hint="group by fewer dimensions")
    try:
        frames = [pl.DataFrame([pl.Series(info.name, list(_public_keys(info) or ()), dtype=_POLARS_TYPES[info.dtype])])
                  for info in infos]
    except (TypeError, pl.exceptions.PolarsError):
        raise QueryNotAllowed("the public keys in the data dictionary do not match their column's type",
                              hint="ask the data provider to correct the dictionary") from None
    return functools.reduce(lambda a, b: a.join(b, how="cross"), frames)


def _plan(spec: QuerySpec, table: TableInfo, stats: tuple[Stat, ...], keys: pl.DataFrame | None,
          schema: Mapping[str, pl.DataType]) -> pl.LazyFrame:
    lf = pl.LazyFrame(schema=dict(schema))
    if spec.where is not None:
        lf = lf.filter(predicate(spec.where, _times(table)))
    if table.privacy_unit is not None:
        # The identifier truncation OpenDP recognises (LazyFrameQuery.truncate_per_group): keep at most
        # k random rows per identifier in the whole frame, so one unit moves at most k rows overall.
        rank = pl.int_range(pl.len()).shuffle().over(pl.col(table.privacy_unit))
        lf = lf.filter(rank < table.max_contributions)
    if any(s.kind == "distinct" for s in stats):
        return _distinct_plan(spec, table, stats, keys, lf)
    exprs = [_stat_expr(s, table) for s in stats]
    if not spec.group_by:
        return lf.select(exprs)
    grouped = lf.group_by(list(spec.group_by)).agg(exprs)
    if keys is None:
        return grouped
    return keys.lazy().join(grouped, on=list(spec.group_by), how="left")


def _distinct_plan(spec: QuerySpec, table: TableInfo, stats: tuple[Stat, ...], keys: pl.DataFrame | None,
                   truncated: pl.LazyFrame) -> pl.LazyFrame:
    """COUNT(DISTINCT unit): one row per person (and group) after truncation, then a noisy count of them.

    OpenDP's map for this plan is min(k, groups) per person: the truncation leaves a person at most k
    rows, so at most k groups, each counting the person once."""
    assert table.privacy_unit is not None
    persons = truncated.group_by([table.privacy_unit, *spec.group_by]).agg(pl.len().alias("__rows"))
    exprs = [dp_len(signed=True).alias(s.name) for s in stats]
    if not spec.group_by:
        return persons.select(exprs)
    grouped = persons.group_by(list(spec.group_by)).agg(exprs)
    if keys is None:
        return grouped
    return keys.lazy().join(grouped, on=list(spec.group_by), how="left")


def _domain(table: TableInfo, schema: Mapping[str, pl.DataType], unknown_by: tuple[str, ...]) -> Any:
    series = []
    for name, dtype in schema.items():
        atom = dp.atom_domain(T=_ATOMS[dtype], nan=False) if dtype == pl.Float64 else \
            dp.atom_domain(T=_ATOMS[dtype])
        series.append(dp.series_domain(name, dp.option_domain(atom)))
    domain = dp.with_margin(dp.lazyframe_domain(series), Margin(by=[], max_length=table.max_rows))
    if unknown_by:
        # Every group holds at least one row, so max_rows bounds the number of groups.
        domain = dp.with_margin(domain, Margin(by=list(unknown_by), max_groups=table.max_rows))
    return domain


def _privacy_unit(table: TableInfo) -> tuple[Any, Any]:
    if table.privacy_unit is None:
        return dp.symmetric_distance(), table.max_contributions
    # One person is one identifier; the plan's truncation turns that into at most k rows.
    return dp.unit_of(contributions=[Bound(per_group=1)], identifier=table.privacy_unit)


# calibration


def _epsilon(loss: Any) -> float:
    return float(loss[0] if isinstance(loss, tuple) else loss)


def _calibrate(make: Make, d_in: Any, epsilon: float, delta: float | None) -> tuple[Any, float, int | None]:
    """Find the smallest noise scale whose ε is within budget; for unknown keys, then the threshold.

    ε is proportional to 1/scale, so one probe at scale 1 gives the answer; rounding in OpenDP's
    privacy map may push it a hair over, so nudge the scale up until the map says yes.
    """
    probe = _PROBE_THRESHOLD if delta is not None else None
    scale = _epsilon(make(1.0, probe).map(d_in)) / epsilon
    for _ in range(20):
        spent = _epsilon(make(scale, probe).map(d_in))
        if spent <= epsilon:
            break
        scale *= max(spent / epsilon, 1 + 1e-12)
    else:
        raise RuntimeError("could not calibrate the noise scale within the ε budget")
    if delta is None:
        return make(scale, None), scale, None
    threshold = _threshold(make, scale, d_in, delta)
    return make(scale, threshold), scale, threshold


def _threshold(make: Make, scale: float, d_in: Any, delta: float) -> int:
    """The smallest count threshold keeping δ within budget (δ falls as the threshold rises)."""
    lo, hi = 0, _PROBE_THRESHOLD
    if make(scale, hi).map(d_in)[1] > delta:
        raise QueryNotAllowed("the policy's δ is too small for grouping on non-public keys",
                              hint="ask the data office for a larger δ, or group by public keys")
    while lo < hi:
        mid = (lo + hi) // 2
        if make(scale, mid).map(d_in)[1] <= delta:
            hi = mid
        else:
            lo = mid + 1
    return lo


# accuracy


def _stat_accuracy(measurement: Any) -> dict[str, tuple[float, float]]:
    at_alpha = dp.summarize_polars_measurement(measurement, alpha=ALPHA)
    at_half = dp.summarize_polars_measurement(measurement, alpha=ALPHA / 2)
    out: dict[str, tuple[float, float]] = {}
    for row, half in zip(at_alpha.iter_rows(named=True), at_half.iter_rows(named=True), strict=True):
        if row["accuracy"] is not None:
            out[row["column"]] = (float(row["accuracy"]), float(half["accuracy"]))
    return out


def _stat_scales(measurement: Any) -> dict[str, float]:
    summary = dp.summarize_polars_measurement(measurement, alpha=ALPHA)
    return {row["column"]: float(row["scale"]) for row in summary.iter_rows(named=True) if row["scale"] is not None}


def _groups(spec: QuerySpec, table: TableInfo) -> int:
    """How many groups the public keys make (1 without GROUP BY; non-public keys count as one)."""
    return max(1, math.prod(len(_public_keys(_group_info(spec, table, g)) or (0,)) for g in spec.group_by))


def _geometry_key(agg: Aggregate) -> str:
    return f"{agg.column}|{agg.bounds}|{agg.quantile}"


def _quantile_geometry(spec: QuerySpec, table: TableInfo, scale: float) -> dict[str, tuple[float, float]]:
    out = {}
    for agg in _leaves(spec):
        if agg.kind == "quantile":
            assert agg.bounds is not None and agg.quantile is not None
            cands = _candidates(agg.bounds[0], agg.bounds[1], _info(table, agg.column or "").dtype in ("int", "bool"))
            step = max((float(b) - float(a) for a, b in itertools.pairwise(cands)), default=0.0)
            out[_geometry_key(agg)] = (quantile_rank_error(scale, agg.quantile, len(cands)), step)
    return out


def _accuracy(spec: QuerySpec, stats: tuple[Stat, ...], stat_acc: Mapping[str, tuple[float, float]],
              scales: Mapping[str, float], share: float,
              geometry: Mapping[str, tuple[float, float]]) -> dict[str, float | None]:
    """Expected ± before release; means and quantiles at a group's even share of the public row bound."""
    def one(agg: Aggregate) -> float | None:
        if agg.kind in ("count", "sum", "count_distinct"):
            return stat_acc[_stat_of(agg, stats).name][0]
        if agg.kind == "avg":
            assert agg.bounds is not None
            sum_stat, count_stat = _find(stats, "sum", agg.column, agg.bounds), _find(stats, "count", agg.column)
            widest = max(abs(agg.bounds[0]), abs(agg.bounds[1]))
            return accuracy.mean_plus_minus(scales[sum_stat.name], scales[count_stat.name], widest, share,
                                            agg.bounds)
        if agg.kind == "quantile":
            assert agg.bounds is not None
            rank, step = geometry[_geometry_key(agg)]
            return accuracy.quantile_plus_minus(rank, step, agg.bounds, share)
        return None  # var/std: see the accuracy note

    return {agg.alias: _transformed(agg, one) for agg in spec.aggregates}


def _transformed(agg: Aggregate, plus_minus: Callable[[Aggregate], float | None]) -> float | None:
    """± of an aggregate; of an expression a·X + b over one released aggregate X, |a| times X's ±."""
    if agg.post is None:
        return plus_minus(agg)
    line = affine(agg.post)
    leaves = agg.leaves()
    if line is None or len(leaves) != 1:
        return None
    inner = plus_minus(leaves[0])
    return abs(line[0]) * inner if inner is not None else None


def affine(post: Post) -> tuple[float, float] | None:
    """(a, b) when the expression is a·X + b in its one released aggregate X, else None."""
    op, args = post[0], post[1:]
    if op == "num":
        return 0.0, float(args[0])
    if op == "agg":
        return 1.0, 0.0
    parts = [affine(a) for a in args if isinstance(a, tuple)]
    if op in ("col", "POWER", "SQRT", "ABS", "ROUND", "FLOOR", "CEIL", "EXP", "LN", "LOG10", "CAST_INT", "SIGN") \
            or any(p is None for p in parts):
        return None
    (a, b), rest = parts[0], parts[1:]  # type: ignore[misc]
    if op in ("neg",):
        return -a, -b
    if op == "CAST_FLOAT":
        return a, b
    (c, d), = rest  # type: ignore[misc]
    if op == "add":
        return a + c, b + d
    if op == "sub":
        return a - c, b - d
    if op == "mul" and (a == 0 or c == 0):
        return a * d + c * b, b * d
    if op == "div" and c == 0 and d != 0:
        return a / d, b / d
    return None


def _stat_of(agg: Aggregate, stats: tuple[Stat, ...]) -> Stat:
    kind, column, bounds, level = _stat_keys(agg)[0]
    return _find(stats, kind, column, bounds, level)


def quantile_rank_error(scale: float, level: float, candidates: int, alpha: float = ALPHA) -> float:
    """Rank error bound R of OpenDP's quantile (report-noisy-min over candidate scores).

    A candidate's score is den·|#(x < c) − p·#(x ≠ c)|, i.e. den × its rank error, and its noise scale
    is global_scale·den·max(p, 1−p) (score sensitivity per row × global_scale). A candidate whose rank
    error exceeds the best one's by g wins with probability at most exp(−g/s), so over C candidates,
    with probability 1 − α:  R = global_scale · max(p, 1−p) · ln(C / α).
    """
    # R = s_rank · ln(C/α), with s_rank = global_scale · max(p, 1 − p)
    return scale * max(level, 1 - level) * math.log(candidates / alpha)


def _accuracy_note(spec: QuerySpec, table: TableInfo, scale: float) -> str:
    lines = ["COUNT and SUM: ± is the 95% bound on the added noise (OpenDP's accuracy summary); "
             "clipping to the bounds can add bias beyond it."]
    for agg in spec.aggregates:
        if agg.kind == "avg":
            lines.append(
                f"{agg.alias}: AVG is a noisy sum S over a noisy count n; it differs from the true mean μ by "
                "exactly (e_S − μ·e_n)/n, and ± is the 95% quantile of |e_S − μ·e_n| (two Laplace noises, "
                "μ taken from the released mean) over the released n, the widest over the rows. Before "
                "release (preview) it assumes a group holding its even share of the public row bound.")
        elif agg.kind == "quantile":
            assert agg.bounds is not None and agg.quantile is not None
            integral = _info(table, agg.column or "").dtype in ("int", "bool")
            cands = _candidates(agg.bounds[0], agg.bounds[1], integral)
            rank = quantile_rank_error(scale, agg.quantile, len(cands))
            lines.append(
                f"{agg.alias}: one of {len(cands)} candidates in [{agg.bounds[0]}, {agg.bounds[1]}]; with 95% "
                f"probability its rank is within {rank:.1f} rows of the target beyond the best candidate's own. "
                "± converts that rank error into values as if the n values were spread evenly across the "
                "bounds (plus one grid step), with n the 95% lower bound of a count released for the same "
                "rows (select COUNT alongside to get it; without one the result's ± is null and the preview "
                "assumes the group's share of the public row bound): smaller where the data are dense near "
                "the quantile, possibly larger across an empty stretch of the range.")
    return " ".join(lines)


# release


Answer = tuple[list[str], list[list[Any]], dict[str, float | None]]
_DTYPES: dict[str, pl.DataType] = {str(t): t for t in (
    pl.Int8(), pl.Int16(), pl.Int32(), pl.Int64(), pl.UInt8(), pl.UInt16(), pl.UInt32(), pl.UInt64(),
    pl.Float32(), pl.Float64(), pl.String(), pl.Boolean(), pl.Null())}


def release(compiled: Compiled, data: pl.LazyFrame) -> Answer:
    """Run the measurement on `data` (a lazy scan) and post-process the released values only.

    Returns the result columns (group columns first, then aggregates in SELECT order), JSON-ready
    rows, and ± at 95% per aggregate column (None where no honest number exists).
    """
    return answer(compiled, measure(compiled, data))


def measure(compiled: Compiled, data: pl.LazyFrame) -> dict[str, Any]:
    """The DP measurement alone: every noisy statistic of the plan, per public key, JSON-ready.

    This is the part that touches data and costs ε; everything `answer` does to it afterwards is
    post-processing, so one stored measurement answers every query that differs only there.
    """
    prepared = _prepare(data, compiled.schema, compiled.times, compiled.sources, compiled.periods)
    released = compiled.measurement(prepared).collect()
    return {"columns": released.columns, "dtypes": [str(t) for t in released.dtypes],
            "rows": [[_plain(v) for v in row] for row in released.iter_rows()]}


def answer(compiled: Compiled, measured: Mapping[str, Any]) -> Answer:
    """Post-process a stored measurement into this query's result (aliases, AVG, HAVING, ORDER BY, LIMIT)."""
    schema = {name: _DTYPES.get(dtype, pl.Float64()) for name, dtype in zip(measured["columns"],
                                                                            measured["dtypes"], strict=True)}
    released = pl.DataFrame(measured["rows"], schema=schema, orient="row")
    frame = _post_process(released, compiled)
    columns = list(compiled.spec.columns)
    plus_minus = _release_accuracy(frame, compiled)
    spec = compiled.spec
    out = frame.select([*(pl.col(g).alias(label) for g, label in zip(spec.group_by, spec.group_labels, strict=True)),
                        *(pl.col(a.alias) for a in spec.aggregates)])
    rows = [[_plain(v) for v in row] for row in out.iter_rows()]
    return columns, rows, plus_minus


def _prepare(data: pl.LazyFrame, schema: Mapping[str, pl.DataType],
             times: Mapping[str, TimeKind] | None = None, sources: Mapping[str, pl.DataType] | None = None,
             periods: Mapping[str, tuple[datetime, datetime]] | None = None) -> pl.LazyFrame:
    """Make the data match the domain the plan was analysed under (OpenDP does not check it).

    Only the needed columns, cast to the declared types (unreadable values become null rather than
    an error message carrying them), and NaN turned into null so floats are NaN-free as claimed.
    Date and time columns are read from their text into whole numbers, and a time bucket is computed
    from its column (null outside the column's declared period); a bin from its columns cleaned the same
    way first (`sources`): each output row depends on its own input row only and keeps its identifier, so
    datasets differing in one person's rows still differ in that person's rows alone, and OpenDP's
    privacy map of the plan holds for the data as stored.
    """
    times, periods = times or {}, periods or {}
    if sources:
        data = data.with_columns([_clean(name, dtype) for name, dtype in sources.items()])
    exprs = []
    for name, dtype in schema.items():
        binned = bin_of(name)
        if binned is not None:
            exprs.append(_bin_expr(binned).alias(name))
            continue
        bucket = bucket_of(name)
        if bucket is not None:
            kind = times[bucket.column]
            moment = parse_expr(pl.col(bucket.column), kind)
            key = _bucket_expr(bucket, moment, kind)
            if bucket.column in periods:
                first, last = periods[bucket.column]
                bounds = (first.date(), last.date()) if kind == "date" else (first, last)
                key = pl.when(moment.is_between(pl.lit(bounds[0]), pl.lit(bounds[1]))).then(key)
            exprs.append(key.alias(name))
            continue
        if name in times:
            exprs.append(parse_expr(pl.col(name), times[name]).cast(pl.Int64).alias(name))
            continue
        exprs.append(_clean(name, dtype))
    return data.select(exprs)


def _clean(name: str, dtype: pl.DataType) -> pl.Expr:
    """A stored column as its declared type: unreadable values null (no error carries them), NaN null."""
    expr = pl.col(name).cast(dtype, strict=False)
    return expr.fill_nan(None) if dtype == pl.Float64 else expr


_TRUNC_EVERY = {"year": "1y", "quarter": "1q", "month": "1mo", "day": "1d", "hour": "1h"}


def _bucket_expr(bucket: Bucket, moment: pl.Expr, kind: TimeKind) -> pl.Expr:
    """The bucket's key for one parsed date or datetime, of the same type and text as `Bucket.keys` lists."""
    if bucket.func == "trunc":
        start = moment.dt.truncate(_TRUNC_EVERY[bucket.unit])
        return start.dt.strftime("%Y-%m-%d" if kind == "date" else "%Y-%m-%d %H:%M:%S")
    parts = {"year": moment.dt.year(), "quarter": moment.dt.quarter(), "month": moment.dt.month(),
             "day": moment.dt.day(), "hour": moment.dt.hour(), "dow": moment.dt.weekday() % 7}
    return parts[bucket.unit].cast(pl.Int64)


def _bin_expr(binned: Bin) -> pl.Expr:
    """A row's bin: the floor of its value over the width (times the width), or the first CASE label that
    holds (null: no label, so no group). The same keys `Bin.keys` lists from the bounds or the query."""
    if binned.column is not None:
        # Non-strict: a value too large (or infinite) for a bin index falls in no bin instead of failing the
        # release with an error that carries it; such a value lies beyond the bounds the keys cover anyway.
        value = pl.col(binned.column).cast(pl.Float64, strict=False).fill_nan(None)
        index = (value / binned.width).floor().cast(pl.Int64, strict=False)
        return index * binned.width if binned.scaled else index
    dtype = _POLARS_TYPES[binned.dtype]
    chain: Any = None
    for condition, label in binned.whens:
        holds = predicate(condition).fill_null(False)
        chain = pl.when(holds).then(pl.lit(label, dtype=dtype)) if chain is None else \
            chain.when(holds).then(pl.lit(label, dtype=dtype))
    return chain.otherwise(pl.lit(binned.otherwise, dtype=dtype))  # type: ignore[no-any-return]


def _epoch(value: object, kind: TimeKind) -> int:
    """A date as days, a datetime as microseconds, since 1970-01-01 (what Polars casts them to)."""
    moment = parse_one(str(value), "datetime")
    if moment is None:
        raise QueryNotAllowed(f"{value!r} is not a date or time", hint="write e.g. DATE '2013-06-01'")
    assert isinstance(moment, datetime)
    if kind == "date":
        return (moment.date() - date(1970, 1, 1)).days
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _post_process(released: pl.DataFrame, compiled: Compiled) -> pl.DataFrame:
    spec, stats = compiled.spec, compiled.stats
    frame = released.with_columns([_output_expr(a, stats) for a in spec.aggregates])
    frame = frame.with_columns([_guarded(post, stats).alias(name) for name, post in spec.computed])
    if compiled.policy.min_group_size > 0:
        size = next(s for s in stats if s.kind in ("len", "distinct"))
        frame = frame.filter(pl.col(size.name) >= compiled.policy.min_group_size)
    excluded = _excluded_keys(spec)
    if excluded is not None:
        frame = frame.filter(predicate(excluded))
    if spec.having is not None:
        frame = frame.filter(predicate(spec.having))
    if spec.group_by:
        # Row order must not depend on how Polars ran the join: order by the public keys first.
        frame = frame.sort(list(spec.group_by), maintain_order=True)
    if spec.order_by:
        frame = frame.sort([o.column for o in spec.order_by], descending=[o.descending for o in spec.order_by],
                           nulls_last=True, maintain_order=True)
    return frame.head(spec.limit) if spec.limit is not None else frame


def _excluded_keys(spec: QuerySpec) -> Filter | None:
    """The WHERE conditions on group columns alone: a public key failing one has no rows at all, so its
    group would be pure noise. Dropping it depends on the public keys and the query only."""
    if spec.where is None or not spec.group_by:
        return None
    parts = spec.where.args if isinstance(spec.where, BoolOp) and spec.where.op == "and" else (spec.where,)
    on_keys = tuple(p for p in parts if _filter_columns(p) <= set(spec.group_by))
    if not on_keys:
        return None
    return on_keys[0] if len(on_keys) == 1 else BoolOp("and", on_keys)


def _output_expr(agg: Aggregate, stats: tuple[Stat, ...]) -> pl.Expr:
    if agg.kind == "expr":
        assert agg.post is not None
        return _guarded(agg.post, stats).alias(agg.alias)
    if agg.kind in ("var", "std"):
        return _spread(agg, stats).alias(agg.alias)
    if agg.kind != "avg":
        return pl.col(_stat_of(agg, stats).name).alias(agg.alias)
    assert agg.bounds is not None
    total = pl.col(_find(stats, "sum", agg.column, agg.bounds).name)
    count = pl.col(_find(stats, "count", agg.column).name)
    lo, hi = float(agg.bounds[0]), float(agg.bounds[1])
    # The true mean lies within the bounds, so clamping the estimate only moves it closer.
    mean = (total.cast(pl.Float64) / count).clip(lo, hi)
    return pl.when(count > 0).then(mean).otherwise(None).alias(agg.alias)


def _spread(agg: Aggregate, stats: tuple[Stat, ...]) -> pl.Expr:
    """VAR/STD from three released statistics: the sum S, the count n and Σ(x − c)² about the middle c.

    var_pop = Σ(x − c)²/n − (S/n − c)²; the sample variance multiplies it by n/(n − 1). A true variance
    of values within [lo, hi] lies in [0, (hi − lo)²/4], so the estimate is clamped there (post-processing)."""
    assert agg.bounds is not None
    lo, hi = float(agg.bounds[0]), float(agg.bounds[1])
    middle = (lo + hi) / 2
    total = pl.col(_find(stats, "sum", agg.column, agg.bounds).name).cast(pl.Float64)
    count = pl.col(_find(stats, "count", agg.column).name).cast(pl.Float64)
    squares = pl.col(_find(stats, "sumsq", agg.column, agg.bounds).name).cast(pl.Float64)
    if isinstance(agg.bounds[0], int) and isinstance(agg.bounds[1], int):
        squares = squares / 4  # the integer statistic is Σ(2x − lo − hi)² = 4·Σ(x − c)²
    mean = (total / count).clip(lo, hi)
    variance = squares / count - (mean - middle) ** 2
    if agg.quantile:  # degrees of freedom
        variance = variance * count / (count - agg.quantile)
    variance = variance.clip(0.0, (hi - lo) ** 2 / 4)
    value = variance.sqrt() if agg.kind == "std" else variance
    return pl.when(count > (agg.quantile or 0)).then(value).otherwise(None)


_UNARY_POST: dict[str, Callable[[pl.Expr], pl.Expr]] = {
    "neg": lambda e: -e, "SQRT": lambda e: e.cast(pl.Float64, strict=False).sqrt(), "ABS": lambda e: e.abs(),
    "EXP": lambda e: e.cast(pl.Float64, strict=False).exp(), "LN": lambda e: e.cast(pl.Float64, strict=False).log(),
    "LOG10": lambda e: e.cast(pl.Float64, strict=False).log10(), "SIGN": lambda e: e.sign(),
    "CAST_INT": lambda e: e.cast(pl.Float64, strict=False).cast(pl.Int64, strict=False),
    "CAST_FLOAT": lambda e: e.cast(pl.Float64, strict=False),
    "FLOOR": lambda e: e.cast(pl.Float64, strict=False).floor(),
    "CEIL": lambda e: e.cast(pl.Float64, strict=False).ceil(),
}


_LARGEST = 2.0**62


def _guarded(post: Post, stats: tuple[Stat, ...]) -> pl.Expr:
    """The expression, or null where its value passes ±2^62: whole-number arithmetic would wrap around
    silently in 64 bits, so a twin computed in floating point watches the magnitude."""
    twin = _post_expr(post, stats, floating=True)
    return pl.when(twin.abs() < _LARGEST).then(_post_expr(post, stats)).otherwise(None)


def _post_expr(post: Post, stats: tuple[Stat, ...], floating: bool = False) -> pl.Expr:
    """A post-processing expression over released values as Polars (SQL's null and NaN become null later)."""
    op, args = post[0], post[1:]
    if op == "num":
        return pl.lit(float(args[0])) if floating else pl.lit(args[0])
    if op in ("agg", "col"):
        if op == "col":  # a result column inside HAVING / ORDER BY: hidden, so a number is enough (text → null)
            return pl.col(args[0]).cast(pl.Float64, strict=False)
        leaf = _output_expr(replace(args[0], alias="__leaf"), stats)
        return leaf.cast(pl.Float64, strict=False) if floating else leaf
    inner = [_post_expr(a, stats, floating) for a in args]
    if op in _UNARY_POST:
        return _UNARY_POST[op](inner[0])
    if op == "ROUND":
        return inner[0].cast(pl.Float64, strict=False).round(int(args[1][1]))
    left, right = inner
    if op == "add":
        return left + right
    if op == "sub":
        return left - right
    if op == "mul":
        return left * right
    if op == "div":
        return left.cast(pl.Float64, strict=False) / right.cast(pl.Float64, strict=False)
    if op == "POWER":
        return left.cast(pl.Float64, strict=False).pow(right.cast(pl.Float64, strict=False))
    raise ValueError(f"unknown post-processing operation {op!r}")


def _release_accuracy(frame: pl.DataFrame, compiled: Compiled) -> dict[str, float | None]:
    """± at 95% per aggregate column: the widest over the released rows (see `sandbox.accuracy`)."""
    out = dict(compiled.accuracy)

    def one(agg: Aggregate) -> float | None:
        if agg.kind == "avg":
            return _widest(_mean_accuracy(frame, agg, compiled))
        if agg.kind == "quantile":
            return _widest(_quantile_accuracy(frame, agg, compiled))
        return compiled.accuracy.get(agg.alias) if agg.alias else _leaf_preview(agg, compiled)

    for agg in compiled.spec.aggregates:
        if any(leaf.kind in ("avg", "quantile") for leaf in agg.leaves()):
            out[agg.alias] = _transformed(agg, one)
    return out


def _leaf_preview(agg: Aggregate, compiled: Compiled) -> float | None:
    if agg.kind in ("count", "sum", "count_distinct"):
        return compiled.stat_accuracy[_stat_of(agg, compiled.stats).name][0]
    return None


def _widest(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return max(known) if known else None


def _mean_accuracy(frame: pl.DataFrame, agg: Aggregate, compiled: Compiled) -> list[float | None]:
    """Per released row: the 95% quantile of |e_S − μ̂·e_n| over the released count n̂."""
    assert agg.bounds is not None
    sum_stat = _find(compiled.stats, "sum", agg.column, agg.bounds)
    count_stat = _find(compiled.stats, "count", agg.column)
    b_sum, b_count = compiled.stat_scale[sum_stat.name], compiled.stat_scale[count_stat.name]
    means = frame.select(_output_expr(replace(agg, alias="__mean"), compiled.stats))["__mean"].to_list()
    return [accuracy.mean_plus_minus(b_sum, b_count, float(mean), float(n), agg.bounds)
            if mean is not None and n is not None else None
            for mean, n in zip(means, frame[count_stat.name].to_list(), strict=True)]


def _quantile_accuracy(frame: pl.DataFrame, agg: Aggregate, compiled: Compiled) -> list[float | None]:
    """Per released row: the rank error converted at n = the 95% lower bound of a released count."""
    assert agg.bounds is not None
    rank, step = compiled.quantile_geometry[_geometry_key(agg)]
    count = next((s for s in compiled.stats if (s.kind, s.column) == ("count", agg.column)),
                 next((s for s in compiled.stats if s.kind == "len"), None))
    if count is None:  # the row bound's share may overstate n: without a released count, no honest ±
        return [None]
    margin = compiled.stat_accuracy[count.name][0]
    return [accuracy.quantile_plus_minus(rank, step, agg.bounds, float(n) - margin) if n is not None else None
            for n in frame[count.name].to_list()]


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value

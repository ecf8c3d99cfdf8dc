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
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

import opendp.prelude as dp
import polars as pl
from opendp.extras.polars import Bound, Margin, dp_len

from sandbox import accuracy
from sandbox.spec import Aggregate, BoolOp, ColumnInfo, Comparison, Filter, Policy, QuerySpec, TableInfo
from sandbox.sql import QueryNotAllowed

dp.enable_features("contrib")

ALPHA = 0.05
MAX_GROUPS = 100_000  # public-key cross products beyond this are refused: the release would be all noise
MAX_CANDIDATES = 1001  # quantile candidates across the bounds
_PROBE_THRESHOLD = 2**32 - 1
_POLARS_TYPES: dict[str, pl.DataType] = {
    "string": pl.String(), "int": pl.Int64(), "float": pl.Float64(), "bool": pl.Boolean(),
}
_ATOM_TYPES = {"string": "String", "int": "i64", "float": "f64", "bool": "bool"}

StatKind = Literal["len", "count", "sum", "quantile"]
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
    quantile_geometry: Mapping[str, tuple[float, float]]  # quantile alias → (rank error R at 95%, grid step)


def compile_query(spec: QuerySpec, table: TableInfo, policy: Policy, epsilon: float) -> Compiled:
    """Compile a parsed query into an OpenDP measurement costing at most `epsilon` (cached by shape)."""
    if not (isinstance(epsilon, (int, float)) and math.isfinite(epsilon) and epsilon > 0):
        raise QueryNotAllowed("epsilon must be a positive number", hint="for example 0.5")
    cached = _compile_cached(spec, table, policy, float(epsilon))
    return dataclasses.replace(cached, accuracy=dict(cached.accuracy))  # the caller's own copy


@functools.lru_cache(maxsize=512)
def _compile_cached(spec: QuerySpec, table: TableInfo, policy: Policy, epsilon: float) -> Compiled:
    _check(spec, table, policy)
    unknown_keys = any(_info(table, g).keys is None for g in spec.group_by)
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
    )


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


def _info(table: TableInfo, name: str) -> ColumnInfo:
    info = table.column(name, exact=True)
    if info is None:
        raise QueryNotAllowed(f'unknown column "{name}"', hint="parse the query against this table first")
    return info


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
        info = _info(table, name)
        if info.role != "dimension":
            raise QueryNotAllowed(f'column "{name}" cannot be grouped on')
        if info.keys is None and not (policy.allow_unknown_keys and policy.delta > 0):
            raise QueryNotAllowed(f'the keys of column "{name}" are not public, so it cannot be grouped on')
    for agg in spec.aggregates:
        _check_aggregate(agg, table)


def _check_aggregate(agg: Aggregate, table: TableInfo) -> None:
    if agg.column is None:
        if agg.kind != "count":
            raise QueryNotAllowed(f"{agg.alias}: only COUNT may omit its column")
        return
    info = _info(table, agg.column)
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
    for agg in spec.aggregates:
        wanted.extend(_stat_keys(agg))
    if need_len:
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
    return [("quantile", agg.column, agg.bounds, agg.quantile)]


def _find(stats: tuple[Stat, ...], kind: StatKind, column: str | None = None,
          bounds: tuple[float, float] | None = None, level: float | None = None) -> Stat:
    return next(s for s in stats if (s.kind, s.column, s.bounds, s.level) == (kind, column, bounds, level))


def _schema(spec: QuerySpec, stats: tuple[Stat, ...], table: TableInfo) -> dict[str, pl.DataType]:
    used = set(spec.group_by) | {s.column for s in stats if s.column} | _filter_columns(spec.where)
    if table.privacy_unit is not None:
        used.add(table.privacy_unit)
    if not used and table.columns:
        # A frame of zero columns has zero rows in Polars: COUNT(*) alone must still read one column.
        used.add(table.columns[0].name)
    return {c.name: _POLARS_TYPES[c.dtype] for c in table.columns if c.name in used}


def _filter_columns(f: Filter | None) -> set[str]:
    if f is None:
        return set()
    if isinstance(f, Comparison):
        return {f.column}
    return set().union(*(_filter_columns(a) for a in f.args))


def predicate(f: Filter) -> pl.Expr:
    """A Polars boolean expression for a filter tree (SQL's three-valued logic: null rows drop out)."""
    if isinstance(f, BoolOp):
        parts = [predicate(a) for a in f.args]
        if f.op == "not":
            return ~parts[0]
        return functools.reduce(lambda a, b: a & b if f.op == "and" else a | b, parts)
    col = pl.col(f.column)
    if f.op == "is_null":
        return col.is_null()
    if f.op == "is_not_null":
        return col.is_not_null()
    value = pl.lit(f.value)
    ops = {"=": col == value, "!=": col != value, "<": col < value, "<=": col <= value,
           ">": col > value, ">=": col >= value}
    return ops[f.op]


def _stat_expr(stat: Stat, table: TableInfo) -> pl.Expr:
    if stat.kind == "len":
        return dp_len(signed=True).alias(stat.name)  # type: ignore[no-any-return]
    assert stat.column is not None
    info = _info(table, stat.column)
    col = pl.col(stat.column).cast(pl.Int64) if info.dtype == "bool" else pl.col(stat.column)
    if stat.kind == "count":
        return _dp(pl.col(stat.column)).count(signed=True).alias(stat.name)  # type: ignore[no-any-return]
    assert stat.bounds is not None
    integral = info.dtype in ("int", "bool")
    lo, hi = (int(stat.bounds[0]), int(stat.bounds[1])) if integral else stat.bounds
    if stat.kind == "sum":
        # SQL's SUM skips nulls, which is what adding zero for them does.
        return _dp(col.fill_null(0 if integral else 0.0)).sum((lo, hi)).alias(stat.name)  # type: ignore[no-any-return]
    assert stat.level is not None
    # OpenDP would fill nulls with the middle candidate; SQL ranks the non-null values only.
    return _dp(col.drop_nulls()).quantile(stat.level, _candidates(lo, hi, integral)).alias(stat.name)  # type: ignore[no-any-return]


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
    size = math.prod(len(_info(table, g).keys or ()) for g in spec.group_by)
    if size > MAX_GROUPS:
        raise QueryNotAllowed(f"the grouping has {size} combinations of public keys, more than {MAX_GROUPS}",
                              hint="group by fewer dimensions")
    try:
        frames = [pl.DataFrame([pl.Series(g, list(_info(table, g).keys or ()),
                                          dtype=_POLARS_TYPES[_info(table, g).dtype])]) for g in spec.group_by]
    except (TypeError, pl.exceptions.PolarsError):
        raise QueryNotAllowed("the public keys in the data dictionary do not match their column's type",
                              hint="ask the data provider to correct the dictionary") from None
    return functools.reduce(lambda a, b: a.join(b, how="cross"), frames)


def _plan(spec: QuerySpec, table: TableInfo, stats: tuple[Stat, ...], keys: pl.DataFrame | None,
          schema: Mapping[str, pl.DataType]) -> pl.LazyFrame:
    lf = pl.LazyFrame(schema=dict(schema))
    if spec.where is not None:
        lf = lf.filter(predicate(spec.where))
    if table.privacy_unit is not None:
        # The identifier truncation OpenDP recognises (LazyFrameQuery.truncate_per_group): keep at most
        # k random rows per identifier in the whole frame, so one unit moves at most k rows overall.
        rank = pl.int_range(pl.len()).shuffle().over(pl.col(table.privacy_unit))
        lf = lf.filter(rank < table.max_contributions)
    exprs = [_stat_expr(s, table) for s in stats]
    if not spec.group_by:
        return lf.select(exprs)
    grouped = lf.group_by(list(spec.group_by)).agg(exprs)
    if keys is None:
        return grouped
    return keys.lazy().join(grouped, on=list(spec.group_by), how="left")


def _domain(table: TableInfo, schema: Mapping[str, pl.DataType], unknown_by: tuple[str, ...]) -> Any:
    series = []
    for name in schema:
        dtype = _info(table, name).dtype
        atom = dp.atom_domain(T=_ATOM_TYPES[dtype], nan=False) if dtype == "float" else \
            dp.atom_domain(T=_ATOM_TYPES[dtype])
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
    return max(1, math.prod(len(_info(table, g).keys or (0,)) for g in spec.group_by))


def _quantile_geometry(spec: QuerySpec, table: TableInfo, scale: float) -> dict[str, tuple[float, float]]:
    out = {}
    for agg in spec.aggregates:
        if agg.kind == "quantile":
            assert agg.bounds is not None and agg.quantile is not None
            cands = _candidates(agg.bounds[0], agg.bounds[1], _info(table, agg.column or "").dtype in ("int", "bool"))
            step = max((float(b) - float(a) for a, b in itertools.pairwise(cands)), default=0.0)
            out[agg.alias] = (quantile_rank_error(scale, agg.quantile, len(cands)), step)
    return out


def _accuracy(spec: QuerySpec, stats: tuple[Stat, ...], stat_acc: Mapping[str, tuple[float, float]],
              scales: Mapping[str, float], share: float,
              geometry: Mapping[str, tuple[float, float]]) -> dict[str, float | None]:
    """Expected ± before release; means and quantiles at a group's even share of the public row bound."""
    out: dict[str, float | None] = {}
    for agg in spec.aggregates:
        if agg.kind in ("count", "sum"):
            out[agg.alias] = stat_acc[_stat_of(agg, stats).name][0]
        elif agg.kind == "avg":
            assert agg.bounds is not None
            sum_stat, count_stat = _find(stats, "sum", agg.column, agg.bounds), _find(stats, "count", agg.column)
            widest = max(abs(agg.bounds[0]), abs(agg.bounds[1]))
            out[agg.alias] = accuracy.mean_plus_minus(scales[sum_stat.name], scales[count_stat.name], widest,
                                                      share, agg.bounds)
        else:
            assert agg.bounds is not None
            rank, step = geometry[agg.alias]
            out[agg.alias] = accuracy.quantile_plus_minus(rank, step, agg.bounds, share)
    return out


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
    released = compiled.measurement(_prepare(data, compiled.schema)).collect()
    return {"columns": released.columns, "dtypes": [str(t) for t in released.dtypes],
            "rows": [[_plain(v) for v in row] for row in released.iter_rows()]}


def answer(compiled: Compiled, measured: Mapping[str, Any]) -> Answer:
    """Post-process a stored measurement into this query's result (aliases, AVG, HAVING, ORDER BY, LIMIT)."""
    schema = {name: _DTYPES.get(dtype, pl.Float64()) for name, dtype in zip(measured["columns"],
                                                                            measured["dtypes"], strict=True)}
    released = pl.DataFrame(measured["rows"], schema=schema, orient="row")
    frame = _post_process(released, compiled)
    columns = list(compiled.spec.columns)
    rows = [[_plain(v) for v in row] for row in frame.select(columns).iter_rows()]
    return columns, rows, _release_accuracy(frame, compiled)


def _prepare(data: pl.LazyFrame, schema: Mapping[str, pl.DataType]) -> pl.LazyFrame:
    """Make the data match the domain the plan was analysed under (OpenDP does not check it).

    Only the needed columns, cast to the declared types (unreadable values become null rather than
    an error message carrying them), and NaN turned into null so floats are NaN-free as claimed.
    """
    exprs = []
    for name, dtype in schema.items():
        expr = pl.col(name).cast(dtype, strict=False)
        exprs.append(expr.fill_nan(None) if dtype == pl.Float64 else expr)
    return data.select(exprs)


def _post_process(released: pl.DataFrame, compiled: Compiled) -> pl.DataFrame:
    spec, stats = compiled.spec, compiled.stats
    frame = released.with_columns([_output_expr(a, stats) for a in spec.aggregates])
    if compiled.policy.min_group_size > 0:
        frame = frame.filter(pl.col(_find(stats, "len").name) >= compiled.policy.min_group_size)
    if spec.having is not None:
        frame = frame.filter(predicate(spec.having))
    if spec.group_by:
        # Row order must not depend on how Polars ran the join: order by the public keys first.
        frame = frame.sort(list(spec.group_by), maintain_order=True)
    if spec.order_by:
        frame = frame.sort([o.column for o in spec.order_by], descending=[o.descending for o in spec.order_by],
                           nulls_last=True, maintain_order=True)
    return frame.head(spec.limit) if spec.limit is not None else frame


def _output_expr(agg: Aggregate, stats: tuple[Stat, ...]) -> pl.Expr:
    if agg.kind != "avg":
        return pl.col(_stat_of(agg, stats).name).alias(agg.alias)
    assert agg.bounds is not None
    total = pl.col(_find(stats, "sum", agg.column, agg.bounds).name)
    count = pl.col(_find(stats, "count", agg.column).name)
    lo, hi = float(agg.bounds[0]), float(agg.bounds[1])
    # The true mean lies within the bounds, so clamping the estimate only moves it closer.
    mean = (total.cast(pl.Float64) / count).clip(lo, hi)
    return pl.when(count > 0).then(mean).otherwise(None).alias(agg.alias)


def _release_accuracy(frame: pl.DataFrame, compiled: Compiled) -> dict[str, float | None]:
    """± at 95% per aggregate column: the widest over the released rows (see `sandbox.accuracy`)."""
    out = dict(compiled.accuracy)
    for agg in compiled.spec.aggregates:
        if agg.kind == "avg":
            out[agg.alias] = _widest(_mean_accuracy(frame, agg, compiled))
        elif agg.kind == "quantile":
            out[agg.alias] = _widest(_quantile_accuracy(frame, agg, compiled))
    return out


def _widest(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return max(known) if known else None


def _mean_accuracy(frame: pl.DataFrame, agg: Aggregate, compiled: Compiled) -> list[float | None]:
    """Per released row: the 95% quantile of |e_S − μ̂·e_n| over the released count n̂."""
    assert agg.bounds is not None
    sum_stat = _find(compiled.stats, "sum", agg.column, agg.bounds)
    count_stat = _find(compiled.stats, "count", agg.column)
    b_sum, b_count = compiled.stat_scale[sum_stat.name], compiled.stat_scale[count_stat.name]
    return [accuracy.mean_plus_minus(b_sum, b_count, float(mean), float(n), agg.bounds)
            if mean is not None and n is not None else None
            for mean, n in zip(frame[agg.alias].to_list(), frame[count_stat.name].to_list(), strict=True)]


def _quantile_accuracy(frame: pl.DataFrame, agg: Aggregate, compiled: Compiled) -> list[float | None]:
    """Per released row: the rank error converted at n = the 95% lower bound of a released count."""
    assert agg.bounds is not None
    rank, step = compiled.quantile_geometry[agg.alias]
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

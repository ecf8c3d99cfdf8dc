"""QuerySpec → OpenDP measurement → release, on small known data scanned lazily from Parquet.

Noise is not seedable, so closeness checks allow 7× the 95% bound: for Laplace-type noise the chance
of a false failure is then about 20^-7 per value.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import opendp.prelude as dp
import polars as pl
import pytest

from sandbox import plan
from sandbox.plan import Compiled, compile_query, quantile_rank_error, release
from sandbox.spec import ColumnInfo, Policy, TableInfo
from sandbox.sql import QueryNotAllowed, parse
from tests.sandbox import PEOPLE, people_frame, write_parquet

WIDE = 7.0


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    return people_frame()


@pytest.fixture(scope="module")
def path(frame: pl.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_parquet(frame, tmp_path_factory.mktemp("people"))


def compiled(sql: str, epsilon: float = 1.0, policy: Policy | None = None, table: TableInfo = PEOPLE) -> Compiled:
    policy = policy or Policy()
    return compile_query(parse(sql, table, policy), table, policy, epsilon)


def run(sql: str, path: Path, epsilon: float = 1.0, policy: Policy | None = None,
        table: TableInfo = PEOPLE) -> tuple[dict[str, list[object]], dict[str, float | None]]:
    columns, rows, plus_minus = release(compiled(sql, epsilon, policy, table), pl.scan_parquet(path))
    json.dumps(rows)  # rows must be JSON-ready
    return {c: [r[i] for r in rows] for i, c in enumerate(columns)}, plus_minus


def near(value: object, truth: float, plus_minus: float | None) -> bool:
    assert isinstance(value, (int, float)) and plus_minus is not None
    return abs(value - truth) <= WIDE * plus_minus


# values


def test_count_sum_and_avg_are_near_the_truth(frame: pl.DataFrame, path: Path) -> None:
    out, pm = run("SELECT COUNT(*) AS n, COUNT(income) AS k, SUM(income) AS s, AVG(income) AS a FROM people",
                  path, epsilon=2.0)
    incomes = frame["income"].drop_nulls()
    assert near(out["n"][0], frame.height, pm["n"])
    assert near(out["k"][0], len(incomes), pm["k"])
    assert near(out["s"][0], incomes.sum(), pm["s"])
    assert near(out["a"][0], incomes.mean(), pm["a"])  # type: ignore[arg-type]


def test_releases_are_noisy_not_the_exact_truth(frame: pl.DataFrame, path: Path) -> None:
    counts = [run("SELECT COUNT(*) AS n FROM people", path, epsilon=0.1)[0]["n"][0] for _ in range(10)]
    assert any(c != frame.height for c in counts)
    assert len(set(counts)) > 1


def test_where_filters_rows_before_aggregation(frame: pl.DataFrame, path: Path) -> None:
    sql = "SELECT COUNT(*) AS n, SUM(age) AS s FROM people WHERE region IN ('north', 'east') AND age >= 30"
    out, pm = run(sql, path, epsilon=2.0)
    kept = frame.filter(pl.col("region").is_in(["north", "east"]) & (pl.col("age") >= 30))
    assert near(out["n"][0], kept.height, pm["n"])
    assert near(out["s"][0], kept["age"].sum(), pm["s"])


def test_group_by_releases_every_public_key_even_absent_ones(frame: pl.DataFrame, path: Path) -> None:
    out, pm = run("SELECT region, COUNT(*) AS n, AVG(age) AS a FROM people GROUP BY region", path, epsilon=2.0)
    assert out["region"] == ["east", "north", "south", "west"]  # sorted by the public keys
    truth = dict(frame.group_by("region").agg(pl.len()).iter_rows())
    for region, n in zip(out["region"], out["n"], strict=True):
        assert near(n, truth.get(region, 0), pm["n"])
    means = dict(frame.group_by("region").agg(pl.col("age").mean()).iter_rows())
    for region, mean in zip(out["region"][:3], out["a"][:3], strict=True):
        assert near(mean, means[region], pm["a"])


def test_group_by_two_dimensions_uses_the_key_product(path: Path) -> None:
    out, _ = run("SELECT region, active, COUNT(*) AS n FROM people GROUP BY region, active", path)
    assert list(zip(out["region"], out["active"], strict=True)) == [
        (r, a) for r in ("east", "north", "south", "west") for a in (False, True)]


def test_min_group_size_suppresses_small_noisy_groups(path: Path) -> None:
    out, _ = run("SELECT region, COUNT(*) AS n FROM people GROUP BY region", path, epsilon=2.0,
                 policy=Policy(min_group_size=200))
    assert out["region"] == ["east", "north", "south"]  # "west" has no rows at all
    assert all(isinstance(n, int) and n >= 200 for n in out["n"])


def test_min_group_size_adds_a_hidden_count_when_none_is_selected(path: Path) -> None:
    c = compiled("SELECT region, SUM(age) AS s FROM people GROUP BY region", policy=Policy(min_group_size=200))
    assert sorted(s.kind for s in c.stats) == ["len", "sum"]
    columns, rows, _ = release(c, pl.scan_parquet(path))
    assert columns == ["region", "s"] and [r[0] for r in rows] == ["east", "north", "south"]


def test_order_by_and_limit_apply_to_released_values(path: Path) -> None:
    out, _ = run("SELECT region, COUNT(*) AS n FROM people GROUP BY region ORDER BY n DESC LIMIT 2", path, 2.0)
    assert out["region"] == ["north", "south"]  # 2000 and 1200 rows, far apart
    out, _ = run("SELECT region, COUNT(*) AS n FROM people GROUP BY region ORDER BY region DESC", path)
    assert out["region"] == ["west", "south", "north", "east"]


def test_having_filters_released_values(path: Path) -> None:
    out, _ = run("SELECT region, COUNT(*) AS n FROM people GROUP BY region HAVING n > 1000", path, 2.0)
    assert out["region"] == ["north", "south"]


def test_avg_with_no_rows_is_null_not_an_error(path: Path) -> None:
    out, _ = run("SELECT region, AVG(age) AS a FROM people GROUP BY region", path, epsilon=5.0)
    assert out["a"][3] is None or 0 <= out["a"][3] <= 100  # a noisy count may come out positive


# cost


@pytest.mark.parametrize("epsilon", [0.01, 0.3, 1.0, 2.5, 10.0])
@pytest.mark.parametrize("sql", [
    "SELECT COUNT(*) FROM people",
    "SELECT region, COUNT(*), SUM(income), AVG(age) FROM people WHERE active GROUP BY region",
    "SELECT MEDIAN(age), SUM(LEAST(income, 500)) FROM people",
])
def test_cost_is_the_requested_epsilon_and_never_more(sql: str, epsilon: float) -> None:
    c = compiled(sql, epsilon)
    assert c.epsilon_cost <= epsilon
    assert c.epsilon_cost == pytest.approx(epsilon, rel=1e-9)
    assert c.measurement.map(c.d_in) == c.epsilon_cost
    assert c.delta_cost == 0.0


def test_aggregates_share_their_noisy_statistics() -> None:
    c = compiled("SELECT COUNT(*) AS a, COUNT(*) AS b, SUM(age) AS s, AVG(age) AS m, COUNT(age) AS k FROM people")
    assert sorted(s.kind for s in c.stats) == ["count", "len", "sum"]


def test_a_repeated_shape_is_compiled_once() -> None:
    first, again = compiled("SELECT COUNT(*) FROM people", 0.7), compiled("SELECT   count(*) FROM people", 0.7)
    assert again.measurement is first.measurement
    again.accuracy["count"] = -1.0  # each caller gets its own copy of the accuracy
    assert first.accuracy["count"] != -1.0


def test_accuracy_matches_the_noise_scale() -> None:
    c = compiled("SELECT COUNT(*) AS n, SUM(age) AS s FROM people", 1.0)
    # Two statistics at ε/2 each: count scale 2, integer sum scale 2·100.
    assert c.accuracy["n"] == pytest.approx(dp.discrete_laplacian_scale_to_accuracy(2.0, 0.05))
    assert c.accuracy["s"] == pytest.approx(dp.discrete_laplacian_scale_to_accuracy(200.0, 0.05))


def test_bad_epsilon_is_refused() -> None:
    for epsilon in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(QueryNotAllowed, match="epsilon"):
            compiled("SELECT COUNT(*) FROM people", epsilon)


# identifier privacy unit and the two OpenDP bugs


def per_person(k: int, max_rows: int = PEOPLE.max_rows) -> TableInfo:
    return dataclasses.replace(PEOPLE, privacy_unit="pid", max_contributions=k, max_rows=max_rows)


def analytic_epsilon(c: Compiled, k: int, sensitivities: list[float]) -> float:
    """ε of a pure-DP plan where one person moves at most k rows: Σ k·Δ_i / scale_i."""
    scales = dp.summarize_polars_measurement(c.measurement)["scale"].to_list()
    return sum(k * d / s for d, s in zip(sensitivities, scales, strict=True))


@pytest.mark.parametrize("k", [1, 3, 10])
def test_identifier_unit_charges_k_times_the_row_loss(k: int) -> None:
    c = compiled("SELECT region, COUNT(*) AS n, SUM(age) AS s FROM people GROUP BY region", 1.0, table=per_person(k))
    assert c.epsilon_cost == pytest.approx(1.0, rel=1e-9)
    assert c.epsilon_cost == pytest.approx(analytic_epsilon(c, k, [1, 100]), rel=1e-9)
    assert c.accuracy["n"] == pytest.approx(dp.discrete_laplacian_scale_to_accuracy(2.0 * k, 0.05))


def test_bug_2949_no_column_is_redefined_after_truncation() -> None:
    """OpenDP #2949: redefining a column after identifier truncation under-reports the loss.

    Clipping and null-filling happen inside the aggregates, so the plan has no with_columns at all,
    and the loss OpenDP charges equals the analytic k·Δ/scale of each statistic.
    """
    k = 4
    table = per_person(k)
    spec = parse("""SELECT region, COUNT(*) AS n, SUM(CLAMP(age, 10, 60)) AS s, AVG(LEAST(income, 5000)) AS a
                    FROM people WHERE age > 5 AND city <> 'b' GROUP BY region""", table, Policy())
    c = compile_query(spec, table, Policy(), 1.0)
    stats = plan._stats(spec, need_len=False)
    text = plan._plan(spec, table, stats, plan._keys_frame(spec, table), c.schema).explain(optimized=False)
    assert "WITH_COLUMNS" not in text and "HSTACK" not in text
    steps = [line.strip() for line in text.splitlines() if line.strip() not in ("", "FROM")]
    aggregate = next(i for i, step in enumerate(steps) if step.startswith("AGGREGATE"))
    assert "int_range" in steps[aggregate + 2]  # the step right under the aggregation is the truncation
    # statistics in their canonical order: count(income), len, sum(age ≤ 60), sum(income ≤ 5000); OpenDP
    # adds a float-rounding allowance to the income sum's Δ, so its charge may only exceed the analytic
    # loss by a hair.
    assert [(s.kind, s.column) for s in c.stats] == [("count", "income"), ("len", None), ("sum", "age"),
                                                     ("sum", "income")]
    loss = analytic_epsilon(c, k, [1, 1, 60, 5000])
    assert loss <= c.epsilon_cost <= loss * (1 + 1e-5)


def test_bug_2945_max_rows_must_cover_a_persons_rows() -> None:
    """OpenDP #2945: a margin's max_length is used as the per-group change, off by 2× below the bound.

    With max_rows at the contribution bound the loss is still exactly k·Δ/scale; below it we refuse.
    """
    k = 5
    c = compiled("SELECT region, COUNT(*) AS n, SUM(age) AS s FROM people GROUP BY region", 1.0,
                 table=per_person(k, max_rows=k))
    assert analytic_epsilon(c, k, [1, 100]) == pytest.approx(c.epsilon_cost, rel=1e-9)
    with pytest.raises(QueryNotAllowed, match="max_rows"):
        compiled("SELECT COUNT(*) FROM people", 1.0, table=per_person(k, max_rows=k - 1))
    with pytest.raises(QueryNotAllowed, match="max_rows"):
        compiled("SELECT COUNT(*) FROM people", 1.0, table=dataclasses.replace(PEOPLE, max_contributions=3,
                                                                               max_rows=2))


def test_row_unit_with_several_rows_per_person_charges_for_all_of_them() -> None:
    c = compiled("SELECT COUNT(*) AS n FROM people", 1.0, table=dataclasses.replace(PEOPLE, max_contributions=3))
    assert c.accuracy["n"] == pytest.approx(dp.discrete_laplacian_scale_to_accuracy(3.0, 0.05))


def test_identifier_release_is_near_the_truncated_truth(frame: pl.DataFrame, path: Path) -> None:
    out, pm = run("SELECT COUNT(*) AS n FROM people", path, epsilon=2.0, table=per_person(100))
    assert near(out["n"][0], frame.height, pm["n"])  # nobody has 100 rows, so nothing is truncated


# quantiles


def rank_error(values: list[float], candidate: float, level: float) -> float:
    """OpenDP's quantile score in rank units: |#(x < c) − p·#(x ≠ c)|."""
    below = sum(v < candidate for v in values)
    equal = sum(v == candidate for v in values)
    return abs(below - level * (len(values) - equal))


@pytest.mark.parametrize(("sql", "column", "level"), [
    ("SELECT MEDIAN(age) AS q FROM people", "age", 0.5),
    ("SELECT PERCENTILE_CONT(0.9) WITHIN GROUP (ORDER BY income) AS q FROM people", "income", 0.9),
    ("SELECT QUANTILE(CLAMP(income, 1000, 50000), 0.25) AS q FROM people", "income", 0.25),
])
def test_quantiles_rank_near_the_target(frame: pl.DataFrame, path: Path, sql: str, column: str,
                                        level: float) -> None:
    c = compiled(sql, 1.0)
    (agg,) = c.spec.aggregates
    assert agg.bounds is not None
    integral = column == "age"
    candidates = plan._candidates(agg.bounds[0], agg.bounds[1], integral)
    _, rows, pm = release(c, pl.scan_parquet(path))
    assert pm["q"] is None and rows[0][0] in candidates
    values = frame[column].drop_nulls().to_list()
    best = min(rank_error(values, x, level) for x in candidates)
    # P(miss) ≤ C·exp(−3R/s) = C·(α/C)^3: negligible.
    bound = 3 * quantile_rank_error(c.scale, level, len(candidates))
    assert rank_error(values, rows[0][0], level) <= best + bound


def test_quantile_rank_error_is_consistent_with_opendps_privacy_map() -> None:
    """R is derived from the score noise scale global_scale·max(p, 1−p) (rank units), for which
    the exponential mechanism's loss is 2·Δ/s = 2/global_scale per row: check OpenDP agrees."""
    for level in (0.5, 0.9, 0.25):
        c = compiled(f"SELECT QUANTILE(age, {level}) FROM people", 0.8)
        assert c.epsilon_cost == pytest.approx(2 / c.scale, rel=1e-9)
        assert quantile_rank_error(c.scale, level, 101) == pytest.approx(
            c.scale * max(level, 1 - level) * math.log(101 / 0.05))


def test_quantile_accuracy_is_explained_not_invented() -> None:
    c = compiled("SELECT MEDIAN(age) AS m, COUNT(*) AS n FROM people", 1.0)
    assert c.accuracy["m"] is not None and c.accuracy["n"] is not None
    assert "m: one of 101 candidates in [0, 100]" in c.accuracy_note
    assert "spread evenly across the bounds" in c.accuracy_note


def test_grouped_median(frame: pl.DataFrame, path: Path) -> None:
    out, _ = run("SELECT region, MEDIAN(age) AS m FROM people GROUP BY region", path, epsilon=3.0)
    truth = dict(frame.group_by("region").agg(pl.col("age").median()).iter_rows())
    for region, median in zip(out["region"][:3], out["m"][:3], strict=True):
        assert abs(median - truth[region]) <= 10  # type: ignore[operator]


# non-public keys (general grade, δ > 0)


UNKNOWN = Policy(allow_unknown_keys=True, delta=1e-6)


def test_unknown_keys_use_a_threshold_within_delta(frame: pl.DataFrame, path: Path) -> None:
    c = compiled("SELECT city, COUNT(*) AS n, AVG(age) AS a FROM people GROUP BY city", 1.0, UNKNOWN)
    assert c.epsilon_cost == pytest.approx(1.0, rel=1e-9) and c.epsilon_cost <= 1.0
    assert 0 < c.delta_cost <= UNKNOWN.delta
    assert c.threshold is not None and c.threshold > 0
    _, rows, pm = release(c, pl.scan_parquet(path))
    truth = dict(frame.group_by("city").agg(pl.len()).iter_rows())
    assert sorted(r[0] for r in rows) == ["a", "b", "c"]
    for city, n, _ in rows:
        assert near(n, truth[city], pm["n"])


def test_unknown_keys_never_release_rare_groups(tmp_path: Path) -> None:
    rare = people_frame(3000).with_columns(
        pl.when(pl.int_range(pl.len()) < 3).then(pl.lit("tiny")).otherwise(pl.col("city")).alias("city"))
    parquet = write_parquet(rare, tmp_path)
    c = compiled("SELECT city, COUNT(*) AS n FROM people GROUP BY city", 1.0, UNKNOWN)
    for _ in range(5):
        _, rows, _ = release(c, pl.scan_parquet(parquet))
        assert "tiny" not in [r[0] for r in rows]


def test_unknown_keys_are_refused_by_the_compiler_too() -> None:
    spec = parse("SELECT city, COUNT(*) FROM people GROUP BY city", PEOPLE, UNKNOWN)
    with pytest.raises(QueryNotAllowed, match="not public"):
        compile_query(spec, PEOPLE, Policy(), 1.0)


# data hygiene and specs from the wire


def test_data_types_and_nans_are_normalised_before_opendp(tmp_path: Path) -> None:
    raw = people_frame(2000).with_columns(
        pl.col("age").cast(pl.Int32),
        pl.when(pl.int_range(pl.len()) % 10 == 0).then(float("nan")).otherwise(pl.col("income")).alias("income"))
    parquet = write_parquet(raw, tmp_path)
    out, pm = run("SELECT SUM(income) AS s, AVG(age) AS a, COUNT(income) AS k FROM people", parquet, epsilon=3.0)
    clean = raw["income"].fill_nan(None).drop_nulls()
    assert near(out["s"][0], clean.sum(), pm["s"])
    assert near(out["k"][0], len(clean), pm["k"])
    assert near(out["a"][0], raw["age"].mean(), pm["a"])  # type: ignore[arg-type]


def test_a_tampered_spec_cannot_widen_bounds() -> None:
    spec = parse("SELECT SUM(age) AS s FROM people", PEOPLE, Policy())
    wide = dataclasses.replace(spec, aggregates=(dataclasses.replace(spec.aggregates[0], bounds=(0, 10**6)),))
    with pytest.raises(QueryNotAllowed, match="narrow"):
        compile_query(wide, PEOPLE, Policy(), 1.0)


def test_too_many_key_combinations_are_refused() -> None:
    many = dataclasses.replace(PEOPLE, columns=(
        *PEOPLE.columns,
        *(ColumnInfo(f"d{i}", "dimension", "int", keys=tuple(range(20))) for i in range(4))))
    with pytest.raises(QueryNotAllowed, match="combinations"):
        compiled("SELECT d0, d1, d2, d3, COUNT(*) FROM people GROUP BY d0, d1, d2, d3", table=many)


def test_preview_gives_plus_minus_for_means_and_quantiles_from_public_parameters_only() -> None:
    sql = ("SELECT region, AVG(age) AS a, MEDIAN(age) AS m, PERCENTILE_CONT(0.9) WITHIN GROUP (ORDER BY income) AS q "
           "FROM people GROUP BY region")
    c = compiled(sql)
    assert all(c.accuracy[name] is not None and c.accuracy[name] > 0 for name in ("a", "m", "q"))  # type: ignore[operator]
    # Nothing but the dictionary, ε and the public row bound goes in: a larger bound means larger groups.
    larger = compiled(sql, table=dataclasses.replace(PEOPLE, max_rows=4 * PEOPLE.max_rows))
    assert all(larger.accuracy[n] < c.accuracy[n] for n in ("a", "m", "q"))  # type: ignore[operator]
    assert compiled(sql, epsilon=2.0).accuracy["a"] < c.accuracy["a"]  # type: ignore[operator]

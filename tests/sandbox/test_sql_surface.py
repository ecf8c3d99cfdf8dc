"""The wider SQL surface of issue 14: each form's meaning, its privacy map and its ±.

Post-processing forms (TOP, aliases, expressions on aggregates, HAVING/ORDER BY expressions, keys the
WHERE excludes) are checked on one stored measurement answered by two queries, so their values are
compared exactly, not within noise. Noise is not seedable; closeness to the truth allows 7× the ±.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from fastapi.testclient import TestClient

from sandbox.plan import Compiled, answer, compile_query, measure, release
from sandbox.refusals_zh import translate
from sandbox.spec import ColumnInfo, Policy, QuerySpec, TableInfo
from sandbox.sql import QueryNotAllowed, parse
from tests.flow import World, ok
from tests.sandbox import PEOPLE, REGIONS, people_frame, write_parquet
from tests.sandbox.test_cache import keys

WIDE = 7.0
K = 3
PER_PERSON = replace(PEOPLE, privacy_unit="pid", max_contributions=K)


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    return people_frame()


@pytest.fixture(scope="module")
def path(frame: pl.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_parquet(frame, tmp_path_factory.mktemp("surface"))


def compiled(sql: str, table: TableInfo = PEOPLE, epsilon: float = 1.0) -> Compiled:
    return compile_query(parse(sql, table, Policy()), table, Policy(), epsilon)


def table_of(columns: list[str], rows: list[list[Any]]) -> dict[str, list[Any]]:
    return {c: [r[i] for r in rows] for i, c in enumerate(columns)}


def run(sql: str, path: Path, table: TableInfo = PEOPLE, epsilon: float = 1.0
        ) -> tuple[dict[str, list[Any]], dict[str, float | None]]:
    columns, rows, plus_minus = release(compiled(sql, table, epsilon), pl.scan_parquet(path))
    return table_of(columns, rows), plus_minus


def refusal(sql: str, table: TableInfo = PEOPLE) -> QueryNotAllowed:
    with pytest.raises(QueryNotAllowed) as info:
        compiled(sql, table)
    return info.value


# 1. TOP, aliases on group columns, CAST in ORDER BY / HAVING


def test_top_n_is_read_as_limit_n() -> None:
    top = parse("SELECT TOP 2 region, COUNT(*) AS n FROM people GROUP BY region ORDER BY n DESC", PEOPLE, Policy())
    limit = parse("SELECT region, COUNT(*) AS n FROM people GROUP BY region ORDER BY n DESC LIMIT 2", PEOPLE, Policy())
    assert top == limit
    assert "TOP and LIMIT cannot be used together" in refusal("SELECT TOP 2 COUNT(*) FROM people LIMIT 3").detail


def test_a_group_column_renamed_with_as_labels_the_result(path: Path) -> None:
    out, _ = run("SELECT region AS r, COUNT(*) AS n FROM people GROUP BY r HAVING r <> 'west' ORDER BY r", path)
    assert list(out) == ["r", "n"]
    assert out["r"] == ["east", "north", "south"]
    spec = parse("SELECT region AS r, COUNT(*) AS n FROM people GROUP BY region", PEOPLE, Policy())
    assert spec.group_by == ("region",) and spec.columns == ("r", "n")
    assert "renamed twice" in refusal("SELECT region AS a, region AS b, COUNT(*) FROM people GROUP BY region").detail
    assert "used twice" in refusal("SELECT region AS n, COUNT(*) AS n FROM people GROUP BY region").detail
    assert "used twice" in refusal("SELECT region AS r, COUNT(*) AS region FROM people GROUP BY region").detail
    assert "is reserved" in refusal('SELECT COUNT(*) AS "__rows" FROM people').detail  # the hidden columns' names


def test_cast_in_order_by_and_having_works_on_released_values(path: Path) -> None:
    base = compiled("SELECT region, COUNT(*) AS n FROM people GROUP BY region")
    cast = compiled("SELECT region, COUNT(*) AS n FROM people GROUP BY region "
                    "HAVING CAST(n AS FLOAT) > 100 ORDER BY CAST(n AS INT) DESC")
    assert cast.stats == base.stats and cast.epsilon_cost == base.epsilon_cost
    measured = measure(base, pl.scan_parquet(path))
    plain = table_of(*answer(base, measured)[:2])
    ordered = table_of(*answer(cast, measured)[:2])
    kept = sorted((n, r) for r, n in zip(plain["region"], plain["n"], strict=True) if n > 100)
    assert list(zip(ordered["n"], ordered["region"], strict=True)) == kept[::-1]
    assert "west" not in ordered["region"]  # the key that never occurs has a count near 0


# 2. arithmetic and functions on released aggregates; HAVING on aggregates not selected


def test_arithmetic_on_a_release_is_post_processing_with_a_derived_plus_minus(path: Path) -> None:
    base = compiled("SELECT SUM(age) AS s, COUNT(*) AS n, AVG(income) AS a FROM people")
    derived = compiled("SELECT SUM(age) * 1 AS s1, COUNT(*) / 2 AS half, 3 - 2 * SUM(age) AS t, "
                       "POWER(AVG(income), 2) AS p, SUM(age) / COUNT(*) AS ratio, SQRT(COUNT(*)) AS r FROM people")
    assert derived.stats == base.stats and derived.epsilon_cost == base.epsilon_cost  # no extra ε
    measured = measure(base, pl.scan_parquet(path))
    columns, rows, plus_minus = answer(base, measured)
    b = table_of(columns, rows)
    columns, rows, derived_pm = answer(derived, measured)
    d = table_of(columns, rows)
    assert d["s1"] == b["s"] and d["half"] == [b["n"][0] / 2] and d["t"] == [3 - 2 * b["s"][0]]
    assert d["p"][0] == pytest.approx(b["a"][0] ** 2)
    assert d["ratio"][0] == pytest.approx(b["s"][0] / b["n"][0])
    assert d["r"][0] == pytest.approx(math.sqrt(b["n"][0]))
    # a·X + b of one released X has ± |a|·±X; anything else has none (see docs/sandbox.md)
    assert derived_pm["s1"] == plus_minus["s"]
    assert derived_pm["half"] == pytest.approx(plus_minus["n"] / 2)  # type: ignore[operator]
    assert derived_pm["t"] == pytest.approx(2 * plus_minus["s"])  # type: ignore[operator]
    assert derived_pm["p"] is None and derived_pm["ratio"] is None and derived_pm["r"] is None


def test_an_affine_average_keeps_the_released_average_plus_minus(path: Path) -> None:
    base = compiled("SELECT AVG(income) AS a FROM people")
    scaled = compiled("SELECT AVG(income) / 1000 AS k FROM people")
    measured = measure(base, pl.scan_parquet(path))
    assert answer(scaled, measured)[2]["k"] == pytest.approx(answer(base, measured)[2]["a"] / 1000)  # type: ignore[operator]


def test_having_may_use_an_aggregate_that_is_not_selected(frame: pl.DataFrame, path: Path) -> None:
    out, _ = run("SELECT region, AVG(age) AS a FROM people GROUP BY region HAVING COUNT(*) > 1000", path, epsilon=2.0)
    assert out["region"] == ["north", "south"]  # 2000 and 1200 rows; east has 800 (far beyond the noise)
    assert list(out) == ["region", "a"]


def test_functions_that_are_not_post_processing_are_refused_with_the_reason() -> None:
    assert "LOG with one argument" in refusal("SELECT LOG(SUM(age)) FROM people").detail
    assert "CAST to VARCHAR is not allowed on released values" in refusal(
        "SELECT CAST(SUM(age) AS VARCHAR) FROM people").detail
    assert "UPPER is not allowed on released values" in refusal(
        "SELECT region, COUNT(*) AS n FROM people GROUP BY region ORDER BY UPPER(region)").detail


def test_post_processing_shares_the_stored_measurement() -> None:
    base = keys("SELECT region, SUM(age) AS s FROM people GROUP BY region")
    for variant in ("SELECT region, SUM(age) * 1 AS s FROM people GROUP BY region",
                    "SELECT TOP 2 region AS r, POWER(SUM(age), 2) AS s FROM people GROUP BY region",
                    "SELECT region, SUM(age) AS s FROM people GROUP BY region ORDER BY CAST(s AS INT)"):
        measurement, answer_key = keys(variant)
        assert measurement == base[0] and answer_key != base[1], variant
    # an aggregate HAVING needs is measured too: that is another measurement
    assert keys("SELECT region, SUM(age) AS s FROM people GROUP BY region HAVING COUNT(*) > 3")[0] != base[0]


def test_selecting_only_group_columns_releases_the_keys_that_pass_a_measured_count(path: Path) -> None:
    sql = "SELECT region AS r FROM people GROUP BY region"
    c = compile_query(parse(sql, PEOPLE, Policy(min_group_size=100)), PEOPLE, Policy(min_group_size=100), 1.0)
    assert [s.kind for s in c.stats] == ["len"] and c.epsilon_cost == pytest.approx(1.0)  # the count is charged
    columns, rows, plus_minus = release(c, pl.scan_parquet(path))
    assert columns == ["r"] and rows == [["east"], ["north"], ["south"]] and plus_minus == {}  # "west" is withheld
    assert "raw column" in refusal("SELECT age AS a FROM people WHERE age > 100").detail  # no GROUP BY: raw rows


def test_a_constant_may_stand_beside_aggregates_but_not_alone(path: Path) -> None:
    out, pm = run("SELECT 3 AS three, region, COUNT(*) AS n FROM people GROUP BY region", path)
    assert out["three"] == [3, 3, 3, 3] and pm["three"] is None
    assert "constants" in refusal("SELECT 3 AS three FROM people").detail


def test_a_number_column_cannot_stand_alone_as_a_condition() -> None:
    assert '"age" is not a TRUE/FALSE column' in refusal(
        "SELECT age, COUNT(*) AS n FROM people GROUP BY age HAVING age").detail


# 3. groups the WHERE clause excludes by their public key


def test_keys_excluded_by_the_where_clause_are_left_out(path: Path) -> None:
    out, _ = run("SELECT region, COUNT(*) AS n FROM people WHERE region IN ('north', 'west') AND age > 3 "
                 "GROUP BY region", path)
    assert out["region"] == ["north", "west"]
    out, _ = run("SELECT region, COUNT(*) AS n FROM people WHERE age > 3 OR region = 'north' GROUP BY region", path)
    assert out["region"] == sorted(REGIONS)  # no conjunct on the keys alone: every key stays
    out, _ = run("SELECT age, COUNT(*) AS n FROM people WHERE age BETWEEN 10 AND 12 GROUP BY age", path)
    assert out["age"] == [10, 11, 12]


# 4. counting the privacy unit


def test_count_distinct_unit_counts_persons_at_sensitivity_one(frame: pl.DataFrame, path: Path) -> None:
    c = compiled("SELECT COUNT(DISTINCT pid) AS persons FROM people", PER_PERSON)
    (stat,) = c.stats
    assert c.epsilon_cost <= 1.0 and c.stat_scale[stat.name] == pytest.approx(1.0, rel=1e-6)  # 1 per person
    out, pm = run("SELECT COUNT(DISTINCT pid) AS persons FROM people", path, PER_PERSON)
    assert abs(out["persons"][0] - frame["pid"].n_unique()) <= WIDE * pm["persons"]  # type: ignore[operator]


def test_count_distinct_unit_per_group_charges_each_group_a_person_reaches(frame: pl.DataFrame, path: Path) -> None:
    # a person keeps at most K rows, so reaches at most min(K, 4 regions) groups, counted once in each
    c = compiled("SELECT region, COUNT(DISTINCT pid) AS persons FROM people GROUP BY region", PER_PERSON)
    (stat,) = c.stats
    assert c.stat_scale[stat.name] == pytest.approx(K, rel=1e-6)
    out, pm = run("SELECT region, COUNT(DISTINCT pid) AS persons FROM people GROUP BY region", path, PER_PERSON)
    truth = dict(frame.group_by("region").agg(pl.col("pid").n_unique()).iter_rows())
    for region, persons in zip(out["region"], out["persons"], strict=True):
        # truncation to K rows can only lose a person from a group, never add one
        assert persons <= truth.get(region, 0) + WIDE * pm["persons"]  # type: ignore[operator]
        assert persons >= 0.8 * truth.get(region, 0) - WIDE * pm["persons"]  # type: ignore[operator]


def test_count_unit_counts_rows_kept_per_person(path: Path) -> None:
    c = compiled("SELECT COUNT(pid) AS r FROM people", PER_PERSON)
    (stat,) = c.stats
    assert c.stat_scale[stat.name] == pytest.approx(K, rel=1e-6)  # up to K rows of one person


def test_counting_anything_else_distinctly_is_refused_with_the_reason() -> None:
    assert "only the privacy unit can be counted distinctly" in refusal(
        "SELECT COUNT(DISTINCT region) FROM people", PER_PERSON).detail
    assert '"pid" is an identifier' in refusal("SELECT COUNT(DISTINCT pid) FROM people").detail  # a row is the unit
    assert "in a query of its own" in refusal(
        "SELECT COUNT(DISTINCT pid) AS p, COUNT(*) AS n FROM people", PER_PERSON).detail
    assert '"pid" is an identifier' in refusal("SELECT SUM(pid) FROM people", PER_PERSON).detail


# 5. GROUP BY an integer measure through the keys its bounds make public


def test_group_by_an_integer_measure_uses_every_integer_within_its_bounds(path: Path) -> None:
    out, _ = run("SELECT age, COUNT(*) AS n FROM people GROUP BY age", path)
    assert out["age"] == list(range(0, 101))  # 100 never occurs in the data, and still comes back


def test_group_by_a_wide_or_decimal_measure_is_refused_with_the_reason() -> None:
    wide = replace(PEOPLE, columns=(*PEOPLE.columns, ColumnInfo("steps", "measure", "int", bounds=(0, 50_000))))
    assert "would make 50001 groups" in refusal("SELECT steps, COUNT(*) FROM people GROUP BY steps", wide).detail
    assert "decimal measure" in refusal("SELECT income, COUNT(*) FROM people GROUP BY income").detail


# 6. VARIANCE and STDDEV


def test_variance_and_stddev_are_near_the_truth_and_within_their_bounds(frame: pl.DataFrame, path: Path) -> None:
    sql = ("SELECT VARIANCE(age) AS v, STDDEV(age) AS s, VAR_POP(income) AS vp, STD(income) AS sd, "
           "VAR(CLAMP(age, 20, 40)) AS vc FROM people")
    out, pm = run(sql, path, epsilon=5.0)
    incomes = frame["income"].drop_nulls()
    assert out["v"][0] == pytest.approx(frame["age"].var(), rel=0.05)
    assert out["s"][0] == pytest.approx(frame["age"].std(), rel=0.05)
    assert out["vp"][0] == pytest.approx(incomes.var(ddof=0), rel=0.05)
    assert out["sd"][0] == pytest.approx(incomes.std(ddof=0), rel=0.05)
    assert out["vc"][0] == pytest.approx(frame["age"].clip(20, 40).var(), rel=0.1)
    assert pm == {"v": None, "s": None, "vp": None, "sd": None, "vc": None}


def test_a_variance_is_measured_by_sum_count_and_sum_of_squares_within_the_budget() -> None:
    c = compiled("SELECT STDDEV(age) AS s FROM people", epsilon=0.5)
    assert sorted(s.kind for s in c.stats) == ["count", "sum", "sumsq"]
    assert c.epsilon_cost <= 0.5
    # the same three statistics answer AVG, VARIANCE and STDDEV together at the same cost
    together = compiled("SELECT AVG(age) AS a, VARIANCE(age) AS v, STDDEV(age) AS s FROM people", epsilon=0.5)
    assert together.stats == c.stats


def test_a_noisy_variance_never_leaves_zero_to_a_quarter_of_the_range_squared(path: Path) -> None:
    for _ in range(5):
        out, _ = run("SELECT region, VARIANCE(age) AS v FROM people WHERE income < 1000 GROUP BY region",
                     path, epsilon=0.05)
        assert all(v is None or 0 <= v <= 100**2 / 4 for v in out["v"])


# 7. CASE inside aggregates


def test_case_inside_sum_count_and_avg_is_near_the_truth(frame: pl.DataFrame, path: Path) -> None:
    out, pm = run("SELECT SUM(CASE WHEN region = 'north' THEN age ELSE 0 END) AS s, "
                  "COUNT(CASE WHEN age > 50 THEN 1 END) AS c, AVG(CASE WHEN active THEN income END) AS a, "
                  "SUM(CASE WHEN age > 50 THEN -2 WHEN age > 20 THEN CLAMP(age, 20, 30) END) AS t FROM people",
                  path, epsilon=2.0)
    truth = frame.select(
        s=pl.when(pl.col("region") == "north").then(pl.col("age")).otherwise(0).sum(),
        c=(pl.col("age") > 50).sum(),
        a=pl.col("income").filter(pl.col("active")).mean(),
        t=pl.when(pl.col("age") > 50).then(-2).when(pl.col("age") > 20).then(pl.col("age").clip(20, 30))
        .otherwise(0).sum()).row(0, named=True)
    for name in ("s", "c", "a", "t"):
        assert abs(out[name][0] - truth[name]) <= WIDE * pm[name], name  # type: ignore[operator]


def test_case_bounds_come_from_its_branches_and_zero() -> None:
    (s,) = compiled("SELECT SUM(CASE WHEN age > 50 THEN -2 WHEN age > 20 THEN CLAMP(age, 20, 30) END) AS t "
                    "FROM people").stats
    assert s.bounds == (-2, 30)
    (c,) = compiled("SELECT SUM(CASE WHEN active THEN 5 ELSE 7 END) AS t FROM people").stats
    assert c.bounds == (0, 7)  # a row whose value is missing adds 0, so 0 is always inside


def test_case_where_it_cannot_go_is_refused_with_the_reason() -> None:
    assert "CASE is allowed inside SUM, AVG and COUNT only" in refusal(
        "SELECT MEDIAN(CASE WHEN age > 3 THEN age END) FROM people").detail
    assert '"region" is a dimension, not a measure' in refusal(
        "SELECT SUM(CASE WHEN age > 3 THEN region END) FROM people").detail
    assert '"pid" is an identifier' in refusal("SELECT SUM(CASE WHEN pid = 3 THEN 1 END) FROM people").detail


@pytest.mark.parametrize("sql", [
    "SELECT EXTRACT(year FROM city), COUNT(*) FROM people GROUP BY 1",
    "SELECT COUNT(*) FROM people GROUP BY DATE_TRUNC('month', city)",
])
def test_date_bucketing_of_a_text_column_is_refused_with_the_real_reason(sql: str) -> None:
    err = refusal(sql)
    assert '"city" is not a date or time column in the data dictionary' in err.detail
    assert "日期或时间" in translate(err.reason)


def test_min_and_max_are_still_refused_as_extremes() -> None:
    assert "extremes cannot be released" in refusal("SELECT MAX(age) FROM people").detail


# refusals in Chinese


@pytest.mark.parametrize(("sql", "said"), [
    ("SELECT TOP 2 COUNT(*) FROM people LIMIT 3", "不能同时使用 TOP 和 LIMIT"),
    ("SELECT COUNT(DISTINCT region) FROM people", "只能对隐私单位做 COUNT(DISTINCT"),
    ("SELECT LOG(SUM(age)) FROM people", "LOG"),
    ("SELECT income, COUNT(*) FROM people GROUP BY income", "小数度量"),
])
def test_new_refusals_are_said_in_chinese(sql: str, said: str) -> None:
    err = refusal(sql, PER_PERSON)
    assert said in translate(err.reason, err.line, err.col)


# through the API: the spec crosses to the worker as JSON, and post-processing reuses a stored release


def test_spec_with_the_new_forms_round_trips_through_json() -> None:
    spec = parse("SELECT TOP 3 region AS r, SUM(age) * 2 AS s, POWER(AVG(income), 2) AS p FROM people "
                 "WHERE region IN ('north', 'east') GROUP BY region HAVING COUNT(*) > 3 ORDER BY CAST(s AS INT)",
                 PEOPLE, Policy())
    assert QuerySpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


def test_a_post_processed_query_is_answered_from_the_paid_release(client: TestClient) -> None:
    world = World(client)
    headers = world.enterprise()
    licence = world.active_licence(headers)["id"]

    def ask(sql: str) -> Any:
        return ok(client.post("/api/v1/queries", headers=headers,
                              json={"license_id": licence, "sql": sql, "epsilon": 0.2}), 201)

    paid = ask("SELECT region, SUM(age) AS s FROM people GROUP BY region")
    derived = ask("SELECT TOP 2 region AS r, SUM(age) * 2 AS s2 FROM people GROUP BY region ORDER BY s2 DESC")
    assert derived["cached"] is True and derived["epsilon_charged"] == 0
    assert derived["columns"] == ["r", "s2"]
    doubled = sorted(((r, 2 * s) for r, s in paid["rows"]), key=lambda rs: -rs[1])[:2]
    assert [tuple(row) for row in derived["rows"]] == doubled
    assert derived["accuracy"]["s2"]["plus_minus"] == pytest.approx(2 * paid["accuracy"]["s"]["plus_minus"])
    spread = ask("SELECT VARIANCE(age) AS v, STDDEV(age) AS sd FROM people")
    assert spread["cached"] is False and spread["epsilon_charged"] == pytest.approx(0.2)
    (v, sd), = spread["rows"]
    assert 0 <= v <= 120**2 / 4 and sd == pytest.approx(math.sqrt(v))
    assert spread["accuracy"]["v"]["plus_minus"] is None


def test_whole_number_arithmetic_that_would_overflow_is_null_not_wrapped_around(path: Path) -> None:
    out, _ = run("SELECT SUM(income) AS s, SUM(age) * 4611686018427387904 AS big, COUNT(*) * 2 AS n2 FROM people",
                 path)
    assert out["big"] == [None] and isinstance(out["n2"][0], int)
    assert "from 0 to 15" in refusal("SELECT ROUND(AVG(age), -1) FROM people").detail


def test_casting_a_text_group_column_in_order_by_or_having_is_null_not_an_error(path: Path) -> None:
    out, _ = run("SELECT region, COUNT(*) AS n FROM people GROUP BY region ORDER BY CAST(region AS INT), ABS(region)",
                 path)
    assert sorted(out["region"]) == sorted(REGIONS)
    out, _ = run("SELECT region, COUNT(*) AS n FROM people GROUP BY region HAVING CAST(region AS INT) > 3", path)
    assert out["region"] == []  # text that is not a number casts to null, and null > 3 is not true
    assert "CASE values must be numbers" in refusal("SELECT SUM(CASE WHEN age > 3 THEN 'x' END) FROM people").detail

"""GROUP BY a measure through public bins: FLOOR(m / w) * w over its declared bounds, or CASE WHEN … THEN
'label' … END whose labels the query itself names. Keys never come from the data."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from sandbox.plan import Compiled, compile_query
from sandbox.refusals_zh import translate
from sandbox.spec import ColumnInfo, Policy, TableInfo
from sandbox.sql import QueryNotAllowed, parse
from tests.sandbox.public_keys import count_loss_by_hand, released, scan

K = 2
PEOPLE = TableInfo("people", (
    ColumnInfo("pid", "identifier", "string"),
    ColumnInfo("region", "dimension", "string", keys=("a", "b")),
    ColumnInfo("age", "measure", "int", bounds=(0, 99)),
    ColumnInfo("income", "measure", "float", bounds=(0.0, 100_000.0)),
    ColumnInfo("day", "dimension", "date", period=("2013-01-01", "2013-12-31")),
), privacy_unit="pid", max_contributions=K, max_rows=10_000)


def people(ages: list[int]) -> pl.DataFrame:
    return pl.DataFrame({"pid": [f"p{i}" for i in range(len(ages))], "region": ["a"] * len(ages), "age": ages,
                         "income": [100.0] * len(ages), "day": ["2013-01-01"] * len(ages)})


def compiled(sql: str, epsilon: float = 1.0) -> Compiled:
    return compile_query(parse(sql, PEOPLE, Policy()), PEOPLE, Policy(), epsilon)


def run(sql: str, data: pl.LazyFrame, epsilon: float = 1.0) -> tuple[dict[str, list[object]], dict[str, float | None]]:
    return released(compiled(sql, epsilon), data)


def test_width_bins_charge_opendps_map_of_the_equivalent_public_key_plan() -> None:
    c = compiled("SELECT FLOOR(age / 10) * 10 AS decade, COUNT(*) AS n FROM people GROUP BY decade")
    by_hand = count_loss_by_hand("pid", "decade", list(range(0, 100, 10)), K, c.scale)
    assert by_hand == pytest.approx(c.epsilon_cost, rel=1e-12) and c.epsilon_cost <= 1.0


def test_bins_come_from_the_bounds_whatever_the_data(tmp_path: Path) -> None:
    young = scan(people([20, 21, 25]), tmp_path, "young")
    old = scan(people([95] * 40), tmp_path, "old")
    for sql, keys in [("SELECT FLOOR(age / 10) * 10 AS k, COUNT(*) AS n FROM people GROUP BY k",
                       list(range(0, 100, 10))),
                      ("SELECT FLOOR(income / 25000) AS k, SUM(age) AS s FROM people GROUP BY FLOOR(income / 25000)",
                       [0, 1, 2, 3, 4]),
                      ("SELECT CASE WHEN age < 30 THEN 'young' WHEN age < 60 THEN 'middle' ELSE 'old' END AS k, "
                       "COUNT(*) AS n FROM people GROUP BY k", ["middle", "old", "young"])]:
        first, _ = run(sql, young)
        second, _ = run(sql, old)
        assert first["k"] == second["k"] == keys, sql


def test_rows_land_in_their_bin_and_a_case_without_else_leaves_the_rest_out(tmp_path: Path) -> None:
    data = scan(people([5] * 30 + [42] * 20 + [200] * 10), tmp_path)  # 200 is past the bounds: no bin
    out, pm = run("SELECT FLOOR(age / 10) * 10 AS decade, COUNT(*) AS n FROM people GROUP BY decade", data, 20.0)
    counts = dict(zip(out["decade"], out["n"], strict=True))
    assert pm["n"] is not None and pm["n"] < 5
    assert abs(counts[0] - 30) <= 7 * pm["n"] and abs(counts[40] - 20) <= 7 * pm["n"] and abs(counts[90]) <= 7 * pm["n"]
    out, pm = run("SELECT CASE WHEN age < 10 THEN 1 WHEN age < 50 THEN 2 END AS band, COUNT(*) AS n FROM people "
                  "GROUP BY band", data, 20.0)
    assert out["band"] == [1, 2] and pm["n"] is not None
    assert abs(out["n"][0] - 30) <= 7 * pm["n"] and abs(out["n"][1] - 20) <= 7 * pm["n"]


@pytest.mark.parametrize(("sql", "english", "chinese"), [
    ("SELECT FLOOR(income / 1) AS b, COUNT(*) FROM people GROUP BY b", "would make 100,001 groups over the bounds",
     "100,001 个组"),
    ("SELECT FLOOR(age / 2.5) AS b, COUNT(*) FROM people GROUP BY b", "the bin width must be a positive whole number",
     "分箱宽度必须是正整数"),
    ("SELECT CASE WHEN age < 30 THEN 'young' ELSE 2 END AS b, COUNT(*) FROM people GROUP BY b",
     "must all be text or all whole numbers", "全为文本或全为整数"),
    ("SELECT CASE WHEN day < DATE '2013-06-01' THEN 'h1' ELSE 'h2' END AS b, COUNT(*) FROM people GROUP BY b",
     'a CASE group cannot test the date column "day"', "不能判断日期列"),
    ("SELECT CASE WHEN pid = 'p1' THEN 'x' END AS b, COUNT(*) FROM people GROUP BY b",
     'column "pid" is an identifier', "个人标识符"),
])
def test_bins_that_would_leak_or_drown_in_noise_are_refused(sql: str, english: str, chinese: str) -> None:
    with pytest.raises(QueryNotAllowed) as err:
        compiled(sql)
    assert english in err.value.detail and chinese in translate(err.value.reason)


def incomes(values: list[float]) -> pl.DataFrame:
    n = len(values)
    return pl.DataFrame({"pid": [f"p{i}" for i in range(n)], "region": ["a"] * n, "age": [30] * n,
                         "income": values, "day": ["2013-01-01"] * n})


@pytest.mark.parametrize("odd", [float("nan"), float("inf"), float("-inf"), 1e300])
def test_a_value_no_bin_index_can_hold_falls_in_no_bin_and_the_release_does_not_fail(
        tmp_path: Path, odd: float) -> None:
    # Failing would make whether a query answers depend on raw data outside DP, and OpenDP's error names
    # the raw value; the row is beyond the bounds the keys cover, so it belongs to no bin.
    data = scan(incomes([10.0] * 40 + [odd] * 40), tmp_path)
    out, pm = run("SELECT FLOOR(income / 25000) AS k, COUNT(*) AS n FROM people GROUP BY k", data, 20.0)
    counts = dict(zip(out["k"], out["n"], strict=True))
    assert out["k"] == [0, 1, 2, 3, 4] and pm["n"] is not None
    assert abs(counts[0] - 40) <= 7 * pm["n"]
    assert all(abs(counts[k]) <= 7 * pm["n"] for k in (1, 2, 3, 4))


def test_a_nan_gets_no_case_label_as_it_passes_no_where(tmp_path: Path) -> None:
    data = scan(incomes([float("nan")] * 60 + [10.0] * 5), tmp_path)
    out, pm = run("SELECT CASE WHEN income > 50000 THEN 'rich' WHEN income <= 50000 THEN 'other' END AS k, "
                  "COUNT(*) AS n FROM people GROUP BY k", data, 20.0)
    counts = dict(zip(out["k"], out["n"], strict=True))
    assert pm["n"] is not None and pm["n"] < 5
    assert abs(counts["rich"]) <= 7 * pm["n"] and abs(counts["other"] - 5) <= 7 * pm["n"]

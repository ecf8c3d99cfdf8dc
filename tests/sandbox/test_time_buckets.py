"""Time buckets (EXTRACT, DATE_TRUNC, YEAR()...) on date and datetime columns the dictionary declares.

Their keys come from the declared period alone, the person-level truncation still runs before any
statistic, and the ε charged is OpenDP's own map of the equivalent public-key plan.
"""

from __future__ import annotations

from pathlib import Path

import opendp.prelude as dp
import polars as pl
import pytest

from sandbox import plan
from sandbox.plan import Compiled, compile_query
from sandbox.refusals_zh import translate
from sandbox.spec import ColumnInfo, Policy, TableInfo
from sandbox.sql import QueryNotAllowed, parse
from tests.sandbox.public_keys import count_loss_by_hand, released, scan

K = 3
TRIPS = TableInfo("trips", (
    ColumnInfo("card", "identifier", "string"),
    ColumnInfo("trip_date", "dimension", "date", period=("2013-01-01", "2013-06-30")),
    ColumnInfo("boarded", "dimension", "datetime", period=("2013-01-01 00:00:00", "2013-12-31 23:59:59")),
    ColumnInfo("undated", "dimension", "date"),
    ColumnInfo("line", "dimension", "string", keys=("1", "2")),
    ColumnInfo("fare", "measure", "float", bounds=(0.0, 10.0)),
), privacy_unit="card", max_contributions=K, max_rows=10_000)
MONTHS = ["2013-01-01", "2013-02-01", "2013-03-01", "2013-04-01", "2013-05-01", "2013-06-01"]


def trips(rows: list[tuple[str, str | None, str | None]]) -> pl.DataFrame:
    """Rows of (card, trip_date, boarded) as text, the way an upload stores them."""
    return pl.DataFrame({"card": [r[0] for r in rows], "trip_date": [r[1] for r in rows],
                         "boarded": [r[2] for r in rows], "undated": [r[1] for r in rows],
                         "line": ["1"] * len(rows), "fare": [2.0] * len(rows)})


def compiled(sql: str, epsilon: float = 1.0, table: TableInfo = TRIPS) -> Compiled:
    return compile_query(parse(sql, table, Policy()), table, Policy(), epsilon)


def run(sql: str, data: pl.LazyFrame, epsilon: float = 1.0) -> tuple[dict[str, list[object]], dict[str, float | None]]:
    return released(compiled(sql, epsilon), data)


def refusal(sql: str, table: TableInfo = TRIPS) -> QueryNotAllowed:
    with pytest.raises(QueryNotAllowed) as err:
        compile_query(parse(sql, table, Policy()), table, Policy(), 1.0)
    return err.value


# the privacy map


def test_the_charge_is_opendps_map_of_the_equivalent_public_key_plan() -> None:
    c = compiled("SELECT EXTRACT(MONTH FROM boarded) AS m, COUNT(*) AS n FROM trips GROUP BY m")
    # The same plan written by hand over a whole-number column with the keys 1..12: truncation to K rows
    # per card, then a count per month joined onto the public keys.
    by_hand = count_loss_by_hand("card", "m", list(range(1, 13)), K, c.scale)
    assert by_hand == pytest.approx(c.epsilon_cost, rel=1e-12)
    assert c.epsilon_cost <= 1.0
    # One card moves at most K rows, so the count's noise scale is K/ε and ± follows from it alone.
    assert dp.summarize_polars_measurement(c.measurement)["scale"][0] == pytest.approx(K / c.epsilon_cost, rel=1e-9)
    assert c.accuracy["n"] == pytest.approx(dp.discrete_laplacian_scale_to_accuracy(K / c.epsilon_cost, 0.05))


def test_a_person_with_many_rows_in_one_month_counts_at_most_k(tmp_path: Path) -> None:
    heavy = [("heavy", "2013-03-15", None)] * 200
    others = [(f"c{i}", "2013-03-02", None) for i in range(5)]
    out, pm = run("SELECT DATE_TRUNC('month', trip_date) AS month, COUNT(*) AS n FROM trips GROUP BY month",
                  scan(trips(heavy + others), tmp_path), epsilon=50.0)
    march = out["n"][out["month"].index("2013-03-01")]
    assert isinstance(march, int) and pm["n"] is not None and abs(march - (K + 5)) <= 7 * pm["n"] < 50


def test_the_plan_around_the_bucket_is_the_usual_one_so_bug_2949_stays_away() -> None:
    spec = parse("SELECT EXTRACT(HOUR FROM boarded) AS h, SUM(fare) AS s FROM trips GROUP BY h", TRIPS, Policy())
    c = compile_query(spec, TRIPS, Policy(), 1.0)
    # The bucket is a column of the input the domain describes, not one the plan redefines after truncation.
    assert list(c.schema) == ["card", "fare", "time:extract:hour:boarded"]
    text = plan._plan(spec, TRIPS, c.stats, plan._keys_frame(spec, TRIPS), c.schema).explain(optimized=False)
    assert "WITH_COLUMNS" not in text and "HSTACK" not in text and "int_range" in text


# public keys


def test_keys_come_from_the_declared_period_whatever_the_data(tmp_path: Path) -> None:
    january = scan(trips([(f"a{i}", "2013-01-05", "2013-01-05 07:10") for i in range(20)]), tmp_path, "jan")
    june = scan(trips([(f"b{i}", "2013/6/30", "2013/6/30 23:59") for i in range(3)]), tmp_path, "jun")
    for sql, keys in [
        ("SELECT DATE_TRUNC('month', trip_date) AS k, COUNT(*) AS n FROM trips GROUP BY k", MONTHS),
        ("SELECT EXTRACT(MONTH FROM boarded) AS k, COUNT(*) AS n FROM trips GROUP BY k", list(range(1, 13))),
        ("SELECT EXTRACT(HOUR FROM boarded) AS k, COUNT(*) AS n FROM trips GROUP BY k", list(range(24))),
        ("SELECT DATE_PART('dow', trip_date) AS k, COUNT(*) AS n FROM trips GROUP BY k", list(range(7))),
        ("SELECT YEAR(boarded) AS k, COUNT(*) AS n FROM trips GROUP BY k", [2013]),
        ("SELECT DATE_TRUNC('quarter', boarded) AS k, COUNT(*) AS n FROM trips GROUP BY k",
         ["2013-01-01 00:00:00", "2013-04-01 00:00:00", "2013-07-01 00:00:00", "2013-10-01 00:00:00"]),
    ]:
        first, _ = run(sql, january)
        second, _ = run(sql, june)
        assert first["k"] == second["k"] == keys, sql


def test_rows_land_in_their_own_bucket_and_unreadable_dates_in_none(tmp_path: Path) -> None:
    rows = [(f"a{i}", "2013-02-03", "2013/2/3 5:17") for i in range(30)] + \
           [(f"b{i}", "2013/4/1", "2013-04-01T18:00:00") for i in range(20)] + \
           [(f"c{i}", "NA", "2013-02-30 08:00") for i in range(40)]
    data = scan(trips(rows), tmp_path)
    out, pm = run("SELECT DATE_TRUNC('month', trip_date) AS month, COUNT(*) AS n FROM trips GROUP BY month",
                  data, epsilon=20.0)
    assert pm["n"] is not None
    truth = {"2013-02-01": 30, "2013-04-01": 20}
    for month, n in zip(out["month"], out["n"], strict=True):
        assert isinstance(n, int) and abs(n - truth.get(str(month), 0)) <= 7 * pm["n"] < 10, month
    out, pm = run("SELECT EXTRACT(HOUR FROM boarded) AS h, COUNT(*) AS n FROM trips GROUP BY h", data, epsilon=20.0)
    hours = dict(zip(out["h"], out["n"], strict=True))
    assert pm["n"] is not None and abs(hours[5] - 30) <= 7 * pm["n"] and abs(hours[18] - 20) <= 7 * pm["n"]
    assert abs(hours[8]) <= 7 * pm["n"]  # 30 February is no date: those rows are missing, not in hour 8
    out, pm = run("SELECT EXTRACT(DOW FROM trip_date) AS dow, COUNT(*) AS n FROM trips GROUP BY dow", data, 20.0)
    days = dict(zip(out["dow"], out["n"], strict=True))  # PostgreSQL's numbering: 0 is Sunday
    assert pm["n"] is not None and abs(days[0] - 30) <= 7 * pm["n"] and abs(days[1] - 20) <= 7 * pm["n"]


def test_a_where_on_the_date_filters_rows_and_leaves_out_keys_it_empties(tmp_path: Path) -> None:
    rows = [(f"a{i}", "2013-02-10", None) for i in range(30)] + [(f"b{i}", "2013-05-31", None) for i in range(20)]
    out, pm = run("SELECT DATE_TRUNC('month', trip_date) AS month, COUNT(*) AS n FROM trips "
                  "WHERE trip_date >= DATE '2013-03-15' AND trip_date < '2013-06-01' GROUP BY month",
                  scan(trips(rows), tmp_path), epsilon=20.0)
    assert out["month"] == ["2013-03-01", "2013-04-01", "2013-05-01"]
    assert pm["n"] is not None and abs(out["n"][2] - 20) <= 7 * pm["n"] and abs(out["n"][0]) <= 7 * pm["n"]


def test_a_bucket_combines_with_a_dimension_and_orders_by_its_name(tmp_path: Path) -> None:
    out, _ = run("SELECT line, MONTH(trip_date) AS m, AVG(fare) AS a FROM trips GROUP BY line, m ORDER BY m DESC",
                 scan(trips([("a", "2013-01-01", None)]), tmp_path))
    assert out["m"] == [m for m in range(12, 0, -1) for _ in ("1", "2")] and out["line"][:2] == ["1", "2"]


# refusals, in English and Chinese


def test_a_date_column_without_a_declared_period_is_refused() -> None:
    err = refusal("SELECT EXTRACT(YEAR FROM undated) AS y, COUNT(*) FROM trips GROUP BY y")
    assert 'column "undated" has no declared period in the data dictionary' in err.detail
    assert "没有声明时间范围" in translate(err.reason)


def test_too_many_keys_are_refused_unless_a_where_narrows_the_period() -> None:
    err = refusal("SELECT DATE_TRUNC('hour', boarded) AS h, COUNT(*) FROM trips GROUP BY h")
    assert "would make 8,760 groups" in err.detail and "more than 1000" in err.detail
    assert "8,760 个组" in translate(err.reason)
    narrowed = compiled("SELECT DATE_TRUNC('hour', boarded) AS h, COUNT(*) AS n FROM trips "
                        "WHERE boarded >= TIMESTAMP '2013-03-01 00:00' AND boarded < TIMESTAMP '2013-03-08' GROUP BY h")
    assert narrowed.share == pytest.approx(10_000 / (7 * 24))
    between = compiled("SELECT DATE_TRUNC('day', trip_date) AS d, COUNT(*) AS n FROM trips "
                       "WHERE line = '1' AND trip_date BETWEEN '2013-02-01' AND '2013-02-28' GROUP BY d")
    assert between.share == pytest.approx(10_000 / 28)
    err = refusal("SELECT DATE_TRUNC('month', trip_date) AS m, COUNT(*) FROM trips "
                  "WHERE trip_date > DATE '2014-01-01' GROUP BY m")
    assert "leaves no period" in err.detail and "WHERE 条件排除" in translate(err.reason)


@pytest.mark.parametrize(("sql", "english", "chinese"), [
    ("SELECT EXTRACT(MONTH FROM line) AS m, COUNT(*) FROM trips GROUP BY m",
     'column "line" is not a date or time column in the data dictionary, so EXTRACT cannot be used on it',
     "不是日期或时间列"),
    ("SELECT DATE_TRUNC('month', fare), COUNT(*) FROM trips GROUP BY 1",
     'column "fare" is not a date or time column', "不是日期或时间列"),
    ("SELECT EXTRACT(HOUR FROM trip_date) AS h, COUNT(*) FROM trips GROUP BY h",
     "holds dates without a time of day, so it has no hour", "无法按小时分组"),
    ("SELECT EXTRACT(WEEK FROM trip_date) AS w, COUNT(*) FROM trips GROUP BY w",
     "EXTRACT by WEEK is not supported", "不支持按 WEEK 分段"),
    ("SELECT trip_date, COUNT(*) FROM trips GROUP BY trip_date",
     "whose values are not public keys, so it cannot be grouped on directly", "不能直接分组"),
    ("SELECT COUNT(*) FROM trips WHERE trip_date >= 'soon'",
     '"trip_date" holds dates and cannot be compared with', "不能与"),
    ("SELECT COUNT(*) FROM trips WHERE trip_date >= TIMESTAMP '2013-03-01 08:00'",
     "holds dates, which cannot be compared with a time of day", "不能与带时刻的时间比较"),
    ("SELECT EXTRACT(MONTH FROM boarded) AS m, COUNT(*) FROM trips",
     'column "EXTRACT(MONTH FROM boarded)" is selected but not grouped', "没有出现在 GROUP BY 中"),
])
def test_refusals_name_the_real_reason(sql: str, english: str, chinese: str) -> None:
    err = refusal(sql)
    assert english in err.detail
    assert chinese in translate(err.reason)


OPEN_END = TableInfo("trips", (
    ColumnInfo("card", "identifier", "string"),
    ColumnInfo("trip_date", "dimension", "date", period=("9990-01-01", "9999-12-31")),
    ColumnInfo("boarded", "dimension", "datetime", period=("9999-12-01 00:00:00", "9999-12-31 23:59:59")),
    ColumnInfo("early", "dimension", "date", period=("2000-01-01", "9999-12-31")),
), privacy_unit="card", max_contributions=K, max_rows=10_000)


@pytest.mark.parametrize("sql, count", [
    ("SELECT YEAR(trip_date) AS k, COUNT(*) AS n FROM trips GROUP BY k", 10),
    ("SELECT EXTRACT(YEAR FROM trip_date) AS k, COUNT(*) AS n FROM trips GROUP BY k", 10),
    ("SELECT DATE_TRUNC('year', trip_date) AS k, COUNT(*) AS n FROM trips GROUP BY k", 10),
    ("SELECT DATE_TRUNC('month', trip_date) AS k, COUNT(*) AS n FROM trips GROUP BY k", 120),
    ("SELECT DATE_TRUNC('day', boarded) AS k, COUNT(*) AS n FROM trips GROUP BY k", 31),
    ("SELECT DATE_TRUNC('hour', boarded) AS k, COUNT(*) AS n FROM trips "
     "WHERE boarded >= TIMESTAMP '9999-12-31 00:00:00' GROUP BY k", 24),
])
def test_a_period_open_to_9999_12_31_has_its_last_bucket_and_none_after(sql: str, count: int) -> None:
    c = compiled(sql, table=OPEN_END)
    key = c.spec.group_by[0]
    assert len(plan._group_info(c.spec, OPEN_END, key).keys or ()) == count


def test_a_day_bucket_over_a_huge_period_is_refused_by_its_count_before_any_key_is_listed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def listed(*_: object, **__: object) -> None:
        raise AssertionError("keys listed")
    monkeypatch.setattr(plan.Bucket, "keys", listed)
    err = refusal("SELECT DATE_TRUNC('day', early) AS k, COUNT(*) AS n FROM trips GROUP BY k", OPEN_END)
    assert "more than 1000" in str(err)


def test_rows_dated_outside_the_declared_period_fall_in_no_bucket(tmp_path: Path) -> None:
    # trip_date's period is 2013-01-01 to 2013-06-30: rows of February 2014, or of 2012, are in no month.
    rows = [(f"a{i}", "2014-02-03", "2014-02-03 05:00") for i in range(40)] + \
           [(f"b{i}", "2012-12-31", "2012-12-31 05:00") for i in range(40)] + \
           [(f"c{i}", "2013-03-03", "2013-03-03 06:00") for i in range(20)]
    data = scan(trips(rows), tmp_path)
    for sql, inside, outside in [
        ("SELECT EXTRACT(MONTH FROM trip_date) AS k, COUNT(*) AS n FROM trips GROUP BY k", 3, (2, 12)),
        ("SELECT EXTRACT(QUARTER FROM trip_date) AS k, COUNT(*) AS n FROM trips GROUP BY k", 1, (4,)),
        ("SELECT EXTRACT(DAY FROM trip_date) AS k, COUNT(*) AS n FROM trips GROUP BY k", 3, (31,)),
        ("SELECT EXTRACT(DOW FROM trip_date) AS k, COUNT(*) AS n FROM trips GROUP BY k", 0, (1,)),
        ("SELECT EXTRACT(HOUR FROM boarded) AS k, COUNT(*) AS n FROM trips GROUP BY k", 6, (5,)),
    ]:
        out, pm = run(sql, data, epsilon=20.0)
        counts = dict(zip(out["k"], out["n"], strict=True))
        assert pm["n"] is not None and pm["n"] < 5, sql
        assert abs(counts[inside] - 20) <= 7 * pm["n"], sql
        assert all(abs(counts[k]) <= 7 * pm["n"] for k in outside), sql


def test_a_quoted_unit_is_never_read_as_bigquerys_column_first_order() -> None:
    days = TableInfo("trips", (
        ColumnInfo("card", "identifier", "string"),
        ColumnInfo("day", "dimension", "date", period=("2013-01-01", "2013-06-30")),
    ), privacy_unit="card", max_contributions=K, max_rows=10_000)
    err = refusal("SELECT DATE_TRUNC('week', day) AS w, COUNT(*) AS n FROM trips GROUP BY w", days)
    assert "DATE_TRUNC by WEEK is not supported" in err.detail and "不支持按 WEEK 分段" in translate(err.reason)
    # An identifier first is still BigQuery's order, DATE_TRUNC(column, unit)
    c = compiled("SELECT DATE_TRUNC(trip_date, MONTH) AS m, COUNT(*) AS n FROM trips GROUP BY m")
    assert len(plan._group_info(c.spec, TRIPS, c.spec.group_by[0]).keys or ()) == 6

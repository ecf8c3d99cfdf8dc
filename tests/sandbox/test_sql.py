"""SQL → QuerySpec: what is accepted, what is refused and how the refusal reads."""

from __future__ import annotations

import json

import pytest

from sandbox.spec import Aggregate, BoolOp, ColumnInfo, Comparison, OrderItem, Policy, QuerySpec, TableInfo
from sandbox.sql import QueryNotAllowed, parse
from tests.sandbox import PEOPLE

POLICY = Policy()


def spec_of(sql: str, policy: Policy = POLICY) -> QuerySpec:
    return parse(sql, PEOPLE, policy)


def refusal(sql: str, policy: Policy = POLICY) -> QueryNotAllowed:
    with pytest.raises(QueryNotAllowed) as info:
        parse(sql, PEOPLE, policy)
    return info.value


# accepted


def test_aggregates_get_default_aliases_and_dictionary_bounds() -> None:
    spec = spec_of("SELECT COUNT(*), COUNT(income), SUM(income), AVG(age), MEDIAN(age) FROM people")
    assert spec.aggregates == (
        Aggregate("count", "count"),
        Aggregate("count_income", "count", "income"),
        Aggregate("sum_income", "sum", "income", (0.0, 100_000.0)),
        Aggregate("avg_age", "avg", "age", (0, 100)),
        Aggregate("median_age", "quantile", "age", (0, 100), 0.5),
    )
    assert spec.group_by == () and spec.where is None


def test_quantile_spellings() -> None:
    spec = spec_of("""SELECT PERCENTILE_CONT(0.9) WITHIN GROUP (ORDER BY income) AS p,
                             PERCENTILE_CONT(0.9) WITHIN GROUP (ORDER BY income DESC) AS q,
                             QUANTILE(age, 0.25) FROM people""")
    levels = [(a.alias, a.kind, a.column, a.quantile) for a in spec.aggregates]
    assert levels[0] == ("p", "quantile", "income", 0.9)
    assert levels[1][3] == pytest.approx(0.1)
    assert levels[2] == ("p25_age", "quantile", "age", 0.25)


@pytest.mark.parametrize(("expr", "bounds"), [
    ("LEAST(GREATEST(income, 10), 500)", (10.0, 500.0)),
    ("GREATEST(LEAST(income, 500), 10)", (10.0, 500.0)),
    ("CLAMP(income, 10, 500)", (10.0, 500.0)),
    ("LEAST(income, 500)", (0.0, 500.0)),
    ("GREATEST(0, income)", (0.0, 100_000.0)),
    ("LEAST(GREATEST(income, -0), 1e3)", (0.0, 1000.0)),
])
def test_queries_may_narrow_bounds(expr: str, bounds: tuple[float, float]) -> None:
    (agg,) = spec_of(f"SELECT SUM({expr}) AS s FROM people").aggregates
    assert agg.bounds == bounds


def test_integer_measures_keep_integer_bounds() -> None:
    (agg,) = spec_of("SELECT AVG(CLAMP(age, 18, 65)) FROM people").aggregates
    assert agg.bounds == (18, 65) and all(isinstance(b, int) for b in agg.bounds)


def test_where_operators_become_a_filter_tree() -> None:
    spec = spec_of("""SELECT COUNT(*) FROM people
        WHERE region IN ('north', 'south') AND age BETWEEN 18 AND 65 AND income IS NOT NULL
          AND NOT (city = 'a') AND (age <> 30 OR age != 31 OR 40 < age OR income <= 5.5)
          AND active AND city IS NULL AND region NOT IN ('east')""")
    assert spec.where == BoolOp("and", (
        BoolOp("or", (Comparison("region", "=", "north"), Comparison("region", "=", "south"))),
        BoolOp("and", (Comparison("age", ">=", 18), Comparison("age", "<=", 65))),
        Comparison("income", "is_not_null"),
        BoolOp("not", (Comparison("city", "=", "a"),)),
        BoolOp("or", (Comparison("age", "!=", 30), Comparison("age", "!=", 31), Comparison("age", ">", 40),
                      Comparison("income", "<=", 5.5))),
        Comparison("active", "=", True),
        Comparison("city", "is_null"),
        BoolOp("not", (Comparison("region", "=", "east"),)),
    ))


def test_group_by_public_keys_puts_group_columns_first() -> None:
    spec = spec_of("SELECT COUNT(*) AS n, active, region FROM people GROUP BY region, active")
    assert spec.group_by == ("active", "region")
    assert spec.columns == ("active", "region", "n")


def test_grouped_but_unselected_columns_still_label_the_rows() -> None:
    spec = spec_of("SELECT COUNT(*) AS n FROM people GROUP BY region")
    assert spec.columns == ("region", "n")


def test_order_by_limit_and_having_refer_to_result_columns() -> None:
    spec = spec_of("""SELECT region, COUNT(*) AS n, SUM(income) AS s FROM people GROUP BY region
                      HAVING COUNT(*) > 10 AND s >= 0 ORDER BY n DESC, 1, SUM(income) LIMIT 2""")
    assert spec.order_by == (OrderItem("n", True), OrderItem("region", False), OrderItem("s", False))
    assert spec.limit == 2
    assert spec.having == BoolOp("and", (Comparison("n", ">", 10), Comparison("s", ">=", 0)))


def test_names_are_case_insensitive_and_qualifiers_allowed() -> None:
    spec = spec_of("SELECT P.Region, Count(*) AS N FROM PEOPLE AS p WHERE p.AGE > 3 GROUP BY p.REGION")
    assert spec.group_by == ("region",)
    assert spec.aggregates[0].alias == "n"
    assert spec.where == Comparison("age", ">", 3)


def test_unknown_keys_are_allowed_only_when_the_policy_says_so() -> None:
    policy = Policy(allow_unknown_keys=True, delta=1e-6)
    assert spec_of("SELECT city, COUNT(*) FROM people GROUP BY city", policy).group_by == ("city",)
    detail = refusal("SELECT city, COUNT(*) FROM people GROUP BY city",
                     Policy(allow_unknown_keys=True, delta=0.0)).detail
    assert "not public" in detail


def test_spec_round_trips_through_json() -> None:
    spec = spec_of("""SELECT region, COUNT(*) n, AVG(CLAMP(income, 0, 50)) a,
                      PERCENTILE_CONT(0.25) WITHIN GROUP (ORDER BY age) q FROM people
                      WHERE active AND (age > 3 OR income IS NULL) GROUP BY region
                      HAVING n > 3 ORDER BY a DESC LIMIT 3""")
    assert QuerySpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


def test_normalized_sql_ignores_whitespace_case_comments_and_default_aliases() -> None:
    variants = [
        "SELECT region, COUNT(*) AS n, SUM(income) FROM people WHERE city = 'a' GROUP BY region ORDER BY n",
        "select REGION,count(*) as N,sum(Income) as sum_income\n from People -- hi\n where CITY='a' "
        "group by Region order by N asc",
        "  SELECT p.region , COUNT( * ) n , SUM(p.income)\tFROM people p WHERE p.city = 'a'"
        " GROUP BY p.region ORDER BY 2 ;",
    ]
    texts = {spec_of(v).normalized_sql for v in variants}
    assert len(texts) == 1, texts
    assert spec_of("SELECT COUNT(*) FROM people WHERE city = 'A'").normalized_sql != \
        spec_of("SELECT COUNT(*) FROM people WHERE city = 'a'").normalized_sql


# refused


@pytest.mark.parametrize(("sql", "names"), [
    ("SELECT * FROM people", "SELECT *"),
    ("SELECT region FROM people", 'raw column "region"'),
    ("SELECT region, COUNT(*) FROM people", '"region" is selected but not grouped'),
    ("SELECT COUNT(*) FROM people JOIN towns ON people.city = towns.city", "JOIN"),
    ("SELECT COUNT(*) FROM (SELECT * FROM people) AS t", "subqueries"),
    ("SELECT COUNT(*) FROM people WHERE age IN (SELECT age FROM people)", "subqueries"),
    ("WITH t AS (SELECT * FROM people) SELECT COUNT(*) FROM t", "WITH"),
    ("SELECT COUNT(*) OVER (PARTITION BY region) FROM people", "window functions"),
    ("SELECT SUM(pid) FROM people", '"pid" is an identifier'),
    ("SELECT COUNT(*) FROM people WHERE pid = 3", '"pid" is an identifier'),
    ("SELECT COUNT(*) FROM people GROUP BY name", '"name" is excluded'),
    ("SELECT COUNT(name) FROM people", '"name" is excluded'),
    ("SELECT LOWER(region) FROM people", "function LOWER"),
    ("SELECT SUM(SQRT(income)) FROM people", "SUM accepts a measure column"),
    ("SELECT COUNT(*) FROM people; SELECT SUM(age) FROM people", "several statements"),
    ("DROP TABLE people", "DROP statements"),
    ("DELETE FROM people", "DELETE statements"),
    ("INSERT INTO people (age) VALUES (3)", "INSERT statements"),
    ("SELECT SUM(LEAST(income, 200000)) FROM people", "widen"),
    ("SELECT SUM(CLAMP(income, -5, 10)) FROM people", "widen"),
    ("SELECT AVG(GREATEST(age, -1)) FROM people", "widen"),
    ("SELECT SUM(CLAMP(income, 10, 5)) FROM people", "empty"),
    ("SELECT SUM(CLAMP(age, 1.5, 10)) FROM people", "integers"),
    ("SELECT city, COUNT(*) FROM people GROUP BY city", 'keys of column "city" are not public'),
    ("SELECT COUNT(*) FROM towns", 'unknown table "towns"'),
    ("SELECT COUNT(*) FROM people WHERE salary > 3", 'unknown column "salary"'),
    ("SELECT DISTINCT region FROM people", "DISTINCT"),
    ("SELECT COUNT(DISTINCT region) FROM people", "DISTINCT"),
    ("SELECT COUNT(*) FROM people UNION SELECT COUNT(*) FROM people", "UNION"),
    ("SELECT MAX(income) FROM people", "MAX is not supported"),
    ("SELECT SUM(region) FROM people", "not a measure"),
    ("SELECT income, COUNT(*) FROM people GROUP BY income", "decimal measure and cannot be grouped on"),
    ("SELECT COUNT(*) FROM people WHERE age > income", "compare a column with constants"),
    ("SELECT COUNT(*) FROM people WHERE city LIKE 'a%'", "LIKE"),
    ("SELECT COUNT(*) FROM people WHERE LOWER(city) = 'a'", "functions are not allowed in WHERE"),
    ("SELECT COUNT(*) FROM people WHERE age = 'old'", "cannot be compared"),
    ("SELECT COUNT(*) FROM people WHERE city = NULL", "IS NULL"),
    ("SELECT COUNT(*) AS n, SUM(age) AS n FROM people", '"n" is used twice'),
    ("SELECT QUANTILE(age, 1.5) FROM people", "strictly between 0 and 1"),
    ("SELECT COUNT(*) FROM people LIMIT 5 OFFSET 2", "OFFSET"),
    ("SELECT age + 1 FROM people", "expressions over raw columns"),
    ("SELECT SUM(age) + age FROM people", 'raw column "age" cannot appear outside an aggregate'),
    ("SELECT 1 FROM people", "constants"),
    ("SELECT COUNT(*) FROM people ORDER BY age", "ORDER BY can only use columns of the result"),
    ("", "empty"),
])
def test_refusals_name_the_construct(sql: str, names: str) -> None:
    err = refusal(sql)
    assert names in err.detail
    assert err.hint and err.detail.endswith(err.hint), "every refusal says what to do instead"


def test_select_star_detail_reads_as_a_sentence() -> None:
    assert refusal("SELECT * FROM people").detail == (
        "SELECT * is not allowed (line 1, column 8): "
        "select aggregates such as COUNT(*), SUM(column) or AVG(column)")


def test_refusals_point_at_the_line_and_column() -> None:
    err = refusal("SELECT COUNT(*)\nFROM people\nWHERE   pid = 3")
    assert (err.line, err.col) == (3, 9)
    assert "(line 3, column 9)" in err.detail


def test_syntax_errors_report_position() -> None:
    err = refusal("SELECT COUNT(*\nFROM people")
    assert err.line == 2 and err.col == 1
    assert "could not be parsed" in err.detail


def test_unterminated_string_is_a_refusal_not_a_crash() -> None:
    assert "could not be" in refusal("SELECT COUNT(*) FROM people WHERE city = 'a").detail


def test_chinese_names_and_quoted_identifiers() -> None:
    table = TableInfo("人口", (ColumnInfo("地区", "dimension", "string", keys=("北", "南")),
                              ColumnInfo("Age", "measure", "int", bounds=(0, 99))))
    plain = parse("SELECT 地区, COUNT(*) AS 人数, AVG(age) FROM 人口 WHERE 地区 = '北' GROUP BY 地区", table, POLICY)
    quoted = parse('SELECT "地区", COUNT(*) AS "人数", AVG("Age") FROM "人口" WHERE "地区" = \'北\' GROUP BY "地区"',
                   table, POLICY)
    assert plain == quoted
    assert plain.columns == ("地区", "人数", "avg_age")
    with pytest.raises(QueryNotAllowed, match='unknown column "age"'):
        parse('SELECT SUM("age") FROM 人口', table, POLICY)  # quoted names are case-sensitive

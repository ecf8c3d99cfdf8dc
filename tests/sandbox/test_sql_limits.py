"""Input depth and parsed-but-ignored clauses: a query too long or too deeply nested is refused with a
sentence that says so (never Python's recursion limit), and TABLESAMPLE or `AS t(col)` are refused, not
silently dropped."""

from __future__ import annotations

import pytest

from core.config import get_settings
from sandbox.spec import Policy
from sandbox.sql import QueryNotAllowed, parse
from tests.sandbox import PEOPLE


def refusal(sql: str) -> str:
    with pytest.raises(QueryNotAllowed) as info:
        parse(sql, PEOPLE, Policy())
    return info.value.detail


@pytest.mark.parametrize("sql", [
    "SELECT COUNT(*) FROM people WHERE " + "(" * 50 + "age > 1" + ")" * 50,
    "SELECT COUNT(*) FROM people WHERE " + "NOT " * 900 + "age > 1",
    "SELECT COUNT(*) FROM people WHERE " + "- " * 900 + "age > 1",
    "SELECT COUNT(*) FROM people WHERE " + "(" * 5000,
])
def test_deep_nesting_is_refused_as_too_deep(sql: str) -> None:
    assert "nested too deeply" in refusal(sql)


def test_a_long_and_chain_is_refused_by_the_tree_depth() -> None:
    sql = "SELECT COUNT(*) FROM people WHERE " + " AND ".join(["age > 1"] * 400)
    assert "nested too deeply" in refusal(sql)


def test_nesting_within_the_limit_is_accepted() -> None:
    depth = get_settings().max_sql_depth - 1
    spec = parse("SELECT COUNT(*) FROM people WHERE " + "(" * depth + "age > 1" + ")" * depth, PEOPLE, Policy())
    assert spec.where is not None


def test_an_overlong_query_is_refused_with_its_length() -> None:
    sql = "SELECT COUNT(*) FROM people WHERE region IN (" + ",".join(["'north'"] * 5000) + ")"
    detail = refusal(sql)
    assert "characters long" in detail and f"{len(sql):,}" in detail


def test_tablesample_is_refused_not_ignored() -> None:
    assert "TABLESAMPLE is not allowed" in refusal("SELECT COUNT(*) FROM people TABLESAMPLE (10 PERCENT)")
    assert "TABLESAMPLE is not allowed" in refusal("SELECT COUNT(*) FROM people TABLESAMPLE BERNOULLI (5)")


def test_column_renaming_in_from_is_refused_not_ignored() -> None:
    assert "AS t(col" in refusal("SELECT COUNT(*) FROM people AS p(a, b, c)")


def test_a_plain_table_alias_still_works() -> None:
    assert parse("SELECT COUNT(*) FROM people AS p WHERE p.age > 1", PEOPLE, Policy()).where is not None

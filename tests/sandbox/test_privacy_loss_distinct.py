"""Proof by measurement for COUNT(DISTINCT unit): one person moves it by one in each group they reach.

The same distinguishing test as test_privacy_loss.py, on `SELECT region, COUNT(DISTINCT card) ... GROUP
BY region` over two regions: D′ adds one card with 13 trips, all in region "a". The charge covers a
person reaching min(k, 2) = 2 groups, so the released count of "a" carries half of it, and the loss
measured on it must stay below the whole charge. A plan that counted the person's rows instead (up to
k = 5 of them) would move the count by 5 and show a loss well above the charge.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from sandbox import plan
from sandbox.plan import Compiled, compile_query
from sandbox.spec import ColumnInfo, Policy, TableInfo
from sandbox.sql import parse
from tests.sandbox.test_privacy_loss import RELEASES, best_event, loss_lower_bound

pytestmark = pytest.mark.slow

EPSILON = 0.5
K = 5
SQL = "SELECT region, COUNT(DISTINCT card) AS persons FROM trips GROUP BY region"
TRIPS = TableInfo(
    name="trips",
    columns=(ColumnInfo("card", "identifier", "int"), ColumnInfo("region", "dimension", "string", keys=("a", "b")),
             ColumnInfo("minutes", "measure", "int", bounds=(0, 60))),
    privacy_unit="card", max_contributions=K, max_rows=4096,
)


def neighbours() -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(20261130)
    trips = rng.integers(1, K + 1, 300)
    cards = np.repeat(np.arange(300), trips)
    d = pl.DataFrame({"card": cards, "region": rng.choice(["a", "b"], len(cards)),
                      "minutes": rng.integers(0, 61, len(cards))})
    person = pl.DataFrame({"card": [10_000] * 13, "region": ["a"] * 13, "minutes": [25] * 13})
    return d, pl.concat([d, person])


def releases(c: Compiled, data: pl.DataFrame) -> np.ndarray:
    lazy = plan._prepare(data.lazy(), c.schema)
    name = c.stats[0].name
    return np.array([c.measurement(lazy).collect().filter(pl.col("region") == "a")[name].item()
                     for _ in range(RELEASES)])


def test_a_person_counted_distinctly_loses_no_more_than_the_epsilon_charged() -> None:
    c = compile_query(parse(SQL, TRIPS, Policy()), TRIPS, Policy(), EPSILON)
    assert c.epsilon_cost == pytest.approx(EPSILON)
    d, d_prime = neighbours()
    x, y = releases(c, d), releases(c, d_prime)
    order = np.random.default_rng(7).permutation(RELEASES)
    choose, judge = order[: RELEASES // 2], order[RELEASES // 2:]
    measured = loss_lower_bound(best_event(x[choose], y[choose]), x[judge], y[judge])
    assert measured <= c.epsilon_cost, f"measured ε ≥ {measured:.3f} against {c.epsilon_cost} charged"

"""Proof by measurement: one person with many rows loses no more than the ε charged.

A distinguishing test on neighbouring datasets D and D′ that differ by one whole person (a card with
13 trips). The same compiled plan is released a few thousand times on each. On one half of the
samples we choose the event {n ≥ t} (or its mirror) that best tells D′ from D; on the other half,
Clopper–Pearson 95% bounds give P_D′[event] from below and P_D[event] from above, and the log of
their ratio is a lower confidence bound on the privacy loss actually suffered. It must not exceed
the ε charged. The converse check runs the same query with a row as the unit: the same person then
loses about 13 times a row's share, and the measured bound must exceed the charge, so this test has
the power to catch a unit that protects rows instead of people.

OpenDP's noise cannot be seeded; our sampling (the data, the split into halves) is. The query asks a
count and a sum, so the count alone carries half the charge: a correct plan's measured bound stays
near 0.25 against 0.5 charged, and a 95% bound above 0.5 would need a miss of many standard errors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import polars as pl
import pytest
from scipy import stats

from sandbox import plan
from sandbox.plan import Compiled, compile_query
from sandbox.spec import ColumnInfo, Policy, TableInfo
from sandbox.sql import parse

pytestmark = pytest.mark.slow

RELEASES = 3000
EPSILON = 0.5
K = 5
TRIPS_OF_THE_PERSON = 13
SQL = "SELECT COUNT(*) AS trips, SUM(minutes) AS minutes FROM trips"

PER_CARD = TableInfo(
    name="trips",
    columns=(ColumnInfo("card", "identifier", "int"), ColumnInfo("minutes", "measure", "int", bounds=(0, 60))),
    privacy_unit="card", max_contributions=K, max_rows=4096,
)
PER_ROW = replace(PER_CARD, privacy_unit=None, max_contributions=1)


def neighbours() -> tuple[pl.DataFrame, pl.DataFrame]:
    """D: 300 cards with 1–5 trips each; D′: D plus one card with 13 trips."""
    rng = np.random.default_rng(20261129)
    trips = rng.integers(1, K + 1, 300)
    cards = np.repeat(np.arange(300), trips)
    d = pl.DataFrame({"card": cards, "minutes": rng.integers(0, 61, len(cards))})
    person = pl.DataFrame({"card": [10_000] * TRIPS_OF_THE_PERSON, "minutes": [25] * TRIPS_OF_THE_PERSON})
    return d, pl.concat([d, person])


def releases(c: Compiled, data: pl.DataFrame) -> np.ndarray:
    """The released trip count, RELEASES times, through the compiled measurement as the sandbox runs it."""
    lazy = plan._prepare(data.lazy(), c.schema)
    return np.array([c.measurement(lazy).collect()[_count_stat(c)].item() for _ in range(RELEASES)])


def _count_stat(c: Compiled) -> str:
    return plan._find(c.stats, "len").name


@dataclass(frozen=True)
class Event:
    threshold: float
    upper: bool  # the event is {n ≥ t} when True, {n ≤ t} when False
    d_prime_first: bool  # the ratio is P_D′/P_D when True, P_D/P_D′ when False

    def rate(self, sample: np.ndarray) -> tuple[int, int]:
        hits = sample >= self.threshold if self.upper else sample <= self.threshold
        return int(hits.sum()), len(sample)


def clopper_pearson(hits: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    lower = 0.0 if hits == 0 else float(stats.beta.ppf(alpha / 2, hits, n - hits + 1))
    upper = 1.0 if hits == n else float(stats.beta.ppf(1 - alpha / 2, hits + 1, n - hits))
    return lower, upper


def loss_lower_bound(event: Event, d: np.ndarray, d_prime: np.ndarray) -> float:
    num, den = (d_prime, d) if event.d_prime_first else (d, d_prime)
    low, _ = clopper_pearson(*event.rate(num))
    _, high = clopper_pearson(*event.rate(den))
    return math.log(low / high) if low > 0 else -math.inf


def best_event(d: np.ndarray, d_prime: np.ndarray) -> Event:
    """The event that best separates the two samples (chosen on the first half only)."""
    candidates = [Event(float(t), upper, first) for t in np.unique(np.concatenate([d, d_prime]))
                  for upper in (True, False) for first in (True, False)]
    return max(candidates, key=lambda e: loss_lower_bound(e, d, d_prime))


def measured_loss(table: TableInfo) -> tuple[float, float]:
    """(ε charged, the 95% lower confidence bound on the loss measured for the person with 13 trips)."""
    c = compile_query(parse(SQL, table, Policy()), table, Policy(), EPSILON)
    d, d_prime = neighbours()
    x, y = releases(c, d), releases(c, d_prime)
    order = np.random.default_rng(7).permutation(RELEASES)  # our sampling is seeded, OpenDP's noise is not
    choose, judge = order[: RELEASES // 2], order[RELEASES // 2:]
    event = best_event(x[choose], y[choose])
    return c.epsilon_cost, loss_lower_bound(event, x[judge], y[judge])


def test_a_card_with_13_trips_loses_no_more_than_the_epsilon_charged() -> None:
    charged, measured = measured_loss(PER_CARD)
    assert charged == pytest.approx(EPSILON)
    assert measured <= charged, f"measured ε ≥ {measured:.3f} against {charged} charged"


def test_with_a_row_as_the_unit_the_same_card_loses_far_more_than_charged() -> None:
    charged, measured = measured_loss(PER_ROW)
    assert charged == pytest.approx(EPSILON)
    # The count alone carries ε/2 per row, so 13 rows move it by 13·ε/2 = 3.25 in truth.
    assert measured > 2 * charged, f"measured ε ≥ {measured:.3f}: the test cannot tell a row unit from a person"

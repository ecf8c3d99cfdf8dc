"""Statistical checks of the released noise: ± bounds cover the truth, noise has the claimed law.

OpenDP's noise cannot be seeded, so each check is sized so that a correct implementation fails it
with probability below 1e-4 (noted beside each assertion); a wrong scale (e.g. the 2× of OpenDP
bug #2945) fails them all by a wide margin.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import opendp.prelude as dp
import polars as pl
import pytest
from scipy import stats

from sandbox import plan
from sandbox.accuracy import mean_plus_minus
from sandbox.plan import Compiled, compile_query, quantile_rank_error, release
from sandbox.spec import Policy
from sandbox.sql import parse
from tests.sandbox import PEOPLE, people_frame, write_parquet

pytestmark = pytest.mark.slow

RELEASES = 400
MEAN_RELEASES = 2000
GROUPED = """SELECT region, active, COUNT(*) AS n, SUM(income) AS s, AVG(age) AS a
             FROM people GROUP BY region, active"""


@dataclass
class Trials:
    compiled: Compiled
    released: pl.DataFrame  # one row per group per release
    truth: pl.DataFrame

    def errors(self, column: str) -> np.ndarray:
        joined = self.released.join(self.truth, on=["region", "active"], how="left")
        return (joined[column] - joined[f"{column}_true"].fill_null(0)).to_numpy().astype(float)


def compiled(sql: str, epsilon: float = 1.0) -> Compiled:
    return compile_query(parse(sql, PEOPLE, Policy()), PEOPLE, Policy(), epsilon)


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    return people_frame(4000, seed=11)


@pytest.fixture(scope="module")
def path(frame: pl.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_parquet(frame, tmp_path_factory.mktemp("stats"))


@pytest.fixture(scope="module")
def trials(frame: pl.DataFrame, path: Path) -> Trials:
    c = compiled(GROUPED)
    columns, _, _ = release(c, pl.scan_parquet(path))
    frames = []
    for _ in range(RELEASES):
        # What release() computes, keeping the hidden statistics (the mean's noisy count) alongside.
        released = c.measurement(plan._prepare(pl.scan_parquet(path), c.schema)).collect()
        frames.append(plan._post_process(released, c))
    assert set(columns) <= set(frames[0].columns)
    truth = frame.group_by("region", "active").agg(
        pl.len().cast(pl.Int64).alias("n_true"), pl.col("income").sum().alias("s_true"),
        pl.col("age").mean().alias("a_true"))
    return Trials(c, pl.concat(frames), truth)


def coverage(errors: np.ndarray, plus_minus: float) -> float:
    return float(np.mean(np.abs(errors) <= plus_minus))


def test_count_and_sum_bounds_cover_the_truth_95_percent_of_the_time(trials: Trials) -> None:
    # 3,200 values each: the binomial sd of coverage is 0.4%, so [0.90, 0.99] is > 9 sd wide.
    for column in ("n", "s"):
        plus_minus = trials.compiled.accuracy[column]
        assert plus_minus is not None
        assert 0.90 <= coverage(trials.errors(column), plus_minus) <= 0.99, column


def test_mean_bounds_are_tight_covering_the_truth_93_to_97_percent_of_the_time(frame: pl.DataFrame,
                                                                                path: Path) -> None:
    # 2,000 releases: the binomial sd of coverage is 0.5%, so [0.93, 0.97] is ±4 sd around 0.95.
    c = compiled("SELECT AVG(age) AS a FROM people")
    truth = float(frame["age"].mean())  # type: ignore[arg-type]
    outcomes = [release(c, pl.scan_parquet(path)) for _ in range(MEAN_RELEASES)]
    errors = np.array([abs(rows[0][0] - truth) for _, rows, _ in outcomes])
    plus_minus = np.array([pm["a"] for _, _, pm in outcomes], dtype=float)
    assert 0.93 <= float(np.mean(errors <= plus_minus)) <= 0.97
    # Tight, not merely valid: the ± is close to the observed 95th percentile of the error.
    assert float(np.median(plus_minus)) <= 1.3 * float(np.quantile(errors, 0.95))


def test_grouped_mean_bounds_cover_each_group_at_least_95_percent_of_the_time(trials: Trials) -> None:
    # One ± per column (the widest row's), so each group is covered at least as often as the widest.
    joined = trials.released.join(trials.truth, on=["region", "active"], how="inner")
    c = trials.compiled
    count = plan._find(c.stats, "count", "age").name
    sum_scale, count_scale = c.stat_scale[plan._find(c.stats, "sum", "age", (0, 100)).name], c.stat_scale[count]
    plus_minus = np.array([mean_plus_minus(sum_scale, count_scale, m, n, (0, 100))
                           for m, n in zip(joined["a"].to_list(), joined[count].to_list(), strict=True)], dtype=float)
    covered = np.abs(joined["a"].to_numpy().astype(float) - joined["a_true"].to_numpy()) <= plus_minus
    assert covered.mean() >= 0.93  # expected ≈ 0.95 per row on 2,400 values; 0.93 is > 4 sd below


def test_quantile_bounds_cover_the_true_quantile_at_least_95_percent_of_the_time(frame: pl.DataFrame,
                                                                                 path: Path) -> None:
    c = compiled("SELECT COUNT(age) AS c, COUNT(income) AS ci, MEDIAN(age) AS m, "
                 "PERCENTILE_CONT(0.9) WITHIN GROUP (ORDER BY income) AS p90 FROM people", 0.3)
    truth = {"m": float(np.quantile(frame["age"].to_numpy(), 0.5)),
             "p90": float(np.quantile(frame["income"].drop_nulls().to_numpy(), 0.9))}
    preview = c.accuracy
    hits: dict[str, list[bool]] = {"m": [], "p90": []}
    for _ in range(RELEASES):
        columns, rows, pm = release(c, pl.scan_parquet(path))
        for name in hits:
            assert pm[name] is not None and preview[name] is not None
            hits[name].append(abs(rows[0][columns.index(name)] - truth[name]) <= pm[name])
    for name, covered in hits.items():
        assert np.mean(covered) >= 0.95, name  # nominal 95%; the conversion is conservative on spread data


def test_count_noise_follows_the_claimed_discrete_laplace(trials: Trials) -> None:
    scale = _scale(trials.compiled, "Frame Length")
    noise = trials.errors("n").astype(np.int64)
    law = stats.dlaplace(1.0 / scale)
    # Randomised PIT: F(k−1) + V·P(k) is exactly uniform for a discrete law, so the KS p-value is
    # exact and p < 1e-5 happens with probability 1e-5 when the law is right.
    assert _ks_pvalue(noise, law.cdf, law.pmf) > 1e-5
    assert _ks_pvalue(noise, stats.dlaplace(0.5 / scale).cdf, stats.dlaplace(0.5 / scale).pmf) < 1e-5  # power
    # Sample variance of 3,200 Laplace draws has sd ≈ 4%: a ±25% band is > 6 sd.
    assert 0.75 <= noise.var() / law.var() <= 1.25


def test_sum_noise_follows_the_claimed_laplace(trials: Trials) -> None:
    scale = _scale(trials.compiled, "Sum", column_prefix=plan._find(trials.compiled.stats, "sum", "income",
                                                                     (0.0, 100_000.0)).name)
    noise = trials.errors("s")
    assert stats.kstest(noise, stats.laplace(scale=scale).cdf).pvalue > 1e-5  # exact test: false alarm 1e-5
    assert 0.75 <= noise.var() / stats.laplace(scale=scale).var() <= 1.25


def test_median_rank_error_stays_within_its_bound(frame: pl.DataFrame, path: Path) -> None:
    c = compiled("SELECT MEDIAN(age) AS m FROM people", 0.05)
    candidates = plan._candidates(0, 100, integral=True)
    ages = np.sort(frame["age"].to_numpy())
    below = np.searchsorted(ages, candidates, side="left")
    equal = np.searchsorted(ages, candidates, side="right") - below
    errors = np.abs(below - 0.5 * (len(ages) - equal))
    bound = errors.min() + quantile_rank_error(c.scale, 0.5, len(candidates))
    index = {v: i for i, v in enumerate(candidates)}
    hits = [errors[index[release(c, pl.scan_parquet(path))[1][0][0]]] <= bound for _ in range(RELEASES)]
    assert np.mean(hits) >= 0.93  # the bound holds w.p. ≥ 0.95 (a union bound, so in fact more)


def _scale(c: Compiled, aggregate: str, column_prefix: str | None = None) -> float:
    summary = dp.summarize_polars_measurement(c.measurement)
    rows = summary.filter(pl.col("aggregate") == aggregate)
    if column_prefix is not None:
        rows = rows.filter(pl.col("column") == column_prefix)
    return float(rows["scale"][0])


def _ks_pvalue(sample: np.ndarray, cdf: Callable[..., np.ndarray], pmf: Callable[..., np.ndarray]) -> float:
    jitter = np.random.default_rng(2024).random(len(sample))
    uniform = cdf(sample - 1) + jitter * pmf(sample)
    return float(stats.kstest(uniform, "uniform").pvalue)

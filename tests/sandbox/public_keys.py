"""Helpers for the tests of groupings over public keys (time buckets, measure bins): the data as the
sandbox reads it, a release as columns, and OpenDP's own map of the same plan written by hand."""

from __future__ import annotations

from pathlib import Path

import opendp.prelude as dp
import polars as pl
from opendp.extras.polars import Bound, Margin

from sandbox.plan import Compiled, release


def scan(frame: pl.DataFrame, tmp_path: Path, name: str = "t") -> pl.LazyFrame:
    path = tmp_path / f"{name}.parquet"
    frame.write_parquet(path)
    return pl.scan_parquet(path)


def released(compiled: Compiled, data: pl.LazyFrame) -> tuple[dict[str, list[object]], dict[str, float | None]]:
    """A release as {column: values} and its ± per column."""
    columns, rows, plus_minus = release(compiled, data)
    return {c: [r[i] for r in rows] for i, c in enumerate(columns)}, plus_minus


def count_loss_by_hand(unit: str, key: str, keys: list[int], k: int, scale: float) -> float:
    """ε of a count per public key written directly in OpenDP: truncate to k rows per `unit`, count per `key`
    (a whole-number column), join onto `keys`, noise at `scale`."""
    domain = dp.with_margin(dp.lazyframe_domain([
        dp.series_domain(unit, dp.option_domain(dp.atom_domain(T="String"))),
        dp.series_domain(key, dp.option_domain(dp.atom_domain(T="i64")))]), Margin(by=[], max_length=10_000))
    root = pl.LazyFrame(schema={unit: pl.String, key: pl.Int64})
    truncated = root.filter(pl.int_range(pl.len()).shuffle().over(unit) < k)
    plan = pl.DataFrame({key: keys}).lazy().join(truncated.group_by(key).agg(dp.len(signed=True)), on=key, how="left")
    metric, d_in = dp.unit_of(contributions=[Bound(per_group=1)], identifier=unit)
    return float(dp.m.make_private_lazyframe(domain, metric, dp.max_divergence(), plan, global_scale=scale).map(d_in))

"""Shared public dictionary and synthetic data for the sandbox compiler tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from sandbox.spec import ColumnInfo, TableInfo

REGIONS = ("north", "south", "east", "west")  # "west" never occurs in the data

PEOPLE = TableInfo(
    name="people",
    columns=(
        ColumnInfo("region", "dimension", "string", keys=REGIONS),
        ColumnInfo("active", "dimension", "bool", keys=(True, False)),
        ColumnInfo("city", "dimension", "string"),
        ColumnInfo("income", "measure", "float", bounds=(0.0, 100_000.0)),
        ColumnInfo("age", "measure", "int", bounds=(0, 100)),
        ColumnInfo("pid", "identifier", "int"),
        ColumnInfo("name", "excluded", "string"),
    ),
    max_rows=100_000,
)


def people_frame(n: int = 4000, seed: int = 7, people: int = 1500) -> pl.DataFrame:
    """Known data: regions north/south/east, incomes within bounds, some null incomes."""
    rng = np.random.default_rng(seed)
    income = rng.uniform(0, 100_000, n)
    return pl.DataFrame({
        "region": rng.choice(["north", "south", "east"], n, p=[0.5, 0.3, 0.2]),
        "active": rng.random(n) < 0.4,
        "city": rng.choice(["a", "b", "c"], n),
        "income": [None if i % 25 == 0 else float(v) for i, v in enumerate(income)],
        "age": rng.integers(0, 100, n),
        "pid": rng.integers(0, people, n),
        "name": [f"person {i}" for i in range(n)],
    })


def write_parquet(frame: pl.DataFrame, directory: Path) -> Path:
    path = directory / "people.parquet"
    frame.write_parquet(path)
    return path

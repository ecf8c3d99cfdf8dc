"""What the API returns, typed: results (with DataFrames that put a `±` column beside each value),
previews and the receipt key."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shuyu_client.receipts import verify_result

if TYPE_CHECKING:
    import pandas  # type: ignore[import-untyped, unused-ignore]
    import polars

PLUS_MINUS = " ±"  # the accuracy column of `n` is `n ±`, as in the server's CSV and Excel exports


@dataclass(frozen=True)
class PublicKey:
    key_id: str
    public_key_pem: str


@dataclass(frozen=True)
class Preview:
    """What a query would cost and how accurate it would be; nothing was run or charged."""

    epsilon_cost: float
    accuracy: dict[str, float | None]
    epsilon_remaining_after: float
    accuracy_note: str | None = None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Preview:
        return cls(epsilon_cost=float(body["epsilon_cost"]), accuracy=_plus_minus(body.get("accuracy") or {}),
                   epsilon_remaining_after=float(body["epsilon_remaining_after"]),
                   accuracy_note=body.get("accuracy_note"))


@dataclass(frozen=True)
class Result:
    """A released, differentially private result with its ± at 95% and its signed receipt."""

    id: int
    license_id: int
    sql: str
    columns: list[str]
    rows: list[list[Any]]
    accuracy: dict[str, float | None]
    epsilon_charged: float
    epsilon_remaining: float
    receipt: dict[str, Any]
    cached: bool = False
    accuracy_note: str | None = None
    dataset: dict[str, Any] | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Result:
        return cls(id=int(body["id"]), license_id=int(body["license_id"]), sql=str(body.get("sql", "")),
                   columns=list(body["columns"]), rows=[list(r) for r in body["rows"]],
                   accuracy=_plus_minus(body.get("accuracy") or {}),
                   epsilon_charged=float(body.get("epsilon_spent_on_query", body.get("epsilon_charged", 0.0))),
                   epsilon_remaining=float(body.get("epsilon_remaining", 0.0)), receipt=dict(body["receipt"]),
                   cached=bool(body.get("cached", False)), accuracy_note=body.get("accuracy_note"),
                   dataset=body.get("dataset"), raw=body)

    def records(self) -> list[dict[str, Any]]:
        """One dict per row: each value, and `name ±` beside each released value."""
        out = []
        for row in self.rows:
            record: dict[str, Any] = {}
            for name, value in zip(self.columns, row, strict=True):
                record[name] = value
                if name in self.accuracy:
                    record[name + PLUS_MINUS] = self.accuracy[name]
            out.append(record)
        return out

    def header(self) -> list[str]:
        names: list[str] = []
        for name in self.columns:
            names += [name, name + PLUS_MINUS] if name in self.accuracy else [name]
        return names

    def to_polars(self) -> polars.DataFrame:
        """The result as a Polars DataFrame with a `name ±` column beside each released value."""
        import polars as pl

        records = self.records()
        return pl.DataFrame(records) if records else pl.DataFrame(schema=self.header())

    def to_pandas(self) -> pandas.DataFrame:
        """The result as a pandas DataFrame with a `name ±` column beside each released value."""
        import pandas as pd

        return pd.DataFrame(self.records(), columns=self.header())

    def verify(self, public_key_pem: str) -> bool:
        """Offline: the receipt is the platform's and proves exactly these values."""
        return verify_result(self.columns, self.rows, self.receipt, public_key_pem)


def _plus_minus(accuracy: dict[str, Any]) -> dict[str, float | None]:
    return {name: (None if a.get("plus_minus") is None else float(a["plus_minus"])) for name, a in accuracy.items()}

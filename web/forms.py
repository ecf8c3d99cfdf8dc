"""Turning form fields into the services' schemas; a field that does not fit becomes a sentence."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from core.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)


def validated(model: type[M], data: dict[str, Any]) -> M | InvalidInput:
    """The schema built from `data`, or an InvalidInput naming the first field that does not fit."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return InvalidInput(f"{where}: {first.get('msg')}".strip(": "))


def minor_units(text: str, field: str) -> int:
    """'1,234.5' yuan → 123450 fen, exactly (no float on the way)."""
    cleaned = text.replace(",", "").replace("¥", "").strip() or "0"
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise InvalidInput(f"{field}: {text!r} is not an amount such as 1234.50") from None
    if amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise InvalidInput(f"{field}: amounts are positive with at most two decimals (fen)")
    return int(amount * 100)


def number(text: str, field: str) -> float:
    try:
        return float(text.replace(",", "").strip())
    except ValueError:
        raise InvalidInput(f"{field}: {text!r} is not a number") from None


def split_list(text: str) -> list[str]:
    """Comma-separated (ASCII or Chinese commas), blanks dropped."""
    return [part.strip() for part in text.replace("，", ",").replace("、", ",").split(",") if part.strip()]

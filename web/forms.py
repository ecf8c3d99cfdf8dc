"""Turning form fields into the services' schemas; a field that does not fit becomes a sentence."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from core.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)


# Pydantic's error types, said in Chinese (the English comes from pydantic itself).
ZH_ERRORS = {
    "missing": "必须填写", "string_too_short": "不能为空", "too_short": "至少要填写一项",
    "string_too_long": "太长了，最多 {max_length} 个字符", "greater_than": "须大于 {gt}",
    "greater_than_equal": "须不小于 {ge}", "less_than": "须小于 {lt}", "less_than_equal": "不能大于 {le}",
    "int_parsing": "须为整数", "int_from_float": "须为整数", "float_parsing": "须为数字",
    "literal_error": "取值不在可选范围内", "enum": "取值不在可选范围内", "string_pattern_mismatch": "格式不正确",
    "default-above-cap": "默认 ε（{default}）高于单次查询 ε 上限（{cap}）：请调低默认 ε 或调高上限",
}


def validated(model: type[M], data: dict[str, Any]) -> M | InvalidInput:
    """The schema built from `data`, or an InvalidInput naming the first field that does not fit."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return InvalidInput(f"{where}: {first.get('msg')}".strip(": "), zh=validated_zh(where, first))


def built(model: type[M], data: dict[str, Any]) -> M:
    """The schema built from `data`; the InvalidInput naming the first field that does not fit is raised."""
    made = validated(model, data)
    if isinstance(made, InvalidInput):
        raise made
    return made


def validated_zh(where: str, error: Any) -> str:
    """A pydantic error in Chinese, naming the field as the form does."""
    try:
        said = ZH_ERRORS.get(error.get("type", ""), "不符合要求").format(**(error.get("ctx") or {}))
    except (KeyError, IndexError):
        said = "不符合要求"
    return f"{field_zh(where)}：{said}".strip("：")


def field_zh(where: str) -> str:
    """A field's path (`offers.0.price_minor`) as a Chinese name people recognise on the form."""
    from web.i18n import field_name  # the page's labels live with the other translations

    parts = where.split(".")
    named = [field_name("zh-CN", p) for p in parts if not p.isdigit()]
    numbers = [str(int(p) + 1) for p in parts if p.isdigit()]
    return "".join(named[:1]) + (f" {numbers[0]} " if numbers else "") + "".join(named[1:])


AMOUNT_NOISE = str.maketrans("", "", ",，¥￥元 \u3000")


def minor_units(text: str, field: str) -> int:
    """An amount in yuan as people write it ('8,000元', '¥8000', '8000.00', 'RMB 8000') → fen, exactly."""
    cleaned = text.strip().upper().removeprefix("RMB").removeprefix("CNY").translate(AMOUNT_NOISE) or "0"
    name = field_zh(field)
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise InvalidInput(f"{field}: {text!r} is not an amount such as 8,000 or 1234.50",
                           zh=f"{name}：“{text}”不是金额，请写成 8000、8,000元 或 1234.50 这样") from None
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise InvalidInput(f"{field}: amounts are positive with at most two decimals (fen)",
                           zh=f"{name}：金额须为正数，最多两位小数（分）")
    return int(amount * 100)


def number(text: str, field: str) -> float:
    try:
        return float(text.replace(",", "").strip())
    except ValueError:
        raise InvalidInput(f"{field}: {text!r} is not a number", zh=f"{field_zh(field)}：“{text}”不是数字") from None


def split_list(text: str) -> list[str]:
    """Comma-separated (ASCII or Chinese commas), blanks dropped."""
    return [part.strip() for part in text.replace("，", ",").replace("、", ",").split(",") if part.strip()]

import pytest

from licensing.credit_code import check_character, problem


@pytest.mark.parametrize("code", ["91350100M000100Y43", "91110000600037341L"])
def test_valid_credit_codes_pass(code: str) -> None:
    assert problem(code) is None
    assert problem(code.lower()) is None


def test_wrong_check_character_is_named() -> None:
    reason = problem("91350100M000100Y44")
    assert reason is not None and "'3'" in reason and "check character" in reason


@pytest.mark.parametrize(("code", "words"), [
    ("9135010", "18 characters"),
    ("91350100M000100I43", "'I'"),
    ("9135A100M000100Y43", "region code"),
])
def test_malformed_codes_say_what_is_wrong(code: str, words: str) -> None:
    reason = problem(code)
    assert reason is not None and words in reason


def test_check_character_follows_gb32100_weights() -> None:
    assert check_character("91350100M000100Y4") == "3"
    assert check_character("91110000600037341") == "L"


def test_reasons_are_said_in_chinese_too() -> None:
    assert problem("91350100M000100Y44", "zh-CN") == (
        "校验码错误：前 17 位为 91350100M000100Y4 时，第 18 位应为「3」，而不是「4」")
    assert problem("9135", "zh-CN") == "统一社会信用代码应为 18 位，这个是 4 位"
    assert problem("91350100M000100Y43", "zh-CN") is None

"""The unified social credit code (统一社会信用代码), GB 32100-2015.

18 characters from a 31-character alphabet (no I, O, S, V, Z); the last is a check character
computed from the first 17 with the standard's weights, modulo 31.
"""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def check_character(first17: str) -> str:
    total = sum(ALPHABET.index(ch) * w for ch, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


# Each reason in English and Chinese: people type their code on pages in either language.
REASONS = {
    "length": ("A unified social credit code has 18 characters; this one has {n}",
               "统一社会信用代码应为 18 位，这个是 {n} 位"),
    "character": ("The character {ch!r} cannot appear in a unified social credit code (I, O, S, V, Z never do)",
                  "统一社会信用代码中不能出现字符「{ch}」（不使用 I、O、S、V、Z）"),
    "region": ("Characters 3 to 8 of a unified social credit code are the region code and must be digits",
               "统一社会信用代码第 3 至 8 位是登记管理机关行政区划码，必须是数字"),
    "check": ("The check character is wrong: for {first17} it must be {expected!r}, not {got!r}",
              "校验码错误：前 17 位为 {first17} 时，第 18 位应为「{expected}」，而不是「{got}」"),
}


def problem(code: str, locale: str = "en") -> str | None:
    """Why `code` is not a valid credit code, as a sentence (English, or Chinese for zh-CN); None when valid."""
    found = _reason(code.strip().upper())
    if found is None:
        return None
    key, values = found
    english, chinese = REASONS[key]
    return (chinese if locale.startswith("zh") else english).format(**values)


def _reason(code: str) -> tuple[str, dict[str, object]] | None:
    if len(code) != 18:
        return "length", {"n": len(code)}
    bad = [ch for ch in code if ch not in ALPHABET]
    if bad:
        return "character", {"ch": bad[0]}
    if not code[2:8].isdigit():
        return "region", {}
    expected = check_character(code[:17])
    if code[17] != expected:
        return "check", {"first17": code[:17], "expected": expected, "got": code[17]}
    return None


def normalize(code: str) -> str:
    return code.strip().upper()

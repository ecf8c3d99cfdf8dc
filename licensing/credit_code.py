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


def problem(code: str) -> str | None:
    """Why `code` is not a valid credit code, as a sentence; None when it is valid."""
    code = code.strip().upper()
    if len(code) != 18:
        return f"A unified social credit code has 18 characters; this one has {len(code)}"
    bad = [ch for ch in code if ch not in ALPHABET]
    if bad:
        return f"The character {bad[0]!r} cannot appear in a unified social credit code (I, O, S, V, Z never do)"
    if not code[2:8].isdigit():
        return "Characters 3 to 8 of a unified social credit code are the region code and must be digits"
    expected = check_character(code[:17])
    if code[17] != expected:
        return f"The check character is wrong: for {code[:17]} it must be {expected!r}, not {code[17]!r}"
    return None


def normalize(code: str) -> str:
    return code.strip().upper()

"""Codes for the two-factor tests, computed with pyotp as an authenticator app would."""

from __future__ import annotations

import time

import pyotp

STEP = 30


def safe_now() -> float:
    """The current time, after waiting out the last two seconds of a 30-second step, so that a code computed now
    is still current (or one step old, within the accepted window) when the server checks it."""
    now = time.time()
    if now % STEP > STEP - 2:
        time.sleep(STEP - now % STEP + 0.05)
        now = time.time()
    return now


def code(secret: str, steps_back: int = 0) -> str:
    """The code for the current step, or for `steps_back` steps ago (the server accepts one step either side)."""
    return pyotp.TOTP(secret, interval=STEP).at(safe_now() - steps_back * STEP)

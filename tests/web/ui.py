"""Helpers for the browser tests: sign in through the form, collect console errors, take screenshots."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tests.flow import PASSWORD

VIEWPORT = {"width": 1280, "height": 800}
SCREENSHOTS = os.environ.get("SHUYU_SCREENSHOTS", "")


def watch(page: Any) -> Any:
    """Record script errors and CSP refusals on `page.errors` (a test asserts it stays empty).

    A form answered with a 4xx (a refused query, a mismatched amount) is logged by Chromium as a failed
    resource; that is the page working as designed, so it is not counted."""
    page.errors = []

    def console(msg: Any) -> None:
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            page.errors.append(msg.text)

    page.on("console", console)
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    return page


def sign_in(page: Any, server: str, email: str, password: str = PASSWORD) -> None:
    page.goto(server + "/signin")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("#signin")


def shot(page: Any, name: str) -> None:
    """Save a viewport-sized screenshot as <SHUYU_SCREENSHOTS>/<name>.png when screenshots are asked for."""
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"))

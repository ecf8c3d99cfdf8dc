"""The background job of an API node: pump notices from the audit log, then send the mail outbox.

It runs in a daemon thread of `shuyu serve` every SHUYU_NOTIFY_INTERVAL_SECONDS (the distributed task engine
can take it over later: each step is safe to run on many nodes at once). Tests run it on demand with `run_once`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import licensing.notices
import market.notices
from core.db import unit_of_work
from core.mail import send_due
from core.notify import PumpRace, notifications
from market.service.agreements import agreements

log = logging.getLogger("shuyu.jobs")
WATCHERS = (licensing.notices, market.notices)  # importing them registers their watchers


def run_once() -> tuple[int, int]:
    """One round: end authorization agreements whose term passed (suspending their listings), deliver new
    notices, then send due mail. Returns (notices delivered, mails sent)."""
    with unit_of_work() as session:
        agreements.sweep(session)
    try:
        with unit_of_work() as session:
            delivered = notifications.pump(session)
    except PumpRace:
        delivered = 0
    sent, _ = send_due()
    return delivered, sent


@contextmanager
def background_jobs(interval: float) -> Iterator[threading.Event]:
    """Run `run_once` every `interval` seconds in a daemon thread until the block ends."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval):
            try:
                run_once()
            except Exception:  # a bad round is logged and retried next time; the thread must survive it
                log.exception("background job round failed")

    thread = threading.Thread(target=loop, daemon=True, name="shuyu-jobs")
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(interval + 30)

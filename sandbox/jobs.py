"""Query jobs: every query is a durable row that ends exactly once, whatever crashes meanwhile.

A query's row goes queued → running → succeeded | refunded | failed, each step committed on its own:
the ε reservation and the queued job are one transaction (sandbox.service), a sandbox node claims the
job with a conditional UPDATE (so two nodes never run the same attempt), and the end is another
conditional UPDATE on the claimed attempt, so only one release is ever stored even if a node that was
presumed dead comes back. Every live row carries a lease: its owner renews it while it holds the job;
past it, the owner is presumed dead and the sweeper (run at start and periodically on every node)
puts the job back in the queue, or ends it when it has had its attempts or no node took it in time.
Re-running is safe because nothing was released: only a stored result is ever sent.

What an ended job costs follows the refund rule (`sandbox.service.settle_failure`): a job that never
left the queue, or was cancelled there, provably never touched the data and is refunded. A job that was
`running` when its node died may have begun reading the data, and nothing on record proves it had not,
so it keeps its charge: it is re-queued (its one reservation pays for the one release it may still
give, at no further cost) and, once it has had its attempts, ends `failed` with its ε spent.

Nothing here holds a database connection while a query computes or while a caller waits: each step
opens a short session of its own.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, update
from sqlmodel import Session, col, select

from core.config import Settings, get_settings
from core.db import unit_of_work
from core.models import utcnow
from sandbox.errors import SandboxBusy
from sandbox.models import QueryRun
from sandbox.worker import WorkerError, get_pool

log = logging.getLogger("shuyu.jobs")

LIVE = ("reserved", "queued", "running")
ENDED = ("succeeded", "refunded", "failed")
MAX_ATTEMPTS = 3  # a job whose nodes died three times is not tried again: it ends, its ε kept

Call = Callable[[str, dict[str, Any]], dict[str, Any]]


def node_name(kind: str) -> str:
    return f"{kind}:{socket.gethostname()}:{os.getpid()}"[:100]


def wait_window(settings: Settings) -> timedelta:
    """How long a job may sit unclaimed, or run silent, before its owner is presumed dead."""
    return timedelta(seconds=settings.query_timeout_seconds + settings.sandbox_lease_seconds)


def heartbeat_window(settings: Settings) -> timedelta:
    """A held job's lease: its owner renews it every third of this."""
    return timedelta(seconds=settings.sandbox_lease_seconds)


def renew_every(settings: Settings) -> float:
    return max(0.3, settings.sandbox_lease_seconds / 3)


def queued_fields(settings: Settings, owner: str | None) -> dict[str, Any]:
    now = utcnow()
    return {"status": "queued", "worker": owner, "queued_at": now, "lease_until": now + wait_window(settings)}


@dataclass(frozen=True)
class Claim:
    run_id: int
    attempt: int
    job: dict[str, Any]


def claim(run_id: int, worker: str, *, owned_by: str | None = None) -> Claim | None:
    """queued → running for one node, if the job is still queued (and still `owned_by`, when given)."""
    settings = get_settings()
    now = utcnow()
    with unit_of_work() as uow:
        statement = update(QueryRun).where(col(QueryRun.id) == run_id, col(QueryRun.status) == "queued")
        if owned_by is not None:
            statement = statement.where(col(QueryRun.worker) == owned_by)
        # The claiming node renews this lease while it runs the job, so a dead node is noticed within it.
        done = uow.execute(statement.values(status="running", worker=worker, attempts=col(QueryRun.attempts) + 1,
                                            started_at=now, lease_until=now + heartbeat_window(settings)))
        if done.rowcount != 1:  # type: ignore[attr-defined]
            return None
        run = uow.get(QueryRun, run_id)
        assert run is not None and run.job is not None
        return Claim(run_id, run.attempts, dict(run.job))


def claim_next(worker: str) -> Claim | None:
    """The oldest job no node holds, for a sandbox node polling the queue."""
    with unit_of_work() as uow:
        ids = uow.exec(select(QueryRun.id).where(QueryRun.status == "queued", col(QueryRun.worker).is_(None))
                       .order_by(col(QueryRun.id)).limit(5)).all()
    for run_id in ids:
        won = claim(run_id or 0, worker, owned_by=None) if run_id else None
        if won is not None:
            return won
    return None


def execute(claimed: Claim, call: Call) -> None:
    """Compute a claimed job in a sandbox process and end it: stored release, or the failure rule."""
    from sandbox.service import settle_failure, store_release

    try:
        released = call("run", claimed.job["payload"])
    except WorkerError as exc:  # the worker says whether the plan had begun reading the data
        settle_failure(claimed.run_id, claimed.attempt, exc.kind, str(exc), touched_data=exc.touched_data)
        return
    except Exception as exc:  # the node itself failed: end the job, never strand it
        log.exception("sandbox job %s failed on this node", claimed.run_id)
        # No worker report says whether the data had been touched: the charge stays, as the rule asks.
        settle_failure(claimed.run_id, claimed.attempt, "error", f"{type(exc).__name__}: {exc}", touched_data=True)
        return
    store_release(claimed.run_id, claimed.attempt, released)


def renew(run_ids: list[int], worker: str) -> None:
    """The owner is alive: push the lease of the jobs it holds forward."""
    if not run_ids:
        return
    settings, now = get_settings(), utcnow()
    with unit_of_work() as uow:
        for status, window in (("queued", wait_window(settings)), ("running", heartbeat_window(settings))):
            uow.execute(update(QueryRun).where(col(QueryRun.id).in_(run_ids), col(QueryRun.worker) == worker,
                                               col(QueryRun.status) == status).values(lease_until=now + window))


def sweep(now: datetime | None = None) -> int:
    """Put back or end every live job whose lease has expired; returns how many it touched."""
    from sandbox.service import settle_failure

    now = now or utcnow()
    with unit_of_work() as uow:
        stale = uow.exec(select(QueryRun).where(col(QueryRun.status).in_(LIVE), or_(
            col(QueryRun.lease_until) < now, col(QueryRun.lease_until).is_(None)))).all()
    touched = 0
    for run in stale:
        if run.status == "reserved" and run.lease_until is None and now - _aware(run.created_at) < wait_window(
                get_settings()):
            continue  # a reservation from before jobs, maybe still in flight on an old node
        if _requeue(run, now):
            touched += 1
            continue
        reason = ("no sandbox node took the query in time" if run.status == "queued"
                  else "the sandbox node running the query stopped")
        # Only a job that never ran provably never touched the data; a running one keeps its charge.
        if settle_failure(run.id or 0, run.attempts, "died", reason, touched_data=run.status != "queued",
                          expect_status=run.status):
            touched += 1
    return touched


def _requeue(run: QueryRun, now: datetime) -> bool:
    """A job whose node died mid-run, or whose owning API node died, goes back to the queue if it may."""
    if run.job is None or run.attempts >= MAX_ATTEMPTS:
        return False
    if run.status == "queued" and run.worker is None:
        return False  # nobody took it within the window: the queue has no live node
    with unit_of_work() as uow:
        done = uow.execute(update(QueryRun).where(
            col(QueryRun.id) == run.id, col(QueryRun.status) == run.status,
            col(QueryRun.attempts) == run.attempts, col(QueryRun.lease_until) == run.lease_until,
        ).values(status="queued", worker=None, lease_until=now + wait_window(get_settings())))
        if done.rowcount == 1:  # type: ignore[attr-defined]
            from core.audit import Actor, record

            dispatcher().enqueue(uow, run.id or 0)
            record(uow, Actor(run.user_id, "enterprise", run.organization_id), "query.requeued", "query", run.id,
                   {"attempts": run.attempts, "was": run.status})
            return True
    return False


def _aware(at: datetime) -> datetime:
    from datetime import UTC

    return at if at.tzinfo else at.replace(tzinfo=UTC)


def status_of(run_id: int) -> str | None:
    with unit_of_work() as uow:
        return uow.exec(select(QueryRun.status).where(QueryRun.id == run_id)).first()


def waiting_jobs() -> int:
    with unit_of_work() as uow:
        return int(uow.exec(select(func.count()).select_from(QueryRun).where(QueryRun.status == "queued")).one())


def wait(run_id: int, timeout: float) -> str | None:
    """Block until the job has ended (its status) or `timeout` passes (None); no connection is held meanwhile."""
    deadline, pause = time.monotonic() + timeout, 0.02
    while True:
        status = status_of(run_id)
        if status in ENDED or time.monotonic() >= deadline:
            return status if status in ENDED else None
        dispatcher().wake.wait(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 2, 0.5)


async def wait_async(run_id: int, timeout: float) -> str | None:
    """The same wait for async routes: the event loop sleeps, no thread and no connection is held."""
    from starlette.concurrency import run_in_threadpool

    deadline, pause = time.monotonic() + timeout, 0.02
    while True:
        status = await run_in_threadpool(status_of, run_id)
        if status in ENDED or time.monotonic() >= deadline:
            return status if status in ENDED else None
        await asyncio.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 2, 0.25)


def wait_all(run_ids: Sequence[int], timeout: float) -> None:
    """Wait for several jobs within one time limit in all (not one limit each, one after the other)."""
    deadline = time.monotonic() + timeout
    for run_id in run_ids:
        wait(run_id, max(0.0, deadline - time.monotonic()))


async def wait_all_async(run_ids: Sequence[int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for run_id in run_ids:
        await wait_async(run_id, max(0.0, deadline - time.monotonic()))


_START = threading.Lock()


class Dispatcher:
    """Where a queued job goes: the embedded pool of this process, or the queue that sandbox nodes take from."""

    owner: str | None = None
    wake = threading.Event()  # never set for the queue: waiting callers poll the database

    def admit(self) -> None:
        """Refuse new work beyond the bounded queue, before anything is charged."""
        if waiting_jobs() >= get_settings().sandbox_queue_size:
            raise _busy()

    def enqueue(self, uow: Session, run_id: int) -> None:
        """Inside the transaction that queues the job (the reservation, or a re-queue)."""

    def submit(self, run_id: int) -> None:
        """Called once the reservation and the job are committed."""

    def start(self) -> None:
        with _START:
            if getattr(self, "_keeper", None) is None:
                self._stop = threading.Event()
                self._keeper: threading.Thread | None = threading.Thread(target=self._keep, daemon=True,
                                                                         name="shuyu-job-keeper")
                self._keeper.start()

    def _keep(self) -> None:
        interval = renew_every(get_settings())
        while True:
            try:
                self.tend()
            except Exception:
                log.exception("the job keeper failed one round; it tries again")
            if self._stop.wait(interval):
                return

    def tend(self) -> None:
        """One round of upkeep: end or re-queue what dead nodes left behind."""
        sweep()

    def stop(self) -> None:
        """Stop the keeper, and let a round it is in finish (it must not outlive the database it tends)."""
        keeper = getattr(self, "_keeper", None)
        if keeper is not None:
            self._stop.set()
            if keeper is not threading.current_thread():
                keeper.join(10)


def _busy() -> SandboxBusy:
    return SandboxBusy("The sandbox is at capacity; nothing was charged. Try again in a few seconds",
                       zh="沙箱繁忙，未扣除任何预算，请几秒后重试", retry_after=5)


class InProcessDispatcher(Dispatcher):
    """The embedded default: this process's own sandbox pool runs its jobs; a thread renews their leases."""

    def __init__(self, settings: Settings) -> None:
        self.owner = node_name("api")
        self.settings = settings
        self.wake = threading.Event()
        self._held: set[int] = set()
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max(1, settings.sandbox_workers))

    def admit(self) -> None:
        with self._lock:
            if len(self._held) >= self.settings.sandbox_queue_size:
                raise _busy()

    def submit(self, run_id: int) -> None:
        self.start()  # whoever holds jobs must renew their leases
        with self._lock:
            self._held.add(run_id)
        threading.Thread(target=self._run, args=(run_id,), daemon=True, name=f"shuyu-job-{run_id}").start()

    def _run(self, run_id: int) -> None:
        try:
            with self._slots:
                claimed = claim(run_id, self.owner or "", owned_by=self.owner)
                if claimed is not None:
                    execute(claimed, get_pool(self.settings).call)
        except Exception:  # a database outage: the lease runs out and the sweeper ends the job
            log.exception("sandbox job %s could not run here", run_id)
        finally:
            with self._lock:
                self._held.discard(run_id)
            self.wake.set()
            self.wake.clear()

    def adopt(self) -> int:
        """Take jobs back into this pool that a dead node left queued (after the sweeper freed them)."""
        with unit_of_work() as uow:
            ids = uow.exec(select(QueryRun.id).where(QueryRun.status == "queued", col(QueryRun.worker).is_(None))
                           .order_by(col(QueryRun.id)).limit(self.settings.sandbox_queue_size)).all()
        adopted = 0
        for run_id in ids:
            with unit_of_work() as uow:
                done = uow.execute(update(QueryRun).where(col(QueryRun.id) == run_id, col(QueryRun.status) == "queued",
                                                          col(QueryRun.worker).is_(None)).values(worker=self.owner))
                mine = done.rowcount == 1  # type: ignore[attr-defined]
            if mine and run_id is not None:
                self.submit(run_id)
                adopted += 1
        return adopted

    def tend(self) -> None:
        with self._lock:
            held = list(self._held)
        renew(held, self.owner or "")
        sweep()
        self.adopt()


class QueueDispatcher(Dispatcher):
    """Queue mode: sandbox nodes (`shuyu worker`) take the jobs; on PostgreSQL through procrastinate."""

    def enqueue(self, uow: Session, run_id: int) -> None:
        from sandbox import node

        if node.uses_procrastinate(get_settings()):
            node.defer_in(uow, run_id)

    def tend(self) -> None:
        from sandbox import node

        sweep()
        if node.uses_procrastinate(get_settings()):
            node.finish_orphans()


_DISPATCHER: Dispatcher | None = None
_LOCK = threading.Lock()


def dispatcher() -> Dispatcher:
    global _DISPATCHER
    with _LOCK:
        if _DISPATCHER is None:
            settings = get_settings()
            _DISPATCHER = QueueDispatcher() if settings.sandbox_mode == "queue" else InProcessDispatcher(settings)
        return _DISPATCHER


def reset_dispatcher() -> None:
    global _DISPATCHER
    with _LOCK:
        if _DISPATCHER is not None:
            _DISPATCHER.stop()
        _DISPATCHER = None

"""A sandbox node (`shuyu worker`): takes query jobs, computes them with the private key, stores the result.

On PostgreSQL the queue is procrastinate's: the API node defers a job in the same transaction that
reserves the ε and queues the query (`defer_in`), PostgreSQL's LISTEN/NOTIFY wakes an idle node at
once, and a node's own sweeper re-queues (and re-defers) what a dead node left. The procrastinate job
carries only the query's id: the job row in `query_runs` stays the truth, and its conditional claim
makes a duplicate delivery harmless. On SQLite (one machine) a node polls `query_runs` instead.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlmodel import Session

import sandbox.service  # noqa: F401  (loaded before the first job: a slow import must not eat its lease)
from core.config import Settings, get_settings
from sandbox import jobs
from sandbox.worker import get_pool

log = logging.getLogger("shuyu.node")

QUEUE = "sandbox"
TASK = "shuyu.run_query"
_DEFER = text("SELECT procrastinate_defer_jobs_v1(ARRAY[ROW(:queue, :task, 0, NULL, NULL, CAST(:args AS jsonb), "
              "NULL)]::procrastinate_job_to_defer_v1[])")


def uses_procrastinate(settings: Settings) -> bool:
    return settings.sandbox_mode == "queue" and not settings.is_sqlite


def defer_in(session: Session, run_id: int) -> None:
    """Defer the job in the caller's transaction: it exists exactly when the reservation commits."""
    session.execute(_DEFER, {"queue": QUEUE, "task": TASK, "args": json.dumps({"run_id": run_id})})


# A procrastinate job a dead node was running stays `doing` for ever: our sweeper re-defers a new one for the
# query, so the old one is finished here once its query has ended or been handed on.
_ORPHANS = text("""SELECT procrastinate_finish_job_v1(j.id, 'aborted', false) FROM procrastinate_jobs j
                   JOIN query_runs q ON q.id = (j.args->>'run_id')::bigint
                   WHERE j.queue_name = :queue AND j.status = 'doing'
                     AND NOT EXISTS (SELECT 1 FROM procrastinate_workers w WHERE w.id = j.worker_id
                                     AND w.last_heartbeat > now() - make_interval(secs => :silent))
                     AND (q.status IN ('succeeded', 'refunded', 'failed')
                          OR EXISTS (SELECT 1 FROM procrastinate_jobs k WHERE k.queue_name = j.queue_name
                                     AND k.args->>'run_id' = j.args->>'run_id' AND k.id > j.id))""")


def finish_orphans() -> int:
    """Finish the procrastinate jobs whose query a dead node left; returns how many."""
    from core.db import unit_of_work

    with unit_of_work() as session:
        # A node silent for longer than a lease is dead by our own rule (heartbeats come thrice a lease).
        silent = get_settings().sandbox_lease_seconds
        return len(session.execute(_ORPHANS, {"queue": QUEUE, "silent": silent}).all())


def conninfo(settings: Settings) -> str:
    return make_url(settings.resolved_database_url).set(drivername="postgresql").render_as_string(
        hide_password=False)


def ensure_queue_schema(settings: Settings) -> bool:
    """Install procrastinate's tables once (`shuyu db upgrade` and every node call this); True if it did."""
    import procrastinate
    from procrastinate.schema import SchemaManager

    from core.db import get_engine

    with get_engine().connect() as conn:
        if conn.execute(text("SELECT to_regclass('procrastinate_jobs')")).scalar() is not None:
            return False
    app = procrastinate.App(connector=procrastinate.SyncPsycopgConnector(conninfo=conninfo(settings)))
    with app.open():
        SchemaManager(app.connector).apply_schema()
    return True


class Node:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.name = jobs.node_name("worker")
        self.pool = get_pool(settings)
        self.held: set[int] = set()

    def run_one(self, run_id: int) -> bool:
        claimed = jobs.claim(run_id, self.name)
        if claimed is None:
            return False  # ended, or another node has it: a second delivery changes nothing
        self._execute(claimed)
        return True

    def _execute(self, claimed: jobs.Claim) -> None:
        self.held.add(claimed.run_id)
        try:
            jobs.execute(claimed, self.pool.call)
        finally:
            self.held.discard(claimed.run_id)

    def keep(self, stop: threading.Event) -> None:
        """Sweep at start and periodically: what a dead node held goes back to the queue or ends."""
        while not stop.is_set():
            try:
                jobs.renew(list(self.held), self.name)
                jobs.dispatcher().tend()
            except Exception:
                log.exception("sweeping failed this round")
            stop.wait(jobs.renew_every(self.settings))

    def poll(self, stop: threading.Event) -> None:
        while not stop.is_set():
            claimed = jobs.claim_next(self.name)
            if claimed is None:
                stop.wait(0.1)
                continue
            self._execute(claimed)

    def serve(self, stop: threading.Event | None = None) -> None:
        stop = stop or threading.Event()
        started = time.monotonic()
        self.pool.warm_up()
        log.info("sandbox node %s ready in %.1f s", self.name, time.monotonic() - started)
        threading.Thread(target=self.keep, args=(stop,), daemon=True, name="shuyu-node-keeper").start()
        if uses_procrastinate(self.settings):
            ensure_queue_schema(self.settings)
            self._procrastinate().run_worker(queues=[QUEUE], name=self.name, concurrency=1,
                                             fetch_job_polling_interval=2.0, listen_notify=True,
                                             update_heartbeat_interval=self.settings.sandbox_lease_seconds / 3,
                                             delete_jobs="successful")
        else:
            self.poll(stop)

    def _procrastinate(self) -> Any:
        import procrastinate

        app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo(self.settings)))

        @app.task(name=TASK, queue=QUEUE)
        def run_query(run_id: int) -> None:
            self.run_one(run_id)

        return app


def main() -> None:
    import faulthandler
    import signal

    faulthandler.register(signal.SIGUSR1)  # `kill -USR1` prints every thread's stack: what is a stuck node doing?
    settings = get_settings()
    if settings.sandbox_mode != "queue":
        log.warning("SHUYU_SANDBOX_MODE is not 'queue': API nodes run queries themselves; this node only helps")
    Node(settings).serve()

"""`python -m bench.load`: many enterprises at once against API nodes and sandbox nodes on PostgreSQL.

Sets up a fresh PostgreSQL database, a sandbox key pair (private half only for the sandbox nodes), one
listing of generated rows and N enterprises, each with an approved licence. Then, for each worker count, it
starts one uvicorn with 2 API processes (queue mode, public key only) and that many `shuyu worker` nodes
(one sandbox process each), and lets N simulated enterprises loop for a fixed time over a mix of requests:

- anonymous `GET /api/v1/catalog` (half of the requests),
- `POST /api/v1/queries/preview` (a quarter: parses, prices, charges nothing),
- `POST /api/v1/queries` (a quarter: each a new DP measurement, so each is reserved, queued, computed by a
  sandbox node and stored).

Afterwards it checks that every query job ended (none left reserved, queued or running). Prints and writes
bench/load-results.md; bench/README.md keeps the curated table.

    python -m bench.load [--enterprises 50] [--seconds 45] [--workers 1,2]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.run import KEYS, authorize, generate
from licensing.credit_code import check_character

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-c", "from web.cli import app; app()"]
PASSWORD = "bench-password"
ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def credit_code(n: int) -> str:
    first17 = f"913501{n:06d}M00010"[:17]
    return first17 + check_character(first17)


@dataclass
class Nodes:
    database_url: str
    root: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def env(self, **extra: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("SHUYU_")}
        return base | {"SHUYU_ENV": "test", "SHUYU_DATABASE_URL": self.database_url,
                       "SHUYU_DATA_DIR": str(self.root / "shared"), "SHUYU_SANDBOX_MODE": "queue",
                       "SHUYU_SANDBOX_WORKERS": "1", "SHUYU_QUERY_TIMEOUT_SECONDS": "60"} | extra

    def api_env(self) -> dict[str, str]:
        return self.env(SHUYU_SANDBOX_PUBLIC_KEY_FILE=str(self.root / "keys" / "sandbox.pub"))

    def worker_env(self) -> dict[str, str]:
        return self.env(SHUYU_SANDBOX_KEY_FILE=str(self.root / "keys" / "sandbox.key"))

    def start(self, args: list[str], env: dict[str, str], name: str) -> None:
        log = (self.root / f"{name}-{len(self.processes)}.log").open("wb")
        self.processes.append(subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                               start_new_session=True))

    def start_api(self, port: int, processes: int) -> str:
        self.start([sys.executable, "-m", "uvicorn", "web.app:create_app", "--factory", "--host", "127.0.0.1",
                    "--port", str(port), "--workers", str(processes), "--log-level", "warning"], self.api_env(), "api")
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            with suppress(httpx.HTTPError):
                if httpx.get(f"{url}/api/v1/catalog", timeout=2).status_code == 200:
                    return url
            time.sleep(0.2)
        raise RuntimeError("the API nodes did not start; see the logs in " + str(self.root))

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                with suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(10)
        self.processes.clear()


def prepare(root: Path, enterprises: int, rows: int) -> tuple[Nodes, int, list[tuple[str, int]]]:
    """A fresh database with one listing and N licensed enterprises; returns (nodes, listing, [(email, licence)])."""
    import sqlalchemy as sa

    name = f"shuyu_load_{int(time.time())}_{os.getpid()}"
    with sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    nodes = Nodes(ADMIN_URL.rsplit("/", 1)[0] + "/" + name, root)
    (root / "shared").mkdir()
    made = subprocess.run([*CLI, "keys", "generate", "--out", str(root / "keys")], cwd=ROOT, env=nodes.worker_env(),
                          capture_output=True, text=True)
    if made.returncode:
        raise RuntimeError(made.stderr)
    os.environ.update(nodes.api_env())
    from core.config import get_settings
    from migrations import upgrade
    from sandbox.node import ensure_queue_schema

    settings = get_settings()
    upgrade(settings.resolved_database_url)
    ensure_queue_schema(settings)
    listing, licences = _seed(enterprises, rows)
    return nodes, listing, licences


def _seed(enterprises: int, rows: int) -> tuple[int, list[tuple[str, int]]]:
    from core.accounts import accounts
    from core.auth import Role, principal_for
    from core.db import unit_of_work
    from core.models import User
    from licensing.schemas import LicenseCreate, LicenseReview, OrganizationRegister
    from licensing.service import license_service, registrations
    from market.schemas import Dictionary, ListingCreate, ReviewCreate
    from market.service import datasets, listings

    frame, buffer = generate(rows), io.BytesIO()
    frame.write_parquet(buffer)
    with unit_of_work() as s:
        provider = principal_for(s, accounts.create_staff(s, "p@load.cn", PASSWORD, Role.provider, "Load Bureau"))
        office = principal_for(s, accounts.create_staff(s, "o@load.cn", PASSWORD, Role.data_office, None))
    authorize("Load Bureau")
    with unit_of_work() as s:
        ds = datasets.upload(s, provider, "load", "load.parquet", buffer.getvalue())
        datasets.set_dictionary(s, provider, ds.id, Dictionary.model_validate({
            "row_bound": 2 * rows, "columns": [{"name": "region", "role": "dimension", "keys": KEYS},
                                               {"name": "amount", "role": "measure", "bounds": [0, 1000]},
                                               {"name": "age", "role": "measure", "bounds": [0, 120]}]}))
        policy = {"max_epsilon_per_query": 1.0, "default_epsilon": 0.01, "min_group_size": 0,
                  "global_epsilon_cap": 100, "enterprise_epsilon_cap": 100}
        listing = listings.create(s, provider, ListingCreate.model_validate({
            "dataset_id": ds.id, "title": "load", "proposed_grade": "general", "dp_policy": policy,
            "offers": [{"name": "load", "scenario": "public_welfare", "price_minor": 0, "term_days": 30,
                        "epsilon_budget": 100, "query_quota": 10**6}]}))
        listings.submit(s, provider, listing.id)
        listings.review(s, office, listing.id, ReviewCreate(decision="approve", grade="general"))
    licences = []
    for n in range(enterprises):
        with unit_of_work() as s:
            email = f"e{n}@load.cn"
            reg = registrations.register(s, OrganizationRegister(
                name=f"Load Co {n}", credit_code=credit_code(n), admin_email=email, admin_password=PASSWORD))
            user = s.get(User, reg.user_id)
            assert user is not None
            licence = license_service.apply(s, principal_for(s, user), LicenseCreate(
                listing_id=listing.id, offer_id=listing.offers[0].id, purpose="load test of the sandbox nodes",
                evidence="bench/README.md"))
            license_service.review(s, office, licence.id, LicenseReview(decision="approve"))
            licences.append((email, licence.id))
    return listing.id, licences


async def sign_in(http: httpx.AsyncClient, email: str) -> dict[str, str]:
    """Before the clock starts, one at a time: signing in is not part of the measured mix."""
    for _ in range(10):
        with suppress(httpx.TransportError):
            token = (await http.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})).json()
            return {"Authorization": f"Bearer {token['access_token']}"}
        await asyncio.sleep(1)
    raise RuntimeError(f"{email} could not sign in")


async def enterprise(http: httpx.AsyncClient, headers: dict[str, str], licence: int, deadline: float, seq: int,
                     record: dict[str, list[float]], codes: dict[str, Counter[int]], run: int = 0) -> None:
    rng, n = random.Random(seq), run * 10_000_000
    while time.monotonic() < deadline:
        pick, n = rng.random(), n + 1
        # A new measurement each time (its WHERE differs), so no stored release answers it for free.
        body = {"license_id": licence, "epsilon": 0.01,
                "sql": f"SELECT region, COUNT(*) AS n FROM load WHERE amount <= {seq * 100_000 + n} GROUP BY region"}
        began = time.perf_counter()
        kind = "catalog" if pick < 0.5 else "preview" if pick < 0.75 else "query"
        try:
            if kind == "catalog":
                response = await http.get("/api/v1/catalog")
            else:
                path = "/api/v1/queries/preview" if kind == "preview" else "/api/v1/queries"
                response = await http.post(path, json=body, headers=headers)
        except httpx.TransportError:  # counted as status 0: the connection dropped or timed out
            codes[kind][0] += 1
            continue
        record[kind].append((time.perf_counter() - began) * 1000)
        codes[kind][response.status_code] += 1
        if response.status_code in (429, 503):
            await asyncio.sleep(float(response.headers.get("Retry-After", "1")))


async def drive(url: str, licences: list[tuple[str, int]], seconds: float, run: int) -> tuple[dict[str, Any], float]:
    record: dict[str, list[float]] = defaultdict(list)
    codes: dict[str, Counter[int]] = defaultdict(Counter)
    limits = httpx.Limits(max_connections=len(licences) + 10)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        signed = [(await sign_in(http, email), licence) for email, licence in licences]
        # Untimed warm-up: each sandbox node starts its process, decrypts the dataset and compiles the shape.
        await enterprise(http, *signed[0], time.monotonic() + 5, -1, defaultdict(list), defaultdict(Counter), run)
        began = time.monotonic()
        # Each run asks new measurements: a stored release from an earlier run would answer for free.
        await asyncio.gather(*(enterprise(http, headers, licence, began + seconds, seq, record, codes, run)
                               for seq, (headers, licence) in enumerate(signed)))
        elapsed = time.monotonic() - began
    return {kind: {"latencies": record[kind], "codes": dict(codes[kind])} for kind in {*record, *codes}}, elapsed


def unfinished_jobs() -> dict[str, int]:
    from sqlmodel import func, select

    from core.db import unit_of_work
    from sandbox.models import QueryRun

    with unit_of_work() as s:
        rows = s.exec(select(QueryRun.status, func.count()).group_by(QueryRun.status)).all()
    return {status: count for status, count in rows}


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


def markdown(results: list[dict[str, Any]], enterprises: int, seconds: float) -> str:
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    lines = [f"Machine: {machine}. Date: {time.strftime('%Y-%m-%d')}. {enterprises} enterprises, {seconds:g} s "
             "per run, 2 API processes (uvicorn), PostgreSQL, procrastinate queue.", "",
             "| sandbox nodes | request | requests | per second | p50 (ms) | p95 (ms) | p99 (ms) | statuses |",
             "|---:|---|---:|---:|---:|---:|---:|---|"]
    for run in results:
        for kind, data in sorted(run["kinds"].items()):
            lat = data["latencies"]
            statuses = ", ".join(f"{code}×{count}" for code, count in sorted(data["codes"].items()))
            lines.append(f"| {run['workers']} | {kind} | {len(lat)} | {len(lat) / run['elapsed']:.1f} | "
                         f"{percentile(lat, 50):.0f} | {percentile(lat, 95):.0f} | {percentile(lat, 99):.0f} | "
                         f"{statuses} |")
        lines.append(f"| {run['workers']} | jobs after the run | | | | | | {run['jobs']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--enterprises", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=45)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--out", default=str(Path(__file__).with_name("load-results.md")))
    args = parser.parse_args()
    results = []
    logs = Path(tempfile.mkdtemp(prefix="shuyu-load-"))  # kept: the nodes' logs are there
    print(f"nodes' logs in {logs}", file=sys.stderr)
    nodes, _, licences = prepare(logs, args.enterprises, args.rows)
    try:
        for run, count in enumerate(int(w) for w in args.workers.split(",")):
            url = nodes.start_api(port=18_700 + count, processes=2)
            for _ in range(count):
                nodes.start([*CLI, "worker"], nodes.worker_env(), "worker")
            kinds, elapsed = asyncio.run(drive(url, licences, args.seconds, run))
            time.sleep(3)  # jobs still computing when the clock stopped end on their own
            results.append({"workers": count, "kinds": kinds, "elapsed": elapsed, "jobs": unfinished_jobs()})
            print(markdown(results[-1:], args.enterprises, args.seconds), file=sys.stderr)
            nodes.stop()
    finally:
        nodes.stop()
    table = markdown(results, args.enterprises, args.seconds)
    Path(args.out).write_text(table)
    print(table)


if __name__ == "__main__":
    main()

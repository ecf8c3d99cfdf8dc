"""`python -m bench.catalog`: the public catalog against a bare FastAPI app, side by side, in the same run.

Seeds a catalog of N published listings (default 200) in SQLite, serves it with one uvicorn process, and
serves beside it a bare FastAPI + SQLModel app that returns a 20-row page from its own SQLite table (the
floor: what the framework and the database cost with nothing of ours). Then `wrk -t2 -c32` (Debian's
package `wrk`) loads each URL in turn: the bare page, `GET /api/v1/catalog` (its default page, 50), the home page
(the catalog as HTML), a listing's page and its JSON. Target: ours at ≥ 2/3 of the bare app's requests/s.

Prints a table and writes bench/catalog-results.md; bench/README.md keeps the curated figures.

    python -m bench.catalog [--listings 200] [--seconds 10]
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "bench-password"


def bare_app() -> object:
    """The floor: FastAPI + SQLModel, a 20-row page from SQLite, nothing else."""
    from fastapi import FastAPI
    from sqlmodel import Field, Session, SQLModel, create_engine, select

    class Item(SQLModel, table=True):
        id: int | None = Field(default=None, primary_key=True)
        title: str
        description: str
        price_minor: int

    engine = create_engine(f"sqlite:///{os.environ['BARE_DB']}")
    SQLModel.metadata.create_all(engine)
    with Session(engine) as session:
        if session.exec(select(Item)).first() is None:
            session.add_all(Item(title=f"Listing {n}", description="x" * 200, price_minor=n) for n in range(200))
            session.commit()
    app = FastAPI()

    @app.get("/items")
    def items() -> list[dict[str, Any]]:
        with Session(engine) as session:
            return [item.model_dump() for item in session.exec(select(Item).order_by(Item.id).limit(20))]  # type: ignore[arg-type]

    return app


def seed(listings: int) -> int:
    """N published listings, each over a small dataset of its own; returns one listing's id."""
    import polars as pl

    from bench.run import authorize
    from core.accounts import accounts
    from core.auth import Role, principal_for
    from core.db import unit_of_work
    from market.schemas import Dictionary, ListingCreate, ReviewCreate
    from market.service import datasets
    from market.service import listings as listing_service

    buffer = io.BytesIO()
    pl.DataFrame({"region": ["a", "b"] * 50, "amount": [float(n) for n in range(100)]}).write_parquet(buffer)
    with unit_of_work() as s:
        provider = principal_for(s, accounts.create_staff(s, "p@cat.cn", PASSWORD, Role.provider, "Catalog Bureau"))
        office = principal_for(s, accounts.create_staff(s, "o@cat.cn", PASSWORD, Role.data_office, None))
    authorize("Catalog Bureau")
    last = 0
    for n in range(listings):
        with unit_of_work() as s:
            ds = datasets.upload(s, provider, f"set{n}", f"set{n}.parquet", buffer.getvalue())
            datasets.set_dictionary(s, provider, ds.id, Dictionary.model_validate({"row_bound": 1000, "columns": [
                {"name": "region", "role": "dimension", "keys": ["a", "b"]},
                {"name": "amount", "role": "measure", "bounds": [0, 100]}]}))
            listing = listing_service.create(s, provider, ListingCreate.model_validate({
                "dataset_id": ds.id, "title": f"公交出行统计 {n} bus trips", "proposed_grade": "general",
                "description": "每月更新的公交出行聚合数据。Monthly bus trips.", "keywords": ["交通", "bus"],
                "sector": "transport", "offers": [{"name": "standard", "scenario": "industry",
                                                   "price_minor": 100 * n, "term_days": 365, "epsilon_budget": 5,
                                                   "query_quota": 1000}]}))
            listing_service.submit(s, provider, listing.id)
            listing_service.review(s, office, listing.id, ReviewCreate(decision="approve", grade="general"))
            last = listing.id
    return last


@contextmanager
def served(target: str, port: int, env: dict[str, str], log: Path) -> Iterator[str]:
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "uvicorn", target, "--factory", "--host", "127.0.0.1",
                                    "--port", str(port), "--log-level", "warning", "--no-access-log"],
                                   cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):  # the sandbox pool warms up before the app answers
                if process.poll() is not None:
                    raise RuntimeError(f"{target} exited: {log.read_text()[-2000:]}")
                with suppress(httpx.HTTPError):
                    httpx.get(url + "/", timeout=2)
                    break
                time.sleep(0.5)
            yield url
        finally:
            process.terminate()
            process.wait(20)


def wrk(url: str, seconds: int) -> dict[str, float]:
    out = subprocess.run(["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", url], capture_output=True,
                         text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = int(non2xx.group(1)) if non2xx else 0
    return {"rps": rate, "p50": _ms(out, "50%"), "p99": _ms(out, "99%"), "errors": errors}


def _ms(out: str, label: str) -> float:
    value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listings", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--out", default=str(Path(__file__).with_name("catalog-results.md")))
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench.catalog needs wrk (Debian: apt-get install wrk)")
    with tempfile.TemporaryDirectory(prefix="shuyu-catalog-") as tmp:
        root = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SHUYU_")} | {
            "SHUYU_ENV": "test", "SHUYU_DATA_DIR": str(root / "data"),
            "SHUYU_DATABASE_URL": f"sqlite:///{root / 'shuyu.db'}", "BARE_DB": str(root / "bare.db"),
            "SHUYU_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode()}
        os.environ.update(env)
        from core.config import get_settings
        from core.keys import ensure_embedded_pair
        from migrations import upgrade

        get_settings().data_dir.mkdir(parents=True)
        ensure_embedded_pair(get_settings())
        upgrade(get_settings().resolved_database_url)
        one = seed(args.listings)
        rows = []
        with served("bench.catalog:bare_app", 18_801, env, root / "bare.log") as bare, \
                served("web.app:create_app", 18_802, env, root / "shuyu.log") as ours:
            urls = [("bare FastAPI + SQLModel, 20 rows", f"{bare}/items"),
                    ("GET /api/v1/catalog (default 50 of N)", f"{ours}/api/v1/catalog"),
                    ("home page (catalog HTML)", f"{ours}/"),
                    ("GET /api/v1/catalog/{id}", f"{ours}/api/v1/catalog/{one}"),
                    ("listing page", f"{ours}/listings/{one}")]
            for name, url in urls:
                wrk(url, 2)  # warm-up
                rows.append((name, wrk(url, args.seconds)))
                print(name, rows[-1], file=sys.stderr)
    floor = rows[0][1]["rps"]
    lines = [f"{args.listings} published listings, SQLite, one uvicorn process each, wrk -t2 -c32 -d{args.seconds}s, "
             f"{time.strftime('%Y-%m-%d')}.", "",
             "| URL | requests/s | p50 (ms) | p99 (ms) | non-2xx | share of the bare app |",
             "|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {name} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p99']:.1f} | {r['errors']:.0f} | "
              f"{r['rps'] / floor:.2f} |" for name, r in rows]
    table = "\n".join(lines) + "\n"
    Path(args.out).write_text(table)
    print(table)


if __name__ == "__main__":
    main()

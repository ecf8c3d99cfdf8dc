"""`make bench`: DP query latency through the service and over HTTP, against plain Polars, same run.

For each size (default 100k, 1M, 10M generated rows) it uploads a dataset through the real upload
path (encrypted, sealed for the sandbox), licenses it, then times each query shape: plain Polars
computing the same exact aggregate from a Parquet scan, the sandbox service (`queries.run`: charge,
worker, OpenDP release, receipt, store), and HTTP (`POST /api/v1/queries` to uvicorn on 127.0.0.1).
Every DP query is a new measurement (a fresh ε), so no stored answer is reused. Results: medians and
ratios, printed and written to bench/results.md (not committed; bench/README.md keeps the curated table).

    python -m bench.run [--sizes 100000,1000000] [--repeats 15]
"""

from __future__ import annotations

import argparse
import base64
import os
import platform
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

KEYS = [f"k{n:02d}" for n in range(50)]
SHAPES: dict[str, tuple[str, Callable[[pl.LazyFrame], pl.LazyFrame]]] = {
    "count": ("SELECT COUNT(*) AS a{i} FROM {t}", lambda lf: lf.select(pl.len())),
    "sum": ("SELECT SUM(amount) AS a{i} FROM {t}", lambda lf: lf.select(pl.col("amount").clip(0, 1000).sum())),
    "mean": ("SELECT AVG(amount) AS a{i} FROM {t}", lambda lf: lf.select(pl.col("amount").clip(0, 1000).mean())),
    "median": ("SELECT MEDIAN(amount) AS a{i} FROM {t}", lambda lf: lf.select(pl.col("amount").median())),
    "group-by count+sum (50 keys)": (
        "SELECT region, COUNT(*) AS n{i}, SUM(amount) AS a{i} FROM {t} GROUP BY region",
        lambda lf: lf.group_by("region").agg(pl.len(), pl.col("amount").clip(0, 1000).sum())),
}


def _environment(root: Path) -> None:
    os.environ.update({
        "SHUYU_ENV": "test", "SHUYU_DATA_DIR": str(root / "data"),
        "SHUYU_DATABASE_URL": f"sqlite:///{root / 'bench.db'}",
        "SHUYU_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "SHUYU_MAX_UPLOAD_MB": "2048", "SHUYU_QUERY_TIMEOUT_SECONDS": "300",
    })


def generate(rows: int, seed: int = 3) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame({"region": pl.Series(rng.choice(KEYS, rows)).cast(pl.String),
                         "amount": np.round(rng.gamma(2.0, 60.0, rows).clip(0, 1000), 2),
                         "age": rng.integers(18, 90, rows)})


def authorize(department: str) -> None:
    """An active authorization agreement covering the benchmark's department: listings are submitted only
    within one."""
    from datetime import date, timedelta

    from core.db import unit_of_work
    from market.schemas import AgreementCreate
    from market.service.agreements import agreements

    with unit_of_work() as s:
        agreements.seed(s, AgreementCreate(
            title=f"{department} 授权运营协议 (benchmark)", authorizing_body="Bench City Government",
            operator="Bench Operator", departments=[department], starts_on=date.today() - timedelta(days=1),
            ends_on=date.today() + timedelta(days=365)))


class Platform:
    """A platform with staff, one enterprise, and a licence per benchmark dataset."""

    def __init__(self) -> None:
        from core.accounts import accounts
        from core.auth import Role, principal_for
        from core.db import unit_of_work
        from licensing.schemas import OrganizationRegister
        from licensing.service import registrations

        with unit_of_work() as s:
            self.provider = principal_for(s, accounts.create_staff(s, "p@bench.cn", "bench-password", Role.provider,
                                                                   "Bench Bureau"))
            self.office = principal_for(s, accounts.create_staff(s, "o@bench.cn", "bench-password",
                                                                 Role.data_office, None))
            reg = registrations.register(s, OrganizationRegister(
                name="Bench Co", credit_code="91350100M000100Y43", admin_email="e@bench.cn",
                admin_password="bench-password"))
            from core.models import User

            user = s.get(User, reg.user_id)
            assert user is not None
            self.enterprise = principal_for(s, user)
        authorize("Bench Bureau")

    def license(self, name: str, frame: pl.DataFrame) -> int:
        import io

        from core.db import unit_of_work
        from licensing.schemas import LicenseCreate, LicenseReview
        from licensing.service import license_service
        from market.schemas import Dictionary, ListingCreate, ReviewCreate
        from market.service import datasets, listings

        buffer = io.BytesIO()
        frame.write_parquet(buffer)
        with unit_of_work() as s:
            ds = datasets.upload(s, self.provider, name, f"{name}.parquet", buffer.getvalue())
            datasets.set_dictionary(s, self.provider, ds.id, Dictionary.model_validate({
                "row_bound": 2 * frame.height, "columns": [
                {"name": "region", "role": "dimension", "keys": KEYS},
                {"name": "amount", "role": "measure", "bounds": [0, 1000]},
                {"name": "age", "role": "measure", "bounds": [0, 120]}]}))
            # The most a general listing may lose in all (100): enough for the timed repeats at ε = 0.5.
            policy = {"max_epsilon_per_query": 1.0, "default_epsilon": 0.5, "min_group_size": 0,
                      "global_epsilon_cap": 100, "enterprise_epsilon_cap": 100}
            listing = listings.create(s, self.provider, ListingCreate.model_validate({
                "dataset_id": ds.id, "title": name, "proposed_grade": "general", "dp_policy": policy,
                "offers": [{"name": "bench", "scenario": "public_welfare", "price_minor": 0, "term_days": 30,
                            "epsilon_budget": 100, "query_quota": 10**6}]}))
            listings.submit(s, self.provider, listing.id)
            listings.review(s, self.office, listing.id, ReviewCreate(decision="approve", grade="general"))
            licence = license_service.apply(s, self.enterprise, LicenseCreate(
                listing_id=listing.id, offer_id=listing.offers[0].id, purpose="benchmark of the sandbox's speed",
                evidence="bench/README.md"))
            license_service.review(s, self.office, licence.id, LicenseReview(decision="approve"))
            return licence.id

    def query(self, licence_id: int, sql: str, epsilon: float = 0.5) -> Any:
        from core.db import unit_of_work
        from sandbox.schemas import QueryCreate
        from sandbox.service import queries

        with unit_of_work() as s:
            result = queries.run(s, self.enterprise, QueryCreate(license_id=licence_id, sql=sql, epsilon=epsilon))
        if result.cached:
            raise RuntimeError("a stored answer was reused: the benchmark must time new measurements")
        return result


def _median_ms(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        fn()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def _bench_shape(platform_: Platform, http: Any, licence: int, plain: Path, shape: str, sql: str,
                 exact: Callable[[pl.LazyFrame], pl.LazyFrame], repeats: int, counter: Any) -> dict[str, Any]:
    def fresh() -> tuple[str, float]:
        # Aliases are post-processing (one stored measurement answers them all): a new ε makes a new measurement.
        i = next(counter)
        return sql.format(i=i), 0.5 + i * 1e-6

    for _ in range(4):  # both workers decrypt the dataset once and compile the shape once
        platform_.query(licence, *fresh())
    polars_ms = _median_ms(lambda: exact(pl.scan_parquet(plain)).collect(), repeats)
    service_ms = _median_ms(lambda: platform_.query(licence, *fresh()), repeats)
    http_ms = _median_ms(lambda: _http_query(http, licence, *fresh()), repeats)
    row = {"polars_ms": polars_ms, "service_ms": service_ms, "http_ms": http_ms, "ratio": service_ms / polars_ms}
    print(f"   {shape:30s} polars {polars_ms:8.1f} ms  service {service_ms:8.1f} ms  http {http_ms:8.1f} ms"
          f"  ratio {row['ratio']:.2f}", file=sys.stderr)
    return row


def run(sizes: list[int], repeats: int) -> list[dict[str, Any]]:
    import httpx

    from core.config import get_settings
    from core.db import dispose_engines
    from migrations import upgrade
    from sandbox.worker import get_pool, shutdown_pool
    from web.server import background_server

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    get_pool(settings).warm_up()
    platform_ = Platform()
    rows: list[dict[str, Any]] = []
    counter = iter(range(10**9))
    try:
        with background_server() as base, httpx.Client(base_url=base, timeout=300) as http:
            token = http.post("/api/v1/auth/token", data={"username": "e@bench.cn", "password": "bench-password"})
            http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
            for size in sizes:
                rows += _bench_size(platform_, http, size, repeats, counter, settings.data_dir)
    finally:
        shutdown_pool()
        dispose_engines()
    return rows


def _bench_size(platform_: Platform, http: Any, size: int, repeats: int, counter: Any,
                data_dir: Path) -> list[dict[str, Any]]:
    table = f"bench_{size}"
    frame = generate(size)
    plain = data_dir / f"{table}.plain.parquet"  # generated data: the baseline reads it directly
    frame.write_parquet(plain)
    licence = platform_.license(table, frame)
    del frame
    print(f"-- {size:,} rows", file=sys.stderr)
    out = [{"rows": size, "query": shape, **_bench_shape(platform_, http, licence, plain, shape,
                                                         sql.replace("{t}", table), exact, repeats, counter)}
           for shape, (sql, exact) in SHAPES.items()]
    plain.unlink()
    return out


def _http_query(http: Any, licence: int, sql: str, epsilon: float) -> None:
    response = http.post("/api/v1/queries", json={"license_id": licence, "sql": sql, "epsilon": epsilon})
    if response.status_code != 201 or response.json()["cached"]:
        raise RuntimeError(response.text)


def markdown(rows: list[dict[str, Any]]) -> str:
    machine = (f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
               f"Polars {pl.__version__}, {platform.platform()}")
    lines = [f"Machine: {machine}. Date: {time.strftime('%Y-%m-%d')}. Medians of each timed repeat.", "",
             "| rows | query | plain Polars (ms) | DP via service (ms) | DP via HTTP (ms) | service / Polars |",
             "|---:|---|---:|---:|---:|---:|"]
    lines += [f"| {r['rows']:,} | {r['query']} | {r['polars_ms']:.1f} | {r['service_ms']:.1f} | {r['http_ms']:.1f} "
              f"| {r['ratio']:.2f}× |" for r in rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000,10000000")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--out", default=str(Path(__file__).with_name("results.md")))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="shuyu-bench-") as tmp:
        _environment(Path(tmp))
        rows = run([int(s) for s in args.sizes.split(",")], args.repeats)
    table = markdown(rows)
    Path(args.out).write_text(table)
    print(table)


if __name__ == "__main__":
    main()

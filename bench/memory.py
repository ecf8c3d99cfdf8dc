"""`python -m bench.memory`: peak memory of one DP query at 10M rows, and whether Polars' streaming engine helps.

A sandbox node holds the decrypted Parquet in anonymous memory (a memfd: never plaintext on disk), so what a
query costs beyond it is what the engine decodes. Each measurement runs in a fresh process and reports its
peak resident set (ru_maxrss) above the same process just before the query, for:

- plain Polars reading the whole frame (`pl.read_parquet`, the in-memory worst case),
- plain Polars, lazy, the same aggregate (in-memory engine, then the streaming engine),
- the DP measurement through our plan (`sandbox.plan.release` on `scan_parquet`), with OpenDP's embedded
  Polars left to its default, then with the streaming engine asked for through Polars' environment switch.

Prints a table and writes bench/memory-results.md; bench/README.md keeps the curated figures.

    python -m bench.memory [--rows 10000000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SQL = {"sum": "SELECT SUM(amount) AS s FROM t",
       "group-by count+sum (50 keys)": "SELECT region, COUNT(*) AS n, SUM(amount) AS s FROM t GROUP BY region"}
MODES = ["read_parquet (whole frame)", "polars lazy, in-memory", "polars lazy, streaming", "DP plan, default",
         "DP plan, POLARS_FORCE_NEW_STREAMING=1"]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _resident_mb() -> float:
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))) / 1024


def child(path: str, mode: str, shape: str) -> None:
    """One measurement in this (fresh) process: prints {"peak_mb", "before_mb", "seconds"} as JSON."""
    import polars as pl

    from bench.run import KEYS
    from sandbox.plan import compile_query, release
    from sandbox.spec import ColumnInfo, Policy, TableInfo
    from sandbox.sql import parse

    table = TableInfo(name="t", columns=(ColumnInfo("region", "dimension", "string", keys=tuple(KEYS)),
                                         ColumnInfo("amount", "measure", "float", bounds=(0.0, 1000.0)),
                                         ColumnInfo("age", "measure", "int", bounds=(0, 120))),
                      max_rows=2 * 10**8)
    policy = Policy()
    compiled = compile_query(parse(SQL[shape], table, policy), table, policy, 1.0)
    if "FORCE_NEW_STREAMING" in mode:  # set after OpenDP and Polars are loaded, as a sandbox process does
        os.environ["POLARS_FORCE_NEW_STREAMING"] = "1"
    exact = (pl.col("amount").clip(0, 1000).sum(),) if shape == "sum" else None
    # Imports can peak higher than the query: start the peak count over at what is resident now.
    Path("/proc/self/clear_refs").write_text("5")
    before, began = _resident_mb(), time.perf_counter()
    if mode.startswith("read_parquet"):
        pl.read_parquet(path)
    elif mode.startswith("polars lazy"):
        lazy = pl.scan_parquet(path)
        query = lazy.select(*exact) if exact else lazy.group_by("region").agg(pl.len(), pl.col("amount").sum())
        query.collect(engine="streaming" if "streaming" in mode else "in-memory")
    else:
        release(compiled, pl.scan_parquet(path))
    print(json.dumps({"peak_mb": _peak_mb(), "before_mb": before, "seconds": time.perf_counter() - began}))


def measure(path: Path, mode: str, shape: str) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if k != "POLARS_FORCE_NEW_STREAMING"}
    done = subprocess.run([sys.executable, "-m", "bench.memory", "--child", str(path), mode, shape], cwd=ROOT,
                          env=env, capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--child", nargs=3, metavar=("PATH", "MODE", "SHAPE"))
    parser.add_argument("--out", default=str(Path(__file__).with_name("memory-results.md")))
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    from bench.run import generate

    memory = "/dev/shm" if Path("/dev/shm").is_dir() else None  # like the node's memfd: never on disk
    with tempfile.TemporaryDirectory(prefix="shuyu-memory-", dir=memory) as tmp:
        path = Path(tmp) / "data.parquet"
        generate(args.rows).write_parquet(path)
        size_mb = path.stat().st_size / 2**20
        lines = [f"{args.rows:,} rows; Parquet {size_mb:.0f} MB (what a node holds decrypted in a memfd). Peak RSS "
                 "of a fresh process during the query, above the same process just before it.", "",
                 "| query | engine | peak above start (MB) | seconds |", "|---|---|---:|---:|"]
        for shape in SQL:
            for mode in MODES:
                if shape != "sum" and mode.startswith("read_parquet"):
                    continue
                got = measure(path, mode, shape)
                lines.append(f"| {shape} | {mode} | {got['peak_mb'] - got['before_mb']:.0f} | {got['seconds']:.2f} |")
                print(lines[-1], file=sys.stderr)
    table = "\n".join(lines) + "\n"
    Path(args.out).write_text(table)
    print(table)


if __name__ == "__main__":
    main()

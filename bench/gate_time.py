"""Time the quality gate's work (GX suites + their declared SQL checks) on a built warehouse, for two sets of
suite files: ``python -m bench.gate_time WAREHOUSE.duckdb [SUITES_DIR ...] [--reps 3]``.

Each suite runs as the ``quality_gate`` asset check runs it (``run_suite`` with ``build_docs=False``, then
``run_declared_checks``) on a read-only copy of the warehouse; GX is imported and its context made once,
before timing. Prints, per suites folder, the median wall time over ``--reps`` and the number of
expectations and SQL checks. Without a folder: ``expectations/``. Compare folders in one invocation (the
machine is shared).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

from pipeline.quality import suites
from pipeline.quality.declared_checks import run_declared_checks


def time_suites(con: duckdb.DuckDBPyConnection, directory: Path) -> tuple[float, int, int, bool]:
    from pipeline.quality.gx_runner import run_suite

    loaded = suites.load_all(directory)
    started = time.perf_counter()
    ok = True
    for table, suite in loaded.items():
        result = run_suite(con, f"marts.{table}", suite, build_docs=False, docs_dir=None)
        sql = run_declared_checks(con, suite)
        ok = ok and not result.blocking and all(o.passed or o.severity != "error" for o in sql)
    elapsed = time.perf_counter() - started
    n_exp = sum(len(s["expectations"]) for s in loaded.values())
    n_sql = sum(len(s["meta"].get("sql_checks") or []) for s in loaded.values())
    return elapsed, n_exp, n_sql, ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("warehouse", type=Path)
    ap.add_argument("dirs", type=Path, nargs="*")
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args(argv)
    dirs = args.dirs or [suites.EXPECTATIONS_DIR]
    from pipeline.quality.gx_runner import get_context

    get_context()
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "w.duckdb"
        shutil.copy(args.warehouse, copy)
        con = duckdb.connect(str(copy), read_only=True)
        for d in dirs:
            times, n_exp, n_sql, ok = [], 0, 0, True
            for _ in range(args.reps):
                t, n_exp, n_sql, ok = time_suites(con, d)
                times.append(t)
            print(
                f"{d}: median {statistics.median(times):.2f}s over {args.reps} "
                f"({', '.join(f'{t:.2f}' for t in times)}); {n_exp} expectations, {n_sql} SQL checks; "
                f"{'passed' if ok else 'BLOCKED'}"
            )
        con.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

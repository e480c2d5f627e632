"""Ingest-only timing and fast-path equality check.

    python -m bench.ingest_speed time RAW_DIR [--db PATH] [--sources submissions,surveys,ocop]
    python -m bench.ingest_speed compare RAW_DIR [--sources ...]

``time`` ingests RAW_DIR into a fresh tmp DuckDB and prints seconds and files/s per source (the fast path
follows ``NTM_INGEST_FASTPATH``, default on). ``compare`` ingests RAW_DIR twice, fast path off then on,
and compares every ``raw.*`` and ``audit.*`` table (timestamps of ingestion excluded) row for row, in
insertion order; it exits 1 on any difference.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import duckdb

TODAY = date(2031, 12, 31)
SALT = "x"
_TIMESTAMP_COLS = {"ingested_at", "quarantined_at", "first_seen", "last_seen"}


def ingest(raw_dir: Path, db: Path, sources: list[str], fastpath: bool | None = None) -> dict:
    from pipeline.ingest import ReferenceData, ensure_warehouse_schema, manifest
    from pipeline.ingest.sources.ocop.validate import ingest_ocop
    from pipeline.ingest.sources.submissions.validate import ingest_submissions
    from pipeline.ingest.sources.surveys.validate import ingest_surveys

    if fastpath is not None:
        manifest.FASTPATH = fastpath
    funcs = {"submissions": ingest_submissions, "surveys": ingest_surveys, "ocop": ingest_ocop}
    con = duckdb.connect(str(db))
    out = {}
    try:
        ensure_warehouse_schema(con)
        ref = ReferenceData.from_files(raw_dir)
        for s in sources:
            t0 = time.perf_counter()
            rep = funcs[s](con, raw_dir, ref, today=TODAY, salt=SALT)
            dt = time.perf_counter() - t0
            out[s] = {
                "seconds": round(dt, 2),
                "files": rep.files_seen,
                "files_per_s": round(rep.files_seen / dt, 1) if dt else None,
                "rows_read": rep.rows_read,
                "rows_loaded": rep.rows_loaded,
                "rows_quarantined": rep.rows_quarantined,
                "rejected": rep.files_rejected,
            }
    finally:
        con.close()
    return out


def _tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    from pipeline.ingest.tables import CACHE_TABLES

    rows = con.execute(
        "select table_schema || '.' || table_name from information_schema.tables "
        "where table_schema in ('raw', 'audit') order by 1"
    ).fetchall()
    return [r[0] for r in rows if r[0] not in CACHE_TABLES]


def compare(db_a: Path, db_b: Path) -> list[str]:
    problems: list[str] = []
    a = duckdb.connect(str(db_a), read_only=True)
    b = duckdb.connect(str(db_b), read_only=True)
    try:
        ta, tb = _tables(a), _tables(b)
        if ta != tb:
            problems.append(f"table lists differ: {ta} vs {tb}")
        for t in ta:
            if t not in tb:
                continue
            cols = [r[0] for r in a.execute(f"describe {t}").fetchall() if r[0] not in _TIMESTAMP_COLS]
            sel = ", ".join(f'"{c}"' for c in cols)
            fa = a.execute(f"select {sel} from {t}").df()
            fb = b.execute(f"select {sel} from {t}").df()
            if len(fa) != len(fb):
                problems.append(f"{t}: {len(fa)} rows vs {len(fb)}")
                continue
            if not fa.equals(fb):
                # row order may legitimately differ only if inserted in another order: report both ways
                sa = fa.astype(str).sort_values(cols).reset_index(drop=True)
                sb = fb.astype(str).sort_values(cols).reset_index(drop=True)
                how = "order only" if sa.equals(sb) else "content"
                problems.append(f"{t}: differs ({how})")
            print(f"  {t}: {len(fa)} rows{'' if fa.equals(fb) else '  DIFFERENT'}")
    finally:
        a.close()
        b.close()
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.ingest_speed")
    ap.add_argument("mode", choices=["time", "compare"])
    ap.add_argument("raw_dir", type=Path)
    ap.add_argument("--db", type=Path)
    ap.add_argument("--sources", default="submissions,surveys,ocop")
    args = ap.parse_args(argv)
    sources = [s for s in args.sources.split(",") if s]
    print(f"load average: {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="ingest_speed_") as tmp:
        if args.mode == "time":
            db = args.db or Path(tmp) / "w.duckdb"
            res = ingest(args.raw_dir, db, sources)
            from pipeline.ingest import manifest

            print(f"fastpath={getattr(manifest, 'fastpath_enabled', lambda: None)()}")
            for s, r in res.items():
                print(f"  {s}: {r}")
            print(f"load average: {os.getloadavg()}")
            return 0
        dbs = {}
        for flag in (False, True):
            dbs[flag] = Path(tmp) / f"w_{int(flag)}.duckdb"
            t0 = time.perf_counter()
            res = ingest(args.raw_dir, dbs[flag], sources, fastpath=flag)
            print(f"fastpath={flag}: {time.perf_counter() - t0:.1f} s {res}", flush=True)
        problems = compare(dbs[False], dbs[True])
        print("EQUAL" if not problems else "DIFFERENT:\n  " + "\n  ".join(problems))
        print(f"load average: {os.getloadavg()}")
        return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

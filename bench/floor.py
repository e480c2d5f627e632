"""Run ``bench/floor.sql`` in one DuckDB connection: ``python -m bench.floor --raw DIR --out DIR``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
SQL = Path(__file__).with_name("floor.sql")


def render(
    raw: Path, out: Path, threads: str = "2", memory_limit: str = "4GB", seeds: Path | None = None
) -> str:
    values = {
        "RAW": Path(raw).resolve().as_posix(),
        "SEEDS": (seeds or ROOT / "dbt_project" / "seeds").resolve().as_posix(),
        "OUT": Path(out).resolve().as_posix(),
        "THREADS": str(int(threads)),
        "MEMORY_LIMIT": memory_limit,
    }
    sql = SQL.read_text(encoding="utf-8")
    for k, v in values.items():
        sql = sql.replace("${" + k + "}", v.replace("'", "''"))
    return sql


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__)
    ap.add_argument("--raw", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--threads", default="2")
    ap.add_argument("--memory-limit", default="4GB")
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute(render(a.raw, a.out, a.threads, a.memory_limit))
    fact = con.execute(f"select count(*) from '{a.out.as_posix()}/fact_indicator_value.parquet'").fetchone()[
        0
    ]
    mart = con.execute(
        f"select count(*) from '{a.out.as_posix()}/mart_commune_indicator.parquet'"
    ).fetchone()[0]
    print(
        f"floor: fact_indicator_value {fact} rows, mart_commune_indicator {mart} rows, {time.perf_counter() - t0:.2f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

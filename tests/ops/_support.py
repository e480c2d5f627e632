"""Helpers of the operations tests: isolated environments (tmp raw dir, warehouse, open data, DAGSTER_HOME),
pipeline subprocesses in their own process group, and a comparable fingerprint of the marts."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from tests import dbt_parse_cache

REPO = Path(__file__).resolve().parents[2]
PY = sys.executable


def make_env(tmp: Path, *, copy_raw: bool = True, **extra: str) -> dict[str, str]:
    raw = tmp / "raw"
    if copy_raw and not raw.exists():
        shutil.copytree(REPO / "raw", raw)
    home = tmp / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / ".dagster" / "dagster.yaml", home / "dagster.yaml")
    env = {
        **os.environ,
        "NTM_RAW_DIR": str(raw),
        "NTM_WAREHOUSE": str(tmp / "warehouse" / "ntm.duckdb"),
        "NTM_OPEN_DATA_DIR": str(tmp / "open_data"),
        "NTM_PII_SALT": "ops-tests-salt",
        "DAGSTER_HOME": str(home),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("NTM_FAULT_HOOK", None)  # a fault hook only where a test asks for one
    env.update(extra)
    # dbt's partial-parse state for this warehouse path (`make manifest`'s, re-hashed): no full dbt parse
    dbt_parse_cache.seed(Path(env["NTM_WAREHOUSE"]))
    return env


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    fh = open(log, "wb")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(
        args, cwd=REPO, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
    )


def pipeline_run(env: dict[str, str], log: Path, timeout: float = 600, args: list[str] | None = None) -> int:
    """`python -m pipeline run -v`: -v puts the Dagster/dbt log on stdout too (the tests read it from ``log``)."""
    proc = start([PY, "-m", "pipeline", "run", "-v", *(args or [])], env, log)
    try:
        return proc.wait(timeout=timeout)
    finally:
        kill_group(proc)


def kill_group(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=30)


_RUN_ID = re.compile(r" - ntm_full_refresh - ([0-9a-f-]{36}) - \d+ - ")


def run_id_in_log(log: Path) -> str | None:
    """The Dagster run id a `python -m pipeline run` printed in its log, once its run has started."""
    match = _RUN_ID.search(log.read_text(errors="replace")) if log.exists() else None
    return match.group(1) if match else None


def wait_for(predicate, timeout: float, interval: float = 0.5, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def marts_fingerprint(warehouse: Path) -> dict[str, tuple[int, int]]:
    """(rows, order-independent checksum) of every table in schema marts."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'marts' and table_type = 'BASE TABLE' order by 1"
            ).fetchall()
        ]
        out = {}
        for t in tables:
            n, h = con.execute(f'select count(*), coalesce(sum(hash(t)), 0) from marts."{t}" as t').fetchone()
            out[t] = (int(n), int(h))
        return out
    finally:
        con.close()


def copy_state(reference: dict, tmp: Path) -> dict[str, str]:
    """A new environment holding a copy of the reference warehouse and open data (and its own raw dir)."""
    env = make_env(tmp)
    warehouse = Path(env["NTM_WAREHOUSE"])
    shutil.copytree(Path(reference["env"]["NTM_WAREHOUSE"]).parent, warehouse.parent, dirs_exist_ok=True)
    shutil.copytree(reference["env"]["NTM_OPEN_DATA_DIR"], env["NTM_OPEN_DATA_DIR"], symlinks=True)
    # the copied build's own parse state, re-hashed for the copy's path (dbt refused it as it was: "profile
    # has changed")
    source = warehouse.parent / dbt_parse_cache.PARSE_CACHE
    dbt_parse_cache.seed(warehouse, source, reference["env"]["NTM_WAREHOUSE"])
    return env


def marts_differences(a: Path, b: Path) -> dict[str, tuple[int, int]]:
    """Per table of schema marts in either warehouse: (rows of a EXCEPT ALL b, rows of b EXCEPT ALL a); a
    table missing on one side counts all its rows. Equal marts: every pair (0, 0)."""
    con = duckdb.connect()
    try:
        con.execute(f"attach '{a}' as a (read_only)")
        con.execute(f"attach '{b}' as b (read_only)")

        def tables(db: str) -> set[str]:
            return {
                r[0]
                for r in con.execute(
                    "select table_name from information_schema.tables "
                    "where table_catalog = ? and table_schema = 'marts' and table_type = 'BASE TABLE'",
                    [db],
                ).fetchall()
            }

        ta, tb = tables("a"), tables("b")
        out = {}
        for t in sorted(ta | tb):
            if t not in tb:
                out[t] = (con.execute(f'select count(*) from a.marts."{t}"').fetchone()[0], 0)
            elif t not in ta:
                out[t] = (0, con.execute(f'select count(*) from b.marts."{t}"').fetchone()[0])
            else:
                ab = con.execute(
                    f'select count(*) from (from a.marts."{t}" except all from b.marts."{t}")'
                ).fetchone()[0]
                ba = con.execute(
                    f'select count(*) from (from b.marts."{t}" except all from a.marts."{t}")'
                ).fetchone()[0]
                out[t] = (int(ab), int(ba))
        return out
    finally:
        con.close()


_RUN_RESULTS = re.compile(r"dbt ran \d+ node\(s\) \([^)]*\): (\S+run_results\.json)")


def dbt_built(log: Path) -> set[str]:
    """The names of the dbt nodes (models, seeds, tests) the run's dbt build ran, from the run_results.json
    the dbt step names in its log."""
    import json

    match = _RUN_RESULTS.search(log.read_text(errors="replace"))
    assert match, f"no 'dbt ran … run_results.json' line in {log}"
    results = json.loads(Path(match.group(1)).read_text(encoding="utf-8"))["results"]
    return {r["unique_id"].split(".")[2] for r in results}

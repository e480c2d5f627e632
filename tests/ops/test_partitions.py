"""A period-scoped run (tag ntm/period) rebuilds one period: materializing 2026-Q2 changes only that quarter's (and its year's)
rows of the facts, even when corrections for another quarter are waiting in the warehouse."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from tests.ops._support import (
    PY,
    REPO,
    copy_state,
    dbt_built,
    marts_differences,
    marts_fingerprint,
    pipeline_run,
)

pytestmark = [
    pytest.mark.slow,
    # part of `make test` (CI); `make test-ops` runs these alone. Skip locally with NTM_SKIP_OPS_TESTS=1.
    pytest.mark.skipif(bool(os.environ.get("NTM_SKIP_OPS_TESTS")), reason="NTM_SKIP_OPS_TESTS is set"),
]

FACTS = ["fact_indicator_value", "fact_submission", "fact_task_progress"]


def _by_period(warehouse: Path) -> dict[tuple[str, str], tuple[int, int]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        out = {}
        for t in FACTS:
            for period, n, h in con.execute(
                f"select period_code, count(*), sum(hash(t)) from marts.{t} as t group by 1"
            ).fetchall():
                out[(t, period)] = (int(n), int(h))
        return out
    finally:
        con.close()


def _new_version(src: Path, dst: Path, submitted_at: str) -> None:
    """A corrected submission: the same report sent again later (a new version replaces the old one)."""
    lines = src.read_text(encoding="utf-8").splitlines(keepends=True)
    old = lines[1].split(",")[2]
    dst.write_text(
        lines[0] + "".join(line.replace(old, submitted_at) for line in lines[1:]), encoding="utf-8"
    )


def test_materializing_2026_q2_changes_only_that_period(reference, tmp_path):
    env = copy_state(reference, tmp_path)
    warehouse = Path(env["NTM_WAREHOUSE"])
    before = _by_period(warehouse)
    raw = Path(env["NTM_RAW_DIR"]) / "submissions" / "2026"
    _new_version(raw / "18484-T03_2026-Q2.csv", raw / "18484-T03_2026-Q2_v2.csv", "2026-06-12 09:00")
    # a correction for another quarter arrives too: ingested, but the 2026-Q2 run must not rebuild 2026-Q1
    _new_version(raw / "18484-T06_2026-Q1.csv", raw / "18484-T06_2026-Q1_v2.csv", "2026-03-12 09:00")
    out = subprocess.run(
        [
            PY,
            "-m",
            "dagster",
            "job",
            "execute",
            "-m",
            "pipeline.definitions",
            "-j",
            "ntm_full_refresh",
            "--tags",
            json.dumps({"ntm/period": "2026-Q2"}),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=800,
    )
    assert out.returncode == 0, (out.stdout + out.stderr)[-5000:]
    assert '"period_code": "2026-Q2"' in out.stdout + out.stderr  # the dbt vars of the period
    # the changed files (2026-Q2 and 2026-Q1) do not prove the tag's period: the dbt tests check every row
    assert "tests' period none: every row" in out.stdout + out.stderr
    after = _by_period(warehouse)
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert changed, "nothing changed"
    assert {period for _, period in changed} <= {"2026-Q2", "2026"}, sorted(changed)
    assert ("fact_submission", "2026-Q2") in changed  # the new version of T03's report
    # the 2026-Q1 correction was ingested but its facts are untouched until 2026-Q1 is materialized
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        assert (
            con.execute(
                "select count(*) from raw.submissions where _source_file like '%18484-T06_2026-Q1_v2.csv'"
            ).fetchone()[0]
            == 1
        )
    finally:
        con.close()


def test_new_files_of_one_quarter_scope_the_next_run_by_themselves(reference, tmp_path):
    """No tag: `python -m pipeline run` sees that the only new file is a 2026-Q2 submission and scopes dbt to
    2026-Q2 and to the nodes downstream of the submission tables (not the survey branch); the marts then equal
    those of a run that rebuilds every node and period (--force), EXCEPT ALL both ways."""
    env = copy_state(reference, tmp_path)
    warehouse = Path(env["NTM_WAREHOUSE"])
    before = _by_period(warehouse)
    raw = Path(env["NTM_RAW_DIR"]) / "submissions" / "2026"
    _new_version(raw / "18484-T03_2026-Q2.csv", raw / "18484-T03_2026-Q2_v2.csv", "2026-06-12 09:00")
    scoped = pipeline_run(env, tmp_path / "scoped.log")
    log = (tmp_path / "scoped.log").read_text(errors="replace")
    assert scoped == 0, log[-4000:]
    assert "scope: 2026-Q2 (1 new submission file(s), all of 2026-Q2)" in log
    # the only change is a 2026-Q2 file: the period-scoped dbt tests check 2026-Q2 (and 2026) rows only
    assert "tests' period 2026-Q2 (NTM_DBT_TEST_PERIOD_CODE)" in log
    built = dbt_built(tmp_path / "scoped.log")
    assert {"fact_indicator_value", "fact_submission", "mart_hamlet_indicator"} <= built
    assert not built & {"fact_survey_answer", "mart_satisfaction", "dim_hamlet", "indicators"}, sorted(built)
    after = _by_period(warehouse)
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert ("fact_submission", "2026-Q2") in changed
    assert {period for _, period in changed} <= {"2026-Q2", "2026"}, sorted(changed)
    scoped_marts = marts_fingerprint(warehouse)
    scoped = tmp_path / "scoped.duckdb"
    shutil.copy(warehouse, scoped)

    forced = pipeline_run(env, tmp_path / "forced.log", args=["--force"])
    log = (tmp_path / "forced.log").read_text(errors="replace")
    assert forced == 0, log[-4000:]
    assert "scope: every period (run tag ntm/full_rebuild" in log
    assert "tests' period none: every row" in log
    assert "fact_survey_answer" in dbt_built(tmp_path / "forced.log")
    assert marts_fingerprint(warehouse) == scoped_marts
    diff = marts_differences(scoped, warehouse)
    assert diff and all(v == (0, 0) for v in diff.values()), {t: v for t, v in diff.items() if v != (0, 0)}

"""The same entry point as `make run` (`python -m pipeline run`), run from a temporary directory: it
publishes a release; then data that passes ingest but breaks a mart-level rule (a duplicated hamlet
version) makes a blocking check fail: nothing is published, `latest` stays byte-for-byte the same, the exit
code is 3 (BLOCKED) and the output names the check and the offending rows.

The first run is the session's CLI run ``reference`` (tests/conftest.py: that same command from a temporary
directory over the bundled sample, which tests/ops compare with): this module reads what it printed and left
behind instead of running the pipeline once more. The later runs each start from a copy of its state
(warehouse with its last-success record, open data, raw dir: ``tests.ops._support.copy_state``), the state the
chained runs of this module started from."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.e2e.support import REPO, tree_digest
from tests.ops._support import copy_state

pytestmark = pytest.mark.slow


def _run(cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    full_env = {**env, "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "pipeline", "run"],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def _copy(reference: dict, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A copy of the reference run's state, and a working directory outside the repository to run from."""
    env = copy_state(reference, tmp_path)
    (tmp_path / "cwd").mkdir()
    return tmp_path / "cwd", env


def test_make_run_entry_point_publishes(reference):
    env, stdout, stderr = reference["env"], reference["stdout"], reference["stderr"]
    assert reference["returncode"] == 0, stdout[-4000:] + stderr[-4000:]
    assert "0 lỗi chặn / blocking failures" in stdout
    assert "bảng / tables" in stdout and "Mã thoát / exit code 0 (OK)" in stdout
    # every file under raw/ is accounted for; the sample's docs and registries raise no warning
    assert "files outside the sources: documentation: 1, reference_file: 6" in stdout
    assert "không được nạp" not in stdout
    latest = Path(env["NTM_OPEN_DATA_DIR"]) / "latest"
    assert (latest / "datapackage.json").exists()
    con = duckdb.connect(env["NTM_WAREHOUSE"], read_only=True)
    tables = {
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'"
        ).fetchall()
    }
    assert {"dim_hamlet", "fact_indicator_value"} <= tables
    facts = con.execute("select count(*) from marts.fact_indicator_value").fetchone()[0]
    assert facts > 0
    con.close()
    # the copy people open, published after the release
    snap = duckdb.connect(str(Path(env["NTM_WAREHOUSE"]).with_name("ntm_read.duckdb")), read_only=True)
    assert snap.execute("select count(*) from marts.fact_indicator_value").fetchone()[0] == facts
    snap.close()
    n = (
        duckdb.connect()
        .execute("select count(*) from read_parquet(?)", [str(latest / "data" / "dim_hamlet.parquet")])
        .fetchone()[0]
    )
    assert n > 0


def test_second_run_with_nothing_changed_is_a_no_op(reference, tmp_path):
    cwd, env = _copy(reference, tmp_path)
    latest = Path(env["NTM_OPEN_DATA_DIR"]) / "latest"
    before = (os.readlink(latest), tree_digest(latest))
    out = _run(cwd, env)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    assert "nothing changed since run" in out.stdout
    assert "run id" not in out.stdout  # no Dagster run was started
    assert (os.readlink(latest), tree_digest(latest)) == before


def test_broken_mart_rule_blocks_publishing_and_keeps_latest(reference, tmp_path):
    cwd, env = _copy(reference, tmp_path)
    latest = Path(env["NTM_OPEN_DATA_DIR"]) / "latest"
    before_target = os.readlink(latest)
    before = tree_digest(latest)
    snapshot = Path(env["NTM_WAREHOUSE"]).with_name("ntm_read.duckdb")
    snapshot_before = (snapshot.stat().st_ino, snapshot.read_bytes())
    # A second, overlapping version of hamlet 18484-T05: passes ingest (keys differ), breaks the grain of
    # the hamlet dimension and everything keyed by hamlet × period.
    hamlets = Path(env["NTM_RAW_DIR"]) / "reference" / "hamlets.csv"
    lines = hamlets.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    row = next(line for line in lines[1:] if ",18484-T05," in line).split(",")
    row[header.index("hamlet_key")] = "999"
    hamlets.write_text("\n".join([*lines, ",".join(row)]) + "\n", encoding="utf-8")

    out = _run(cwd, env)
    assert out.returncode == 3, out.stdout[-4000:]
    assert "LỖI / ERROR" in out.stdout
    assert "18484-T05" in out.stdout, "the output should show the offending rows"
    assert "Nothing published because a blocking check failed" in out.stdout
    assert os.readlink(latest) == before_target
    assert tree_digest(latest) == before
    # readers keep the last good warehouse: a run stopped by the gate publishes no snapshot
    assert (snapshot.stat().st_ino, snapshot.read_bytes()) == snapshot_before

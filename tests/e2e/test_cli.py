"""The same entry point as `make run` (`python -m pipeline run`), run from a temporary directory: it
publishes a release; then data that passes ingest but breaks a mart-level rule (a duplicated hamlet
version) makes a blocking check fail: nothing is published, `latest` stays byte-for-byte the same, the exit
code is 3 (BLOCKED) and the output names the check and the offending rows."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.e2e.support import REPO, pipeline_env, tree_digest

pytestmark = pytest.mark.slow


def _run(cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **env, "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "pipeline", "run"],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    base = tmp_path_factory.mktemp("cli")
    return base, pipeline_env(base)


def test_make_run_entry_point_publishes(workdir):
    base, env = workdir
    out = _run(base, env)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    assert "0 lỗi chặn / blocking failures" in out.stdout
    assert "bảng / tables" in out.stdout and "Mã thoát / exit code 0 (OK)" in out.stdout
    # every file under raw/ is accounted for; the sample's docs and registries raise no warning
    assert "files outside the sources: documentation: 1, reference_file: 6" in out.stdout
    assert "không được nạp" not in out.stdout
    latest = base / "open_data" / "latest"
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


def test_second_run_with_nothing_changed_is_a_no_op(workdir):
    base, env = workdir
    latest = base / "open_data" / "latest"
    before = (os.readlink(latest), tree_digest(latest))
    out = _run(base, env)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    assert "nothing changed since run" in out.stdout
    assert "run id" not in out.stdout  # no Dagster run was started
    assert (os.readlink(latest), tree_digest(latest)) == before


def test_broken_mart_rule_blocks_publishing_and_keeps_latest(workdir):
    base, env = workdir
    latest = base / "open_data" / "latest"
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

    out = _run(base, env)
    assert out.returncode == 3, out.stdout[-4000:]
    assert "LỖI / ERROR" in out.stdout
    assert "18484-T05" in out.stdout, "the output should show the offending rows"
    assert "Nothing published because a blocking check failed" in out.stdout
    assert os.readlink(latest) == before_target
    assert tree_digest(latest) == before
    # readers keep the last good warehouse: a run stopped by the gate publishes no snapshot
    assert (snapshot.stat().st_ino, snapshot.read_bytes()) == snapshot_before

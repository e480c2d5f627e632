"""A reader never breaks a run, with the real pipeline (`python -m pipeline run`) and real second processes:
a read-only connection held on the warehouse makes the run wait, not fail; a holder that never lets go fails
the run at its first step with a message naming it; a reader of ``ntm_read.duckdb`` keeps its copy while
the run publishes the next one. One full run (on a copy of the session's reference state) and one run that
stops at its first step."""

import os
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from tests.ops._support import PY, copy_state, kill_group, marts_fingerprint, pipeline_run, start, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(os.environ.get("NTM_SKIP_OPS_TESTS")), reason="NTM_SKIP_OPS_TESTS is set"),
]

# holds a DuckDB file read-only, prints a reading of the marts, then on each line of stdin reads again through
# the same connection; exits at end of input
READER = textwrap.dedent(
    """
    import sys, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    sql = "select count(*), coalesce(sum(hash(t)), 0) from marts.fact_indicator_value as t"
    print(con.execute(sql).fetchone(), flush=True)
    for _ in sys.stdin:
        print(con.execute(sql).fetchone(), flush=True)
    """
)


def _reader(path: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [PY, "-c", READER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd="/"
    )
    first = proc.stdout.readline().strip()
    assert first, f"the reader could not open {path}"
    return proc, first


def _read_again(proc: subprocess.Popen) -> str:
    proc.stdin.write("\n")
    proc.stdin.flush()
    return proc.stdout.readline().strip()


def _close(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.stdin.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


def _text(log: Path) -> str:
    # rich wraps the summary at the terminal width: compare with whitespace collapsed
    return " ".join(log.read_text(errors="replace").split())


def test_a_reader_on_the_warehouse_makes_the_run_wait_and_a_snapshot_reader_keeps_its_copy(
    reference, tmp_path
):
    env = copy_state(reference, tmp_path)
    warehouse = Path(env["NTM_WAREHOUSE"])
    snapshot = warehouse.with_name("ntm_read.duckdb")
    assert snapshot.exists(), "the reference run published no reader snapshot"
    old_inode = snapshot.stat().st_ino

    snap_reader, snap_before = _reader(snapshot)  # a data officer's notebook on the snapshot, all run long
    holder, _ = _reader(warehouse)  # … and someone in the DuckDB CLI on the warehouse itself
    log = tmp_path / "run.log"
    run = start([PY, "-m", "pipeline", "run", "-v", "--force"], env, log)
    try:
        wait_for(
            lambda: "waiting (at most" in log.read_text(errors="replace") or run.poll() is not None,
            timeout=600,
            what="the run to wait for the reader",
        )
        assert run.poll() is None, _text(log)[-3000:]
        time.sleep(2)
        _close(holder)  # the CLI user quits; the run goes on
        code = run.wait(timeout=900)
        snap_after = _read_again(snap_reader)
    finally:
        kill_group(run)
        for proc in (holder, snap_reader):
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
    text = _text(log)
    assert code == 0, text[-4000:]
    assert f"PID {holder.pid}" in text and "Kho dữ liệu đang bị" in text  # who it waited for, said so
    assert "WarehouseBusy" not in text and "FAILED step" not in text
    assert marts_fingerprint(warehouse) == reference["marts"]
    # the snapshot was replaced (a new file) and holds the new warehouse; the reader's old copy still reads whole
    assert snapshot.stat().st_ino != old_inode
    assert marts_fingerprint(snapshot) == reference["marts"]
    assert snap_after == snap_before
    assert not [p.name for p in snapshot.parent.iterdir() if p.name.endswith(".tmp")]


def test_a_reader_that_never_lets_go_fails_the_run_naming_it(reference, tmp_path):
    env = copy_state(reference, tmp_path)
    env["NTM_READER_WAIT_S"] = "3"
    warehouse = Path(env["NTM_WAREHOUSE"])
    snapshot = warehouse.with_name("ntm_read.duckdb")
    latest_before = (Path(env["NTM_OPEN_DATA_DIR"]) / "latest").resolve()
    snap_inode = snapshot.stat().st_ino
    holder, _ = _reader(warehouse)
    try:
        started = time.monotonic()
        code = pipeline_run(env, tmp_path / "run.log", timeout=600, args=["--force"])
        elapsed = time.monotonic() - started
    finally:
        _close(holder)
    text = _text(tmp_path / "run.log")
    assert code == 1, text[-3000:]
    summary = text[text.index("Kiểm tra / checks") :]  # what the CLI prints at the end, not the Dagster log
    assert "bước admin_units bị lỗi" in summary and "step admin_units failed" in summary
    assert f"PID {holder.pid}" in summary
    assert "Kho dữ liệu" in summary and "The warehouse" in summary and "NTM_READER_WAIT_S" in summary
    assert "Không công bố vì bước" in summary and "Nothing published because step" in summary
    assert (Path(env["NTM_OPEN_DATA_DIR"]) / "latest").resolve() == latest_before
    assert snapshot.stat().st_ino == snap_inode  # a failed run publishes no snapshot
    assert elapsed < 300, elapsed

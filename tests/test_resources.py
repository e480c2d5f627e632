"""A reader never breaks a run: the pipeline's own open of the warehouse waits for another process holding
DuckDB's lock and then fails naming it; the read-only snapshot is swapped atomically under a reader.

Every holder here is a real second process (DuckDB's lock is per process), on a small DuckDB file."""

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from pipeline.config import read_snapshot_path
from pipeline.publish.reader_snapshot import write_snapshot
from pipeline.resources import (
    WarehouseBusy,
    WarehouseResource,
    connect_when_free,
    dbt_connect_attempts,
    lock_holder,
)

HOLDER = textwrap.dedent(
    """
    import sys, time, duckdb
    path, mode, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    con = duckdb.connect(path, read_only=(mode == "ro"))
    print(con.execute("select count(*), sum(x) from t").fetchone(), flush=True)  # ready
    if seconds < 0:                      # hold until told, then read again through the same connection
        sys.stdin.readline()
        print(con.execute("select count(*), sum(x) from t").fetchone(), flush=True)
        sys.stdin.readline()
    else:
        time.sleep(seconds)
    con.close()
    """
)


def _db(path: Path, rows: int) -> Path:
    con = duckdb.connect(str(path))
    con.execute("create or replace table t as select range as x from range(?)", [rows])
    con.close()
    return path


def _hold(path: Path, mode: str, seconds: float) -> tuple[subprocess.Popen, str]:
    """Start a process holding ``path`` (``ro`` read-only or ``rw``) and wait until it has it open."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), mode, str(seconds)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    first = proc.stdout.readline().strip()
    assert first, "the holder could not open the file"
    return proc, first


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=30)


def test_a_write_open_waits_for_a_reader_that_lets_go(tmp_path):
    db = _db(tmp_path / "w.duckdb", 10)
    proc, _ = _hold(db, "ro", 2.0)
    try:
        started = time.monotonic()
        con = connect_when_free(db, wait_s=60)
        waited = time.monotonic() - started
        con.execute("insert into t values (100)")
        con.close()
    finally:
        _stop(proc)
    assert waited >= 1.0, f"did not wait for the reader ({waited:.2f} s)"
    assert waited < 30


def test_a_reader_that_never_lets_go_fails_the_open_naming_its_pid_in_both_languages(tmp_path):
    db = _db(tmp_path / "w.duckdb", 10)
    proc, _ = _hold(db, "ro", 600)
    try:
        started = time.monotonic()
        with pytest.raises(WarehouseBusy) as info:
            connect_when_free(db, wait_s=1.5)
        waited = time.monotonic() - started
    finally:
        _stop(proc)
    message = str(info.value)
    assert f"PID {proc.pid}" in message
    assert "Kho dữ liệu" in message and "The warehouse" in message
    assert message.index("Kho dữ liệu") < message.index("The warehouse")  # Vietnamese first
    assert "-c" in message and "user " in message  # psutil named the process, not only its executable
    assert "NTM_READER_WAIT_S" in message and str(read_snapshot_path(db)) in message
    assert 1.5 <= waited < 10  # bounded


def test_after_giving_up_once_the_other_steps_of_the_run_do_not_wait_again(tmp_path):
    db = _db(tmp_path / "w.duckdb", 10)
    proc, _ = _hold(db, "ro", 600)
    try:
        with pytest.raises(WarehouseBusy):
            connect_when_free(db, wait_s=1.5)
        started = time.monotonic()
        with pytest.raises(WarehouseBusy, match=f"PID {proc.pid}"):
            connect_when_free(db, wait_s=60)  # the next step: one try, not another minute
        assert time.monotonic() - started < 1.0
    finally:
        _stop(proc)
    connect_when_free(db, wait_s=60).close()  # the holder gone, the file opens


def test_the_resource_waits_too_and_a_read_write_holder_blocks_even_read_only_opens(tmp_path):
    db = _db(tmp_path / "w.duckdb", 10)
    resource = WarehouseResource(path=str(db), reader_wait_s=1.0)
    proc, _ = _hold(db, "rw", 600)  # `duckdb warehouse/ntm.duckdb` in the CLI opens read-write
    try:
        with pytest.raises(WarehouseBusy, match=f"PID {proc.pid}"), resource.connect():
            pass
        with pytest.raises(WarehouseBusy, match=f"PID {proc.pid}"), resource.connect(read_only=True):
            pass
    finally:
        _stop(proc)
    with resource.connect() as con:  # and once it has gone, the same resource opens at once
        assert con.execute("select count(*) from t").fetchone()[0] == 10


def test_other_duckdb_errors_are_not_waited_for(tmp_path):
    junk = tmp_path / "junk.duckdb"
    junk.write_bytes(b"not a duckdb file" * 100)
    started = time.monotonic()
    with pytest.raises(duckdb.Error) as info:
        connect_when_free(junk, wait_s=30)
    assert not isinstance(info.value, WarehouseBusy)
    assert time.monotonic() - started < 5


def test_lock_holder_reads_duckdbs_message():
    message = (
        'IO Error: Could not set lock on file "/w/ntm.duckdb": Conflicting lock is held in '
        "/usr/bin/duckdb (PID 4242). However, you would be able to open this database in read-only mode"
    )
    assert lock_holder(message) == (4242, "/usr/bin/duckdb")
    assert lock_holder("IO Error: Could not set lock on file: Resource temporarily unavailable") == (
        None,
        None,
    )


@pytest.mark.parametrize(("wait_s", "attempts"), [(0, 1), (1, 1), (3, 2), (120, 7), (1800, 11)])
def test_dbt_retries_cover_the_wait(wait_s, attempts):
    # dbt-duckdb sleeps 2**attempt after each failed attempt: n attempts wait 2**n - 1 s in all
    assert dbt_connect_attempts(wait_s) == attempts
    assert 2**attempts - 1 >= wait_s


def test_the_snapshot_is_swapped_under_a_reader_who_keeps_reading_the_old_copy(tmp_path):
    db = _db(tmp_path / "ntm.duckdb", 10)
    snap_path = read_snapshot_path(db)
    assert snap_path.name == "ntm_read.duckdb"
    with duckdb.connect(str(db)) as con:
        first = write_snapshot(con, db, snap_path)
    assert first.tables == 1 and first.bytes == snap_path.stat().st_size
    old_inode = snap_path.stat().st_ino

    reader, before = _hold(snap_path, "ro", -1)  # holds the snapshot until told
    try:
        _db(db, 1000)  # the next run changes the warehouse …
        with duckdb.connect(str(db)) as con:
            con.execute("insert into t values (-1)")  # … and leaves some of it in the WAL
            write_snapshot(
                con, db, snap_path
            )  # … and publishes a new snapshot while the reader holds the old
        reader.stdin.write("\n")
        reader.stdin.flush()
        after = reader.stdout.readline().strip()
        reader.stdin.write("\n")
        reader.stdin.flush()
        assert reader.wait(timeout=30) == 0
    finally:
        _stop(reader)
    assert before == after == "(10, 45)"  # the old connection reads the old copy, whole
    assert snap_path.stat().st_ino != old_inode  # replaced, not rewritten in place
    with duckdb.connect(str(snap_path), read_only=True) as con:
        assert con.execute("select count(*), sum(x) from t").fetchone() == (1001, 499499)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ntm.duckdb", "ntm_read.duckdb"]  # no temp left


def test_a_wal_left_beside_the_old_snapshot_is_not_replayed_into_the_new_one(tmp_path):
    db = _db(tmp_path / "ntm.duckdb", 10)
    snap_path = read_snapshot_path(db)
    with duckdb.connect(str(db)) as con:
        write_snapshot(con, db, snap_path)
    # someone opened the snapshot read-write, wrote, and was killed: a WAL is left beside it
    code = (
        "import duckdb, os, sys; c = duckdb.connect(sys.argv[1]); c.execute(\"set checkpoint_threshold='1TB'\"); "
        "c.execute('create table scribble as select 1 as y'); os._exit(0)"
    )
    subprocess.run([sys.executable, "-c", code, str(snap_path)], check=True)
    assert snap_path.with_name("ntm_read.duckdb.wal").exists()
    with duckdb.connect(str(db)) as con:
        write_snapshot(con, db, snap_path)
    with duckdb.connect(str(snap_path), read_only=True) as con:
        tables = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
    assert tables == {"t"}


def test_a_failed_copy_leaves_the_previous_snapshot_in_place(tmp_path, monkeypatch):
    db = _db(tmp_path / "ntm.duckdb", 10)
    snap_path = read_snapshot_path(db)
    with duckdb.connect(str(db)) as con:
        write_snapshot(con, db, snap_path)
    before = snap_path.read_bytes()

    def broken_copy(src, dst):
        Path(dst).write_bytes(b"half a file")

    monkeypatch.setattr("pipeline.publish.reader_snapshot.shutil.copyfile", broken_copy)
    _db(db, 500)
    with duckdb.connect(str(db)) as con, pytest.raises(duckdb.Error):
        write_snapshot(con, db, snap_path)
    assert snap_path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["ntm.duckdb", "ntm_read.duckdb"]


def _dbt_debug(db: Path, attempts: int) -> subprocess.CompletedProcess:
    """``dbt debug`` (it opens the warehouse like ``dbt build``) with this project's profile."""
    project = Path(__file__).resolve().parents[1] / "dbt_project"
    env = {**os.environ, "NTM_WAREHOUSE_PATH": str(db), "NTM_DBT_CONNECT_ATTEMPTS": str(attempts)}
    dbt = Path(sys.executable).with_name("dbt")
    return subprocess.run(
        [str(dbt), "debug", "--project-dir", str(project), "--profiles-dir", str(project)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow  # two `dbt debug` start-ups
def test_dbt_retries_its_own_connect_while_a_reader_holds_the_file(tmp_path):
    # a reader that slips in between the pipeline's wait and dbt's connect: profiles.yml `retries`
    db = _db(tmp_path / "w.duckdb", 10)
    proc, _ = _hold(db, "ro", 600)
    try:
        once = _dbt_debug(db, 1)
    finally:
        _stop(proc)
    assert "Could not set lock" in once.stdout and f"PID {proc.pid}" in once.stdout
    assert once.returncode != 0

    proc, _ = _hold(db, "ro", 3.0)
    try:
        retried = _dbt_debug(db, 4)  # sleeps 1, 2, 4 s: outlasts the 3 s reader
    finally:
        _stop(proc)
    assert retried.returncode == 0, retried.stdout[-2000:]
    assert "OK connection ok" in retried.stdout

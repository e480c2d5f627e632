"""Resources: the DuckDB warehouse (one writer at a time) and the dbt CLI.

DuckDB allows one writing process per database file. Every step that writes — the ingest assets, the dbt
build (a subprocess) and the publish step — first takes an exclusive lock on ``<warehouse>.lock``
(``fcntl.flock``), so a second run waits for the first (up to ``NTM_LOCK_TIMEOUT_S``). A person's tool that
holds the file itself (DuckDB CLI, DBeaver, a notebook) takes DuckDB's own lock, not ours: every open of the
warehouse by the pipeline therefore retries DuckDB's "Could not set lock" with backoff for up to
``NTM_READER_WAIT_S`` and then fails naming the holder's PID (:func:`connect_when_free`). People read
``ntm_read.duckdb`` instead, a copy published after each successful run (pipeline.publish.reader_snapshot).
"""

from __future__ import annotations

import fcntl
import math
import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from dagster_dbt import DbtCliResource, DbtProject

from pipeline.config import DBT_PROJECT_DIR, get_settings, read_snapshot_path

# The dbt project (its manifest is prepared by `make manifest`): the dbt assets are built from it, the release
# reads model and column descriptions from its manifest.
DBT_PROJECT = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


class WarehouseLockTimeout(RuntimeError):
    pass


class WarehouseBusy(RuntimeError):
    """Another process (not a run of this pipeline) kept the warehouse file open longer than the wait."""


_LOCK_ERROR = "Could not set lock on file"
_HOLDER = re.compile(r"Conflicting lock is held in (?P<exe>.*?) \(PID (?P<pid>\d+)\)")


def lock_holder(message: str) -> tuple[int | None, str | None]:
    """The PID and executable of the process named in DuckDB's lock error, when it names one."""
    m = _HOLDER.search(message)
    return (int(m["pid"]), m["exe"]) if m else (None, None)


def describe_process(pid: int | None, exe: str | None = None) -> str:
    """``PID 123 (duckdb -readonly warehouse/ntm.duckdb, user an)``, or what DuckDB said when psutil can't see it."""
    if pid is None:
        return "PID ? (DuckDB did not name the process / DuckDB không nêu tiến trình)"
    try:
        import psutil

        proc = psutil.Process(pid)
        with proc.oneshot():
            cmd = " ".join(" ".join(proc.cmdline()).split()) or proc.name()  # one line, even for `-c` scripts
            user = proc.username()
    except Exception:  # noqa: BLE001 (gone, or not ours to inspect: say what DuckDB said)
        return f"PID {pid} ({exe or 'unknown'})"
    cmd = cmd if len(cmd) <= 120 else cmd[:119] + "…"
    return f"PID {pid} ({cmd}, user {user})"


def busy_message(path: Path, message: str, waited_s: float) -> str:
    holder = describe_process(*lock_holder(message))
    snapshot = read_snapshot_path(path)
    return (
        f"Kho dữ liệu {path} đang bị một tiến trình khác mở: {holder}; đã chờ {waited_s:.0f} giây "
        f"(NTM_READER_WAIT_S). Hãy đóng kết nối đó (DuckDB CLI, DBeaver, notebook), dùng bản chỉ đọc "
        f"{snapshot} để xem dữ liệu, rồi chạy lại. / "
        f"The warehouse {path} is held open by another process: {holder}; waited {waited_s:.0f} s "
        f"(NTM_READER_WAIT_S). Close that connection (DuckDB CLI, DBeaver, a notebook), open the read-only "
        f"copy {snapshot} to look at the data, and run again."
    )


# path → when this process last gave up waiting for it. The ingest steps of a run are independent: once one
# of them has waited the whole NTM_READER_WAIT_S in vain the run has failed, and the others try once instead
# of waiting as long again each (a run fails after about one wait, not one per step).
_GAVE_UP: dict[str, float] = {}


def connect_when_free(
    path: Path, *, read_only: bool = False, wait_s: float = 120.0, log=None, config: dict | None = None
) -> duckdb.DuckDBPyConnection:
    """``duckdb.connect`` that waits (backoff 0.25 s → 5 s, at most ``wait_s``) while another process holds
    DuckDB's lock on the file, then raises :class:`WarehouseBusy` naming that process. Other errors pass."""
    started = time.monotonic()
    gave_up = _GAVE_UP.get(str(path))
    if gave_up is not None and started - gave_up < wait_s:
        wait_s = 0.0
    delay, last_log = 0.25, None
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only, config=config or {})
        except duckdb.IOException as exc:
            if _LOCK_ERROR not in str(exc):
                raise
            waited = time.monotonic() - started
            if waited >= wait_s:
                _GAVE_UP[str(path)] = time.monotonic()
                raise WarehouseBusy(busy_message(path, str(exc), waited)) from exc
            if log is not None and (last_log is None or waited - last_log >= 30):
                last_log = waited
                log.warning(
                    f"Kho dữ liệu đang bị {describe_process(*lock_holder(str(exc)))} mở; đang chờ (tối đa "
                    f"{wait_s:.0f} giây)… / The warehouse is held open by "
                    f"{describe_process(*lock_holder(str(exc)))}; waiting (at most {wait_s:.0f} s)…"
                )
            time.sleep(min(delay, max(wait_s - waited, 0.05)))
            delay = min(delay * 1.6, 5.0)


def dbt_connect_attempts(wait_s: float) -> int:
    """dbt-duckdb retries its own connect with sleeps of 1, 2, 4 … s: the attempts that cover ``wait_s``."""
    return max(1, math.ceil(math.log2(wait_s + 1)))


@contextmanager
def warehouse_lock(warehouse: Path, timeout_s: float, log=None) -> Iterator[None]:
    """Hold the exclusive writer lock of a warehouse file for the duration of the block."""
    lock_path = warehouse.with_name(warehouse.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as fh:
        deadline = time.monotonic() + timeout_s
        waited = False
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waited and log is not None:
                    log.info(f"Warehouse {warehouse} is busy (another run is writing); waiting for the lock…")
                waited = True
                if time.monotonic() > deadline:
                    raise WarehouseLockTimeout(
                        f"Kho dữ liệu {warehouse} đang được một lượt chạy khác ghi; đã chờ {timeout_s:.0f} giây. / "
                        f"The warehouse {warehouse} is being written by another run; waited {timeout_s:.0f} s. "
                        "Wait for that run to finish (see the Dagster UI, Runs) and start again."
                    ) from None
                time.sleep(0.5)
        try:
            fh.seek(0)
            fh.truncate()
            fh.write(f"{os.getpid()}\n")
            fh.flush()
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


class WarehouseResource(dg.ConfigurableResource):
    """The embedded DuckDB warehouse. Paths and limits default to the environment (see pipeline.config)."""

    path: str = ""
    memory_limit: str = ""
    threads: int = 0
    lock_timeout_s: float = 0
    reader_wait_s: float = 0

    def _resolved(self) -> tuple[Path, str, int, float]:
        s = get_settings()
        return (
            Path(self.path) if self.path else s.warehouse,
            self.memory_limit or s.duckdb_memory_limit,
            self.threads or s.duckdb_threads,
            self.lock_timeout_s or s.lock_timeout_s,
        )

    @property
    def wait_s(self) -> float:
        """How long an open waits for another process holding the file (NTM_READER_WAIT_S)."""
        return self.reader_wait_s or get_settings().reader_wait_s

    @property
    def database(self) -> Path:
        return self._resolved()[0]

    @contextmanager
    def lock(self, log=None) -> Iterator[None]:
        path, _, _, timeout = self._resolved()
        with warehouse_lock(path, timeout, log):
            yield

    @contextmanager
    def connect(self, log=None, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection holding the writer lock; closed (and the lock released) at the end of the block."""
        path, _, _, timeout = self._resolved()
        path.parent.mkdir(parents=True, exist_ok=True)
        with warehouse_lock(path, timeout, log), self.open(log, read_only=read_only) as con:
            yield con

    @contextmanager
    def open(self, log=None, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for a caller that already holds the writer lock (:meth:`lock`); waits for readers."""
        path, memory_limit, threads, _ = self._resolved()
        con = connect_when_free(path, read_only=read_only, wait_s=self.wait_s, log=log)
        try:
            con.execute(f"set memory_limit = '{memory_limit}'")
            con.execute(f"set threads = {int(threads)}")
            yield con
        finally:
            con.close()

    def wait_until_free(self, log=None) -> None:
        """Return once this process could open the file for writing (before handing it to dbt)."""
        with self.open(log):
            pass


class NtmDbtCliResource(DbtCliResource):
    """``DbtCliResource`` without two start-up costs paid before every ``dbt`` invocation.

    dagster-dbt 0.29 runs ``dbt --version`` in a subprocess (about 3 s here) and then loads the profile,
    the project and all 522 macros in *this* process to open a dbt adapter (about 10 s here). The adapter
    only serves ``fetch_column_metadata()``/``fetch_row_counts()``, which this project does not use (row
    counts and previews are read from DuckDB after the build, see pipeline.transform.assets), and the
    version is that of the dbt-core installed beside us (pinned in uv.lock). Measured on the bundled
    sample: the ``ntm_dbt`` step starts dbt 12 s earlier. ``tests/test_definitions.py`` keeps this honest
    against dagster-dbt upgrades."""

    @property
    def _cli_version(self):  # type: ignore[override]
        from importlib import metadata

        from packaging import version

        return version.parse(metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args):  # type: ignore[override]
        return None


def dbt_resource() -> DbtCliResource:
    # the dbt of this environment, whether or not .venv/bin is on PATH
    executable = Path(sys.executable).with_name("dbt")
    return NtmDbtCliResource(
        project_dir=str(DBT_PROJECT_DIR),
        profiles_dir=str(DBT_PROJECT_DIR),
        dbt_executable=str(executable) if executable.exists() else "dbt",
    )

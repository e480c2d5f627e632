"""Resources: the DuckDB warehouse (one writer at a time) and the dbt CLI.

DuckDB allows one writing process per database file. Every step that writes — the ingest assets, the dbt
build (a subprocess) and the publish step — first takes an exclusive lock on ``<warehouse>.lock``
(``fcntl.flock``). A second run started at the same time therefore waits for the lock (up to
``NTM_LOCK_TIMEOUT_S``) instead of failing with DuckDB's "Could not set lock on file", and fails with a
clear message if the wait is too long. Within one run the in-process executor runs steps one after the
other, so the lock is never contended by the run itself.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from dagster_dbt import DbtCliResource

from pipeline.config import DBT_PROJECT_DIR, get_settings


class WarehouseLockTimeout(RuntimeError):
    pass


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

    def _resolved(self) -> tuple[Path, str, int, float]:
        s = get_settings()
        return (
            Path(self.path) if self.path else s.warehouse,
            self.memory_limit or s.duckdb_memory_limit,
            self.threads or s.duckdb_threads,
            self.lock_timeout_s or s.lock_timeout_s,
        )

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
        path, memory_limit, threads, timeout = self._resolved()
        path.parent.mkdir(parents=True, exist_ok=True)
        with warehouse_lock(path, timeout, log):
            con = duckdb.connect(str(path), read_only=read_only)
            try:
                con.execute(f"set memory_limit = '{memory_limit}'")
                con.execute(f"set threads = {int(threads)}")
                yield con
            finally:
                con.close()


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

"""The read-only copy of the warehouse for people and their tools: ``warehouse/ntm_read.duckdb``.

A DuckDB CLI, DBeaver or notebook holding ``ntm.duckdb`` takes DuckDB's lock on it and a run must wait for it
(pipeline.resources). After each successful run the warehouse is checkpointed and copied byte for byte
(under the writer lock, with the run's connection open so nobody writes meanwhile) to a temporary file in the
same folder, checked, and renamed over ``ntm_read.duckdb``: a reader sees the old copy or the new one, never
half of one, and a reader holding the old copy keeps reading it (the rename does not touch an open file).
Measured on the bundled sample (15 MB): checkpoint + copy 0.04 s, ``COPY FROM DATABASE`` 0.27 s.
"""

import contextlib
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb

from pipeline.config import read_snapshot_path
from pipeline.constants import OWNERS
from pipeline.publish.assets import RELEASE_KEY
from pipeline.resources import WarehouseResource


@dataclass(frozen=True)
class Snapshot:
    path: Path
    bytes: int
    tables: int
    seconds: float


def write_snapshot(con: duckdb.DuckDBPyConnection, warehouse: Path, target: Path) -> Snapshot:
    """Copy ``warehouse`` to ``target`` atomically. ``con`` is a read-write connection to ``warehouse`` held
    by the caller (it keeps other writers out while the file is copied)."""
    started = time.monotonic()
    con.execute("checkpoint")  # everything in the main file, nothing left in the WAL
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(warehouse, tmp)
        check = duckdb.connect(str(tmp), read_only=True)
        try:
            tables = int(
                check.execute(
                    "select count(*) from information_schema.tables where table_type = 'BASE TABLE'"
                ).fetchone()[0]
            )
        finally:
            check.close()
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        # a WAL left by someone who opened the old copy read-write must not be replayed into the new one
        with contextlib.suppress(FileNotFoundError):
            os.remove(target.with_name(target.name + ".wal"))
        os.replace(tmp, target)
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
    return Snapshot(target, target.stat().st_size, tables, time.monotonic() - started)


@dg.asset(
    key=dg.AssetKey(["publish", "reader_snapshot"]),
    deps=[RELEASE_KEY],
    group_name="publish",
    owners=OWNERS,
    kinds={"duckdb"},
    description=(
        "Bản sao chỉ đọc của kho (warehouse/ntm_read.duckdb) cho người dùng và công cụ (DuckDB CLI, DBeaver, "
        "notebook), thay thế nguyên tử sau mỗi lượt chạy thành công. / The read-only copy of the warehouse "
        "(warehouse/ntm_read.duckdb) for people and tools, replaced atomically after each successful run."
    ),
)
def reader_snapshot(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    target = read_snapshot_path(warehouse.database)
    with warehouse.connect(context.log) as con:
        snap = write_snapshot(con, warehouse.database, target)
    context.log.info(
        f"reader snapshot {snap.path}: {snap.bytes:,} bytes, {snap.tables} tables, {snap.seconds:.2f} s"
    )
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(snap.path)),
            "bytes": snap.bytes,
            "tables": snap.tables,
            "seconds": round(snap.seconds, 3),
        }
    )


defs = dg.Definitions(assets=[reader_snapshot])

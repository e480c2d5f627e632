"""The ingest's writes to the warehouse: one batch's rows, quarantine records and manifest rows
(``audit.ingest_files``) in ONE transaction, and the paths seen (``audit.file_paths``).

The runner (:func:`pipeline.ingest.manifest.run_source`) reconciles the counts of every file before it calls
:func:`write_batch`: nothing is written for a batch whose counts do not add up.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import pandas as pd

from pipeline.ingest import files as files_mod
from pipeline.ingest import filestats
from pipeline.ingest.batch import BatchResult, Finalizer
from pipeline.ingest.reports import FileOutcome
from pipeline.ingest.tables import insert_frame

#: statuses of audit.ingest_files rows of files no source reads
#: (see :func:`pipeline.ingest.landing.account_landing_zone`)
NOT_INGESTED_STATUSES = ("reference", "ignored", "not_ingested")


def known_contents(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The sha256 of every content a source ingested (files recorded where no source reads them excluded)."""
    return {
        r[0]
        for r in con.execute(
            "select file_sha256 from audit.ingest_files where status not in (select unnest(?::varchar[]))",
            [list(NOT_INGESTED_STATUSES)],
        ).fetchall()
    }


def write_batch(
    con: duckdb.DuckDBPyConnection,
    result: BatchResult,
    quar: pd.DataFrame,
    new_files: list[tuple[files_mod.LandedFile, FileOutcome]],
    path_rows: list[tuple[str, str, str]],
    chunk: list[files_mod.LandedFile],
    now: datetime,
    finalize: Finalizer | None,
) -> None:
    """Write the batch atomically: its tables (arrival_seq continued), the quarantine, one audit.ingest_files
    row per new file, the paths seen and the stat cache."""
    rows = [manifest_row(out, f.source, f.bytes, now) for f, out in new_files]
    con.begin()
    try:
        for table, frame in result.tables.items():
            if frame is not None and not frame.empty and "arrival_seq" in frame.columns:
                offset = con.execute(f"select coalesce(max(arrival_seq), 0) from {table}").fetchall()[0][0]
                frame = frame.assign(arrival_seq=frame["arrival_seq"].astype("int64") + int(offset))
            insert_frame(con, table, frame)
        if finalize is not None:
            finalize(con, result)
        if not quar.empty:
            qf = quar.copy()
            qf["quarantined_at"] = now
            insert_frame(con, "audit.quarantine", qf)
        if rows:
            # a content first recorded where no source reads it (e.g. dropped in raw/ and then moved
            # into a source folder) is ingested now: its not-ingested row gives way
            con.execute(
                "delete from audit.ingest_files where status in (select unnest(?::varchar[])) "
                "and file_sha256 in (select unnest(?::varchar[]))",
                [list(NOT_INGESTED_STATUSES), [r["file_sha256"] for r in rows]],
            )
            insert_frame(con, "audit.ingest_files", pd.DataFrame(rows))
        write_paths(con, path_rows, now)
        filestats.write(con, filestats.rows(chunk), now)
        con.commit()
    except BaseException:
        con.rollback()
        raise


def record_seen_paths(con: duckdb.DuckDBPyConnection, path_rows: list[tuple[str, str, str]]) -> None:
    """The paths seen of files whose content is known (one transaction of its own)."""
    con.begin()
    try:
        write_paths(con, path_rows, datetime.now())
        con.commit()
    except BaseException:
        con.rollback()
        raise


def manifest_row(out: FileOutcome, source: str, size: int | None, now: datetime) -> dict:
    """The audit.ingest_files row of a new file (``source``: the folder it landed in; ``size`` in bytes)."""
    return {
        "file_sha256": out.file_sha256,
        "path": out.path,
        "bytes": size,
        "source": source,
        "encoding": out.encoding,
        "rows_read": out.rows_read,
        "rows_loaded": out.rows_loaded,
        "rows_quarantined": out.rows_quarantined,
        "status": out.status,
        "reason": out.reason,
        "ingested_at": now,
    }


def write_paths(con: duckdb.DuckDBPyConnection, path_rows: list[tuple[str, str, str]], now: datetime) -> None:
    """audit.file_paths: each (path, sha256, state) seen now; a path whose content changed is ``changed``."""
    if not path_rows:
        return
    seen = pd.DataFrame(path_rows, columns=["path", "file_sha256", "state"]).drop_duplicates(
        ["path", "file_sha256"]
    )
    seen["now"] = now
    con.register("_seen_paths", seen)
    try:
        con.execute(
            """update audit.file_paths as fp set state = 'changed'
               from _seen_paths s
               where fp.path = s.path and fp.file_sha256 <> s.file_sha256 and fp.state <> 'changed'"""
        )
        con.execute(
            """update audit.file_paths as fp
               set last_seen = s.now,
                   state = case when fp.state = 'duplicate_content' then 'duplicate_content' else 'present' end
               from _seen_paths s
               where fp.path = s.path and fp.file_sha256 = s.file_sha256"""
        )
        con.execute(
            """insert into audit.file_paths
               select s.path, s.file_sha256, s.now, s.now, s.state
               from _seen_paths s
               anti join audit.file_paths fp on fp.path = s.path and fp.file_sha256 = s.file_sha256"""
        )
    finally:
        con.unregister("_seen_paths")


def mark_missing(con: duckdb.DuckDBPyConnection, source: str, seen_paths: list[str]) -> None:
    """audit.file_paths: the paths of ``source`` not seen in this run are ``missing`` (their rows stay)."""
    seen = pd.DataFrame({"path": pd.Series(seen_paths, dtype=object)})
    con.register("_seen_all", seen)
    try:
        con.execute(
            """update audit.file_paths set state = 'missing'
               where path like ? and state in ('present', 'duplicate_content')
                 and path not in (select path from _seen_all)""",
            [f"{source}/%"],
        )
    finally:
        con.unregister("_seen_all")

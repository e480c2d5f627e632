"""The batch runner of the ingest and its manifest writes (the tables are in :mod:`pipeline.ingest.tables`).

The runner (:func:`run_source`) is shared by the three sources: discover files, skip content already
ingested (same sha256, any name; a file unchanged since it was read is not read again, see
:mod:`pipeline.ingest.filestats`), read many files, validate their rows together in one vectorised pass,
then write rows + quarantine + manifest of the batch inside ONE transaction, after checking
``rows_read = rows_loaded + rows_quarantined`` for every file.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from pipeline import progress
from pipeline.config import ingest_fastpath, ingest_limits
from pipeline.ingest import files as files_mod
from pipeline.ingest import filestats
from pipeline.ingest import quarantine as q
from pipeline.ingest.cells import all_text
from pipeline.ingest.fastcsv import FastCSV, fast_frame, read_csv_fast
from pipeline.ingest.header import FileRejected, ReadResult, blank_rows
from pipeline.ingest.readers import read_any
from pipeline.ingest.reports import FileOutcome, IngestReport, rejection_reason
from pipeline.ingest.tables import ensure_warehouse_schema, insert_frame
from pipeline.ingest.template import Template

#: Batched fast path for plain template CSVs (see :func:`pipeline.ingest.fastcsv.read_csv_fast`).
#: None: follow the environment (``NTM_INGEST_FASTPATH=0`` turns it off); True/False: force.
FASTPATH: bool | None = None
#: A batch closes at this many files or this many bytes read, whichever comes first.
BATCH_FILES = 2000
BATCH_BYTES = 64 * 1024 * 1024


#: statuses of audit.ingest_files rows of files no source reads
#: (see :func:`pipeline.ingest.landing.account_landing_zone`)
NOT_INGESTED_STATUSES = ("reference", "ignored", "not_ingested")


def fastpath_enabled() -> bool:
    if FASTPATH is not None:
        return bool(FASTPATH)
    return ingest_fastpath()


@dataclass
class BatchResult:
    tables: dict[str, pd.DataFrame]  # raw table -> rows to insert (with _file_sha256 etc.)
    quarantine: pd.DataFrame  # quarantine records (q.QUARANTINE_COLUMNS)
    loaded_rows: pd.DataFrame  # one row per loaded input row: _sha, _row


# validate(batch_rows, context) -> BatchResult ; batch_rows has _sha, _path, _source, _row, _fidx
Validator = Callable[[pd.DataFrame, dict], BatchResult]
Finalizer = Callable[[duckdb.DuckDBPyConnection, BatchResult], None]


def run_source(
    con: duckdb.DuckDBPyConnection,
    raw_dir: Path,
    source: str,
    template: Template,
    validate: Validator,
    *,
    context: dict,
    wide: bool = False,
    batch_files: int = BATCH_FILES,
    batch_bytes: int = BATCH_BYTES,
    finalize: Finalizer | None = None,
) -> IngestReport:
    t0 = time.perf_counter()
    raw_dir = Path(raw_dir)
    ensure_warehouse_schema(con)
    report = IngestReport(source=source)
    candidates = files_mod.discover(raw_dir, source)
    report.files_seen = len(candidates)
    report.files_unchanged = filestats.annotate(candidates, filestats.load(con, source))
    known = {
        r[0]
        for r in con.execute(
            "select file_sha256 from audit.ingest_files where status not in (select unnest(?::varchar[]))",
            [list(NOT_INGESTED_STATUSES)],
        ).fetchall()
    }
    known_paths = {
        (r[0], r[1]) for r in con.execute("select path, file_sha256 from audit.file_paths").fetchall()
    }
    seen_paths: list[str] = []
    fast = fastpath_enabled() and not wide
    limits = ingest_limits()
    # files known from the stat cache: only their paths are recorded as seen (one transaction, no batches)
    unchanged = [f for f in candidates if f.unchanged]
    if unchanged:
        path_rows = []
        for f in unchanged:
            seen_paths.append(f.rel)
            _already_known(f, known_paths, path_rows, report)
        con.begin()
        try:
            _write_paths(con, path_rows, datetime.now())
            con.commit()
        except BaseException:
            con.rollback()
            raise
    to_read = [f for f in candidates if not f.unchanged]
    files_done = 0
    for chunk in files_mod.read_batches(to_read, raw_dir, batch_files, batch_bytes):
        now = datetime.now()
        path_rows: list[tuple[str, str, str]] = []  # (path, sha, state for a new path row)
        manifest: list[dict] = []
        parts: list[pd.DataFrame | FastCSV] = []  # rows of each read file, in file order
        metas: list[tuple[str, str, int, np.ndarray]] = []
        bad_rows: list[pd.DataFrame] = []
        outcomes: dict[str, FileOutcome] = {}
        xlsx_read = False
        for f in chunk:
            files_done += 1
            progress.advance(files_done, len(to_read), "files")  # the CLI's progress bar
            seen_paths.append(f.rel)
            sha = f.sha256
            if sha in known:
                _already_known(f, known_paths, path_rows, report)
                f.data = None
                continue
            known.add(sha)
            path_rows.append((f.rel, sha, "present"))
            report.files_new += 1
            out = FileOutcome(f.rel, sha, "loaded")
            outcomes[sha] = out
            if f.rejected:
                out.status, out.reason = "rejected", rejection_reason(f.reject_code, f.reject_detail)
                manifest.append(_manifest_row(f, out, now))
                continue
            parsed = read_csv_fast(f.data, f.ext, template) if fast else None
            if parsed is not None:
                f.data = None
                n = len(parsed)
                out.encoding = parsed.encoding
                out.rows_read = n
                metas.append((sha, f.rel, n, np.arange(2, n + 2, dtype=np.int64)))
                parts.append(parsed)
                manifest.append({"_f": f, "_out": out})
                continue
            try:
                res: ReadResult = read_any(f.data, f.ext, template, wide)
            except FileRejected as e:
                out.status, out.reason = "rejected", rejection_reason(e.code, e.detail)
                out.encoding = _guess_encoding(f)
                manifest.append(_manifest_row(f, out, now))
                f.data = None
                continue
            f.data = None
            out.encoding = res.encoding
            out.reason = res.note
            xlsx_read = xlsx_read or res.encoding == "xlsx"
            fr = res.frame
            metas.append((sha, f.rel, len(fr), res.rows.astype(np.int64)))
            parts.append(fr)
            if res.bad_rows:
                b = pd.DataFrame(res.bad_rows, columns=["_row", "_raw"])
                b["_sha"], b["_path"], b["_source"] = sha, f.rel, source
                bad_rows.append(b)
            out.rows_read = len(fr) + len(res.bad_rows)
            manifest.append({"_f": f, "_out": out})
        # ---- one vectorised pass over all rows of the batch
        frames = _assemble(parts, template)
        if frames:
            batch = pd.concat(frames, ignore_index=True, sort=False)
            sizes = [m[2] for m in metas]
            batch["_sha"] = np.repeat(np.array([m[0] for m in metas], dtype=object), sizes)
            batch["_path"] = np.repeat(np.array([m[1] for m in metas], dtype=object), sizes)
            batch["_source"] = source
            batch["_row"] = np.concatenate([m[3] for m in metas]) if metas else np.array([], dtype=np.int64)
            batch["_fidx"] = np.repeat(np.arange(len(metas)), sizes)
            data_cols = [c for c in batch.columns if not str(c).startswith("_")]
            blank = blank_rows(batch, data_cols)
            if blank.any():
                dropped = pd.Series(blank).groupby(batch["_sha"].to_numpy()).sum()
                batch = batch.loc[~blank].reset_index(drop=True)
                for sha, n in dropped.items():
                    if n:
                        outcomes[sha].rows_read -= int(n)
            long_quar = q.empty_frame()
            # a text file of fewer bytes than the limit has no longer cell; an XLSX is compressed: check it
            if xlsx_read or any((f.bytes or 0) > limits.max_cell_chars for f in chunk):
                long_rows, long_quar = _long_cells(batch, data_cols, limits.max_cell_chars)
                if long_rows.any():
                    batch = batch.loc[~long_rows].reset_index(drop=True)
            result = validate(batch, context)
            result.quarantine = q.concat([result.quarantine, long_quar])
        else:
            result = BatchResult({}, q.empty_frame(), pd.DataFrame(columns=["_sha", "_row"]))
        quar = result.quarantine
        if bad_rows:
            b = pd.concat(bad_rows, ignore_index=True)
            quar = q.concat([quar, q.build(b, pd.Series(True, index=b.index), "malformed_row", "_raw")])
            quar.loc[quar["column_name"] == "_raw", "column_name"] = None
        _reconcile(outcomes, quar, result.loaded_rows)
        rows = [_manifest_row(m["_f"], m["_out"], now) if "_f" in m else m for m in manifest]
        # ---- write the batch atomically
        con.begin()
        try:
            for table, frame in result.tables.items():
                if frame is not None and not frame.empty and "arrival_seq" in frame.columns:
                    offset = con.execute(f"select coalesce(max(arrival_seq), 0) from {table}").fetchall()[0][
                        0
                    ]
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
            _write_paths(con, path_rows, now)
            filestats.write(con, filestats.rows(chunk), now)
            con.commit()
        except BaseException:
            con.rollback()
            raise
        for p, s, _ in path_rows:
            known_paths.add((p, s))
        for out in outcomes.values():
            report.files.append(out)
            report.rows_read += out.rows_read
            report.rows_loaded += out.rows_loaded
            report.rows_quarantined += out.rows_quarantined
            if out.status == "rejected":
                report.files_rejected += 1
        if not report.preview:
            for frame in result.tables.values():
                if frame is not None and not frame.empty:
                    report.preview = frame.head(5).astype(str).to_dict(orient="records")
                    break
    _mark_missing(con, source, seen_paths)
    report.seconds = round(time.perf_counter() - t0, 3)
    return report


def _long_cells(batch: pd.DataFrame, columns: list[str], limit: int) -> tuple[np.ndarray, pd.DataFrame]:
    """Rows with a cell longer than ``limit`` characters, and their quarantine records (``cell_too_long``;
    the raw value recorded is the cell's length, not its text)."""
    bad = np.zeros(len(batch), dtype=bool)
    frames: list[pd.DataFrame] = []
    for c in columns:
        col = batch[c]
        if all_text(col):  # CSV / JSON text: pandas' C loop (~50x faster than a Python lambda)
            m = col.str.len().gt(limit).fillna(False).to_numpy(dtype=bool)
        else:  # XLSX native cells mixed with text
            m = col.map(lambda v: isinstance(v, str) and len(v) > limit).to_numpy(dtype=bool)
        if not m.any():
            continue
        bad |= m
        sub = batch.loc[m, ["_sha", "_path", "_source", "_row"]].copy()
        # the length only: an over-long cell is free text (notes, reasons) that may hold personal data
        sub[c] = batch.loc[m, c].map(lambda v: f"({len(v)} ký tự/chars)")
        frames.append(q.build(sub, pd.Series(True, index=sub.index), "cell_too_long", c))
    return bad, q.concat(frames)


def _already_known(
    f: files_mod.LandedFile,
    known_paths: set[tuple[str, str]],
    path_rows: list[tuple[str, str, str]],
    report: IngestReport,
) -> None:
    """A file whose content was ingested before (under this path, or another: duplicate content)."""
    state = "present" if (f.rel, f.sha256) in known_paths else "duplicate_content"
    path_rows.append((f.rel, f.sha256, state))
    report.files_skipped_duplicate += 1
    status = "already_ingested" if state == "present" else "duplicate_content"
    report.files.append(FileOutcome(f.rel, f.sha256, status))


def _assemble(parts: list[pd.DataFrame | FastCSV], template: Template) -> list[pd.DataFrame]:
    """Frames in file order; each run of fast-parsed files with one header line becomes one frame."""
    frames: list[pd.DataFrame] = []
    run: list[FastCSV] = []
    for p in [*parts, None]:
        if run and (not isinstance(p, FastCSV) or p.key != run[0].key):
            frames.append(fast_frame(run, template)[0])
            run = []
        if isinstance(p, FastCSV):
            run.append(p)
        elif p is not None:
            frames.append(p)
    return frames


def _guess_encoding(f: files_mod.LandedFile) -> str | None:
    return "xlsx" if f.ext in (".xlsx", ".xlsm") else None


def _reconcile(outcomes: dict[str, FileOutcome], quar: pd.DataFrame, loaded: pd.DataFrame) -> None:
    """Fill per-file loaded/quarantined counts and refuse any mismatch with rows read."""
    qn = (
        quar.drop_duplicates(["file_sha256", "row_number"]).groupby("file_sha256").size().to_dict()
        if not quar.empty
        else {}
    )
    ln = loaded.groupby("_sha").size().to_dict() if not loaded.empty else {}
    for sha, out in outcomes.items():
        if out.status == "rejected":
            continue
        out.rows_quarantined = int(qn.get(sha, 0))
        out.rows_loaded = int(ln.get(sha, 0))
        if out.rows_read != out.rows_loaded + out.rows_quarantined:
            raise RuntimeError(
                f"reconciliation failed for {out.path}: read {out.rows_read} != loaded {out.rows_loaded}"
                f" + quarantined {out.rows_quarantined}; nothing of this batch was committed"
            )
        out.status = "loaded_with_errors" if out.rows_quarantined else "loaded"
        if out.rows_quarantined and out.rows_loaded == 0:
            out.reason = "all rows quarantined" + (f"; {out.reason}" if out.reason else "")


def _manifest_row(f: files_mod.LandedFile, out: FileOutcome, now: datetime) -> dict:
    return {
        "file_sha256": out.file_sha256,
        "path": f.rel,
        "bytes": f.bytes,
        "source": f.source,
        "encoding": out.encoding,
        "rows_read": out.rows_read,
        "rows_loaded": out.rows_loaded,
        "rows_quarantined": out.rows_quarantined,
        "status": out.status,
        "reason": out.reason,
        "ingested_at": now,
    }


def _write_paths(
    con: duckdb.DuckDBPyConnection, path_rows: list[tuple[str, str, str]], now: datetime
) -> None:
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


def _mark_missing(con: duckdb.DuckDBPyConnection, source: str, seen_paths: list[str]) -> None:
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

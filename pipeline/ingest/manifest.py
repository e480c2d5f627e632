"""The batch runner of the ingest, shared by the template sources (:class:`TemplateSource`).

:func:`run_source`: discover files, skip content already ingested (same sha256, any name; a file unchanged
since it was read is not read again, see :mod:`pipeline.ingest.filestats`), read many files, validate their
rows together in one vectorised pass, check ``rows_read = rows_loaded + rows_quarantined`` for every file,
then write rows + quarantine + manifest of the batch inside ONE transaction (:mod:`pipeline.ingest.writes`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from pipeline import progress
from pipeline.config import IngestLimits, ingest_fastpath, ingest_limits
from pipeline.ingest import files as files_mod
from pipeline.ingest import filestats, writes
from pipeline.ingest import quarantine as q
from pipeline.ingest.batch import BatchResult, Finalizer, IngestContext, Validator
from pipeline.ingest.fastcsv import FastCSV, fast_frame, fast_header, read_csv_fast, split_together
from pipeline.ingest.header import FileRejected, ReadResult, blank_rows
from pipeline.ingest.readers import read_any
from pipeline.ingest.reference import ReferenceData
from pipeline.ingest.reports import FileOutcome, IngestReport, rejection_reason
from pipeline.ingest.tables import ensure_warehouse_schema
from pipeline.ingest.template import Template
from pipeline.lib.pii import name_index

#: Batched fast path for plain template CSVs (see :func:`pipeline.ingest.fastcsv.read_csv_fast`).
#: None: follow the environment (``NTM_INGEST_FASTPATH=0`` turns it off); True/False: force.
FASTPATH: bool | None = None
#: A batch closes at this many files or this many bytes read, whichever comes first.
BATCH_FILES = 8000
BATCH_BYTES = 64 * 1024 * 1024


def fastpath_enabled() -> bool:
    if FASTPATH is not None:
        return bool(FASTPATH)
    return ingest_fastpath()


@dataclass(frozen=True)
class TemplateSource:
    """A landing-zone source read against a template: its folder under raw/, template and validator, whether
    its files are wide (pipeline.ingest.readers) and whether its free text is masked against the known names
    (pipeline.ingest.masking). :meth:`ingest` is the source's ``ingest_<source>``."""

    name: str
    template: Template
    validate: Validator
    wide: bool = False
    masks_names: bool = False

    def ingest(
        self,
        con: duckdb.DuckDBPyConnection,
        raw_dir: Path,
        ref: ReferenceData,
        *,
        today: date,
        salt: str = "",
        batch_files: int = BATCH_FILES,
    ) -> IngestReport:
        """Ingest the new files of ``raw_dir/<name>/**``; ``salt`` (NTM_PII_SALT) keys the personal-data
        hashes and the name index."""
        names = name_index(con, salt) if self.masks_names else None
        return run_source(
            con,
            raw_dir,
            self.name,
            self.template,
            self.validate,
            context=IngestContext(ref=ref, today=today, salt=salt, names=names),
            wide=self.wide,
            batch_files=batch_files,
        )


def run_source(
    con: duckdb.DuckDBPyConnection,
    raw_dir: Path,
    source: str,
    template: Template,
    validate: Validator,
    *,
    context: IngestContext,
    wide: bool = False,
    batch_files: int = BATCH_FILES,
    batch_bytes: int = BATCH_BYTES,
    finalize: Finalizer | None = None,
) -> IngestReport:
    """Ingest the new files of ``raw_dir/<source>/``: files the stat cache knows unchanged are only recorded
    as seen; the others are read in batches, each batch validated in one vectorised pass and written in one
    transaction (its rows, its quarantine, its files' audit rows), counts reconciled per file first."""
    t0 = time.perf_counter()
    raw_dir = Path(raw_dir)
    ensure_warehouse_schema(con)
    report = IngestReport(source=source)
    candidates = files_mod.discover(raw_dir, source)
    report.files_seen = len(candidates)
    report.files_unchanged = filestats.annotate(candidates, filestats.load(con, source))
    run = _SourceRun(
        source=source,
        template=template,
        wide=wide,
        fast=fastpath_enabled() and not wide,
        limits=ingest_limits(),
        report=report,
        known=writes.known_contents(con),
        known_paths={
            (r[0], r[1]) for r in con.execute("select path, file_sha256 from audit.file_paths").fetchall()
        },
    )
    _record_unchanged(con, run, [f for f in candidates if f.unchanged])
    to_read = [f for f in candidates if not f.unchanged]
    run.files_total = len(to_read)
    for chunk in files_mod.read_batches(to_read, raw_dir, batch_files, batch_bytes):
        now = datetime.now()
        read = _read_chunk(run, chunk, now)
        result, quar = _validate_chunk(run, read, chunk, validate, context)
        _reconcile(read.outcomes, quar, result.loaded_rows)
        writes.write_batch(con, result, quar, read.new_files, read.path_rows, chunk, now, finalize)
        run.known_paths.update((p, s) for p, s, _ in read.path_rows)
        _count(report, read.outcomes, result)
    writes.mark_missing(con, source, run.seen_paths)
    report.seconds = round(time.perf_counter() - t0, 3)
    return report


@dataclass
class _SourceRun:
    """The state of one :func:`run_source` across its batches."""

    source: str
    template: Template
    wide: bool
    fast: bool  # plain template CSVs through the batched fast path (pipeline.ingest.fastcsv)
    limits: IngestLimits
    report: IngestReport
    known: set[str]  # contents (sha256) already ingested
    known_paths: set[tuple[str, str]]  # (path, sha256) pairs of audit.file_paths
    seen_paths: list[str] = field(default_factory=list)  # every path present now
    files_done: int = 0
    files_total: int = 0


@dataclass
class _ChunkRead:
    """What reading one batch of files gave."""

    path_rows: list[tuple[str, str, str]] = field(
        default_factory=list
    )  # (path, sha, state of a new path row)
    new_files: list[tuple[files_mod.LandedFile, FileOutcome]] = field(default_factory=list)  # in file order
    outcomes: dict[str, FileOutcome] = field(default_factory=dict)  # by sha256, the new files'
    parts: list[pd.DataFrame | FastCSV] = field(default_factory=list)  # rows of each read file, in file order
    metas: list[tuple[str, str, int, np.ndarray]] = field(
        default_factory=list
    )  # (sha, path, rows, row numbers)
    bad_rows: list[pd.DataFrame] = field(default_factory=list)  # malformed lines (_row, _raw, _sha, ...)
    bad_at: list[int] = field(default_factory=list)  # the place in parts of each bad_rows' file
    xlsx_read: bool = False


def _record_unchanged(
    con: duckdb.DuckDBPyConnection, run: _SourceRun, unchanged: list[files_mod.LandedFile]
) -> None:
    """Files known from the stat cache: only their paths are recorded as seen (one transaction, no batches)."""
    if not unchanged:
        return
    path_rows: list[tuple[str, str, str]] = []
    for f in unchanged:
        run.seen_paths.append(f.rel)
        _already_known(f, run.known_paths, path_rows, run.report)
    writes.record_seen_paths(con, path_rows)


def _read_chunk(run: _SourceRun, chunk: list[files_mod.LandedFile], now: datetime) -> _ChunkRead:
    """Read every new file of the batch (a known content is only recorded under its path); a file that
    cannot be read is rejected with its reason."""
    read = _ChunkRead()
    pending: list[tuple[int, files_mod.LandedFile, FileOutcome, bytes]] = []  # (slot, file, outcome, bytes)
    for f in chunk:
        run.files_done += 1
        progress.advance(run.files_done, run.files_total, "files")  # the CLI's progress bar
        run.seen_paths.append(f.rel)
        sha = f.sha256
        if sha in run.known:
            _already_known(f, run.known_paths, read.path_rows, run.report)
            f.data = None
            continue
        run.known.add(sha)
        read.path_rows.append((f.rel, sha, "present"))
        run.report.files_new += 1
        out = FileOutcome(f.rel, sha, "loaded")
        read.outcomes[sha] = out
        read.new_files.append((f, out))
        if f.rejected:
            out.status, out.reason = "rejected", rejection_reason(f.reject_code, f.reject_detail)
            continue
        if run.fast:
            parsed = read_csv_fast(f.data, f.ext, run.template, limits=run.limits, defer=True)
            if parsed is not None and parsed.body is not None:  # split below with its header's other files
                pending.append((len(read.parts), f, out, f.data))
                read.parts.append(parsed)
                read.metas.append(_PENDING)
                f.data = None
                continue
            if parsed is not None:
                f.data = None
                _take_fast(read, None, parsed, out, f.rel)
                continue
        data, f.data = f.data, None
        _read_general(run, read, None, f, data, out)
    _split_pending(run, read, pending)
    return read


#: the place of a deferred file's meta in _ChunkRead.metas until _split_pending fills it
_PENDING = ("", "", 0, np.zeros(0, dtype=np.int64))


def _split_pending(
    run: _SourceRun, read: _ChunkRead, pending: list[tuple[int, files_mod.LandedFile, FileOutcome, bytes]]
) -> None:
    """Split the deferred plain CSVs of the batch, all files of one header line in one pass
    (:func:`pipeline.ingest.fastcsv.split_together`); when that pass fails, each file as before: on its own by
    the fast path, else by the general reader. Every file keeps its place in the batch (file order)."""
    groups: dict[str, list[tuple[int, files_mod.LandedFile, FileOutcome, bytes]]] = {}
    for item in pending:
        groups.setdefault(read.parts[item[0]].key, []).append(item)  # type: ignore[union-attr]
    for key, items in groups.items():
        parts = [read.parts[slot] for slot, *_ in items]
        width = fast_header(key, run.template)[1]  # type: ignore[index]
        if split_together(parts, width):  # type: ignore[arg-type]
            for (slot, f, out, _), p in zip(items, parts, strict=True):
                _take_fast(read, slot, p, out, f.rel)  # type: ignore[arg-type]
            continue
        for slot, f, out, data in items:
            p = read_csv_fast(data, f.ext, run.template, limits=run.limits)
            if p is not None:
                _take_fast(read, slot, p, out, f.rel)
            else:
                _read_general(run, read, slot, f, data, out)
    if any(p is None for p in read.parts):  # files the general reader rejected leave no place
        keep = [i for i, p in enumerate(read.parts) if p is not None]
        read.parts = [read.parts[i] for i in keep]
        read.metas = [read.metas[i] for i in keep]
    if len(read.bad_rows) > 1:  # in file order, as if every file had been read in turn
        order = sorted(range(len(read.bad_rows)), key=read.bad_at.__getitem__)
        read.bad_rows = [read.bad_rows[i] for i in order]


def _put(read: _ChunkRead, slot: int | None, part: pd.DataFrame | FastCSV | None, meta) -> None:
    """A read file's rows and meta, appended (``slot`` None) or at its reserved place."""
    if slot is None:
        read.parts.append(part)  # type: ignore[arg-type]
        read.metas.append(meta)
    else:
        read.parts[slot] = part  # type: ignore[call-overload]
        read.metas[slot] = meta


def _take_fast(read: _ChunkRead, slot: int | None, parsed: FastCSV, out: FileOutcome, rel: str) -> None:
    n = len(parsed)
    out.encoding = parsed.encoding
    out.rows_read = n
    _put(read, slot, parsed, (out.file_sha256, rel, n, np.arange(2, n + 2, dtype=np.int64)))


def _read_general(
    run: _SourceRun,
    read: _ChunkRead,
    slot: int | None,
    f: files_mod.LandedFile,
    data: bytes | None,
    out: FileOutcome,
) -> None:
    """A file the fast path does not take, through the general reader (rejected with its reason when it
    cannot be read)."""
    sha = out.file_sha256
    try:
        res: ReadResult = read_any(data, f.ext, run.template, run.wide)
    except FileRejected as e:
        out.status, out.reason = "rejected", rejection_reason(e.code, e.detail)
        out.encoding = _guess_encoding(f)
        if slot is not None:
            _put(read, slot, None, None)
        return
    out.encoding = res.encoding
    out.reason = res.note
    read.xlsx_read = read.xlsx_read or res.encoding == "xlsx"
    fr = res.frame
    _put(read, slot, fr, (sha, f.rel, len(fr), res.rows.astype(np.int64)))
    if res.bad_rows:
        b = pd.DataFrame(res.bad_rows, columns=["_row", "_raw"])
        b["_sha"], b["_path"], b["_source"] = sha, f.rel, run.source
        read.bad_rows.append(b)
        read.bad_at.append(len(read.parts) - 1 if slot is None else slot)
    out.rows_read = len(fr) + len(res.bad_rows)


def _validate_chunk(
    run: _SourceRun,
    read: _ChunkRead,
    chunk: list[files_mod.LandedFile],
    validate: Validator,
    context: IngestContext,
) -> tuple[BatchResult, pd.DataFrame]:
    """(the source's result, every quarantine record) for all rows of the batch in one vectorised pass: blank
    rows dropped (and uncounted), rows with a too-long cell and malformed lines quarantined."""
    frames = _assemble(read.parts, run.template)
    if not frames:
        result = BatchResult({}, q.empty_frame(), pd.DataFrame(columns=["_sha", "_row"]))
    else:
        batch = _batch_frame(frames, read.metas, run.source)
        data_cols = [c for c in batch.columns if not str(c).startswith("_")]
        blank = blank_rows(batch, data_cols)
        if blank.any():
            dropped = pd.Series(blank).groupby(batch["_sha"].to_numpy()).sum()
            batch = batch.loc[~blank].reset_index(drop=True)
            for sha, n in dropped.items():
                if n:
                    read.outcomes[sha].rows_read -= int(n)
        long_quar = q.empty_frame()
        # a text file of fewer bytes than the limit has no longer cell; an XLSX is compressed: check it
        if read.xlsx_read or any((f.bytes or 0) > run.limits.max_cell_chars for f in chunk):
            long_rows, long_quar = _long_cells(batch, data_cols, run.limits.max_cell_chars)
            if long_rows.any():
                batch = batch.loc[~long_rows].reset_index(drop=True)
        result = validate(batch, context)
        result.quarantine = q.concat([result.quarantine, long_quar])
    quar = result.quarantine
    if read.bad_rows:
        b = pd.concat(read.bad_rows, ignore_index=True)
        quar = q.concat([quar, q.build(b, pd.Series(True, index=b.index), "malformed_row", "_raw")])
        quar.loc[quar["column_name"] == "_raw", "column_name"] = None
    return result, quar


def _batch_frame(
    frames: list[pd.DataFrame], metas: list[tuple[str, str, int, np.ndarray]], source: str
) -> pd.DataFrame:
    """The rows of all files of the batch in one frame, with _sha, _path, _source, _row, _fidx."""
    batch = pd.concat(frames, ignore_index=True, sort=False)
    sizes = [m[2] for m in metas]
    batch["_sha"] = np.repeat(np.array([m[0] for m in metas], dtype=object), sizes)
    batch["_path"] = np.repeat(np.array([m[1] for m in metas], dtype=object), sizes)
    batch["_source"] = source
    batch["_row"] = np.concatenate([m[3] for m in metas]) if metas else np.array([], dtype=np.int64)
    batch["_fidx"] = np.repeat(np.arange(len(metas)), sizes)
    return batch


def _count(report: IngestReport, outcomes: dict[str, FileOutcome], result: BatchResult) -> None:
    """Add the batch's files and rows to the source's report (and its first loaded rows as the preview)."""
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


def _long_cells(batch: pd.DataFrame, columns: list[str], limit: int) -> tuple[np.ndarray, pd.DataFrame]:
    """Rows with a cell longer than ``limit`` characters, and their quarantine records (``cell_too_long``;
    the raw value recorded is the cell's length, not its text)."""
    bad = np.zeros(len(batch), dtype=bool)
    frames: list[pd.DataFrame] = []
    for c in columns:
        col = batch[c]
        # text cells only (an XLSX native number or date is no text); one generator over the values is 3-4x
        # faster than Series.str.len() on object cells (0.3 -> 0.09 s for a 51k-row survey file's 22 columns)
        values = col.to_numpy(dtype=object)
        m = np.fromiter(
            (isinstance(v, str) and len(v) > limit for v in values), dtype=bool, count=len(values)
        )
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

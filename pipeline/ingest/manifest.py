"""The batch runner of the ingest and its manifest writes (the tables are in :mod:`pipeline.ingest.tables`).

The runner (:func:`run_source`) is shared by the three sources: discover files, skip content already
ingested (same sha256, any name; a file unchanged since it was read is not read again, see
:mod:`pipeline.ingest.filestats`), read many files, validate their rows together in one vectorised pass,
then write rows + quarantine + manifest of the batch inside ONE transaction, after checking
``rows_read = rows_loaded + rows_quarantined`` for every file.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from pipeline.config import ingest_limits
from pipeline.ingest import files as files_mod
from pipeline.ingest import filestats
from pipeline.ingest import quarantine as q
from pipeline.ingest.cells import all_text
from pipeline.ingest.fastcsv import FastCSV, fast_frame, read_csv_fast
from pipeline.ingest.readers import FileRejected, ReadResult, blank_rows, read_any
from pipeline.ingest.tables import ensure_warehouse_schema, insert_frame
from pipeline.templates import Template

#: Batched fast path for plain template CSVs (see :func:`pipeline.ingest.fastcsv.read_csv_fast`).
#: None: follow the environment (``NTM_INGEST_FASTPATH=0`` turns it off); True/False: force.
FASTPATH: bool | None = None
#: A batch closes at this many files or this many bytes read, whichever comes first.
BATCH_FILES = 2000
BATCH_BYTES = 64 * 1024 * 1024


#: statuses of audit.ingest_files rows of files no source reads (see :func:`account_landing_zone`)
NOT_INGESTED_STATUSES = ("reference", "ignored", "not_ingested")


def fastpath_enabled() -> bool:
    if FASTPATH is not None:
        return bool(FASTPATH)
    return os.environ.get("NTM_INGEST_FASTPATH", "1").strip().lower() not in ("0", "false", "no", "off")


# ------------------------------------------------------------------------------------------ reports


@dataclass
class FileOutcome:
    path: str
    file_sha256: str
    status: str  # loaded | loaded_with_errors | rejected | duplicate_content | already_ingested
    reason: str | None = None
    encoding: str | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0


@dataclass
class IngestReport:
    source: str
    files_seen: int = 0
    files_new: int = 0
    files_skipped_duplicate: int = 0
    files_unchanged: int = 0  # of those skipped: known from the stat cache, not read
    files_rejected: int = 0
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    seconds: float = 0.0
    files: list[FileOutcome] = field(default_factory=list)
    preview: list[dict] = field(default_factory=list)

    def metadata(self) -> dict:
        """Flat numbers for Dagster asset metadata."""
        return {
            k: getattr(self, k)
            for k in (
                "files_seen",
                "files_new",
                "files_skipped_duplicate",
                "files_unchanged",
                "files_rejected",
                "rows_read",
                "rows_loaded",
                "rows_quarantined",
                "seconds",
            )
        }


@dataclass
class BatchResult:
    tables: dict[str, pd.DataFrame]  # raw table -> rows to insert (with _file_sha256 etc.)
    quarantine: pd.DataFrame  # quarantine records (q.QUARANTINE_COLUMNS)
    loaded_rows: pd.DataFrame  # one row per loaded input row: _sha, _row


# validate(batch_rows, context) -> BatchResult ; batch_rows has _sha, _path, _source, _row, _fidx
Validator = Callable[[pd.DataFrame, dict], BatchResult]
Finalizer = Callable[[duckdb.DuckDBPyConnection, BatchResult], None]


def _rejection_reason(code: str, detail: str | None) -> str:
    vi, en = q.REASONS.get(code, (code, code))
    return f"{code}: {en} / {vi}" + (f" ({detail})" if detail else "")


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
                out.status, out.reason = "rejected", _rejection_reason(f.reject_code, f.reject_detail)
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
                out.status, out.reason = "rejected", _rejection_reason(e.code, e.detail)
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


# ------------------------------------------------------------------ files no source reads


@dataclass
class LandingReport:
    """Files under the raw dir that no source reads, by reason (see :func:`account_landing_zone`)."""

    files: list[FileOutcome] = field(default_factory=list)

    def by_reason(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.files:
            code = (f.reason or "").split(":", 1)[0]  # reasons read "<code>: <en> / <vi> (detail)"
            out[code] = out.get(code, 0) + 1
        return dict(sorted(out.items()))

    def attention(self) -> list[FileOutcome]:
        """Files a person should look at: in no place a source reads (unknown folder, raw/ itself) or
        hidden (status ``not_ingested``)."""
        return [f for f in self.files if f.status == "not_ingested"]


def _identity(f: files_mod.OtherFile) -> tuple[str, int | None, str | None]:
    """(sha256, bytes, problem) of a file no source reads: hashed in chunks; a link is not followed."""
    try:
        if f.path.is_symlink():
            return _standin(f, "symlink"), None, f"symbolic link -> {os.readlink(f.path)} (not followed)"
        with open(f.path, "rb") as fh:
            sha, n = files_mod.hash_stream(fh)
        return sha, n, None
    except OSError as exc:
        return _standin(f, "unreadable_file"), None, f"unreadable: {exc.strerror or exc}"


def _standin(f: files_mod.OtherFile, code: str) -> str:
    import hashlib

    return hashlib.sha256(f"{code}:{f.rel}".encode()).hexdigest()


def account_landing_zone(con: duckdb.DuckDBPyConnection, raw_dir: Path) -> LandingReport:
    """Give every file under ``raw_dir`` that no source reads one row in ``audit.file_paths`` (state =
    the reason code) and, for content not recorded before, one row in ``audit.ingest_files`` (status
    ``reference`` / ``ignored`` / ``not_ingested``, reason bilingual, no row loaded). Registry files of
    ``reference/`` count the rows the registry step loaded from them (rows_read = rows_loaded). Paths
    recorded before and gone now get state ``missing``. Idempotent; one transaction."""
    from pipeline.ingest.reference import REGISTRY

    ensure_warehouse_schema(con)
    now = datetime.now()
    report = LandingReport()
    rows: list[dict] = []
    paths: list[tuple[str, str, str]] = []
    for f in files_mod.not_ingested(raw_dir):
        sha, size, problem = _identity(f)
        n = 0
        if f.reason == "reference_file":
            table = REGISTRY[f.rel.split("/")[-1]][0]
            n = int(con.execute(f"select count(*) from {table} where _file_sha256 = ?", [sha]).fetchone()[0])
        out = FileOutcome(f.rel, sha, f.status, _rejection_reason(f.reason, problem), None, n, n, 0)
        report.files.append(out)
        paths.append((f.rel, sha, f.reason))
        rows.append(
            {
                "file_sha256": sha,
                "path": f.rel,
                "bytes": size,
                "source": f.area,
                "encoding": None,
                "rows_read": n,
                "rows_loaded": n,
                "rows_quarantined": 0,
                "status": f.status,
                "reason": out.reason,
                "ingested_at": now,
            }
        )
    con.begin()
    try:
        if rows:
            frame = pd.DataFrame(rows).drop_duplicates("file_sha256")
            con.register("_other_files", frame)
            try:
                con.execute(
                    """insert into audit.ingest_files by name
                       select * from _other_files o
                       anti join audit.ingest_files f on f.file_sha256 = o.file_sha256"""
                )
            finally:
                con.unregister("_other_files")
        seen = pd.DataFrame(paths, columns=["path", "file_sha256", "state"])
        seen["now"] = now
        con.register("_other_paths", seen)
        try:
            con.execute(
                """update audit.file_paths as fp set state = 'changed'
                   from _other_paths s
                   where fp.path = s.path and fp.file_sha256 <> s.file_sha256 and fp.state = s.state"""
            )
            con.execute(
                """update audit.file_paths as fp set last_seen = s.now, state = s.state
                   from _other_paths s where fp.path = s.path and fp.file_sha256 = s.file_sha256"""
            )
            con.execute(
                """insert into audit.file_paths
                   select s.path, s.file_sha256, s.now, s.now, s.state from _other_paths s
                   anti join audit.file_paths fp on fp.path = s.path and fp.file_sha256 = s.file_sha256"""
            )
            con.execute(
                """update audit.file_paths as fp set state = 'missing'
                   where fp.state in (select unnest(?::varchar[]))
                     and not exists (select 1 from _other_paths s
                                     where s.path = fp.path and s.file_sha256 = fp.file_sha256)""",
                [list(OTHER_REASONS)],
            )
        finally:
            con.unregister("_other_paths")
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return report


#: reason codes (= audit.file_paths.state) of files no source reads
OTHER_REASONS = ("reference_file", "template_file", "documentation", "hidden_file", "unknown_location")

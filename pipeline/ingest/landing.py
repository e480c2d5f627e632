"""Account for the files under the raw dir that no source reads (registries, templates, docs, strays).

:func:`account_landing_zone` gives each one a row in ``audit.file_paths`` and ``audit.ingest_files`` with
its reason, so every file that landed is recorded somewhere, read or not.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd

from pipeline.ingest import files as files_mod
from pipeline.ingest.reports import FileOutcome, rejection_reason
from pipeline.ingest.tables import ensure_warehouse_schema
from pipeline.ingest.writes import manifest_row


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
        if f.reason == "reference_file" and f.rel.split("/")[-1] == files_mod.BOUNDARY_FILE:
            out = _boundary_outcome(con, f, sha, problem)
        else:
            if f.reason == "reference_file" and f.rel.split("/")[-1] in REGISTRY:  # else: dhis2_mapping.csv
                table = REGISTRY[f.rel.split("/")[-1]][0]
                n = int(
                    con.execute(f"select count(*) from {table} where _file_sha256 = ?", [sha]).fetchone()[0]
                )
            out = FileOutcome(f.rel, sha, f.status, rejection_reason(f.reason, problem), None, n, n, 0)
        report.files.append(out)
        paths.append((f.rel, sha, f.reason))
        rows.append(manifest_row(out, f.area, size, now))
    con.begin()
    try:
        for r in rows:
            if r["path"].split("/")[-1] == files_mod.BOUNDARY_FILE:
                # reloaded every run (full replace): its counts follow the registry it was checked against
                con.execute(
                    """delete from audit.ingest_files where file_sha256 = ? and (rows_read <> ?
                       or rows_loaded <> ? or rows_quarantined <> ? or status <> ?)""",
                    [r["file_sha256"], r["rows_read"], r["rows_loaded"], r["rows_quarantined"], r["status"]],
                )
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


def _boundary_outcome(con: duckdb.DuckDBPyConnection, f: files_mod.OtherFile, sha: str, problem: str | None):
    """The boundary file's row of audit.ingest_files, from what :func:`pipeline.ingest.sources.reference.
    boundaries.load_boundaries` wrote: features loaded (raw.hamlet_boundaries) and quarantined (distinct feature
    indexes in audit.quarantine), read = loaded + quarantined; status ``rejected`` with the reason when the
    whole file was refused (a quarantine record without feature index)."""
    loaded = int(
        con.execute(
            f"select count(*) from {files_mod.BOUNDARY_TABLE} where _file_sha256 = ?", [sha]
        ).fetchone()[0]
    )
    quarantined, rejected = con.execute(
        """select count(distinct row_number),
                  min(case when row_number is null and reason_code in (select unnest(?::varchar[]))
                      then reason_code || ': ' || message_en || ' / ' || message_vi end)
           from audit.quarantine where file_sha256 = ?""",
        [list(files_mod.BOUNDARY_FILE_REASONS), sha],
    ).fetchone()
    if rejected:
        return FileOutcome(f.rel, sha, "rejected", rejected, None, 0, 0, 0)
    reason = rejection_reason(f.reason, problem)
    if quarantined:
        reason += f" ({quarantined} feature(s) quarantined / đối tượng bị cách ly: audit.quarantine)"
    return FileOutcome(f.rel, sha, f.status, reason, None, loaded + quarantined, loaded, int(quarantined))


#: reason codes (= audit.file_paths.state) of files no source reads
OTHER_REASONS = ("reference_file", "template_file", "documentation", "hidden_file", "unknown_location")

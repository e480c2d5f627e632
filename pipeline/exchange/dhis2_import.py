"""DHIS2 ``dataValueSets`` files (JSON or CSV) in ``raw/dhis2/`` → ``raw.dhis2_values``, with a DHIS2-style
import summary per file.

A commune that keeps some of its data in DHIS2 exports it (``/api/dataValueSets.json`` or ``.csv``, UIDs
as identifiers) and drops the file in ``raw/dhis2/``. The payload rules are those of
:mod:`pipeline.exchange.dhis2` (DHIS2 Web API documentation, *Data values*). Each data value is checked:

- ``dataElement`` is a UID and a ``data_element`` row of ``raw/reference/dhis2_mapping.csv``
  (``unknown_data_element``); ``orgUnit`` likewise an ``org_unit`` row (``unknown_org_unit``), of the level
  the indicator is reported at: a hamlet for hamlet-level indicators, the commune for commune-level ones
  (``org_unit_level_mismatch``);
- ``categoryOptionCombo`` is the one mapped for the data element, ``attributeOptionCombo`` the default one
  (absent = default) (``unknown_category_option_combo`` / ``unknown_attribute_option_combo``);
- ``period`` is a DHIS2 quarter ``YYYYQn`` or year ``YYYY`` (``malformed_period``);
- ``value`` parses for the data element's value type — ``true``/``false``/``1``/``0``/``t``/``f`` (any
  case) for BOOLEAN, a whole number >= 0 for INTEGER_ZERO_OR_POSITIVE, a plain decimal number (``.`` as
  decimal mark, no thousands separator) for NUMBER (``invalid_value_type``) — and lies within the catalog's
  ``min_value``..``max_value`` (``value_out_of_range``). An empty value is DHIS2's *delete*: loaded as a
  deletion (value null) when an earlier value exists, otherwise ignored with ``missing_value``.

Counts, the way DHIS2's import summary counts them (``importCount``): a value whose key (data element ×
org unit × period × category option combo × attribute option combo) was never loaded before is
*imported*; a key loaded before (earlier in the same file or in an earlier file) with another value is
*updated*, with the same value *ignored*; a deletion of a loaded key is *deleted*; a value with a conflict
is *ignored* and listed in ``conflicts`` [{object, property, value (English message), errorCode, message_vi,
indexes}] (``indexes``: 0-based positions in ``dataValues``, or CSV data rows). Later values win: the
latest file, then the last row of a file (DHIS2 applies a payload in order).

Guarantees: every data value is loaded (``raw.dhis2_values``, including repeats and deletions) or
quarantined (``audit.quarantine``, one row per conflict, Vietnamese and English reason); ``audit.ingest_files``
has one row per file with rows_read = rows_loaded + rows_quarantined; a file already ingested (same sha256)
is not read again (idempotent). A file is rejected whole when it is not a UTF-8 dataValueSets payload
(``not_datavalueset``), exceeds ``NTM_MAX_FILE_BYTES`` / ``NTM_MAX_ROWS_PER_FILE`` (``file_too_large``), or
there is no mapping file (``no_dhis2_mapping``). The summary of each file is written as JSON to ``<summary_dir>/<file name>.
import_summary.json``.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd

from pipeline.config import ingest_limits
from pipeline.exchange.dhis2_mapping import Mapping
from pipeline.exchange.dhis2_values import (
    Catalog,
    ImportSummary,
    NotDataValueSet,
    parse_datavalueset,
    validate,
)

SOURCE = "dhis2"
TABLE = "raw.dhis2_values"
DDL = f"""create table if not exists {TABLE} (
    file_sha256 varchar, source_file varchar, row_number integer, data_element varchar, period varchar,
    org_unit varchar, category_option_combo varchar, attribute_option_combo varchar, value_text varchar,
    indicator_code varchar, location_code varchar, location_level varchar, period_code varchar,
    value double, is_deletion boolean, import_action varchar, ingested_at timestamp)"""
AUDIT_DDL = (
    """create table if not exists audit.ingest_files (file_sha256 varchar primary key, path varchar,
       bytes bigint, source varchar, encoding varchar, rows_read bigint, rows_loaded bigint,
       rows_quarantined bigint, status varchar, reason varchar, ingested_at timestamp)""",
    """create table if not exists audit.quarantine (file_sha256 varchar, source_file varchar, source varchar,
       row_number integer, column_name varchar, raw_value varchar, reason_code varchar, message_vi varchar,
       message_en varchar, quarantined_at timestamp)""",
)

FILE_REASONS = {
    "no_dhis2_mapping": (
        "Chưa có bảng ánh xạ DHIS2 (reference/dhis2_mapping.csv) nên không đọc được mã UID.",
        "There is no DHIS2 mapping (reference/dhis2_mapping.csv) to read the UIDs with.",
    ),
    "file_too_large": (
        "Tệp vượt giới hạn kích thước (NTM_MAX_FILE_BYTES) hoặc số giá trị (NTM_MAX_ROWS_PER_FILE).",
        "The file exceeds the size limit (NTM_MAX_FILE_BYTES) or the value limit (NTM_MAX_ROWS_PER_FILE).",
    ),
    "not_datavalueset": (
        "Tệp không phải dataValueSets của DHIS2 (JSON có khoá dataValues hoặc CSV có 6 cột).",
        "The file is not a DHIS2 dataValueSets payload (JSON with dataValues, or CSV with 6 columns).",
    ),
}


def _current_values(con: duckdb.DuckDBPyConnection) -> dict[tuple, float | None]:
    """Key → value now in force (latest file by ingested_at, then last row of the file)."""
    rows = con.execute(
        f"""select data_element, org_unit, period, category_option_combo, attribute_option_combo, value
            from {TABLE}
            qualify row_number() over (
                partition by data_element, org_unit, period, category_option_combo, attribute_option_combo
                order by ingested_at desc, source_file desc, row_number desc) = 1"""
    ).fetchall()
    return {tuple(r[:5]): r[5] for r in rows}


def ingest_dhis2(
    con: duckdb.DuckDBPyConnection,
    raw_dir: Path,
    mapping: Mapping | None,
    catalog: Catalog,
    summary_dir: Path | None = None,
) -> list[ImportSummary]:
    """Load every new file of ``raw_dir/dhis2/`` (sorted by path; hidden files, README/Markdown and
    ``templates/`` skipped). One transaction per file. Returns the summaries of the files read this time.
    ``mapping`` None (no mapping file): every new file is rejected (``no_dhis2_mapping``). Every path seen
    gets its ``audit.file_paths`` row (state ``present``; a path gone since: ``missing``)."""
    raw_dir = Path(raw_dir)
    con.execute("create schema if not exists raw")
    con.execute("create schema if not exists audit")
    con.execute(DDL)
    for ddl in AUDIT_DDL:
        con.execute(ddl)
    root = raw_dir / SOURCE
    paths = sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and not any(part.startswith(".") or part == "templates" for part in p.relative_to(root).parts)
        and not (p.name.upper().startswith("README") or p.suffix.lower() == ".md")
    ) if root.is_dir() else []  # fmt: skip
    known = {r[0] for r in con.execute("select file_sha256 from audit.ingest_files").fetchall()}
    summaries = []
    seen: list[tuple[str, str]] = []
    limits = ingest_limits()
    for p in paths:
        data = p.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        rel = p.relative_to(raw_dir).as_posix()
        seen.append((rel, sha))
        if sha in known:
            continue
        known.add(sha)
        now = datetime.now()
        s = ImportSummary(file=rel, file_sha256=sha)
        con.begin()
        try:
            try:
                if mapping is None:
                    raise NotDataValueSet("no_dhis2_mapping")
                if len(data) > limits.max_file_bytes:
                    raise NotDataValueSet("file_too_large")
                records = parse_datavalueset(data)
                if len(records) > limits.max_rows_per_file:
                    raise NotDataValueSet("file_too_large")
            except (NotDataValueSet, UnicodeDecodeError) as e:
                code = str(e) if str(e) in ("no_dhis2_mapping", "file_too_large") else "not_datavalueset"
                vi, en = FILE_REASONS[code]
                s.status, s.description = "ERROR", f"{vi} / {en} ({e})"
                con.execute(
                    "insert into audit.ingest_files values (?, ?, ?, ?, ?, 0, 0, 0, 'rejected', ?, ?)",
                    [sha, rel, len(data), SOURCE, "utf-8", f"{code}: {en} / {vi}", now],
                )
                con.commit()
                summaries.append(s)
                _write_summary(s, summary_dir)
                continue
            loaded, conflicts, counts = validate(records, mapping, catalog, _current_values(con))
            s.imported, s.updated, s.ignored, s.deleted = (
                counts[k] for k in ("imported", "updated", "ignored", "deleted")
            )
            s.conflicts = conflicts
            s.rows_read = len(records)
            s.rows_loaded = len(loaded)
            s.rows_quarantined = len({c["indexes"][0] for c in conflicts})
            s.status = "WARNING" if conflicts else "SUCCESS"
            s.description = "Import process completed successfully" if not conflicts else (
                f"{s.rows_quarantined} giá trị bị cách ly / {s.rows_quarantined} values quarantined"
            )  # fmt: skip
            if loaded:
                frame = pd.DataFrame(loaded)
                frame["file_sha256"], frame["source_file"], frame["ingested_at"] = sha, rel, now
                offset = _row_number(data, 0)
                frame["row_number"] = frame["row_number"] + offset
                con.register("_dhis2_loaded", frame)
                try:
                    con.execute(f"insert into {TABLE} by name select * from _dhis2_loaded")
                finally:
                    con.unregister("_dhis2_loaded")
            if conflicts:
                q = pd.DataFrame(
                    [
                        {
                            "file_sha256": sha,
                            "source_file": rel,
                            "source": SOURCE,
                            "row_number": _row_number(data, c["indexes"][0]),
                            "column_name": c["property"],
                            "raw_value": c["object"],
                            "reason_code": c["errorCode"],
                            "message_vi": c["message_vi"],
                            "message_en": c["value"],
                            "quarantined_at": now,
                        }
                        for c in conflicts
                    ]
                )
                con.register("_dhis2_q", q)
                try:
                    con.execute("insert into audit.quarantine by name select * from _dhis2_q")
                finally:
                    con.unregister("_dhis2_q")
            con.execute(
                "insert into audit.ingest_files values (?, ?, ?, ?, 'utf-8', ?, ?, ?, ?, ?, ?)",
                [sha, rel, len(data), SOURCE, s.rows_read, s.rows_loaded, s.rows_quarantined,
                 "partial" if conflicts else "loaded", None if not conflicts else s.description, now],
            )  # fmt: skip
            con.commit()
        except BaseException:
            con.rollback()
            raise
        summaries.append(s)
        _write_summary(s, summary_dir)
    _record_paths(con, seen)
    return summaries


def _record_paths(con: duckdb.DuckDBPyConnection, seen: list[tuple[str, str]]) -> None:
    con.execute(
        """create table if not exists audit.file_paths (path varchar, file_sha256 varchar,
           first_seen timestamp, last_seen timestamp, state varchar, primary key (path, file_sha256))"""
    )
    now = datetime.now()
    frame = pd.DataFrame(seen, columns=["path", "file_sha256"])
    frame["now"] = now
    con.begin()
    try:
        con.register("_dhis2_paths", frame)
        try:
            con.execute(
                """update audit.file_paths as fp set last_seen = s.now, state = 'present'
                   from _dhis2_paths s where fp.path = s.path and fp.file_sha256 = s.file_sha256"""
            )
            con.execute(
                """insert into audit.file_paths
                   select s.path, s.file_sha256, s.now, s.now, 'present' from _dhis2_paths s
                   anti join audit.file_paths fp on fp.path = s.path and fp.file_sha256 = s.file_sha256"""
            )
            con.execute(
                """update audit.file_paths as fp set state = 'missing'
                   where fp.path like 'dhis2/%' and fp.state = 'present' and not exists (
                       select 1 from _dhis2_paths s where s.path = fp.path and s.file_sha256 = fp.file_sha256)"""
            )
        finally:
            con.unregister("_dhis2_paths")
        con.commit()
    except BaseException:
        con.rollback()
        raise


def _row_number(data: bytes, index: int) -> int:
    """The number a person looks for: CSV → the line as a spreadsheet shows it (header = 1, so data row
    ``index`` is ``index + 2``); JSON → the 0-based position in ``dataValues`` (DHIS2's ``indexes``)."""
    return index if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") else index + 2


def _write_summary(s: ImportSummary, summary_dir: Path | None) -> None:
    if summary_dir is None:
        return
    summary_dir = Path(summary_dir)
    summary_dir.mkdir(parents=True, exist_ok=True)
    name = s.file.replace("/", "__") + ".import_summary.json"
    (summary_dir / name).write_text(json.dumps(s.as_json(), ensure_ascii=False, indent=1), encoding="utf-8")


def values_in_force(con: duckdb.DuckDBPyConnection) -> dict[tuple, float]:
    """(data element, org unit, period, coc, aoc) → value in force (deleted keys left out)."""
    return {k: v for k, v in _current_values(con).items() if v is not None}

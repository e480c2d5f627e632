"""The plan scorecard as one XLSX workbook (openpyxl), from the release's Parquet files only.

Sheets: "Bảng điểm - Scorecard" (mart_plan_targets, every year and quarter), "Chỉ tiêu xã - Commune"
(mart_commune_indicator) and "Thông tin - About" (release id, source files with their sha256, the on-track
rule). Numbers are numeric cells, text cells are neutralised like the CSV copies
(:func:`pipeline.site.csv_export.neutralise_text`), and every time in the file is the release's date, so the
same release gives the same bytes.

openpyxl writes the workbook in write-only mode; the two data sheets' rows (about 1.2 M cells for a province)
are streamed into it as the XML openpyxl would write (:mod:`pipeline.site.xlsx_rows`).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import zipfile
import zlib
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.lib.hashing import sha256_file
from pipeline.lib.reuse import code_digest

from .csv_export import DownloadError, is_text, neutralise
from .i18n import STATUS
from .xlsx_rows import RawPart, SheetBody, deterministic_zip, read_raw_part, register_formats, shown

SCORECARD_FILE = "scorecard.xlsx"

#: status of a plan target (the site's td.status[data-status] uses the same keys)
STATUS_LABELS = STATUS  # one wording for the site's scorecard and the workbook (pipeline.site.i18n)

# The on-track rule of mart_plan_targets.sql (macro ntm_meets_threshold), stated for the About sheet.
ON_TRACK_RULE = (
    "Mỗi mục tiêu năm của kế hoạch (indicator_targets) được so với giá trị của xã nhà (mart_commune_indicator) "
    "trong năm đó và trong từng quý của năm đó (giá trị quý so với mục tiêu năm). Chênh lệch = thực hiện − mục "
    "tiêu. Đạt tiến độ khi thực hiện ≥ mục tiêu (chỉ tiêu 'cao hơn là tốt', higher_better) hoặc thực hiện ≤ mục "
    "tiêu (chỉ tiêu 'thấp hơn là tốt', lower_better); Chậm tiến độ khi không đạt; Chưa có số liệu khi kỳ đó chưa có giá "
    "trị thực hiện (chênh lệch để trống). Giá trị năm được báo cáo cho năm hoặc suy ra từ các quý theo "
    "quy tắc năm của chỉ tiêu (cột Nguồn số liệu).",
    "Each yearly target of the plan (indicator_targets) is compared with the home commune's value "
    "(mart_commune_indicator) for that year and for each quarter of that year (a quarter's value against the "
    "year's target). Gap = actual − target. On track when actual ≥ target (higher_better indicators) or actual "
    "≤ target (lower_better indicators); Behind otherwise; No data when the period has no actual value yet "
    "(gap left empty). A year's value is reported for the year or derived from its quarters by the "
    "indicator's annual rule (column Value source).",
)

_FALLBACK_STAMP = datetime(2000, 1, 1)


def plan_status(is_on_track: bool | None) -> str:
    """on_track | behind | no_data, from mart_plan_targets.is_on_track (null = no actual value)."""
    if is_on_track is None:
        return "no_data"
    return "on_track" if is_on_track else "behind"


# ---------------------------------------------------------------------------------------------- XLSX

# (column, Vietnamese header, English header); a column missing from the Parquet file is an error
SCORECARD_COLUMNS = [
    ("target_year", "Năm mục tiêu", "Target year"),
    ("period_code", "Kỳ", "Period"),
    ("period_label", "Tên kỳ", "Period name"),
    ("indicator_code", "Mã chỉ tiêu", "Indicator code"),
    ("indicator_name_vi", "Chỉ tiêu", "Indicator"),
    ("indicator_name_en", "Tên tiếng Anh", "Name in English"),
    ("actual_value", "Thực hiện", "Actual value"),
    ("target_value", "Mục tiêu", "Target"),
    ("gap", "Chênh lệch", "Gap"),
    ("status", "Đúng tiến độ", "On track"),
    ("direction", "Chiều tốt", "Better direction"),
    ("value_source", "Nguồn số liệu", "Value source"),
    ("target_source", "Nguồn mục tiêu", "Target source"),
]

COMMUNE_COLUMNS = [
    ("period_code", "Kỳ", "Period"),
    ("period_label", "Tên kỳ", "Period name"),
    ("indicator_code", "Mã chỉ tiêu", "Indicator code"),
    ("indicator_name_vi", "Chỉ tiêu", "Indicator"),
    ("indicator_name_en", "Tên tiếng Anh", "Name in English"),
    ("value", "Giá trị", "Value"),
    ("numerator", "Tử số", "Numerator"),
    ("denominator", "Mẫu số", "Denominator"),
    ("threshold", "Ngưỡng", "Threshold"),
    ("met_threshold", "Đạt ngưỡng", "Threshold met"),
    ("hamlets_reporting", "Số thôn báo cáo", "Hamlets reporting"),
    ("hamlets_meeting", "Số thôn đạt", "Hamlets meeting"),
    ("hamlets_existing", "Số thôn hiện có", "Hamlets existing"),
    ("aggregation", "Cách tổng hợp", "Roll-up rule"),
    ("value_source", "Nguồn số liệu", "Value source"),
    ("last_submitted_at", "Nộp lần cuối", "Last submitted at"),
    ("commune_code", "Mã xã", "Commune code"),
    ("commune_name", "Tên xã", "Commune name"),
]

_DIRECTION = {
    "higher_better": "Cao hơn là tốt / Higher is better",
    "lower_better": "Thấp hơn là tốt / Lower is better",
}
_MET = {True: "Đạt / Met", False: "Không đạt / Not met"}
SCORECARD_SHEET = "Bảng điểm - Scorecard"
COMMUNE_SHEET = "Chỉ tiêu xã - Commune"
ABOUT_SHEET = "Thông tin - About"


def release_stamp(release_id: str) -> datetime:
    """The workbook's created/modified time: the release id's date (yyyymmdd-...) at 00:00, else 2000-01-01."""
    m = re.match(r"(\d{4})(\d{2})(\d{2})", release_id)
    if m:
        try:
            return datetime(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            pass
    return _FALLBACK_STAMP


def _table_files(release_data_dir: Path, name: str) -> list[Path]:
    single = release_data_dir / f"{name}.parquet"
    files = [single] if single.is_file() else sorted((release_data_dir / name).glob("*.parquet"))
    if not files:
        raise DownloadError(
            f"Không thấy {name}.parquet trong {release_data_dir}. / {name}.parquet not found in {release_data_dir}."
        )
    return files


def _read_table(release_data_dir: Path, name: str, needed: Sequence[str]) -> tuple[pa.Table, list[Path], int]:
    """A published table (single file or partition folder), text columns neutralised; (table, files, changed)."""
    files = _table_files(release_data_dir, name)
    table = pa.concat_tables([pq.read_table(f) for f in files], promote_options="default")
    missing = [c for c in needed if c not in table.column_names]
    if missing:
        raise DownloadError(f"{files[0]}: thiếu cột {missing}. / missing columns {missing}.")
    cols, changed = [], 0
    for name_ in table.column_names:
        col = table[name_].combine_chunks()
        if is_text(col.type):
            col, n = neutralise(col.cast(pa.string()))
            changed += n
        cols.append(col)
    return pa.table(cols, names=table.column_names), files, changed


def _label(vi: str | None, en: str | None) -> str | None:
    parts = [p for p in (vi, en) if p]
    return " / ".join(parts) if parts else None


def _header_cells(ws, columns: Sequence[tuple[str, str, str]]) -> list[Any]:
    """The bold, filled, wrapped bilingual header row (write-only cells)."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill

    font, fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")
    alignment = Alignment(wrap_text=True, vertical="top")
    cells = []
    for _, vi, en in columns:
        cell = WriteOnlyCell(ws, value=f"{vi} / {en}")
        cell.font, cell.fill, cell.alignment = font, fill, alignment
        cells.append(cell)
    return cells


def _widths(columns: Sequence[tuple[str, str, str]], data: Sequence[list[Any]], cap: int = 60) -> list[int]:
    """Column width from the longest value (header counted per line of its wrap, roughly), 8..cap chars."""
    widths = []
    for (_, vi, en), values in zip(columns, data, strict=True):
        cells = shown(values)
        longest = max(map(len, map(str, (v for v in cells if v is not None))), default=None)
        w = 8 if longest is None else max(8, min(cap, longest + 2))
        header = f"{vi} / {en}"
        widths.append(max(w, min(cap, max(len(p) for p in header.split(" / ")) + 4)))
    return widths


def _column(table: pa.Table, name: str) -> list[Any]:
    return table[name].to_pylist() if name in table.column_names else [None] * table.num_rows


def _labels(table: pa.Table, vi: str, en: str) -> list[str | None]:
    return [_label(a, b) for a, b in zip(_column(table, vi), _column(table, en), strict=True)]


def _check_text(sheet: str, column: str, values: list[Any]) -> None:
    """Control characters XML cannot hold (openpyxl refuses them too): a clear error naming the cell."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    texts = [v for v in values if isinstance(v, str)]
    if not texts or not ILLEGAL_CHARACTERS_RE.search("\n".join(texts)):
        return
    row = next(i for i, v in enumerate(values, 2) if isinstance(v, str) and ILLEGAL_CHARACTERS_RE.search(v))
    raise DownloadError(
        f"{SCORECARD_FILE}: trang '{sheet}', dòng {row}, cột {column}: ký tự điều khiển không ghi được vào XLSX. / "
        f"sheet '{sheet}', row {row}, column {column}: a control character cannot be written to XLSX."
    )


def _write_sheet(
    wb, title: str, columns: Sequence[tuple[str, str, str]], data: Sequence[list[Any]], n_rows: int
) -> SheetBody:
    """A data sheet in write-only mode: widths, frozen header, autofilter and the header row by openpyxl; the
    rows are returned to be streamed into the saved file (:func:`deterministic_zip`)."""
    from openpyxl.utils import get_column_letter

    ws = wb.create_sheet(title)
    for i, w in enumerate(_widths(columns, data), start=1):
        ws.column_dimensions[get_column_letter(i)].width = w
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{n_rows + 1}"
    ws.append(_header_cells(ws, columns))
    return SheetBody(ws, columns, data, n_rows)


def _scorecard_data(targets: pa.Table) -> tuple[dict[str, int], list[list[Any]]]:
    statuses = [plan_status(v) for v in targets["is_on_track"].to_pylist()]
    counts = {k: statuses.count(k) for k in STATUS_LABELS}
    status_text = {k: " / ".join(v) for k, v in STATUS_LABELS.items()}
    derived = {
        "period_label": lambda: _labels(targets, "period_label_vi", "period_label_en"),
        "status": lambda: [status_text[s] for s in statuses],
        "direction": lambda: [_DIRECTION.get(v, v) for v in _column(targets, "direction")],
        "target_source": lambda: _labels(targets, "source_vi", "source_en"),
    }
    return counts, [derived[c]() if c in derived else _column(targets, c) for c, _, _ in SCORECARD_COLUMNS]


def _commune_data(commune: pa.Table) -> list[list[Any]]:
    derived = {
        "period_label": lambda: _labels(commune, "period_label_vi", "period_label_en"),
        "met_threshold": lambda: [_MET.get(v) for v in _column(commune, "met_threshold")],
    }
    return [derived[c]() if c in derived else _column(commune, c) for c, _, _ in COMMUNE_COLUMNS]


#: the licence line's publisher when the workbook is made without the release's datapackage.json beside it
DEFAULT_PUBLISHER = "Ủy ban nhân dân xã Đồng Lộc / People's Committee of Đồng Lộc commune"


def _about_rows(
    release_id: str,
    sources: Sequence[str],
    counts: dict[str, int],
    is_synthetic: bool,
    publisher: str = DEFAULT_PUBLISHER,
) -> list[tuple[str, str]]:
    rows = [
        ("Mã phát hành / Release id", release_id),
        ("Tệp nguồn / Source files", "; ".join(sources)),
        (
            f"Trang '{SCORECARD_SHEET}' / Sheet '{SCORECARD_SHEET}'",
            "mart_plan_targets: mọi mục tiêu theo năm và quý / every plan target by year and quarter",
        ),
        (
            f"Trang '{COMMUNE_SHEET}' / Sheet '{COMMUNE_SHEET}'",
            "mart_commune_indicator: giá trị của xã theo kỳ / the commune's values by period",
        ),
        ("Quy tắc tiến độ", ON_TRACK_RULE[0]),
        ("On-track rule", ON_TRACK_RULE[1]),
        (
            "Trạng thái / Status",
            "; ".join(f"{vi} / {en}: {counts[k]}" for k, (vi, en) in STATUS_LABELS.items())
            + " (tất cả các kỳ / all periods)",
        ),
        (
            "Ô văn bản / Text cells",
            "Ô văn bản bắt đầu bằng = + - @ (kể cả sau khoảng trắng) hoặc TAB/CR được thêm dấu ' ở đầu để bảng tính "
            "không chạy như công thức. / Text cells starting with = + - @ (also after spaces) or TAB/CR are prefixed "
            "with ' so that a spreadsheet does not run them as a formula.",
        ),
        (
            "Số / Numbers",
            "Ô số là số thật (không phải văn bản); ô trống = chưa có số liệu. / Numeric cells are numbers, not text; an "
            "empty cell = no value.",
        ),
        (
            "Giấy phép / Licence",
            f"CC BY 4.0 — {publisher}",
        ),
    ]
    if is_synthetic:
        warning = "DỮ LIỆU MẪU TỔNG HỢP, KHÔNG PHẢI SỐ LIỆU THẬT. / SYNTHETIC SAMPLE DATA, NOT REAL FIGURES."
        rows.insert(1, ("CẢNH BÁO / WARNING", warning))
    return rows


def _about_sheet(wb, rows: Sequence[tuple[str, str]]) -> None:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font

    wa = wb.create_sheet(ABOUT_SHEET)
    wa.column_dimensions["A"].width = 34
    wa.column_dimensions["B"].width = 110
    wa.freeze_panes = "A2"
    bold, wrap = Font(bold=True), Alignment(wrap_text=True, vertical="top")
    header = [WriteOnlyCell(wa, value=v) for v in ("Mục / Item", "Nội dung / Content")]
    for cell in header:
        cell.font = bold
    wa.append(header)
    for k, v in rows:
        key, value = WriteOnlyCell(wa), WriteOnlyCell(wa)
        for cell, text in ((key, k), (value, v)):
            cell.value = str(text)
            cell.data_type = "s"  # never a formula
            cell.alignment = wrap
        key.font = bold
        wa.append([key, value])


def _save_workbook(
    wb, out: Path, release_id: str, bodies: Sequence[SheetBody] = (), taken: dict[Any, RawPart] | None = None
) -> None:
    """Save with created/modified and every zip entry's time fixed to the release's date: same input, same bytes."""
    from openpyxl.writer.excel import ExcelWriter

    stamp = release_stamp(release_id)
    props = wb.properties
    props.creator = "ntm-pipeline"
    props.lastModifiedBy = "ntm-pipeline"
    props.title = f"Bảng điểm kế hoạch / Plan scorecard — {release_id}"
    props.created = stamp
    props.modified = stamp
    out.parent.mkdir(parents=True, exist_ok=True)
    unstamped = out.with_name(f".{out.name}.raw")
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        # ExcelWriter, not wb.save(): save() overwrites the modified time with now()
        ExcelWriter(wb, zipfile.ZipFile(unstamped, "w", zipfile.ZIP_DEFLATED, allowZip64=True)).save()
        # a sheet's part name is known once the writer numbered the sheets
        raw = {ws.path.lstrip("/"): part for ws, part in (taken or {}).items()}
        deterministic_zip(unstamped, tmp, stamp, bodies, raw)
        os.replace(tmp, out)
    finally:
        unstamped.unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)


# What decides the bytes of the commune sheet's part besides its Parquet files (pipeline.site.downloads takes
# the part from the previous release's workbook when this key is the one recorded there).
SHEET_CODE = code_digest(
    Path(__file__), *(Path(__file__).with_name(n) for n in ("xlsx_rows.py", "csv_export.py", "i18n.py"))
)


def commune_sheet_key(files: Sequence[tuple[str, str]]) -> str:
    """The key of the commune sheet's part: its Parquet files (path, sha256), this code, openpyxl, zlib and
    Python (zipfile, deflate)."""
    import openpyxl

    blob = {"sheet": COMMUNE_SHEET, "files": [list(f) for f in files], "code": SHEET_CODE,
            "openpyxl": openpyxl.__version__, "zlib": zlib.ZLIB_RUNTIME_VERSION,
            "python": platform.python_version()}  # fmt: skip
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()


def _taken_sheet(previous: tuple[Path, dict] | None, key: str) -> tuple[RawPart, dict] | None:
    """The commune sheet's part from the previous workbook when its record has ``key`` and the workbook and
    the part are intact (size and sha256 of the file, CRC-32 and sizes of the part); else None."""
    if previous is None:
        return None
    path, rec = previous
    try:
        if rec.get("key") != key or not path.is_file() or path.stat().st_size != rec["workbook_bytes"]:
            return None
        if sha256_file(path) != rec["workbook_sha256"]:
            return None
        part = read_raw_part(path, rec["part"])
        if (part.crc, part.file_size, len(part.data)) != (rec["crc"], rec["file_size"], rec["compress_size"]):
            return None
        return part, rec
    except (OSError, KeyError, TypeError, ValueError, zipfile.BadZipFile):
        return None


def write_scorecard_xlsx(
    release_data_dir: Path,
    out: Path,
    release_id: str,
    *,
    is_synthetic: bool | None = None,
    previous: tuple[Path, dict] | None = None,
) -> dict:
    """The plan scorecard workbook from the release's mart_plan_targets and mart_commune_indicator Parquet.

    ``is_synthetic`` (default: read from ../datapackage.json beside the data folder when it is there) puts
    the synthetic-data warning on the About sheet. ``previous``: (an earlier workbook, the ``record`` it was
    written with): its commune sheet is taken as it is (compressed bytes) when made from the same Parquet
    files by the same code (:func:`commune_sheet_key`). Returns {path, rows (scorecard rows), bytes, sha256,
    neutralised_cells, status_counts, record, sheet_taken}."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    dp_path = release_data_dir.parent / "datapackage.json"
    dp = json.loads(dp_path.read_text(encoding="utf-8")) if dp_path.is_file() else {}
    if is_synthetic is None:
        is_synthetic = bool(dp.get("ntm:is_synthetic"))
    # the release's publisher (its home commune's People's Committee, pipeline.publish.home)
    publisher = next(
        (c["title"] for c in dp.get("contributors") or [] if c.get("role") == "publisher"), DEFAULT_PUBLISHER
    )
    needed = [
        "indicator_code",
        "period_code",
        "target_year",
        "actual_value",
        "target_value",
        "gap",
        "is_on_track",
    ]
    targets, target_files, changed_t = _read_table(release_data_dir, "mart_plan_targets", needed)
    commune_files = _table_files(release_data_dir, "mart_commune_indicator")
    digests = {p: sha256_file(p) for p in [*target_files, *commune_files]}
    key = commune_sheet_key([(p.relative_to(release_data_dir).as_posix(), digests[p]) for p in commune_files])
    taken = _taken_sheet(previous, key)
    targets = targets.sort_by(
        [("target_year", "ascending"), ("period_code", "ascending"), ("indicator_code", "ascending")]
    )
    sources = [
        f"data/{p.relative_to(release_data_dir).as_posix()} (sha256 {digests[p]})"
        for p in [*target_files, *commune_files]
    ]

    counts, scorecard = _scorecard_data(targets)
    sheets = [(SCORECARD_SHEET, SCORECARD_COLUMNS, scorecard, targets.num_rows)]
    if taken is None:
        commune, _, changed_c = _read_table(
            release_data_dir, "mart_commune_indicator", ["indicator_code", "period_code", "value"]
        )
        commune = commune.sort_by([("period_code", "ascending"), ("indicator_code", "ascending")])
        sheets.append((COMMUNE_SHEET, COMMUNE_COLUMNS, _commune_data(commune), commune.num_rows))
    else:
        changed_c = int(taken[1]["neutralised"])
    # every text is checked before the first sheet starts: a write-only sheet that is never saved leaves its
    # row writer open on a temporary file
    for title, columns, data, _ in sheets:
        for (name, _, _), values in zip(columns, data, strict=True):
            _check_text(title, name, values)
    wb = Workbook(write_only=True)  # rows stream to the file: no cell model, about 1.2 M cells at a province
    bodies = [_write_sheet(wb, *sheet) for sheet in sheets]
    raw: dict[Any, RawPart] = {}
    if taken is not None:
        # the sheet as openpyxl sets it up (the autofilter's defined name and the styles are outside its part);
        # its part - widths, header and rows - is the previous workbook's
        part, rec = taken
        ws = wb.create_sheet(COMMUNE_SHEET)
        ws.freeze_panes = "A2"
        ws.auto_filter.ref = f"A1:{get_column_letter(len(COMMUNE_COLUMNS))}{int(rec['rows']) + 1}"
        ws.append(_header_cells(ws, COMMUNE_COLUMNS))
        register_formats(ws, rec["formats"])
        raw[ws] = part
        commune_ws, commune_rows, formats = ws, int(rec["rows"]), list(rec["formats"])
    else:
        body = bodies[1]
        commune_ws, commune_rows, formats = body.ws, body.n_rows, body.formats
    _about_sheet(wb, _about_rows(release_id, sources, counts, is_synthetic, publisher))
    _save_workbook(wb, out, release_id, bodies, raw)
    commune_part = commune_ws.path.lstrip("/")
    digest = sha256_file(out)
    with zipfile.ZipFile(out) as zf:
        info = zf.getinfo(commune_part)
    record = {"key": key, "part": commune_part, "rows": commune_rows, "formats": formats,
              "neutralised": changed_c, "crc": info.CRC, "file_size": info.file_size,
              "compress_size": info.compress_size, "workbook_bytes": out.stat().st_size,
              "workbook_sha256": digest}  # fmt: skip
    return {
        "path": str(out),
        "rows": targets.num_rows,
        "bytes": out.stat().st_size,
        "sha256": digest,
        "neutralised_cells": changed_t + changed_c,
        "status_counts": counts,
        "record": record,
        "sheet_taken": taken is not None,
    }

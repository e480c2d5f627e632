"""Read a landed file as a template: decode, find the header, map header labels to column codes.

Every cell comes back as text (CSV, JSON) or as the spreadsheet's native value (XLSX: str, float, bool,
date, datetime; formulas give their cached value, and a text cell that merely looks like a formula, such
as ``=HYPERLINK(...)``, stays text). Nothing is coerced here: the source modules parse values and
quarantine what they cannot read. A file that cannot be read as the template raises :class:`FileRejected`
whose ``code`` is one of the whole-file reason codes of :mod:`pipeline.ingest.quarantine`.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import re
import struct
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline.config import IngestLimits, ingest_limits
from pipeline.ingest.cells import all_text
from pipeline.lib.text import UndecodableError, decode_bytes, fold, nfc
from pipeline.templates import SURVEY_QUESTION_PATTERN, SURVEY_REASON_PATTERN, Template

HEADER_SCAN_ROWS = 20
DELIMITERS = (",", ";", "\t", "|")
_QUESTION_RE = re.compile(SURVEY_QUESTION_PATTERN, re.IGNORECASE)
_REASON_RE = re.compile(fold("Lý do") + r"\s*c\s*(?P<n>\d{1,2})\b", re.IGNORECASE)
_REASON_RE_RAW = re.compile(SURVEY_REASON_PATTERN, re.IGNORECASE)


class FileRejected(Exception):
    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


@dataclass
class ReadResult:
    frame: pd.DataFrame  # columns: template codes present + "q:<n>" / "r:<n>" (surveys); object dtype
    rows: np.ndarray  # row number a person sees, aligned with frame
    encoding: str
    header_row: int  # 1-based row number of the header
    sheet: str | None = None
    columns: dict[str, str] = field(default_factory=dict)  # code -> header as written
    bad_rows: list[tuple[int, str]] = field(default_factory=list)  # (row number, raw text) unreadable
    note: str | None = None  # e.g. "CSV text named .xlsx (read as CSV)": kept as the file's reason


@functools.lru_cache(maxsize=16)
def _label_keys(template: Template) -> dict[str, str]:
    keys: dict[str, str] = {}
    for c in template.all_columns:  # the optional columns are matched like the standard ones
        for label in (c.label_vi, c.label_en, c.code, *c.aliases):
            k = fold(label)
            keys.setdefault(k, c.code)
    return keys


@functools.lru_cache(maxsize=4096)
def _fold_cached(text: str) -> str:
    return fold(text)


def _header_codes(
    cells: list[object], template: Template, wide_questions: bool
) -> list[tuple[int, str, str]]:
    """(column index, code, header as written) of every header cell that maps to a template column."""
    keys = _label_keys(template)
    out: list[tuple[int, str, str]] = []
    for i, cell in enumerate(cells):
        if cell is None or (isinstance(cell, float) and np.isnan(cell)):
            continue
        text = nfc(str(cell)).strip()
        if not text:
            continue
        k = _fold_cached(text)
        code = keys.get(k)
        if code is None and wide_questions:
            m = _REASON_RE.match(k) or _REASON_RE_RAW.match(text)
            if m:
                code = f"r:{int(m.group('n'))}"
            else:
                m = _QUESTION_RE.match(text) or _QUESTION_RE.match(k)
                if m:
                    code = f"q:{int(m.group('n'))}"
        if code:
            out.append((i, code, text))
    return out


def map_header(cells: list[object], template: Template, wide_questions: bool) -> dict[int, str]:
    """Column index -> code for one header row (first occurrence wins; see :func:`check_duplicates`)."""
    out: dict[int, str] = {}
    used: set[str] = set()
    for i, code, _text in _header_codes(cells, template, wide_questions):
        if code not in used:
            out[i] = code
            used.add(code)
    return out


def duplicate_columns(cells: list[object], template: Template, wide: bool) -> str | None:
    """A description of the template columns the header names twice or more (after NFC and the header
    mapping: "Mã đơn vị" and "unit_code" are the same column), or None."""
    seen: dict[str, list[tuple[int, str]]] = {}
    for i, code, text in _header_codes(cells, template, wide):
        seen.setdefault(code, []).append((i, text))
    dups = {c: v for c, v in seen.items() if len(v) > 1}
    if not dups:
        return None
    parts = []
    for code, cols in dups.items():
        where = ", ".join(f"cột/column {i + 1} '{t}'" for i, t in cols)
        parts.append(f"{code}: {where}")
    return "; ".join(parts)


def check_duplicates(cells: list[object], template: Template, wide: bool) -> None:
    dup = duplicate_columns(cells, template, wide)
    if dup:
        raise FileRejected("duplicate_column", dup)


def _find_header(rows: list[list[object]], template: Template, wide: bool) -> tuple[int, dict[int, str]]:
    best_idx, best_map, best_score = -1, {}, 0
    required = set(template.required)
    for i, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        m = map_header(list(row), template, wide)
        fixed = [c for c in m.values() if ":" not in c]
        score = len(fixed) + 2 * len(required & set(fixed))
        if len(fixed) >= 2 and score > best_score:
            best_idx, best_map, best_score = i, m, score
    if best_idx < 0:
        raise FileRejected("no_header", f"expected e.g. '{template.columns[0].label_vi}'")
    check_duplicates(list(rows[best_idx]), template, wide)
    missing = [c for c in template.required if c not in best_map.values()]
    if missing:
        labels = ", ".join(f"{template.column(c).label_vi} ({c})" for c in missing)
        raise FileRejected("missing_required_columns", labels)
    return best_idx, best_map


def _frame_from(values: pd.DataFrame, header_idx: int, mapping: dict[int, str]) -> pd.DataFrame:
    arr = values.to_numpy(dtype=object)
    n = arr.shape[0]
    if all(i < arr.shape[1] for i in mapping):
        # one object block, no per-column dtype inference (~10 ms per small file with pandas 3);
        # the cells are read as object either way (cell helpers cast to object first)
        return pd.DataFrame(arr[:, list(mapping)], columns=list(mapping.values()), dtype=object)
    data = {
        code: (arr[:, i] if i < arr.shape[1] else np.full(n, None, dtype=object))
        for i, code in mapping.items()
    }
    return pd.DataFrame(data)


def blank_rows(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Rows whose every cell (of ``columns``) is null or whitespace: nothing a person typed."""
    blank = np.ones(len(frame), dtype=bool)
    for c in columns:
        col = frame[c].astype(object)
        isna = col.isna().to_numpy()
        if all_text(col):
            empty = col.fillna("").astype(str).str.strip().eq("").to_numpy()
        else:
            empty = col.map(lambda v: isinstance(v, str) and not v.strip()).to_numpy(dtype=bool)
        blank &= isna | empty
        if not blank.any():
            break
    return blank


def _drop_blank(frame: pd.DataFrame, rows: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """Per-file blank-row removal (small files); the batch runner removes blanks again in bulk."""
    if frame.empty:
        return frame, rows
    keep = ~blank_rows(frame, list(frame.columns))
    return frame.loc[keep].reset_index(drop=True), rows[keep]


# ---------------------------------------------------------------- CSV / TXT


@functools.lru_cache(maxsize=256)
def _standard_header(line: str, template: Template, wide: bool) -> dict[int, str] | None:
    """The mapping when ``line`` split on ',' maps every column of the template (the common case).

    Such a first row has the highest score any row can reach and ',' is tried first, so :func:`_sniff`
    would pick exactly this row and delimiter: the per-file scan of 20 rows x 4 delimiters is skipped.
    Survey files (wide) may carry question columns and always take the full scan.
    """
    if wide:
        return None
    cells = next(csv.reader([line], delimiter=","))
    m = map_header(cells, template, wide)
    if len(m) != len(template.columns) or duplicate_columns(cells, template, wide):
        return None  # a duplicate goes to the full scan, which rejects the file (duplicate_column)
    return m


def _sniff(lines: list[str], template: Template, wide: bool) -> tuple[str, int, dict[int, str]]:
    if lines:
        fast = _standard_header(lines[0], template, wide)
        if fast is not None:
            return ",", 0, dict(fast)
    best: tuple[int, str, int, dict[int, str]] | None = None
    first_error: FileRejected | None = None
    for d in DELIMITERS:
        rows = list(csv.reader(lines, delimiter=d))
        try:
            idx, m = _find_header(rows, template, wide)
        except FileRejected as e:
            if e.code in ("missing_required_columns", "duplicate_column") and first_error is None:
                first_error = e
            continue
        if best is None or len(m) > best[0]:
            best = (len(m), d, idx, m)
    if best is None:
        raise first_error or FileRejected("no_header", "no delimiter (, ; tab |) gives the template header")
    return best[1], best[2], best[3]


def decode(data: bytes) -> tuple[str, str]:
    if not data.strip():
        raise FileRejected("empty_file")
    try:
        d = decode_bytes(data)
    except UndecodableError as e:
        code = "binary_file" if e.reason_code == "binary_file" else "undecodable_text"
        raise FileRejected(code, e.message) from e
    return nfc(d.text), d.encoding


def split_body(body: str, delim: str, ncols: int, *, on_bad_lines: str) -> pd.DataFrame:
    """pandas' C parser over the records after the header: every cell text (no NA guessing), blank lines
    kept as records, short records padded with ''. The CSV fast path splits large files with it too."""
    return pd.read_csv(
        io.StringIO(body),
        sep=delim,
        header=None,
        names=list(range(ncols)),
        dtype=object,
        keep_default_na=False,
        na_filter=False,
        skip_blank_lines=False,
        engine="c",
        on_bad_lines=on_bad_lines,
        quotechar='"',
    )


def cr_only_to_lf(text: str) -> str:
    """Old Mac line endings (CR only, no LF anywhere) as LF; any other text unchanged."""
    if "\r" in text and "\n" not in text:
        return text.replace("\r", "\n")
    return text


def check_line_count(text: str, header_idx: int, limits: IngestLimits) -> None:
    """Reject a text file with more data lines (physical lines after the header row) than allowed."""
    lines = text.count("\n") + (0 if text.endswith("\n") else 1) - header_idx - 1
    if lines > limits.max_rows_per_file:
        raise FileRejected(
            "file_too_large",
            f"{lines} dòng dữ liệu / data lines > {limits.max_rows_per_file} (NTM_MAX_ROWS_PER_FILE)",
        )


def read_csv(data: bytes, template: Template, wide: bool = False) -> ReadResult:
    text, encoding = decode(data)
    text = cr_only_to_lf(text.lstrip("\ufeff"))
    if not text.strip():
        raise FileRejected("empty_file")
    head_lines = text.splitlines()[:HEADER_SCAN_ROWS]
    delim, header_idx, mapping = _sniff(head_lines, template, wide)
    check_line_count(text, header_idx, ingest_limits())
    # character offset of the line after the header
    pos = 0
    for _ in range(header_idx + 1):
        nl = text.find("\n", pos)
        pos = len(text) if nl < 0 else nl + 1
    body = text[pos:]
    ncols = max(mapping) + 1
    header_cells = next(csv.reader([head_lines[header_idx]], delimiter=delim))
    ncols = max(ncols, len(header_cells))
    bad: list[tuple[int, str]] = []
    if body.strip():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            values = split_body(body, delim, ncols, on_bad_lines="warn")
        bad_lines = sorted(
            {int(m.group(1)) for w in caught for m in re.finditer(r"Skipping line (\d+)", str(w.message))}
        )
    else:
        values = pd.DataFrame(columns=list(range(ncols)), dtype=str)
        bad_lines = []
    # record number (1-based, within body) of each kept row: all positions minus the skipped ones
    total = len(values) + len(bad_lines)
    positions = np.arange(1, total + 1)
    if bad_lines:
        positions = positions[~np.isin(positions, bad_lines)]
        body_lines = body.splitlines()
        bad = [(header_idx + 1 + n, body_lines[n - 1] if n - 1 < len(body_lines) else "") for n in bad_lines]
    rows = positions[: len(values)] + header_idx + 1
    frame = _frame_from(values, header_idx, mapping)
    if not bad and not body.strip(" \t\r\n" + delim + '"'):
        raise FileRejected("header_only")
    return ReadResult(frame, rows, encoding, header_idx + 1, None, _named(mapping, header_cells), bad)


def _named(mapping: dict[int, str], cells: list[object]) -> dict[str, str]:
    return {code: str(cells[i]) if i < len(cells) else code for i, code in mapping.items()}


# ---------------------------------------------------------------- XLSX


_ROW_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s>/]")
_CHUNK_IN = 64 * 1024
_CHUNK_OUT = 1024 * 1024


def _inflate_bounded(data: bytes, info: zipfile.ZipInfo, limit: int):
    """The uncompressed bytes of one zip entry, in chunks of at most 1 MiB, never more than ``limit`` in
    all: raw deflate over the entry's own compressed bytes, so a central directory that declares a small
    size for a large stream cannot make this read more (the stream is cut at the limit and rejected)."""
    off = info.header_offset
    if data[off : off + 4] != b"PK\x03\x04":
        raise FileRejected("truncated_file", f"{info.filename}: no local header")
    n_name, n_extra = struct.unpack("<HH", data[off + 26 : off + 30])
    start = off + 30 + n_name + n_extra
    comp = memoryview(data)[start : start + info.compress_size]
    too_large = FileRejected(
        "file_too_large",
        f"phần/part {info.filename} > {limit} byte khi giải nén / bytes uncompressed "
        f"(khai báo/declared {info.file_size}; NTM_XLSX_MAX_PART_BYTES)",
    )
    total = 0
    if info.compress_type == zipfile.ZIP_STORED:
        for i in range(0, len(comp), _CHUNK_OUT):
            chunk = bytes(comp[i : i + _CHUNK_OUT])
            total += len(chunk)
            if total > limit:
                raise too_large
            yield chunk
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        d = zlib.decompressobj(-15)
        try:
            for i in range(0, len(comp), _CHUNK_IN):
                buf = bytes(comp[i : i + _CHUNK_IN])
                while buf:
                    out = d.decompress(buf, _CHUNK_OUT)
                    total += len(out)
                    if total > limit:
                        raise too_large
                    yield out
                    buf = d.unconsumed_tail
                if d.eof:
                    break
        except zlib.error as e:
            raise FileRejected("truncated_file", f"{info.filename}: {e}") from e
        if not d.eof:
            raise FileRejected("truncated_file", f"{info.filename}: compressed stream ends early")
    else:
        raise FileRejected(
            "unsupported_format", f"{info.filename}: zip compression method {info.compress_type}"
        )
    if total != info.file_size:
        raise FileRejected(
            "truncated_file",
            f"{info.filename}: expands to {total} bytes, the zip declares {info.file_size}",
        )


def check_xlsx_bounds(data: bytes, limits: IngestLimits | None = None) -> None:
    """Refuse an XLSX before any XML is parsed when it would expand beyond the limits.

    1. Every part's uncompressed size as the zip's central directory declares it (nothing expanded yet).
    2. Every part, streamed (constant memory) with the bound applied while inflating, so a directory
       that lies about sizes is caught too; ``<row>`` elements of all worksheets are counted against the
       rows limit."""
    limits = limits or ingest_limits()
    try:
        _check_xlsx_bounds(data, limits)
    except FileRejected:
        raise
    except Exception as e:  # zipfile / struct errors of a damaged container: NotImplementedError, ...
        raise FileRejected("truncated_file", f"zip: {type(e).__name__}: {e}") from e


def _check_xlsx_bounds(data: bytes, limits: IngestLimits) -> None:
    infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
    for info in infos:
        if info.file_size > limits.xlsx_max_part_bytes:
            raise FileRejected(
                "file_too_large",
                f"phần/part {info.filename}: {info.file_size} byte khi giải nén / bytes uncompressed > "
                f"{limits.xlsx_max_part_bytes} (NTM_XLSX_MAX_PART_BYTES)",
            )
    rows = 0
    for info in infos:  # every part: the parser reads styles, workbook, relations too
        if info.is_dir():
            continue
        name = info.filename.lower()
        sheet = name.startswith("xl/worksheets/") and name.endswith(".xml")
        tail = b""
        for chunk in _inflate_bounded(data, info, limits.xlsx_max_part_bytes):
            if sheet:
                buf = tail + chunk
                rows += sum(1 for m in _ROW_TAG.finditer(buf) if m.end() > len(tail))
                tail = buf[-32:]
                if rows > limits.max_rows_per_file:
                    raise FileRejected(
                        "file_too_large",
                        f"> {limits.max_rows_per_file} dòng/rows (NTM_MAX_ROWS_PER_FILE), at {info.filename}",
                    )


def read_xlsx(data: bytes, template: Template, wide: bool = False) -> ReadResult:
    from python_calamine import CalamineWorkbook

    if not data.strip(b"\x00 \r\n\t"):
        raise FileRejected("empty_file")
    if not data.startswith(b"PK"):
        raise FileRejected("binary_file", "not an XLSX (zip) container")
    check_xlsx_bounds(data)
    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
        names = list(wb.sheet_names)
    except Exception as e:  # calamine raises its own error types
        raise FileRejected("truncated_file", f"{type(e).__name__}: {e}") from e
    wanted = fold(template.sheet)
    ordered = [n for n in names if fold(n) == wanted] + [n for n in names if fold(n) != wanted]
    first_error: FileRejected | None = None
    for name in ordered:
        try:
            rows = wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
        except Exception as e:
            raise FileRejected("truncated_file", f"sheet {name}: {type(e).__name__}: {e}") from e
        try:
            header_idx, mapping = _find_header(rows, template, wide)
        except FileRejected as e:
            if first_error is None or (e.code == "missing_required_columns" and fold(name) == wanted):
                first_error = e
            continue
        width = max(len(r) for r in rows) if rows else 0
        body = rows[header_idx + 1 :]
        values = pd.DataFrame([list(r) + [""] * (width - len(r)) for r in body], dtype=object)
        if values.empty:
            values = pd.DataFrame(columns=range(width), dtype=object)
        frame = _frame_from(values, header_idx, mapping)
        row_numbers = np.arange(len(values)) + header_idx + 2
        frame, row_numbers = _drop_blank(frame, row_numbers)
        if frame.empty:
            raise FileRejected("header_only", f"sheet {name}")
        return ReadResult(frame, row_numbers, "xlsx", header_idx + 1, name, _named(mapping, rows[header_idx]))
    raise first_error or FileRejected("no_header", "no sheet holds the template header")


# ---------------------------------------------------------------- JSON / JSONL


def read_json(data: bytes, template: Template, wide: bool = False, lines: bool = True) -> ReadResult:
    text, encoding = decode(data)
    text = cr_only_to_lf(text.lstrip("\ufeff"))
    limits = ingest_limits()
    bad: list[tuple[int, str]] = []
    if lines:
        check_line_count(text, -1, limits)
        raw_lines = text.splitlines()
        records, rows = [], []
        for i, line in enumerate(raw_lines, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                bad.append((i, line[:200]))
                continue
            if not isinstance(obj, dict):
                bad.append((i, line[:200]))
                continue
            records.append(obj)
            rows.append(i)
    else:
        try:
            obj = json.loads(text)
        except ValueError as e:
            raise FileRejected("malformed_json", str(e)) from e
        if isinstance(obj, dict):
            lists = [v for v in obj.values() if isinstance(v, list)]
            obj = lists[0] if lists else [obj]
        if not isinstance(obj, list):
            raise FileRejected("malformed_json", "expected a list of objects")
        if len(obj) > limits.max_rows_per_file:
            raise FileRejected(
                "file_too_large",
                f"{len(obj)} bản ghi/records > {limits.max_rows_per_file} (NTM_MAX_ROWS_PER_FILE)",
            )
        records = [o for o in obj if isinstance(o, dict)]
        rows = [i for i, o in enumerate(obj, start=1) if isinstance(o, dict)]
        bad = [
            (i, json.dumps(o, ensure_ascii=False)[:200])
            for i, o in enumerate(obj, 1)
            if not isinstance(o, dict)
        ]
    if not records and not bad:
        raise FileRejected("empty_file")
    keys: list[str] = []
    seen: set[str] = set()
    for r in records[:1000]:
        for k in r:
            if k not in seen:
                seen.add(k)
                keys.append(k)
    mapping = map_header(keys, template, wide)
    check_duplicates(keys, template, wide)
    if records:
        fixed = [c for c in mapping.values() if ":" not in c]
        if len(fixed) < 2:
            raise FileRejected("no_header", "no JSON key matches the template")
        missing = [c for c in template.required if c not in mapping.values()]
        if missing:
            labels = ", ".join(f"{template.column(c).label_vi} ({c})" for c in missing)
            raise FileRejected("missing_required_columns", labels)
    values = pd.DataFrame.from_records(records, columns=keys) if records else pd.DataFrame(columns=keys)
    values = values.astype(object).where(values.notna(), None)
    frame = pd.DataFrame({code: values[keys[i]] for i, code in mapping.items()}).astype(object)
    frame = frame.map(lambda v: nfc(v) if isinstance(v, str) else v) if not frame.empty else frame
    row_numbers = np.asarray(rows, dtype=np.int64)
    frame, row_numbers = _drop_blank(frame, row_numbers)
    return ReadResult(frame, row_numbers, encoding, 0, None, {c: keys[i] for i, c in mapping.items()}, bad)


#: magic bytes -> what the content is (the file type is decided by content, never by the name)
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
OTHER_MAGICS = (
    (b"%PDF", "PDF"),
    (b"\x89PNG", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF8", "GIF image"),
    (b"\x1f\x8b", "gzip archive"),
    (b"Rar!", "RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
)
#: the kind each accepted file name promises
EXT_KIND = {
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".csv": "text",
    ".txt": "text",
    ".json": "json",
    ".jsonl": "json",
}
KIND_NAME = {
    "xlsx": "XLSX workbook",
    "text": "CSV text",
    "json": "JSON text",
    "binary": "binary data of no known type",
}


def sniff(data: bytes) -> tuple[str, str]:
    """(kind, what it is) from the first bytes: ``xlsx`` (a zip holding xl/workbook.xml), ``text`` (incl.
    UTF-8/UTF-16/UTF-32 BOMs; decoded later), or ``other`` (a known binary signature, a zip that is not a
    workbook, an old OLE2 .xls)."""
    if data.startswith(ZIP_MAGICS):
        try:
            names = {n.lower() for n in zipfile.ZipFile(io.BytesIO(data)).namelist()}
        except Exception:  # any damage of the container (BadZipFile, NotImplementedError, struct.error...)
            return "xlsx", "ZIP (corrupt)"  # read_xlsx reports it as truncated_file
        if "xl/workbook.xml" in names:
            return "xlsx", "XLSX workbook"
        kind = "Word .docx" if "word/document.xml" in names else "OpenDocument" if "mimetype" in names else ""
        return "other", f"ZIP archive, not an XLSX workbook{f' ({kind})' if kind else ''}"
    if data.startswith(OLE2_MAGIC):
        return "other", "old Excel 97-2003 .xls (OLE2) — save it as .xlsx"
    for magic, what in OTHER_MAGICS:
        if data.startswith(magic):
            return "other", what
    return "text", "text"


def _text_kind(data: bytes) -> str:
    """``json`` when the decoded text starts with '{' or '[' (JSON / JSON lines), ``text`` (CSV) for other
    text, ``binary`` when the first 4 KiB do not decode as text at all."""
    try:
        t = decode_bytes(data[:4096]).text
    except UndecodableError:
        try:  # the head alone may mislead the detector: the whole file decides
            t = decode_bytes(data).text
        except UndecodableError:
            return "binary"
    t = t.lstrip("\ufeff \t\r\n")
    return "json" if t[:1] in ("{", "[") else "text"


def read_any(data: bytes, ext: str, template: Template, wide: bool = False) -> ReadResult:
    """Read a landed file by what its content is; the name's extension only decides how a mismatch is
    reported (``note``: e.g. "CSV text named .xlsx (read as CSV)"; a rejection's detail says it too)."""
    ext = ext.lower()
    if not data or not data.strip():
        raise FileRejected("empty_file")
    kind, what = sniff(data)
    if kind == "other":
        raise FileRejected("unsupported_format", f"{what}, tên tệp/named {ext or '(no extension)'}")
    if kind == "text":
        kind = _text_kind(data)
        what = KIND_NAME[kind]
    expected = EXT_KIND.get(ext)
    note = None
    if expected != kind:
        named = ext or "(no extension)"
        note = f"nội dung là/content is {what}, tên tệp/named {named}; đọc theo nội dung/read by content"
    try:
        if kind == "xlsx":
            res = read_xlsx(data, template, wide)
        elif kind == "json":
            res = read_json(data, template, wide, lines=_json_lines(data, ext))
        else:
            res = read_csv(data, template, wide)
    except FileRejected as e:
        if note:
            e.detail = f"{e.detail}; {note}" if e.detail else note
            e.args = (f"{e.code}: {e.detail}",)
        raise
    res.note = note
    return res


def _json_lines(data: bytes, ext: str) -> bool:
    """JSON lines unless the text is one JSON document: starts with '[', or is named .json, or (named
    otherwise) has a line that does not start with '{'."""
    if ext == ".json":
        return False
    try:
        head = decode_bytes(data[:4096]).text
    except UndecodableError:
        head = decode(data)[0]
    head = head.lstrip("\ufeff \t\r\n")
    if head.startswith("["):
        return False
    if ext == ".jsonl":
        return True
    text, _ = decode(data)
    text = cr_only_to_lf(text.lstrip("\ufeff"))
    return all(ln.lstrip().startswith("{") for ln in text.split("\n") if ln.strip())

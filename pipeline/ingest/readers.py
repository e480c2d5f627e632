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
import warnings
import zipfile
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

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


def map_header(cells: list[object], template: Template, wide_questions: bool) -> dict[int, str]:
    """Column index -> code for one header row (first occurrence wins)."""
    keys = _label_keys(template)
    out: dict[int, str] = {}
    used: set[str] = set()
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
        if code and code not in used:
            out[i] = code
            used.add(code)
    return out


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
    m = map_header(next(csv.reader([line], delimiter=",")), template, wide)
    return m if len(m) == len(template.columns) else None


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
            if e.code == "missing_required_columns" and first_error is None:
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


def read_csv(data: bytes, template: Template, wide: bool = False) -> ReadResult:
    text, encoding = decode(data)
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise FileRejected("empty_file")
    head_lines = text.splitlines()[:HEADER_SCAN_ROWS]
    delim, header_idx, mapping = _sniff(head_lines, template, wide)
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


def read_xlsx(data: bytes, template: Template, wide: bool = False) -> ReadResult:
    from python_calamine import CalamineWorkbook

    if not data.strip(b"\x00 \r\n\t"):
        raise FileRejected("empty_file")
    if not data.startswith(b"PK"):
        raise FileRejected("binary_file", "not an XLSX (zip) container")
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
    text = text.lstrip("\ufeff")
    bad: list[tuple[int, str]] = []
    if lines:
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


def read_any(data: bytes, ext: str, template: Template, wide: bool = False) -> ReadResult:
    ext = ext.lower()
    if not data or not data.strip():
        raise FileRejected("empty_file")
    if ext in (".xlsx", ".xlsm"):
        return read_xlsx(data, template, wide)
    if ext == ".jsonl":
        return read_json(data, template, wide, lines=True)
    if ext == ".json":
        return read_json(data, template, wide, lines=False)
    if data.startswith(b"PK\x03\x04"):
        try:
            zipfile.ZipFile(io.BytesIO(data))
            return read_xlsx(data, template, wide)
        except zipfile.BadZipFile:
            raise FileRejected("binary_file") from None
    return read_csv(data, template, wide)

"""Read a landed file as a template: by content (:func:`read_any`), CSV / TXT and JSON / JSON lines text.

Every cell comes back as text (CSV, JSON) or as the spreadsheet's native value (XLSX, read by
:mod:`pipeline.ingest.xlsx`: str, float, bool, date, datetime; formulas give their cached value, and a
text cell that merely looks like a formula, such as ``=HYPERLINK(...)``, stays text). Nothing is coerced
here: the source modules parse values and quarantine what they cannot read. A file that cannot be read as
the template raises :class:`pipeline.ingest.header.FileRejected` whose ``code`` is one of the whole-file
reason codes of :mod:`pipeline.ingest.quarantine`. What a file is decides how it is read
(:mod:`pipeline.ingest.sniff`), never its name.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import re
import warnings

import numpy as np
import pandas as pd

from pipeline.config import IngestLimits, ingest_limits
from pipeline.ingest.header import (
    HEADER_SCAN_ROWS,
    FileRejected,
    ReadResult,
    check_duplicates,
    drop_blank,
    duplicate_columns,
    find_header,
    frame_from,
    map_header,
    named_columns,
)
from pipeline.ingest.sniff import EXT_KIND, KIND_NAME, sniff, text_kind
from pipeline.ingest.template import Template
from pipeline.ingest.xlsx import read_xlsx
from pipeline.lib.decoding import UndecodableError, decode_bytes
from pipeline.lib.text import nfc

DELIMITERS = (",", ";", "\t", "|")


@functools.lru_cache(maxsize=256)
def standard_header(line: str, template: Template, wide: bool) -> dict[int, str] | None:
    """The mapping when ``line`` split on ',' maps every column of the template (the common case).

    Such a first row has the highest score any row can reach and ',' is tried first, so :func:`_sniff_csv`
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


def _sniff_csv(lines: list[str], template: Template, wide: bool) -> tuple[str, int, dict[int, str]]:
    if lines:
        fast = standard_header(lines[0], template, wide)
        if fast is not None:
            return ",", 0, dict(fast)
    best: tuple[int, str, int, dict[int, str]] | None = None
    first_error: FileRejected | None = None
    for d in DELIMITERS:
        rows = list(csv.reader(lines, delimiter=d))
        try:
            idx, m = find_header(rows, template, wide)
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
    delim, header_idx, mapping = _sniff_csv(head_lines, template, wide)
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
    frame = frame_from(values, header_idx, mapping)
    if not bad and not body.strip(" \t\r\n" + delim + '"'):
        raise FileRejected("header_only")
    return ReadResult(frame, rows, encoding, header_idx + 1, None, named_columns(mapping, header_cells), bad)


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
    frame, row_numbers = drop_blank(frame, row_numbers)
    return ReadResult(frame, row_numbers, encoding, 0, None, {c: keys[i] for i, c in mapping.items()}, bad)


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
        kind = text_kind(data)
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

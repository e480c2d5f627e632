"""What every reader shares: the read result, the whole-file rejection, and the template header.

:class:`ReadResult` is what a reader returns; :class:`FileRejected` is what it raises for a file that
cannot be read as the template (``code`` is one of the whole-file reason codes of
:mod:`pipeline.ingest.quarantine`). The rest finds the header row of a template among the first rows of a
file, maps its labels (NFC, folded, aliases; survey question / reason columns) to column codes, and
removes rows nothing was typed in.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline.ingest.cells import all_text
from pipeline.ingest.template import SURVEY_QUESTION_PATTERN, SURVEY_REASON_PATTERN, Template
from pipeline.lib.text import fold, nfc

HEADER_SCAN_ROWS = 20
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


def find_header(rows: list[list[object]], template: Template, wide: bool) -> tuple[int, dict[int, str]]:
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


def frame_from(values: pd.DataFrame, header_idx: int, mapping: dict[int, str]) -> pd.DataFrame:
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


def drop_blank(frame: pd.DataFrame, rows: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """Per-file blank-row removal (small files); the batch runner removes blanks again in bulk."""
    if frame.empty:
        return frame, rows
    keep = ~blank_rows(frame, list(frame.columns))
    return frame.loc[keep].reset_index(drop=True), rows[keep]


# ---------------------------------------------------------------- CSV / TXT


def named_columns(mapping: dict[int, str], cells: list[object]) -> dict[str, str]:
    return {code: str(cells[i]) if i < len(cells) else code for i, code in mapping.items()}

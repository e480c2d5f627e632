"""The ingest's CSV fast path: plain UTF-8 template CSVs (the common case) parsed without the general
reader's sniffing, and all files of a batch sharing one header turned into one frame.

:func:`read_csv_fast` returns None whenever the general reader (:func:`pipeline.ingest.readers.read_csv`)
might decide differently; ``tests/ingest/test_fastpath.py`` ingests a corpus of edge cases both ways and
compares every table row for row. Small files (thousands at province scale) are split with the ``csv``
module and batched; large ones (one file per province at national scale) with pandas' C parser.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.config import IngestLimits, ingest_limits
from pipeline.ingest.header import FileRejected
from pipeline.ingest.readers import decode, split_body, standard_header
from pipeline.ingest.sniff import sniff
from pipeline.ingest.template import Template


@dataclass
class FastCSV:
    """A plain template CSV parsed by :func:`read_csv_fast`: records as lists of text, padded later."""

    key: str  # the header line (mapping and width follow from it)
    records: list[list[str]] | None  # every record after the header, blank ones included (as [] or ['  '])
    encoding: str  # utf-8 | utf-8-sig
    cells: np.ndarray | None = None  # or, for a large file, the records already as a (rows, width) array

    def __len__(self) -> int:
        return len(self.cells) if self.cells is not None else len(self.records or ())


_LINE_BREAKS = re.compile("[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_FAST_EXT = frozenset({".csv", ".txt"})  # other names go to read_any, which reports a name/content mismatch


def fast_header(line: str, template: Template) -> tuple[dict[int, str], int] | None:
    """(mapping, width) of a standard comma header line, else None (cached per distinct line)."""
    m = standard_header(line, template, False)
    if m is None:
        return None
    return m, max(max(m) + 1, _header_width(line))


@functools.lru_cache(maxsize=256)
def _header_width(line: str) -> int:
    return len(next(csv.reader([line], delimiter=",")))


def read_csv_fast(
    data: bytes, ext: str, template: Template, wide: bool = False, limits: IngestLimits | None = None
) -> FastCSV | None:
    """The common case of :func:`read_csv`, or None when the file needs the general reader.

    Taken only when the file is named .csv/.txt and holds text (no ZIP/OLE2/PDF... signature, not JSON),
    is within the rows limit (``NTM_MAX_ROWS_PER_FILE``), is UTF-8 (with or without BOM), its first line is the standard template
    header split on ',' (see :func:`pipeline.ingest.readers.standard_header`), every record parses under strict CSV quoting and
    has at most as many fields as the header is wide, and some data follows the header. Under those
    conditions :func:`read_csv` picks the same decoding, header row and delimiter, pandas' C parser and
    the ``csv`` module split the body into the same records (short records padded with ``''``, blank
    lines kept as records), so the result is the same frame and the same row numbers
    (header = row 1, n-th record = row n + 1). Anything else returns None: no error is raised here.
    ``limits``: the run's (read from the environment when None; the runner reads them once per run).
    """
    if wide or ext not in _FAST_EXT or not data or sniff(data)[0] != "text":
        return None
    try:
        text, encoding = decode(data)
    except FileRejected:
        return None
    if encoding not in ("utf-8", "utf-8-sig"):
        return None
    text = text.lstrip("\ufeff")
    if text[:1] in ("{", "["):
        return None  # JSON content: read_any reads it as JSON
    nl = text.find("\n")
    if nl < 0:
        return None  # header only, one line, or CR-only line ends: the general reader decides
    line = text[:nl]
    if line.endswith("\r"):
        line = line[:-1]
    if _LINE_BREAKS.search(line) or '"' in line and line.count('"') % 2:
        return None
    fh = fast_header(line, template)
    if fh is None:
        return None
    width = fh[1]
    body = text[nl + 1 :]
    if not body.strip(' \t\r\n,"'):
        return None  # header_only: rejected by the general reader
    if "\x00" in body:
        return None
    limits = limits or ingest_limits()
    if body.count("\n") + (0 if body.endswith("\n") else 1) > limits.max_rows_per_file:
        return None  # the general reader rejects it (file_too_large)
    if len(body) >= PANDAS_MIN_CHARS:
        cells = _pandas_cells(body, width)
        return None if cells is None else FastCSV(line, None, encoding, cells)
    try:
        records = list(csv.reader(io.StringIO(body, newline=""), delimiter=",", quotechar='"', strict=True))
    except csv.Error:
        return None
    if any(len(r) > width for r in records):
        return None  # extra fields: pandas skips (or indexes) such lines, the general reader reports them
    return FastCSV(line, records, encoding)


# A large file (a national one-file-per-province export: ~25k rows) is split by pandas' C parser, 3x faster
# than the csv module. With the options of :func:`read_csv` and bad lines as an error, it gives the very
# records the general reader would keep; a file with a bad line returns None and goes to that reader.
PANDAS_MIN_CHARS = 256 * 1024


def _pandas_cells(body: str, width: int) -> np.ndarray | None:
    try:
        values = split_body(body, ",", width, on_bad_lines="error")
    except (pd.errors.ParserError, ValueError):
        return None
    return values.to_numpy(dtype=object)


def fast_frame(parsed: list[FastCSV], template: Template) -> tuple[pd.DataFrame, list[int]]:
    """One frame (template codes, object cells) for files sharing one header line; records per file."""
    mapping, width = fast_header(parsed[0].key, template)  # type: ignore[misc]
    pad = [""] * width
    rows: list[list[str]] = []
    blocks: list[np.ndarray] = []
    sizes: list[int] = []

    def flush() -> None:
        block = np.empty((len(rows), width), dtype=object)
        if rows:
            block[:] = rows
        blocks.append(block)
        rows.clear()

    for p in parsed:
        if p.cells is not None:
            flush()
            blocks.append(p.cells)
        else:
            for r in p.records or ():
                rows.append(r if len(r) == width else r + pad[len(r) :])
        sizes.append(len(p))
    flush()
    arr = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
    cols = list(mapping)
    return pd.DataFrame(arr[:, cols], columns=list(mapping.values()), dtype=object), sizes

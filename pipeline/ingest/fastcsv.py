"""The ingest's CSV fast path: plain UTF-8 template CSVs (the common case) parsed without the general
reader's sniffing, and all files of a batch sharing one header turned into one frame.

:func:`read_csv_fast` returns None whenever the general reader (:func:`pipeline.ingest.readers.read_csv`)
might decide differently; ``tests/ingest/test_fastpath.py`` ingests a corpus of edge cases both ways and
compares every table row for row. The runner defers the record split of small files (``defer=True``): the
small files of a batch sharing one header line (thousands at province scale) are split together in one pass
of pandas' C parser (:func:`split_together`); a small file that cannot be split that way is split on its own
with the ``csv`` module, and a large one (one file per province at national scale) at once with pandas' C
parser.
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
    cells: np.ndarray | None = None  # or the records already as a (rows, width) array (large file, or batch)
    body: str | None = None  # not split yet: the text after the header line (see :func:`split_together`)

    def __len__(self) -> int:
        if self.body is not None:
            raise ValueError("a deferred fast-path file has no records until split_together splits it")
        return len(self.cells) if self.cells is not None else len(self.records or ())


_LINE_BREAKS = re.compile("[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_FAST_EXT = frozenset({".csv", ".txt"})  # other names go to read_any, which reports a name/content mismatch


def fast_header(line: str, template: Template) -> tuple[dict[int, str], int] | None:
    """(mapping, width) of a standard comma header line, else None (cached per distinct line and template:
    the key holds the template's identity, as hashing a Template hashes all its columns on every call)."""
    key = (line, id(template))
    hit = _FAST_HEADERS.get(key)
    if hit is not None and hit[0] is template:
        return hit[1]
    m = standard_header(line, template, False)
    out = None if m is None else (m, max(max(m) + 1, _header_width(line)))
    if len(_FAST_HEADERS) >= 1024:
        _FAST_HEADERS.clear()
    _FAST_HEADERS[key] = (template, out)
    return out


#: (header line, id(template)) -> (template, fast_header's answer); the template is kept so its id stays its own
_FAST_HEADERS: dict[tuple[str, int], tuple[Template, tuple[dict[int, str], int] | None]] = {}


@functools.lru_cache(maxsize=256)
def _header_width(line: str) -> int:
    return len(next(csv.reader([line], delimiter=",")))


def read_csv_fast(
    data: bytes,
    ext: str,
    template: Template,
    wide: bool = False,
    limits: IngestLimits | None = None,
    *,
    defer: bool = False,
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

    ``defer``: a small file (under ``PANDAS_MIN_CHARS``) that passed every check above but the record split
    is returned unsplit (``body`` set) when :func:`split_together` can split it with the batch's other files
    of the same header; the caller then splits them all at once, or each file again without ``defer`` when
    that fails. A large file is split at once by pandas' C parser, as before: its bytes and text are not
    kept until the end of the batch (memory at national scale).
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
    if defer and len(body) < PANDAS_MIN_CHARS and _SENTINEL_CHAR not in body and "\ufeff" not in body:
        return FastCSV(line, None, encoding, body=body)
    if len(body) >= PANDAS_MIN_CHARS:
        cells = _pandas_cells(body, width)
        return None if cells is None else FastCSV(line, None, encoding, cells)
    try:
        records = list(csv.reader(io.StringIO(body, newline=""), delimiter=",", quotechar='"', strict=True))
    except csv.Error:
        return None
    if records and max(map(len, records)) > width:
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


# Files of one batch sharing one header line are split together: their bodies joined, each followed by a
# line holding only _SENTINEL, in one pass of pandas' C parser with bad lines as an error (the large-file
# split above, whose records equal the general reader's). A file's records are those between its sentinel
# and the one before. A file ending inside an open quote swallows the sentinel after it: then fewer
# sentinel records than files come back and nothing is taken from the joint split (each file is split on
# its own, as before). A body holding the sentinel's character or a BOM (which the parser drops only at the
# start of its input) is never deferred.
_SENTINEL_CHAR = "\ue000"
_SENTINEL = _SENTINEL_CHAR + "ntm-end-of-file" + _SENTINEL_CHAR


def split_together(parsed: list[FastCSV], width: int) -> bool:
    """Split the deferred files ``parsed`` (one header line, ``width`` fields) in one pass: on success every
    file gets its ``cells`` (its records, the very ones :func:`read_csv_fast` would give it) and loses its
    ``body``; on failure (a bad line anywhere, a swallowed sentinel) nothing changes and False is returned."""
    if not parsed:
        return True
    pieces: list[str] = []
    for p in parsed:
        body = p.body or ""
        pieces.append(body)
        if not body.endswith(("\n", "\r")):
            pieces.append("\n")
        pieces.append(_SENTINEL + "\n")
    cells = _pandas_cells("".join(pieces), width)
    if cells is None:
        return False
    ends = np.flatnonzero(cells[:, 0] == _SENTINEL)
    if len(ends) != len(parsed) or (width > 1 and (cells[ends, 1:] != "").any()):
        return False
    start = 0
    for p, end in zip(parsed, ends, strict=True):
        p.cells, p.body = cells[start:end], None
        start = end + 1
    return True


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

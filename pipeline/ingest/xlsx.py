"""Read an XLSX workbook as a template, bounded: a zip bomb is refused before any XML is parsed.

:func:`check_xlsx_bounds` checks every part of the container against the limits of
:class:`pipeline.config.IngestLimits` (declared sizes first, then every part inflated in chunks with the
bound applied while inflating, worksheet rows counted); only then :func:`read_xlsx` hands the bytes to
calamine and finds the template header on the template's sheet (or any other sheet).
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib

import numpy as np
import pandas as pd

from pipeline.config import IngestLimits, ingest_limits
from pipeline.ingest.header import (
    FileRejected,
    ReadResult,
    drop_blank,
    find_header,
    frame_from,
    named_columns,
)
from pipeline.ingest.template import Template
from pipeline.lib.text import fold

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
            header_idx, mapping = find_header(rows, template, wide)
        except FileRejected as e:
            if first_error is None or (e.code == "missing_required_columns" and fold(name) == wanted):
                first_error = e
            continue
        width = max(len(r) for r in rows) if rows else 0
        body = rows[header_idx + 1 :]
        values = pd.DataFrame([list(r) + [""] * (width - len(r)) for r in body], dtype=object)
        if values.empty:
            values = pd.DataFrame(columns=range(width), dtype=object)
        frame = frame_from(values, header_idx, mapping)
        row_numbers = np.arange(len(values)) + header_idx + 2
        frame, row_numbers = drop_blank(frame, row_numbers)
        if frame.empty:
            raise FileRejected("header_only", f"sheet {name}")
        return ReadResult(
            frame, row_numbers, "xlsx", header_idx + 1, name, named_columns(mapping, rows[header_idx])
        )
    raise first_error or FileRejected("no_header", "no sheet holds the template header")

"""The rows of a large XLSX sheet written as the XML openpyxl writes for them, and streamed into the saved
workbook (the plan scorecard, :mod:`pipeline.site.scorecard_xlsx`).

openpyxl's own cell writer builds one ElementTree element per cell (no lxml here): 20 of 25 s for a province's
1.2 M cells. openpyxl still writes the workbook, its styles, each sheet's header row, column widths, frozen
header and autofilter in write-only mode; :class:`SheetBody` makes the data rows with string formatting, column
by column, with the style ids openpyxl registered, and :func:`deterministic_zip` streams them into each sheet's
part before ``</sheetData>`` while it rewrites the zip with fixed entry times (same release, same bytes).
``tests/site/test_downloads.py::test_scorecard_workbook_equals_the_reference_properties`` holds the result to
what openpyxl's cell writer gave.
"""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

FLOAT_FORMAT = "#,##0.0#"

INT_FORMAT = "0"  # plain: years (2026) must not read "2,026"

DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"

DATE_FORMAT = "yyyy-mm-dd"


def escape(text: str) -> str:
    """XML character data escaped as openpyxl escapes it (& < >); control characters are refused before
    (:func:`_check_text`)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def text_fragments(letter: str, values: list[Any], first_row: int) -> list[str]:
    """Inline-string cells (t="inlineStr", as openpyxl writes text: never a formula), "" for an empty cell."""
    out = []
    for r, v in enumerate(values, first_row):
        if v is None:
            out.append("")
        elif v == "":
            out.append(f'<c r="{letter}{r}" t="inlineStr"/>')
        else:
            stripped = v.strip()
            space = ' xml:space="preserve"' if stripped and stripped != v else ""
            out.append(f'<c r="{letter}{r}" t="inlineStr"><is><t{space}>{escape(v)}</t></is></c>')
    return out


def column_fragments(ws, letter: str, values: list[Any], first_row: int) -> list[str]:
    """One column's cells as the XML openpyxl writes for them: numbers as numbers with a number format
    ("0" for integers, "#,##0.0#" for decimals), naive times and dates as Excel serial numbers with a date
    format, tz-aware times as their text (Excel has no time zones), booleans as booleans, everything else as
    text. A column from Parquet holds one Python type, so the kind is chosen once from its first value."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.compat import safe_string
    from openpyxl.utils.datetime import to_excel

    first = next((v for v in values if v is not None), None)
    if first is None:
        return [""] * len(values)
    if isinstance(first, bool):
        return [
            "" if v is None else f'<c r="{letter}{r}" t="b"><v>{safe_string(v)}</v></c>'
            for r, v in enumerate(values, first_row)
        ]
    fmt = None
    if isinstance(first, int):
        fmt, convert = INT_FORMAT, safe_string
    elif isinstance(first, float):
        fmt, convert = FLOAT_FORMAT, safe_string
    elif isinstance(first, datetime) and first.tzinfo is not None:
        return text_fragments(letter, shown(values), first_row)
    elif isinstance(first, datetime):
        fmt = DATETIME_FORMAT
    elif isinstance(first, date):
        fmt = DATE_FORMAT
    if fmt is None:
        return text_fragments(letter, [None if v is None else str(v) for v in values], first_row)
    if fmt in (DATETIME_FORMAT, DATE_FORMAT):
        epoch = ws.parent.epoch

        def convert(v):
            return safe_string(to_excel(v, epoch))

    styled = WriteOnlyCell(ws)
    styled.number_format = fmt
    sid = styled.style_id  # registers the format in the workbook's styles
    return [
        "" if v is None else f'<c r="{letter}{r}" s="{sid}" t="n"><v>{convert(v)}</v></c>'
        for r, v in enumerate(values, first_row)
    ]


def number_format(first: Any) -> str | None:
    """The number format :func:`column_fragments` registers for a column whose first value is ``first``."""
    if first is None or isinstance(first, bool):
        return None
    if isinstance(first, int):
        return INT_FORMAT
    if isinstance(first, float):
        return FLOAT_FORMAT
    if isinstance(first, datetime):
        return None if first.tzinfo is not None else DATETIME_FORMAT
    if isinstance(first, date):
        return DATE_FORMAT
    return None


def register_formats(ws, formats: Sequence[str | None]) -> None:
    """Register ``formats`` in the workbook's styles in the order :class:`SheetBody` registers them."""
    from openpyxl.cell import WriteOnlyCell

    for fmt in formats:
        if fmt is not None:
            styled = WriteOnlyCell(ws)
            styled.number_format = fmt
            styled.style_id  # noqa: B018 (registers the format)


def shown(values: list[Any]) -> list[Any]:
    """The value a cell holds (tz-aware times become their text, as :func:`column_fragments` writes them)."""
    first = next((v for v in values if v is not None), None)
    if isinstance(first, datetime) and first.tzinfo is not None:
        return [None if v is None else v.isoformat(sep=" ") for v in values]
    return values


#: rows per piece of sheet XML made at a time (bounds the memory of the streamed sheet)
ROWS_PER_CHUNK = 20_000


class SheetBody:
    """The data rows of a sheet, streamed into its part of the zip after openpyxl wrote the header.

    openpyxl's own cell writer (ElementTree, one element per cell) took 20 of 25 s for a province's
    1.2 M cells; these rows are the same XML made with string formatting, column by column."""

    def __init__(self, ws, columns: Sequence[tuple[str, str, str]], data: Sequence[list[Any]], n_rows: int):
        from openpyxl.utils import get_column_letter

        self.ws, self.data, self.n_rows = ws, data, n_rows
        self.letters = [get_column_letter(i) for i in range(1, len(columns) + 1)]
        self.dimension = f"A1:{self.letters[-1]}{n_rows + 1}"
        # register every number format now: the styles part is written before the rows are streamed
        self.formats: list[str | None] = []  # per column, the number format registered (None: none)
        for letter, values in zip(self.letters, data, strict=True):
            first = next((v for v in values if v is not None), None)
            column_fragments(ws, letter, [first], 2)
            self.formats.append(number_format(first))

    @property
    def part(self) -> str:
        return self.ws.path.lstrip("/")

    def chunks(self):
        for start in range(0, self.n_rows, ROWS_PER_CHUNK):
            stop = min(start + ROWS_PER_CHUNK, self.n_rows)
            cols = [
                column_fragments(self.ws, letter, values[start:stop], start + 2)
                for letter, values in zip(self.letters, self.data, strict=True)
            ]
            yield "".join(
                f'<row r="{r}">{"".join(cells)}</row>'
                for r, cells in enumerate(zip(*cols, strict=True), start + 2)
            ).encode("utf-8")


@dataclass(frozen=True)
class RawPart:
    """A part taken as it is (its compressed bytes) from another zip, e.g. the same sheet of the previous
    release's workbook: ``data`` deflated, with the CRC-32 and size of the uncompressed part."""

    data: bytes
    crc: int
    file_size: int


def read_raw_part(zip_path: Path, name: str) -> RawPart:
    """The compressed bytes of part ``name`` of ``zip_path`` (deflated), its CRC-32 and size."""
    with zipfile.ZipFile(zip_path) as zf:
        info = zf.getinfo(name)
        if info.compress_type != zipfile.ZIP_DEFLATED:
            raise ValueError(f"{zip_path}: {name} is not deflated")
        fp = zf.fp
        fp.seek(info.header_offset)
        header = fp.read(zipfile.sizeFileHeader)
        if header[:4] != zipfile.stringFileHeader:
            raise zipfile.BadZipFile(f"{zip_path}: bad local header of {name}")
        name_len, extra_len = struct.unpack("<HH", header[26:30])
        fp.seek(info.header_offset + zipfile.sizeFileHeader + name_len + extra_len)
        data = fp.read(info.compress_size)
    if len(data) != info.compress_size:
        raise zipfile.BadZipFile(f"{zip_path}: {name} is truncated")
    return RawPart(data, info.CRC, info.file_size)


def _write_raw(zout: zipfile.ZipFile, zi: zipfile.ZipInfo, part: RawPart) -> None:
    """Write ``part`` as entry ``zi``, byte for byte what ``zout.open(zi, "w", force_zip64=True)`` writes for
    the same uncompressed bytes (local header with the zip64 extra, no data descriptor, the deflated data)."""
    zi.flag_bits = 0x00
    zout.fp.seek(zout.start_dir)
    zi.header_offset = zout.fp.tell()
    zout._writecheck(zi)
    zout._didModify = True
    zi.CRC, zi.compress_size, zi.file_size = part.crc, len(part.data), part.file_size
    zout.fp.write(zi.FileHeader(True))
    zout.fp.write(part.data)
    zout.start_dir = zout.fp.tell()
    zout.filelist.append(zi)
    zout.NameToInfo[zi.filename] = zi


def deterministic_zip(
    src: Path,
    dst: Path,
    stamp: datetime,
    bodies: Sequence[SheetBody] = (),
    raw: Mapping[str, RawPart] | None = None,
) -> None:
    """Rewrite a zip with fixed entry times (openpyxl stamps every part with the current time), streaming each
    data sheet's rows into its part before ``</sheetData>`` and giving the part its ``<dimension>``. A part in
    ``raw`` is written from those compressed bytes instead (a sheet taken from an earlier workbook)."""
    dt = (max(stamp.year, 1980), stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second)
    by_part = {b.part: b for b in bodies}
    raw = raw or {}
    with (
        zipfile.ZipFile(src) as zin,
        zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zout,
    ):
        for info in zin.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=dt)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            if info.filename in raw:
                _write_raw(zout, zi, raw[info.filename])
                continue
            body = by_part.get(info.filename)
            if body is None:
                zout.writestr(zi, zin.read(info.filename))
                continue
            xml = zin.read(info.filename)
            end = xml.index(b"</sheetData>")
            head = xml[:end].replace(
                b"<sheetViews>", f'<dimension ref="{body.dimension}" /><sheetViews>'.encode(), 1
            )
            with zout.open(zi, "w", force_zip64=True) as f:
                f.write(head)
                for chunk in body.chunks():
                    f.write(chunk)
                f.write(xml[end:])

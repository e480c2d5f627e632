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

import zipfile
from collections.abc import Sequence
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
        for letter, values in zip(self.letters, data, strict=True):
            column_fragments(ws, letter, [next((v for v in values if v is not None), None)], 2)

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


def deterministic_zip(src: Path, dst: Path, stamp: datetime, bodies: Sequence[SheetBody] = ()) -> None:
    """Rewrite a zip with fixed entry times (openpyxl stamps every part with the current time), streaming each
    data sheet's rows into its part before ``</sheetData>`` and giving the part its ``<dimension>``."""
    dt = (max(stamp.year, 1980), stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second)
    by_part = {b.part: b for b in bodies}
    with (
        zipfile.ZipFile(src) as zin,
        zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zout,
    ):
        for info in zin.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=dt)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
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

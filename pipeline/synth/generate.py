"""Shared building blocks of the synthetic-data generator: paths, reference loading, periods, writers.

Everything here is deterministic: no "now", fixed XLSX metadata and fixed ZIP entry times, so the same
seed and the same reference files give byte-identical output.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib
import io
import re
import time
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.config import DBT_PROJECT_DIR, REPO_ROOT

REPO = REPO_ROOT
SEEDS = DBT_PROJECT_DIR / "seeds"
REFERENCE = REPO / "raw" / "reference"
COMMUNE = "18484"
COMMUNE_NAME = "Đồng Lộc"
PROVINCE = "42"
FIXED_DT = dt.datetime(2026, 1, 1, 0, 0, 0)  # XLSX document properties
ZIP_DT = (2026, 1, 1, 0, 0, 0)  # ZIP entry times inside XLSX files

TITLE_SUBMISSION = "BÁO CÁO ĐỊNH KỲ CHUYỂN ĐỔI SỐ TRONG XÂY DỰNG NTM — XÃ ĐỒNG LỘC"
TITLE_SURVEY = "PHIẾU KHẢO SÁT SỰ HÀI LÒNG CỦA NGƯỜI DÂN VỀ XÂY DỰNG NTM — XÃ ĐỒNG LỘC"
TITLE_OCOP = "DANH SÁCH SẢN PHẨM OCOP — XÃ ĐỒNG LỘC"


# ---------------------------------------------------------------- reference data (read at run time)


def read_csv(path: Path) -> pd.DataFrame:
    """A reference CSV as text columns ('' for blanks), NFC-normalised."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    df.columns = [unicodedata.normalize("NFC", c.strip()) for c in df.columns]
    for c in df.columns:
        df[c] = df[c].map(lambda s: unicodedata.normalize("NFC", s.strip()))
    return df


def seed(name: str, seeds_dir: Path | None = None) -> pd.DataFrame:
    return read_csv((seeds_dir or SEEDS) / name)


def reference(name: str, ref_dir: Path | None = None) -> pd.DataFrame:
    return read_csv((ref_dir or REFERENCE) / name)


def to_date(s: str) -> dt.date | None:
    return dt.date.fromisoformat(s[:10]) if s else None


def valid_on(valid_from: str, valid_to: str, day: dt.date) -> bool:
    """Open-ended validity: from <= day and (to is blank or day <= to)."""
    f, t = to_date(valid_from), to_date(valid_to)
    return (f is None or f <= day) and (t is None or day <= t)


def overlaps(valid_from: str, valid_to: str, start: dt.date, end: dt.date) -> bool:
    f, t = to_date(valid_from), to_date(valid_to)
    return (f is None or f <= end) and (t is None or t >= start)


# ---------------------------------------------------------------- periods


@dataclass(frozen=True)
class Period:
    code: str  # 2026-Q3 or 2025
    year: int
    quarter: int | None  # None for an annual period

    @property
    def start(self) -> dt.date:
        return dt.date(self.year, 1 if self.quarter is None else 3 * self.quarter - 2, 1)

    @property
    def end(self) -> dt.date:
        m = 12 if self.quarter is None else 3 * self.quarter
        nxt = dt.date(self.year + (m == 12), m % 12 + 1, 1)
        return nxt - dt.timedelta(days=1)

    @property
    def deadline(self) -> dt.date:
        """Units report through the 15th of the quarter's last month (15 Mar, 15 Jun, 15 Sep, 15 Dec; annual report:
        15 Dec), 23:59:59 Asia/Ho_Chi_Minh."""
        return dt.date(self.year, 12 if self.quarter is None else 3 * self.quarter, 15)


def parse_period(code: str) -> Period:
    if "-Q" in code:
        y, q = code.split("-Q")
        return Period(code, int(y), int(q))
    return Period(code, int(code), None)


def quarters(first: str, last: str) -> list[Period]:
    a, b = parse_period(first), parse_period(last)
    out, y, q = [], a.year, a.quarter or 1
    while (y, q) <= (b.year, b.quarter or 4):
        out.append(Period(f"{y}-Q{q}", y, q))
        y, q = (y + 1, 1) if q == 4 else (y, q + 1)
    return out


# ---------------------------------------------------------------- text encodings


def _text_module():
    return importlib.import_module("pipeline.lib.text")


def legacy_encoder(name: str, wait_seconds: float = 0.0) -> Callable[[str], bytes]:
    """The shared converter for a legacy Vietnamese encoding (tcvn3 | vni | cp1258).

    The converters live in ``pipeline.lib.text`` (owned elsewhere); the generator never carries its own.
    """
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            mod = _text_module()
            return getattr(mod, f"{name}_encode")
        except (ImportError, AttributeError):
            if time.monotonic() >= deadline:
                raise
            time.sleep(5)
            importlib.invalidate_caches()


def encode_text(text: str, encoding: str) -> bytes:
    """Encode a whole file's text. encoding: utf-8 | utf-8-sig | utf-16 | cp1258 | tcvn3 | vni."""
    text = unicodedata.normalize("NFC", text)
    if encoding in ("utf-8", "utf-8-sig"):
        return text.encode(encoding)
    if encoding == "utf-16":  # explicit little-endian with BOM: same bytes on every machine
        return b"\xff\xfe" + text.encode("utf-16-le")
    return legacy_encoder(encoding)(text)


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]], lineterminator: str = "\n") -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator=lineterminator)
    w.writerow(header)
    w.writerows(["" if v is None else v for v in r] for r in rows)
    return buf.getvalue()


def write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


# ---------------------------------------------------------------- XLSX


def fixed_xlsx_bytes(wb) -> bytes:
    """Save an openpyxl workbook with fixed metadata and fixed ZIP entry times (byte-identical reruns)."""
    wb.properties.created = FIXED_DT
    wb.properties.modified = FIXED_DT
    wb.properties.creator = "pipeline.synth"
    wb.properties.lastModifiedBy = "pipeline.synth"
    raw = io.BytesIO()
    wb.save(raw)
    stamp = FIXED_DT.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=ZIP_DT)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o600 << 16
            data = zin.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps "modified" with now on save
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + stamp, data)
            zout.writestr(zi, data)
    return out.getvalue()


def write_xlsx_table(
    path: Path,
    sheet: str,
    title: str,
    subtitle: str,
    header: Sequence[str],
    rows: Sequence[Sequence[object]],
    instructions: Sequence[Sequence[object]] = (),
    validations: dict[int, Sequence[str]] | None = None,
    number_formats: dict[int, str] | None = None,
    validation_rows: int = 500,
) -> None:
    """A sheet with a merged title row, a subtitle row, an empty row, the bold header row (row 4), the data.

    ``instructions`` fill a second sheet "HuongDan"; ``validations`` maps a 0-based column index to its
    allowed values (a drop-down list); ``number_formats`` maps a 0-based column index to an Excel format.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ncol = len(header)
    ws.cell(row=1, column=1, value=title).font = Font(bold=True, size=14)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=max(ncol, 2))
    ws.cell(row=1, column=1).alignment = Alignment(horizontal="center")
    ws.cell(row=2, column=1, value=subtitle).font = Font(italic=True)
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=max(ncol, 2))
    fill = PatternFill("solid", fgColor="DDEBF7")
    for j, h in enumerate(header, start=1):
        c = ws.cell(row=4, column=j, value=h)
        c.font = Font(bold=True)
        c.fill = fill
        c.alignment = Alignment(wrap_text=True, vertical="top")
        ws.column_dimensions[get_column_letter(j)].width = max(12, min(40, len(h) + 4))
    ws.freeze_panes = "A5"
    for i, r in enumerate(rows, start=5):
        for j, v in enumerate(r, start=1):
            if v is None or v == "":
                continue
            c = ws.cell(row=i, column=j, value=v)
            if number_formats and (j - 1) in number_formats:
                c.number_format = number_formats[j - 1]
    last = max(4 + len(rows), 4 + validation_rows)
    for j, allowed in sorted((validations or {}).items()):
        col = get_column_letter(j + 1)
        dv = DataValidation(type="list", formula1='"' + ",".join(allowed) + '"', allow_blank=True)
        dv.error = "Giá trị không hợp lệ / Value not allowed"
        dv.errorTitle = "Sai giá trị / Invalid value"
        ws.add_data_validation(dv)
        dv.add(f"{col}5:{col}{last}")
    if instructions:
        hs = wb.create_sheet("HuongDan")
        for i, r in enumerate(instructions, start=1):
            for j, v in enumerate(r, start=1):
                if v is not None and v != "":
                    hs.cell(row=i, column=j, value=v)
        hs.cell(row=1, column=1).font = Font(bold=True, size=13)
        for j, w in enumerate((26, 18, 22, 12, 34, 22, 60), start=1):
            hs.column_dimensions[get_column_letter(j)].width = w
    write_bytes(path, fixed_xlsx_bytes(wb))

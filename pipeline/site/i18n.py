"""Bilingual labels and number/date formatting for the release site.

Every label a person reads is written Vietnamese first, English second. The pages carry both languages in the
markup (``<span class="vi">`` / ``<span class="en">``) and ``site.js`` shows one of them; numbers are rendered
in Vietnamese format on the server (``1.234,5``) and re-formatted by the browser (``Intl.NumberFormat``) when
the reader switches to English (``1,234.5``). Dates are dd/mm/yyyy in both languages.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from html import escape

from markupsafe import Markup

# Decimal places shown per value type (the published Parquet keeps full precision).
DIGITS = {"percent": 1, "ratio": 2, "count": 0, "yesno": 1}

# Roll-up rules (raw/README.md section 7.0) as a reader sees them on the indicator pages.
AGGREGATION = {
    "sum": ("Cộng giá trị các thôn", "Sum of the hamlets' values"),
    "mean": ("Trung bình các thôn có số liệu", "Mean of the hamlets with a value"),
    "ratio_of_sums": (
        "100 × tổng tử số / tổng mẫu số của các thôn (không phải trung bình các tỷ lệ)",
        "100 × sum of numerators / sum of denominators over the hamlets (never the mean of the ratios)",
    ),
    "share_meeting": (
        "100 × số thôn đạt ngưỡng / số thôn tồn tại cuối kỳ (thôn không báo cáo coi là không đạt)",
        "100 × hamlets meeting the threshold / hamlets existing at the period end (not reported = not met)",
    ),
    "last": ("Giá trị gửi muộn nhất", "The value submitted last"),
    "max": ("Giá trị lớn nhất", "The largest value"),
    "all_yes": (
        "Đạt (1) khi mọi thôn tồn tại cuối kỳ báo 1",
        "Met (1) when every hamlet existing at the period end reported 1",
    ),
}
ANNUAL = {
    "sum": ("năm = cộng các quý", "year = sum of the quarters"),
    "mean": ("năm = trung bình các quý có số", "year = mean of the quarters with a value"),
    "ratio_of_sums": (
        "năm = tổng tử số / tổng mẫu số các quý",
        "year = sum of numerators / sum of denominators",
    ),
    "last": ("năm = quý muộn nhất", "year = the latest quarter"),
    "max": ("năm = quý lớn nhất", "year = the largest quarter"),
}
FORMULA = {
    "percent": ("Tỷ lệ % = 100 × tử số / mẫu số", "Percent = 100 × numerator / denominator"),
    "ratio": ("Tỷ số = tử số / mẫu số", "Ratio = numerator / denominator"),
    "count": ("Số đếm (đơn vị báo cáo ghi trực tiếp)", "A count (entered by the reporting unit)"),
    "yesno": ("Có (1) / Không (0)", "Yes (1) / No (0)"),
}
DIRECTION = {
    "higher_better": ("Càng cao càng tốt", "Higher is better"),
    "lower_better": ("Càng thấp càng tốt", "Lower is better"),
}
STATUS = {
    "on_track": ("Đạt tiến độ", "On track"),
    "behind": ("Chậm tiến độ", "Behind"),
    "no_data": ("Chưa có số liệu", "No data"),
}
SUPPRESSION = {
    "primary": ("ít hơn {n} người trả lời", "fewer than {n} respondents"),
    "complementary": (
        "ẩn kèm để ô khác không tính lại được",
        "hidden so that another hidden cell cannot be recomputed",
    ),
}


def t(vi: str | None, en: str | None = None) -> Markup:
    """Both languages in the markup; CSS shows the reader's choice."""
    vi = "" if vi is None else str(vi)
    en = vi if en is None else str(en)
    if vi == en:
        return Markup(escape(vi))
    return Markup(f'<span class="vi">{escape(vi)}</span><span class="en" lang="en">{escape(en)}</span>')


def fmt_vi(value: float | int | None, digits: int = 1) -> str:
    """Vietnamese number format: '.' groups thousands, ',' is the decimal mark (1.234,5)."""
    s = fmt_en(value, digits)
    return s.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def fmt_en(value: float | int | None, digits: int = 1) -> str:
    """English format (1,234.5). Halves round away from zero, as the browser's Intl.NumberFormat does, so the
    page reads the same before and after its script runs."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    d = Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    return f"{d:,.{digits}f}"


def num(value: float | int | None, digits: int = 1, exact: bool = False) -> Markup:
    """A number the browser re-formats for the chosen language; empty when null. ``data-value`` holds the
    published value (``exact``: all 17 significant digits, else 12 - the page stays small)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Markup("")
    v = repr(float(value)) if exact else f"{float(value):.12g}"
    return Markup(f'<span class="num" data-value="{v}" data-digits="{digits}">{fmt_vi(value, digits)}</span>')


def fmt_date(value: date | datetime | None) -> str:
    """dd/mm/yyyy (both languages)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    return value.strftime("%d/%m/%Y")


def digits_for(value_type: str | None) -> int:
    return DIGITS.get(value_type or "", 1)

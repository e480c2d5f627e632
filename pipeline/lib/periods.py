"""Reporting periods: canonical codes 'YYYY-Qn' (quarter) and 'YYYY' (year), parsing and calendar helpers.

``parse_period`` accepts the ways people write a period ("2026-Q3", "2026Q3", "Q3/2026", "Q3-2026",
"Quý 3/2026", "Quý III/2026", "Quý III năm 2026", "quy 3 - 2026", "2025", "Năm 2025", the number 2025 from a
spreadsheet) and returns the canonical code, or the error ``malformed_period``. Years outside 1990-2100
are malformed.

Deadlines (raw/README.md rule 7.5): a unit reports through the 15th of the quarter's last month (15 Mar, 15 Jun, 15 Sep, 15 Dec; annual report: 15 Dec), 23:59:59 Asia/Ho_Chi_Minh;
the commune sends the roll-up to the province by the 25th of that month.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd

from pipeline.lib.text import fold_series
from pipeline.lib.values import Parsed, by_distinct, classify_cells, error_codes

__all__ = [
    "is_future",
    "is_future_series",
    "parse_period",
    "period_end",
    "period_kind",
    "period_start",
    "province_due_date",
    "quarters_between",
    "quarters_of_year",
    "unit_due_date",
    "year_of",
]

MIN_YEAR, MAX_YEAR = 1990, 2100
_ROMAN = {"i": "1", "ii": "2", "iii": "3", "iv": "4"}
_CODE_RE = re.compile(r"^(\d{4})(?:-Q([1-4]))?$")

# on folded text (lower case, no accents, single spaces)
_YEAR_FIRST = r"^(?P<y1>\d{4})\s*[-/ ]?\s*q\s*(?P<q1>[1-4])$"  # 2026-Q3, 2026Q3, 2026 q3
_QUARTER_FIRST = r"^(?:quy|q)\s*(?P<q2>[1-4]|iv|i{1,3})\s*(?:[-/.,]\s*)?(?:nam\s*)?(?P<y2>\d{4})$"  # Q3/2026, Q3-2026, quy 3 - 2026, quy iii nam 2026
_YEAR_ONLY = r"^(?:nam\s*)?(?P<y3>\d{4})$"  # 2025, nam 2025
_PERIOD_RE = f"{_YEAR_FIRST}|{_QUARTER_FIRST}|{_YEAR_ONLY}"


@by_distinct
def parse_period(s: pd.Series) -> Parsed:
    """Canonicalise period cells to 'YYYY-Qn' / 'YYYY' (dtype string); error ``malformed_period``."""
    c = classify_cells(s)
    index = c.obj.index
    text = c.text.copy()
    num = c.kind.eq("num")
    if num.any():  # 2025 or 2025.0 from a spreadsheet
        n = pd.to_numeric(c.obj[num].astype(float), errors="coerce")
        whole = n.notna() & n.eq(n.round())
        text[num] = n.where(whole).astype("Int64").astype("string")
    g = fold_series(text).str.extract(_PERIOD_RE)
    year = g["y1"].fillna(g["y2"]).fillna(g["y3"])
    quarter = g["q1"].fillna(g["q2"].replace(_ROMAN))
    year_ok = pd.to_numeric(year, errors="coerce").between(MIN_YEAR, MAX_YEAR).fillna(False).astype(bool)
    values = (year + ("-Q" + quarter).fillna("")).where(year_ok).astype("string")
    failed = ~c.kind.eq("blank") & values.isna()
    return Parsed(values, error_codes(index, failed, "malformed_period"))


def _split(code: str) -> tuple[int, int | None]:
    m = _CODE_RE.match(code)
    if m is None:
        raise ValueError(f"not a canonical period code: {code!r}")
    return int(m.group(1)), (int(m.group(2)) if m.group(2) else None)


def period_kind(code: str) -> str:
    """'quarter' or 'year'."""
    return "year" if _split(code)[1] is None else "quarter"


def year_of(code: str) -> int:
    return _split(code)[0]


def period_start(code: str) -> dt.date:
    year, q = _split(code)
    return dt.date(year, 1 if q is None else 3 * q - 2, 1)


def _last_month(code: str) -> tuple[int, int]:
    year, q = _split(code)
    return year, 12 if q is None else 3 * q


def period_end(code: str) -> dt.date:
    year, month = _last_month(code)
    return (dt.date(year + 1, 1, 1) if month == 12 else dt.date(year, month + 1, 1)) - dt.timedelta(days=1)


def unit_due_date(code: str) -> dt.date:
    """A unit's due date: units report through the 15th of the quarter's last month (15 Mar, 15 Jun, 15 Sep, 15 Dec;
    annual report: 15 Dec), 23:59:59 Asia/Ho_Chi_Minh (this returns the date; the day ends at 23:59:59)."""
    year, month = _last_month(code)
    return dt.date(year, month, 15)


def province_due_date(code: str) -> dt.date:
    """The commune's deadline to the province: the 25th of the period's last month."""
    year, month = _last_month(code)
    return dt.date(year, month, 25)


def is_future(code: str, today: dt.date) -> bool:
    """True when the period starts after ``today``."""
    return period_start(code) > today


def quarters_of_year(year: int) -> list[str]:
    return [f"{year}-Q{q}" for q in range(1, 5)]


def quarters_between(first: str, last: str) -> list[str]:
    """Quarter codes from ``first`` to ``last`` inclusive (a year code stands for its first/last quarter
    respectively); empty when ``first`` is after ``last``."""
    fy, fq = _split(first)
    ly, lq = _split(last)
    start = fy * 4 + ((fq or 1) - 1)
    end = ly * 4 + ((lq or 4) - 1)
    return [f"{i // 4}-Q{i % 4 + 1}" for i in range(start, end + 1)]


def is_future_series(codes: pd.Series, today: dt.date) -> pd.Series:
    """Vectorised ``is_future``; NA or non-canonical codes give False (computed per distinct code)."""
    codes = codes.astype("string")
    idx, uniques = pd.factorize(codes, use_na_sentinel=True)
    fut = _is_future(pd.Series(np.asarray(uniques, dtype=object), dtype="string"), today)
    hit = np.append(fut.to_numpy(dtype=bool), False)  # code -1 (missing) -> False
    return pd.Series(hit[idx], index=codes.index)


def _is_future(codes: pd.Series, today: dt.date) -> pd.Series:
    g = codes.str.extract(r"^(?P<y>\d{4})(?:-Q(?P<q>[1-4]))?$")
    year = pd.to_numeric(g["y"], errors="coerce")
    quarter = pd.to_numeric(g["q"], errors="coerce").fillna(1)
    start_key = year * 100 + (3 * quarter - 2)
    today_key = today.year * 100 + today.month  # a period starting later this month is not future
    future = start_key > today_key
    return future.fillna(False).astype(bool)

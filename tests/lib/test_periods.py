"""pipeline.lib.periods: period parsing and calendar helpers."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.lib.periods import (
    is_future,
    is_future_series,
    parse_period,
    period_end,
    period_kind,
    period_start,
    province_due_date,
    quarters_between,
    quarters_of_year,
    unit_due_date,
    year_of,
)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("2026-Q3", "2026-Q3"),
        ("2026Q3", "2026-Q3"),
        ("2026 q3", "2026-Q3"),
        ("Q3/2026", "2026-Q3"),
        ("Q3-2026", "2026-Q3"),
        ("Quý 3/2026", "2026-Q3"),
        ("Quý III/2026", "2026-Q3"),
        ("Quý III năm 2026", "2026-Q3"),
        ("QUÝ IV - NĂM 2025", "2025-Q4"),
        ("quy 3 - 2026", "2026-Q3"),
        ("quý I/2026", "2026-Q1"),
        ("2025", "2025"),
        ("Năm 2025", "2025"),
        (2025, "2025"),
        (2025.0, "2025"),
    ],
)
def test_parse_period(raw, code):
    p = parse_period(pd.Series([raw], dtype=object))
    assert p.values.iloc[0] == code and pd.isna(p.error.iloc[0])


@pytest.mark.parametrize(
    "raw", ["Q5/2026", "2026-Q0", "Quý V/2026", "abc", "1800", "26-Q3", 2025.5, "2026-Q3-1"]
)
def test_parse_period_malformed(raw):
    p = parse_period(pd.Series([raw], dtype=object))
    assert pd.isna(p.values.iloc[0]) and p.error.iloc[0] == "malformed_period"


def test_parse_period_blanks_and_index():
    p = parse_period(pd.Series(["", None, "2026-Q1"], index=[3, 4, 5]))
    assert list(p.values.index) == [3, 4, 5]
    assert p.values.isna().tolist() == [True, True, False] and p.error.isna().all()


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(min_value=1990, max_value=2100), st.integers(min_value=1, max_value=4)),
        min_size=1,
        max_size=20,
    )
)
def test_parse_period_roundtrip(items):
    forms, expected = [], []
    for year, q in items:
        roman = ["I", "II", "III", "IV"][q - 1]
        forms += [
            f"{year}-Q{q}",
            f"{year}Q{q}",
            f"Q{q}/{year}",
            f"Q{q}-{year}",
            f"Quý {q}/{year}",
            f"Quý {roman}/{year}",
            f"Quý {roman} năm {year}",
            f"quy {q} - {year}",
            f"Năm {year}",
        ]
        expected += [f"{year}-Q{q}"] * 8 + [str(year)]
    p = parse_period(pd.Series(forms))
    assert p.values.tolist() == expected and p.error.isna().all()


def test_calendar_helpers():
    assert period_kind("2026-Q3") == "quarter" and period_kind("2025") == "year"
    assert year_of("2026-Q3") == 2026 and year_of("2025") == 2025
    assert period_start("2026-Q3") == dt.date(2026, 7, 1) and period_end("2026-Q3") == dt.date(2026, 9, 30)
    assert period_start("2025") == dt.date(2025, 1, 1) and period_end("2025") == dt.date(2025, 12, 31)
    assert period_end("2024-Q1") == dt.date(2024, 3, 31) and period_end("2026-Q4") == dt.date(2026, 12, 31)


@pytest.mark.parametrize(
    ("code", "unit", "province"),
    [
        ("2026-Q1", dt.date(2026, 3, 15), dt.date(2026, 3, 25)),
        ("2026-Q2", dt.date(2026, 6, 15), dt.date(2026, 6, 25)),
        ("2026-Q3", dt.date(2026, 9, 15), dt.date(2026, 9, 25)),
        ("2026-Q4", dt.date(2026, 12, 15), dt.date(2026, 12, 25)),
        ("2025", dt.date(2025, 12, 15), dt.date(2025, 12, 25)),
    ],
)
def test_due_dates(code, unit, province):
    assert unit_due_date(code) == unit and province_due_date(code) == province


def test_is_future():
    assert is_future("2026-Q4", dt.date(2026, 9, 30))
    assert not is_future("2026-Q4", dt.date(2026, 10, 1))
    assert not is_future("2026-Q3", dt.date(2026, 7, 15))
    assert is_future("2027", dt.date(2026, 12, 31)) and not is_future("2026", dt.date(2026, 1, 1))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(2020, 2030), st.integers(0, 4)), min_size=1, max_size=20),
    st.dates(min_value=dt.date(2019, 1, 1), max_value=dt.date(2031, 12, 31)),
)
def test_is_future_series_matches_scalar(items, today):
    codes = [str(y) if q == 0 else f"{y}-Q{q}" for y, q in items]
    got = is_future_series(pd.Series(codes), today)
    assert got.dtype == bool
    assert got.tolist() == [is_future(c, today) for c in codes]


def test_is_future_series_na():
    assert is_future_series(pd.Series([None, "bad", "2030-Q1"]), dt.date(2026, 1, 1)).tolist() == [
        False,
        False,
        True,
    ]


def test_quarters():
    assert quarters_of_year(2026) == ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]
    assert quarters_between("2025-Q3", "2026-Q2") == ["2025-Q3", "2025-Q4", "2026-Q1", "2026-Q2"]
    assert quarters_between("2026-Q2", "2026-Q2") == ["2026-Q2"]
    assert quarters_between("2026-Q3", "2026-Q2") == []
    assert quarters_between("2025", "2025") == quarters_of_year(2025)


def test_bad_code_raises():
    with pytest.raises(ValueError):
        period_start("Q3/2026")

"""pipeline.lib.values and pipeline.lib.dates: vectorised number / yes-no / date / answer parsers."""

from __future__ import annotations

import datetime as dt
import math
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.lib.dates import parse_date, parse_datetime
from pipeline.lib.values import (
    Parsed,
    blank_mask,
    parse_answer,
    parse_number,
    parse_number_ex,
    parse_yesno,
)

BLANKS = ["", "   ", "-", "—", "–", "None", "nan", "NaN", None, np.nan, pd.NA]


def _one(parser, value):
    p = parser(pd.Series([value], dtype=object))
    return p.values.iloc[0], p.error.iloc[0]


# ------------------------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1.234,5", 1234.5),
        ("1,234.5", 1234.5),
        ("1234", 1234.0),
        ("85%", 85.0),
        ("85 %", 85.0),
        ("12,5", 12.5),
        ("1.234", 1234.0),
        ("12.345", 12345.0),
        ("1.234.567", 1234567.0),
        ("1,234,567", 1234567.0),
        ("1,234", 1.234),  # single comma = Vietnamese decimal comma
        ("0.5", 0.5),
        ("0.234", 0.234),
        ("1234.5", 1234.5),
        ("-3", -3.0),
        ("+4", 4.0),
        ("  7  ", 7.0),
        ("\u00a01 234,5\u00a0", 1234.5),
        ("−2,5", -2.5),
        (",5", 0.5),
        ("1.5E+03", 1500.0),
        (42, 42.0),
        (2.5, 2.5),
        (np.int64(3), 3.0),
    ],
)
def test_parse_number(raw, expected):
    value, error = _one(parse_number, raw)
    assert pd.isna(error)
    assert value == pytest.approx(expected)


@pytest.mark.parametrize("raw", ["x", "abc", "1,2,3.4.5", "1..2", "%", "12a", "1.23.4", dt.date(2025, 1, 1)])
def test_parse_number_errors(raw):
    value, error = _one(parse_number, raw)
    assert math.isnan(value) and error == "unparseable_number"


@pytest.mark.parametrize("raw", BLANKS)
def test_blanks_are_missing_not_errors(raw):
    for parser in (parse_number, parse_yesno, parse_date, parse_datetime, parse_answer):
        value, error = _one(parser, raw)
        assert pd.isna(value) and pd.isna(error), parser.__name__


def test_parse_number_ex_percent_flag_and_index():
    s = pd.Series(["85%", "85", "1.234,5 %", None], index=["a", "b", "c", "d"])
    p = parse_number_ex(s)
    assert list(p.values.index) == ["a", "b", "c", "d"]
    assert p.had_percent.tolist() == [True, False, True, False]
    assert p.values.dtype == "float64" and p.error.dtype == "string"


def test_parse_number_string_dtype_and_numeric_dtype():
    assert parse_number(pd.Series(["1,5", None], dtype="string")).values.iloc[0] == 1.5
    p = parse_number(pd.Series([1.5, np.nan]))
    assert p.values.iloc[0] == 1.5 and pd.isna(p.error).all()


def test_blank_mask():
    assert blank_mask(pd.Series(["", "x", None, "-"])).tolist() == [True, False, True, True]


def _vn(value: float, decimals: int) -> str:
    """Vietnamese style: dot thousands, comma decimal."""
    s = f"{value:,.{decimals}f}"
    return s.replace(",", "\0").replace(".", ",").replace("\0", ".")


FLOATS = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)
_VN_THOUSANDS_LOOKALIKE = re.compile(r"-?[1-9]\d{0,2}\.\d{3}")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(FLOATS, st.integers(min_value=1, max_value=4)), min_size=1, max_size=40))
def test_number_roundtrip_with_decimals(items):
    """Numbers with a decimal part, with and without thousands groups, written either way, parse back.
    The one ambiguous English form ("1.234": 1-3 digits, a dot, exactly 3 digits) follows the documented
    Vietnamese rule and reads as thousands."""
    raws, expected = [], []
    for value, decimals in items:
        en = f"{value:,.{decimals}f}"
        vn = _vn(value, decimals)
        for raw in (en, vn, en.replace(",", ""), vn.replace(".", "")):
            raws.append(raw)
            if _VN_THOUSANDS_LOOKALIKE.fullmatch(raw):
                expected.append(float(raw.replace(".", "")))
            else:
                expected.append(round(value, decimals))
    p = parse_number(pd.Series(raws))
    assert p.error.isna().all(), [r for r, e in zip(raws, p.error, strict=True) if pd.notna(e)]
    for raw, got, want in zip(raws, p.values, expected, strict=True):
        assert got == pytest.approx(want, rel=1e-12, abs=1e-4), raw


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(min_value=-(10**12), max_value=10**12), min_size=1, max_size=40))
def test_integer_roundtrip_documented_rule(values):
    """Integers with thousands dots (Vietnamese) always parse back; with thousands commas they do when
    there are two or more groups (a single comma is a decimal comma by the documented rule)."""
    vn = [f"{v:,d}".replace(",", ".") for v in values]
    en = [f"{v:,d}" for v in values]
    plain = [str(v) for v in values]
    got = parse_number(pd.Series(vn + en + plain)).values.tolist()
    n = len(values)
    got_vn, got_en, got_plain = got[:n], got[n : 2 * n], got[2 * n :]
    assert got_vn == got_plain == [float(v) for v in values]
    for v, raw, got in zip(values, en, got_en, strict=True):
        if raw.count(",") == 1:
            assert got == pytest.approx(float(raw.replace(",", ".")))
        else:
            assert got == v


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(min_value=0, max_value=100, allow_nan=False), st.booleans()),
        min_size=1,
        max_size=30,
    )
)
def test_percent_roundtrip(items):
    values = [round(v, 1) for v, _ in items]
    raws = [_vn(v, 1) + (" %" if space else "%") for v, (_, space) in zip(values, items, strict=True)]
    p = parse_number_ex(pd.Series(raws))
    assert p.values.tolist() == pytest.approx(values) and p.had_percent.all()


# ------------------------------------------------------------------------------------------- yes/no


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("có", 1.0),
        ("Có", 1.0),
        ("co", 1.0),
        ("x", 1.0),
        ("X", 1.0),
        ("1", 1.0),
        ("Đạt", 1.0),
        ("ĐẠT", 1.0),
        ("yes", 1.0),
        ("TRUE", 1.0),
        (1, 1.0),
        (True, 1.0),
        ("không", 0.0),
        ("Khong", 0.0),
        ("0", 0.0),
        ("Không đạt", 0.0),
        ("no", 0.0),
        ("False", 0.0),
        (0, 0.0),
        ("Chưa đạt", 0.0),
    ],
)
def test_parse_yesno(raw, expected):
    value, error = _one(parse_yesno, raw)
    assert value == expected and pd.isna(error)


@pytest.mark.parametrize("raw", ["maybe", "2", 2, "đạt yêu cầu?"])
def test_parse_yesno_errors(raw):
    value, error = _one(parse_yesno, raw)
    assert pd.isna(value) and error == "unparseable_yesno"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Hài lòng", True),
        ("Rất hài lòng", True),
        ("hai long", True),
        ("1", True),
        ("x", True),
        ("có", True),
        ("Yes", True),
        ("TRUE", True),
        (1, True),
        ("Không hài lòng", False),
        ("Chưa hài lòng", False),
        ("0", False),
        ("Không", False),
        ("No", False),
        ("FALSE", False),
        (0, False),
    ],
)
def test_parse_answer(raw, expected):
    p = parse_answer(pd.Series([raw], dtype=object))
    assert p.values.dtype == "boolean"
    assert p.values.iloc[0] == expected and pd.isna(p.error.iloc[0])


def test_parse_answer_error():
    assert _one(parse_answer, "Bình thường")[1] == "unparseable_answer"


# ------------------------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    "raw",
    [
        "03/11/2025",
        "3/11/2025",
        "03-11-2025",
        "03.11.2025",
        "2025-11-03",
        "2025/11/03",
        " 03/11/2025 ",
        45964,
        45964.0,
        "45964",
        dt.date(2025, 11, 3),
        dt.datetime(2025, 11, 3, 9, 12),
        pd.Timestamp("2025-11-03"),
        np.datetime64("2025-11-03"),
        "03/11/2025 16:30",
    ],
)
def test_parse_date(raw):
    value, error = _one(parse_date, raw)
    assert pd.isna(error) and value == pd.Timestamp("2025-11-03")


def test_parse_date_day_first_and_dtype():
    p = parse_date(pd.Series(["01/02/2025", "2/1/2025"], index=[5, 6]))
    assert p.values.dtype == "datetime64[ns]" and list(p.values.index) == [5, 6]
    assert p.values.tolist() == [pd.Timestamp("2025-02-01"), pd.Timestamp("2025-01-02")]


@pytest.mark.parametrize(
    "raw", ["31/02/2025", "29/02/2025", "13/13/2025", "abc", "03/11/25", 100, 80000, "03/11-2025"]
)
def test_parse_date_errors(raw):
    value, error = _one(parse_date, raw)
    assert pd.isna(value) and error == "unparseable_date"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("14/09/2026 16:30", "2026-09-14 16:30:00"),
        ("2025-11-03T09:12:44", "2025-11-03 09:12:44"),
        ("2025-11-03 09:12:44", "2025-11-03 09:12:44"),
        ("3/11/2025 9:12:44 PM", "2025-11-03 21:12:44"),
        ("3/11/2025 12:05 AM", "2025-11-03 00:05:00"),
        ("2025-11-03T02:12:44Z", "2025-11-03 09:12:44"),
        ("2025-11-03T09:12:44+07:00", "2025-11-03 09:12:44"),
        ("2025-11-03T09:12:44.250", "2025-11-03 09:12:44.250"),
        ("03/11/2025", "2025-11-03 00:00:00"),
        (45964.5, "2025-11-03 12:00:00"),
        ("45964.75", "2025-11-03 18:00:00"),
        (dt.datetime(2025, 11, 3, 9, 12), "2025-11-03 09:12:00"),
        (pd.Timestamp("2025-11-03 02:00", tz="UTC"), "2025-11-03 09:00:00"),
    ],
)
def test_parse_datetime(raw, expected):
    value, error = _one(parse_datetime, raw)
    assert pd.isna(error) and value == pd.Timestamp(expected)


@pytest.mark.parametrize(
    "raw", ["03/11/2025 25:00", "03/11/2025 10:61", "31/04/2025 10:00", "13:00 PM", "2025-11-03T"]
)
def test_parse_datetime_errors(raw):
    value, error = _one(parse_datetime, raw)
    assert pd.isna(value) and error == "unparseable_datetime"


def test_parse_datetime_mixed_objects_keep_index():
    s = pd.Series(
        [
            dt.datetime(2025, 1, 1, 8),
            "02/01/2025 08:00",
            45659.0,
            None,
            pd.Timestamp("2025-01-01 01:00", tz="UTC"),
        ],
        index=list("abcde"),
        dtype=object,
    )
    p = parse_datetime(s)
    assert p.values.dtype == "datetime64[ns]" and list(p.values.index) == list("abcde")
    assert p.values["a"] == pd.Timestamp("2025-01-01 08:00") and p.values["b"] == pd.Timestamp(
        "2025-01-02 08:00"
    )
    assert p.values["c"] == pd.Timestamp("2025-01-02") and pd.isna(p.values["d"])
    assert p.values["e"] == pd.Timestamp("2025-01-01 08:00")
    assert p.error.isna().all()


DATES = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2100, 12, 31))


def _date_forms(d: dt.date) -> list:
    serial = (d - dt.date(1899, 12, 30)).days
    return [
        d.strftime("%d/%m/%Y"),
        f"{d.day}/{d.month}/{d.year}",
        d.strftime("%d-%m-%Y"),
        d.strftime("%d.%m.%Y"),
        d.isoformat(),
        serial,
        float(serial),
        str(serial),
        d,
        dt.datetime(d.year, d.month, d.day, 13, 45),
    ]


@settings(max_examples=30, deadline=None)
@given(st.lists(DATES, min_size=1, max_size=30))
def test_date_roundtrip_all_formats(dates):
    forms = [f for d in dates for f in _date_forms(d)]
    expected = [pd.Timestamp(d) for d in dates for _ in range(10)]
    p = parse_date(pd.Series(forms, dtype=object))
    assert p.error.isna().all()
    assert p.values.tolist() == expected


def _datetime_forms(ts: dt.datetime) -> list:
    delta = ts - dt.datetime(1899, 12, 30)
    return [
        ts.strftime("%d/%m/%Y %H:%M:%S"),
        ts.strftime("%Y-%m-%dT%H:%M:%S"),
        ts.strftime("%Y-%m-%d %H:%M:%S"),
        f"{ts.day}/{ts.month}/{ts.year} {ts.hour}:{ts.minute:02d}:{ts.second:02d}",
        delta.days + delta.seconds / 86400,
        ts,
    ]


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2100, 12, 31, 23, 59, 59)),
        min_size=1,
        max_size=30,
    )
)
def test_datetime_roundtrip(stamps):
    stamps = [ts.replace(microsecond=0) for ts in stamps]
    forms = [f for ts in stamps for f in _datetime_forms(ts)]
    expected = [pd.Timestamp(ts) for ts in stamps for _ in range(6)]
    p = parse_datetime(pd.Series(forms, dtype=object))
    assert p.error.isna().all()
    assert p.values.tolist() == expected


def test_parsed_is_a_namedtuple():
    p = parse_number(pd.Series(["1"]))
    assert isinstance(p, Parsed)
    values, error = p
    assert values.iloc[0] == 1.0 and pd.isna(error.iloc[0])


def test_iso_datetimes_take_the_vectorised_path_with_the_general_results():
    """Plain ISO 8601 cells are parsed in one pass; every other form, and every invalid date, gives what
    the general regex parser gives (the fast path switched off for comparison)."""
    import pipeline.lib.dates as dates_mod

    cells = [
        "2026-10-01T07:00:01",
        "2026-10-01 07:00",
        "2026-02-30",
        "2026-13-01T00:00",
        "2026-10-01T24:00",
        "2026-10-01T07:00:01+07:00",
        "2026-10-01T07:00:01Z",
        "01/10/2026 7:30 CH",
        "45123.5",
        "2026-10-01",
        "9999-09-22 17:37:26",
        "abc",
    ]
    t = pd.Series(cells * 300, dtype="string")
    fast = dates_mod._from_text(t)
    general = dates_mod._from_text_general(t)
    pd.testing.assert_series_equal(fast, general)
    assert fast.iloc[0] == pd.Timestamp("2026-10-01 07:00:01") and pd.isna(fast.iloc[2])


def test_a_year_beyond_the_timestamp_range_is_unparseable_not_a_crash():
    parsed = parse_datetime(pd.Series(["9999-09-22 17:37:26", "31/12/9999"], dtype=object))
    assert parsed.values.isna().all()
    assert parsed.error.tolist() == ["unparseable_datetime"] * 2

"""Vectorised parsers for the dates and date-times people type into the templates (the shared plumbing and the
other parsers: :mod:`pipeline.lib.values`, whose rules on cells and blanks hold here too).

Dates (``parse_date``, ``parse_datetime``)
    Day first always for the slashed/dotted/dashed forms: dd/mm/yyyy, d/m/yyyy, dd-mm-yyyy, dd.mm.yyyy;
    ISO yyyy-mm-dd (also with / or .); Excel serial numbers (1899-12-30 epoch, plausible range 1 Jan 1990 to
    31 Dec 2100; numbers or numeric strings); ``date``/``datetime``/``Timestamp``/``datetime64`` objects.
    ``parse_datetime`` adds a time " HH:MM", " HH:MM:SS", "THH:MM:SS" (optional fraction, optional AM/PM or
    SA/CH, optional "Z"/"+07:00" offset) and Excel serial fractions. Results are naive local time
    (Asia/Ho_Chi_Minh): offsets and tz-aware objects are converted to +07:00 and the zone dropped.
    ``parse_date`` accepts the same input and keeps only the date (midnight). Impossible calendar dates
    (31/02/2025) are errors. Output dtype is ``datetime64[ns]``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from pipeline.lib.values import Parsed, by_distinct, classify_cells, error_codes

__all__ = ["LOCAL_TZ", "parse_date", "parse_datetime"]

LOCAL_TZ = "Asia/Ho_Chi_Minh"

_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
_EXCEL_MIN = (dt.date(1990, 1, 1) - dt.date(1899, 12, 30)).days  # 32874
_EXCEL_MAX = (dt.date(2101, 1, 1) - dt.date(1899, 12, 30)).days  # exclusive: up to 31 Dec 2100 23:59:59

_DATE_TIME_RE = (
    r"^(?:(?P<d>\d{1,2})(?P<s1>[/.\-])(?P<m>\d{1,2})(?P=s1)(?P<y>\d{4})"
    r"|(?P<y2>\d{4})(?P<s2>[/.\-])(?P<m2>\d{1,2})(?P=s2)(?P<d2>\d{1,2}))"
    r"(?:(?:\s+|T)(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<f>\d{1,9}))?)?"
    r"\s*(?P<ampm>[AaPp][Mm]|SA|CH|sa|ch)?)?"
    r"\s*(?P<tz>Z|[+\-]\d{2}:?\d{2})?$"
)
_SERIAL_RE = r"^\d{4,6}(?:[.,]\d+)?$"


def _from_excel_serial(days: pd.Series) -> pd.Series:
    """Excel serial day numbers (float) to timestamps rounded to the second; NaT outside 1990-2100."""
    ok = days.ge(_EXCEL_MIN) & days.lt(_EXCEL_MAX)
    seconds = (days.where(ok) * 86400).round()
    return (_EXCEL_EPOCH + pd.to_timedelta(seconds, unit="s")).astype("datetime64[ns]")


def _from_objects(objs: pd.Series) -> pd.Series:
    """date/datetime/Timestamp/datetime64 objects to naive local datetime64[ns] (aware ones converted)."""
    out = pd.Series(pd.NaT, index=objs.index, dtype="datetime64[ns]")
    aware = objs.map(lambda v: getattr(v, "tzinfo", None) is not None).astype(bool)  # objects only
    if (~aware).any():
        out[~aware] = pd.to_datetime(objs[~aware].tolist(), errors="coerce").astype("datetime64[ns]")
    if aware.any():
        conv = pd.to_datetime(objs[aware].tolist(), errors="coerce", utc=True).tz_convert(LOCAL_TZ)
        out[aware] = conv.tz_localize(None).astype("datetime64[ns]")
    return out


_ISO_PLAIN_RE = r"(?:19|20)\d{2}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?)?"


def _from_text(t: pd.Series) -> pd.Series:
    """Date/time strings (already stripped) to naive local datetime64[ns]; NaT where not a valid form."""
    # the common form, ISO 8601 without zone or fraction, in one vectorised pass; the rest by the regexes
    iso = t.str.fullmatch(_ISO_PLAIN_RE).fillna(False).astype(bool)
    if not iso.any():
        return _from_text_general(t)
    out = pd.Series(pd.NaT, index=t.index, dtype="datetime64[ns]")
    out[iso] = pd.to_datetime(t[iso], format="ISO8601", errors="coerce").astype("datetime64[ns]")
    if not iso.all():
        rest = _from_text_general(t[~iso])
        out[rest.index] = rest
    return out


def _from_text_general(t: pd.Series) -> pd.Series:
    out = pd.Series(pd.NaT, index=t.index, dtype="datetime64[ns]")
    serial = t.str.fullmatch(_SERIAL_RE).fillna(False).astype(bool)
    if serial.any():
        days = pd.to_numeric(t[serial].str.replace(",", ".", regex=False), errors="coerce").astype("float64")
        out[serial] = _from_excel_serial(days)
    g = t[~serial].str.extract(_DATE_TIME_RE)
    g = g[g["y"].notna() | g["y2"].notna()]
    if g.empty:
        return out
    num = {k: pd.to_numeric(g[k], errors="coerce") for k in ("d", "m", "y", "d2", "m2", "y2", "H", "M", "S")}
    hour = num["H"].fillna(0)
    ampm = g["ampm"].str.upper()
    pm = ampm.isin(["PM", "CH"]).fillna(False).astype(bool)
    has_ampm = ampm.notna()
    bad_ampm = has_ampm & ((hour > 12) | (hour < 1))
    hour = hour.where(~has_ampm, hour % 12 + pm * 12)
    parts = pd.DataFrame(
        {
            "year": num["y"].fillna(num["y2"]),
            "month": num["m"].fillna(num["m2"]),
            "day": num["d"].fillna(num["d2"]),
            "hour": hour,
            "minute": num["M"].fillna(0),
            "second": num["S"].fillna(0),
        }
    ).astype("int64")
    ok = (parts["hour"] < 24) & (parts["minute"] < 60) & (parts["second"] < 60) & ~bad_ampm
    ok &= parts["year"].between(1678, 2261)  # datetime64[ns] range: year 9999 is unparseable, not a crash
    stamps = pd.Series(pd.NaT, index=parts.index, dtype="datetime64[ns]")
    if ok.any():
        stamps[ok] = pd.to_datetime(parts[ok], errors="coerce").astype("datetime64[ns]")
    frac = g["f"].fillna("").str.slice(0, 9).str.pad(9, side="right", fillchar="0")
    nanos = pd.to_numeric(frac, errors="coerce").fillna(0).astype("int64")
    stamps = stamps + pd.to_timedelta(nanos, unit="ns")
    tz = g["tz"]
    has_tz = tz.notna()
    if has_tz.any():
        z = tz[has_tz].str.replace(":", "", regex=False).replace("Z", "+0000")
        sign = np.where(z.str[0] == "-", -1, 1)
        offset_min = sign * (z.str[1:3].astype(int) * 60 + z.str[3:5].astype(int))
        shift = pd.to_timedelta(7 * 60 - offset_min, unit="min")
        stamps[has_tz] = stamps[has_tz] + shift.to_numpy()
    out[stamps.index] = stamps
    return out


def _parse_temporal(s: pd.Series, code: str, date_only: bool) -> Parsed:
    c = classify_cells(s)
    index = c.obj.index
    out = pd.Series(pd.NaT, index=index, dtype="datetime64[ns]")
    objs = c.kind.eq("datetime")
    if objs.any():
        out[objs] = _from_objects(c.obj[objs])
    num = c.kind.eq("num")
    if num.any():
        out[num] = _from_excel_serial(pd.to_numeric(c.obj[num].astype(float), errors="coerce"))
    is_str = c.kind.eq("str")
    if is_str.any():
        out[is_str] = _from_text(c.text[is_str].str.replace(r"\s+", " ", regex=True))
    if date_only:
        out = out.dt.normalize()
    failed = ~c.kind.eq("blank") & out.isna()
    return Parsed(out, error_codes(index, failed, code))


@by_distinct
def parse_date(s: pd.Series) -> Parsed:
    """Dates to ``datetime64[ns]`` at midnight (forms in the module docstring; a time part is dropped)."""
    return _parse_temporal(s, "unparseable_date", date_only=True)


@by_distinct
def parse_datetime(s: pd.Series) -> Parsed:
    """Date-times to naive local (Asia/Ho_Chi_Minh) ``datetime64[ns]`` (forms in the module docstring)."""
    return _parse_temporal(s, "unparseable_datetime", date_only=False)

"""Vectorised cell parsers of the ingest: text, numbers (Vietnamese and English forms), dates, yes/no and
survey answers, over a pandas Series of text or native spreadsheet values. Each returns the parsed values
and, per row, the quarantine reason code of what it could not read (None where it could)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.lib.distinct import map_distinct
from pipeline.lib.text import fold

BLANK_TOKENS = ("", "-", "--", "—", "–")


def column_of(frame: pd.DataFrame, name: str) -> pd.Series:
    """The column ``name`` of a batch, or an all-missing one (object dtype) when the file has none."""
    return frame[name] if name in frame.columns else pd.Series(None, index=frame.index, dtype=object)


def all_text(s: pd.Series) -> bool:
    return pd.api.types.infer_dtype(s, skipna=True) in ("string", "empty")


def _native_to_text(v: object) -> object:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float):
        if np.isnan(v):
            return None
        return str(int(v)) if v.is_integer() else repr(v)
    if hasattr(v, "isoformat"):
        text = v.isoformat(sep=" ") if hasattr(v, "hour") and hasattr(v, "date") else v.isoformat()
        return text[:-9] if text.endswith(" 00:00:00") else text
    return str(v)


def split_native(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(text part, native part): str cells in the first, other non-null cells in the second."""
    s = s.astype(object)
    if all_text(s):
        return s.where(s.notna(), None), pd.Series(None, index=s.index, dtype=object)
    is_str = s.map(lambda v: isinstance(v, str)).astype(bool)
    text = s.where(is_str, None)
    native = s.where(~is_str & s.notna(), None)
    return text, native


_DISTINCT_MIN = 2048


def cell_text(s: pd.Series, upper: bool = False) -> pd.Series:
    """Cells as stripped NFC text; blanks and '-' become <NA>.

    A long column with few distinct cells (codes, periods, status words of a batch of many files) is
    cleaned once per distinct cell and gathered back: same result, a fraction of the string work."""
    s = s.astype(object)
    if not all_text(s):
        s = s.map(_native_to_text)
    if len(s) >= _DISTINCT_MIN:
        codes, uniques = pd.factorize(s, use_na_sentinel=True)
        if 2 * (len(uniques) + 1) <= len(s):
            u = _cell_text(pd.Series(np.asarray(uniques, dtype=object), dtype=object), upper)
            return pd.Series(u.array.take(codes, allow_fill=True), index=s.index, name=s.name)
    return _cell_text(s, upper)


def _cell_text(s: pd.Series, upper: bool) -> pd.Series:
    t = s.where(s.notna(), None).astype("string").str.strip()
    t = t.str.replace(r"\s+", " ", regex=True)
    t = t.mask(t.isin(BLANK_TOKENS))
    if upper:
        t = t.str.upper()
    return t


def cell_code(text: pd.Series, codes: dict[str, str]) -> pd.Series:
    """The code of each cell (text from :func:`cell_text`) written as one of a template's words or as the code
    itself, e.g. "Hợp tác xã" -> "cooperative" (accents, case and surrounding punctuation ignored:
    :func:`pipeline.lib.text.fold`); None where it is neither, or blank."""
    keys = {fold(k): v for k, v in codes.items()} | {v: v for v in codes.values()}
    out = map_distinct(text, lambda s: keys.get(fold(s)) if isinstance(s, str) else None)
    return out.where(out.notna(), None)


def native_number(native: pd.Series) -> pd.Series:
    """Native numeric cells (not bool) as float; others <NA>."""
    if native.isna().all():
        return pd.Series(np.nan, index=native.index, dtype="float64")
    ok = native.map(
        lambda v: isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
    )
    return pd.to_numeric(native.where(ok.astype(bool), None), errors="coerce").astype("float64")


def _err(error: pd.Series, index: pd.Index, default: str) -> pd.Series:
    e = pd.Series(error, index=index).astype(object)
    e = e.where(e.notna(), None)
    from pipeline.ingest.quarantine import REASONS

    return map_distinct(e, lambda c: c if c in REASONS else default)


def _blank_text(text: pd.Series) -> pd.Series:
    t = text.astype("string").str.strip()
    return t.mask(t.isin(BLANK_TOKENS))


def cell_number(s: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(float values, error code or None, had a '%' sign) from text or native cells."""
    from pipeline.lib.values import parse_number

    text, native = split_native(s)
    t = _blank_text(text)
    parsed = parse_number(t)
    vals = pd.to_numeric(pd.Series(parsed.values, index=s.index), errors="coerce").astype("float64")
    err = _err(parsed.error, s.index, "unparseable_number")
    nat = native_number(native)
    has_nat = nat.notna()
    vals = vals.where(~has_nat, nat)
    bad_native = native.notna() & ~has_nat
    err = err.where(~bad_native, "unparseable_number")
    pct = t.str.contains("%", regex=False).fillna(False).astype(bool)
    return vals, err, pct


def _native_datetime(native: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Native date/datetime cells (and Excel serial numbers) as Timestamps; mask of unusable natives."""
    out = pd.Series(pd.NaT, index=native.index, dtype="datetime64[us]")
    if native.isna().all():
        return out, pd.Series(False, index=native.index)
    is_dt = native.map(lambda v: hasattr(v, "year") and hasattr(v, "month")).astype(bool)
    if is_dt.any():
        out[is_dt] = pd.to_datetime(native[is_dt].map(lambda v: pd.Timestamp(v)), errors="coerce")
    num = native_number(native)
    serial = num.notna() & ~is_dt
    if serial.any():
        out[serial] = pd.Timestamp("1899-12-30") + pd.to_timedelta(num[serial], unit="D")
    bad = native.notna() & out.isna()
    return out, bad


def _cell_dt(s: pd.Series, parser_name: str, default: str) -> tuple[pd.Series, pd.Series]:
    from pipeline.lib import dates as lib_dates

    parser = getattr(lib_dates, parser_name)
    text, native = split_native(s)
    t = _blank_text(text)
    parsed = parser(t)
    vals = pd.to_datetime(pd.Series(parsed.values, index=s.index), errors="coerce")
    err = _err(parsed.error, s.index, default)
    nat, bad_native = _native_datetime(native)
    vals = vals.where(nat.isna(), nat)
    err = err.where(~bad_native, default)
    return vals, err


def cell_datetime(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    return _cell_dt(s, "parse_datetime", "unparseable_datetime")


def cell_date(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    vals, err = _cell_dt(s, "parse_date", "unparseable_date")
    return vals.dt.normalize(), err


def _cell_bool(s: pd.Series, parser_name: str, default: str) -> tuple[pd.Series, pd.Series]:
    from pipeline.lib import values as lib_values

    parser = getattr(lib_values, parser_name)
    text, native = split_native(s)
    if native.notna().any():
        text = text.where(native.isna(), native.map(_native_to_text))
    t = _blank_text(text)
    parsed = parser(t)
    vals = pd.Series(parsed.values, index=s.index)
    err = _err(parsed.error, s.index, default)
    return vals, err


def cell_yesno(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(1.0 / 0.0 / NaN, error)"""
    vals, err = _cell_bool(s, "parse_yesno", "unparseable_yesno")
    num = map_distinct(vals, lambda v: float(bool(v)), na=np.nan)  # None / <NA> / NaN -> NaN
    return num.astype("float64"), err


def cell_answer(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(True / False / <NA>, error)"""
    vals, err = _cell_bool(s, "parse_answer", "unparseable_answer")
    return vals.astype("boolean"), err

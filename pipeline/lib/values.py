"""Vectorised parsers for the values people type into the templates (numbers, yes/no, answers; dates and
date-times are in :mod:`pipeline.lib.dates`, on the plumbing of this module).

Every parser takes a pandas Series (object or string dtype; cells may be ``str``, ``int``, ``float``,
``bool``, ``datetime``/``date``/``pd.Timestamp`` as spreadsheet readers return them) and returns
``Parsed(values, error)`` with the same index:

* ``values``: the parsed value, ``<NA>``/``NaN``/``NaT`` where blank or unparseable;
* ``error``: ``<NA>`` or a reason code (``unparseable_number``, ``unparseable_date``,
  ``unparseable_datetime``, ``unparseable_yesno``, ``unparseable_answer``).

Blank cells ('' / whitespace / '-' / '–' / '—' / 'None' / 'nan' / 'null' / '<NA>' / 'NaT', any case, or a
missing value) give no value and no error: whether a value is required is the caller's decision.

Numbers (``parse_number``)
    Signs ``+``/``-``/``−``, surrounding and non-breaking spaces and a trailing ``%`` are accepted
    (``parse_number_ex`` also reports which cells had the ``%``; the value is not divided by 100). The
    separators follow the Vietnamese convention wherever a string is ambiguous:

    * one comma, no dot: decimal comma — "12,5" = 12.5, and also "1,234" = 1.234 (never 1234);
    * one dot, no comma: thousands dot when it is followed by exactly three digits and preceded by
      one to three digits not starting with 0 — "1.234" = 1234, "12.345" = 12345, "123.456" = 123456;
      otherwise a decimal point — "0.5", "0.234", "1234.5", "1.5", "12.3456";
    * several dots (no comma) or several commas (no dot): thousands groups of exactly three digits —
      "1.234.567" = "1,234,567" = 1234567;
    * both: the last separator is the decimal one and the other must group thousands correctly —
      "1.234,5" = "1,234.5" = 1234.5;
    * a space or no-break space between digit groups of three is a thousands separator ("1 234,5");
    * exponents "1.5E+03" are read as written; anything else ("x", "1,2,3.4.5", "1..2") is
      ``unparseable_number``.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import NamedTuple

import numpy as np
import pandas as pd

from pipeline.lib.text import fold_series

__all__ = [
    "Parsed",
    "ParsedNumber",
    "blank_mask",
    "by_distinct",
    "classify_cells",
    "error_codes",
    "parse_answer",
    "parse_number",
    "parse_number_ex",
    "parse_yesno",
]

# Parsing works on each distinct string once: a column of 100k cells usually holds a few thousand distinct
# strings, and the regex passes below cost ~1 s per 100k cells. Only all-text columns of at least
# _DISTINCT_MIN cells with at most half of them distinct take this path; results are identical (each
# distinct cell is parsed by the same code, then the result rows are gathered back in input order).
_DISTINCT_MIN = 2048


def by_distinct(fn):
    @functools.wraps(fn)
    def wrapper(s):
        if not isinstance(s, pd.Series) or len(s) < _DISTINCT_MIN:
            return fn(s)
        if pd.api.types.infer_dtype(s, skipna=True) not in ("string", "empty"):
            return fn(s)
        codes, uniques = pd.factorize(s, use_na_sentinel=True)
        if 2 * (len(uniques) + 1) > len(s):
            return fn(s)
        _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
        res = fn(s.iloc[first].reset_index(drop=True))
        inverse = np.asarray(inverse).ravel()
        return type(res)(*(f.take(inverse).set_axis(s.index) for f in res))

    return wrapper


_BLANKS = ("", "-", "–", "—", "none", "nan", "null", "<na>", "nat")


class Parsed(NamedTuple):
    values: pd.Series
    error: pd.Series  # reason code or <NA>, dtype string


class ParsedNumber(NamedTuple):
    values: pd.Series  # float64
    error: pd.Series
    had_percent: pd.Series  # bool: the cell ended in '%'


# --------------------------------------------------------------------------------------------------
# shared plumbing
# --------------------------------------------------------------------------------------------------

_KIND_OF_TYPE: dict[type, str] = {}


def _kind_of(t: type) -> str:
    kind = _KIND_OF_TYPE.get(t)
    if kind is None:
        if issubclass(t, str):
            kind = "str"
        elif issubclass(t, (bool, np.bool_)):
            kind = "bool"
        elif issubclass(t, (int, float, np.integer, np.floating)):
            kind = "num"
        elif issubclass(t, (dt.date, np.datetime64)):  # datetime and Timestamp are dates too
            kind = "datetime"
        else:
            kind = "other"
        _KIND_OF_TYPE[t] = kind
    return kind


class _Cells(NamedTuple):
    obj: pd.Series  # object dtype
    kind: pd.Series  # str | num | bool | datetime | other | blank
    text: pd.Series  # stripped text of str cells (string dtype, <NA> elsewhere)


def classify_cells(s: pd.Series) -> _Cells:
    if not isinstance(s, pd.Series):
        s = pd.Series(s)
    obj = s.astype(object)
    na = obj.isna()
    types = obj.map(type)
    kind = types.map({t: _kind_of(t) for t in pd.unique(types)}).astype(object)
    text = obj.where(kind == "str").astype("string").str.strip()
    blank = na | text.str.lower().isin(_BLANKS).fillna(False).astype(bool)
    kind = kind.mask(blank, "blank")
    text = text.mask(blank)
    return _Cells(obj, kind, text)


def blank_mask(s: pd.Series) -> pd.Series:
    """True where a cell counts as blank (missing, whitespace, '-', 'None', 'nan' ...)."""
    return classify_cells(s).kind.eq("blank")


def error_codes(index: pd.Index, failed: pd.Series, code: str) -> pd.Series:
    err = pd.Series(pd.NA, index=index, dtype="string")
    err[failed.to_numpy(dtype=bool)] = code
    return err


# --------------------------------------------------------------------------------------------------
# numbers
# --------------------------------------------------------------------------------------------------

_P_PLAIN = r"^\d+$|^\d*\.\d+$|^\d+(?:[.,]\d+)?[eE][+-]?\d+$"  # read as is (after ',' -> '.' in exponent form)
_P_DOT_GROUPS = r"^[1-9]\d{0,2}(?:\.\d{3})+$"  # 1.234 / 1.234.567
_P_COMMA_DECIMAL = r"^\d*,\d+$"  # 12,5 / 1,234 / ,5
_P_COMMA_GROUPS = r"^[1-9]\d{0,2}(?:,\d{3}){2,}$"  # 1,234,567 (one comma alone is a decimal comma)
_P_VN_FULL = r"^[1-9]\d{0,2}(?:\.\d{3})+,\d+$"  # 1.234,5
_P_EN_FULL = r"^[1-9]\d{0,2}(?:,\d{3})+\.\d+$"  # 1,234.5


@by_distinct
def parse_number_ex(s: pd.Series) -> ParsedNumber:
    """Parse numbers written the Vietnamese or the English way (rules in the module docstring)."""
    c = classify_cells(s)
    index = c.obj.index
    values = pd.Series(np.nan, index=index, dtype="float64")
    num = c.kind.isin(["num", "bool"])
    if num.any():
        values[num] = pd.to_numeric(c.obj[num].astype(float), errors="coerce")
    had_percent = pd.Series(False, index=index, dtype=bool)

    is_str = c.kind.eq("str")
    if is_str.any():
        t = c.text[is_str]
        t = t.str.replace(r"[\s\u00a0\u202f\u2009]+", " ", regex=True)
        pct = t.str.endswith("%")
        had_percent[is_str] = pct.to_numpy(dtype=bool)
        t = t.str.replace(r"\s*%$", "", regex=True)
        t = t.str.replace(r"(?<=\d) (?=\d{3}(?:\D|$))", "", regex=True)  # "1 234,5"
        parts = t.str.extract(r"^(?P<sign>[+\-\u2212]?)\s*(?P<body>.*)$")
        body = parts["body"].astype("string")
        negative = parts["sign"].isin(["-", "\u2212"]).to_numpy(dtype=bool)

        canonical = pd.Series(pd.NA, index=body.index, dtype="string")
        no_dots = body.str.replace(".", "", regex=False)
        no_commas = body.str.replace(",", "", regex=False)
        for pattern, converted in (
            (_P_DOT_GROUPS, no_dots),  # before _P_PLAIN: "1.234" is 1234
            (_P_PLAIN, body.str.replace(",", ".", regex=False)),
            (_P_COMMA_DECIMAL, body.str.replace(",", ".", regex=False)),
            (_P_COMMA_GROUPS, no_commas),
            (_P_VN_FULL, no_dots.str.replace(",", ".", regex=False)),
            (_P_EN_FULL, no_commas),
        ):
            hit = body.str.contains(pattern, regex=True).fillna(False).astype(bool) & canonical.isna()
            canonical = canonical.mask(hit, converted)
        parsed = pd.to_numeric(canonical, errors="coerce").astype("float64")
        parsed[negative] = -parsed[negative]
        values[is_str] = parsed.to_numpy()

    failed = ~c.kind.eq("blank") & values.isna()
    return ParsedNumber(values, error_codes(index, failed, "unparseable_number"), had_percent)


def parse_number(s: pd.Series) -> Parsed:
    """``parse_number_ex`` without the percent flag."""
    p = parse_number_ex(s)
    return Parsed(p.values, p.error)


# --------------------------------------------------------------------------------------------------
# yes/no and satisfaction answers
# --------------------------------------------------------------------------------------------------

_YES = ("co", "c", "x", "1", "1.0", "dat", "yes", "y", "true", "\u2713", "\u2714")
_NO = ("khong", "k", "0", "0.0", "khong dat", "chua dat", "chua", "no", "n", "false")
_SATISFIED = ("hai long", "rat hai long", "1", "1.0", "x", "co", "yes", "true", "\u2713", "\u2714")
_NOT_SATISFIED = ("khong hai long", "chua hai long", "rat khong hai long", "0", "0.0", "khong", "no", "false")


def _truth(s: pd.Series, yes: tuple[str, ...], no: tuple[str, ...]) -> tuple[pd.Series, pd.Series, _Cells]:
    """(boolean values, failed mask, cells) for a two-valued vocabulary matched on folded text."""
    c = classify_cells(s)
    index = c.obj.index
    out = pd.Series(pd.NA, index=index, dtype="boolean")
    folded = fold_series(c.text)
    # fold() strips surrounding punctuation ("-1" -> "1"): a cell with a sign or any character other
    # than letters, digits, spaces, '.' and the tick marks is not one of the words, whatever it folds to
    odd = c.text.str.contains(r"[^\w\s.\u2713\u2714]|_", regex=True).fillna(True).astype(bool)
    odd |= c.text.str.contains(".", regex=False).fillna(False).astype(bool) & ~c.text.str.fullmatch(
        r"[01]\.0"
    ).fillna(False).astype(bool)
    plain = ~odd
    folded = folded.where(plain.to_numpy(), None)
    out[folded.isin(yes).fillna(False).to_numpy(dtype=bool)] = True
    out[folded.isin(no).fillna(False).to_numpy(dtype=bool)] = False
    num = c.kind.isin(["num", "bool"])
    if num.any():
        n = pd.to_numeric(c.obj[num].astype(float), errors="coerce")
        out[n.index[n.eq(1).to_numpy()]] = True
        out[n.index[n.eq(0).to_numpy()]] = False  # a native -0.0 is 0 too; a native -1 is not 1
    failed = ~c.kind.eq("blank") & out.isna()
    return out, failed, c


@by_distinct
def parse_yesno(s: pd.Series) -> Parsed:
    """Yes/no cells to 1.0/0.0 (float64): có, x, 1, Đạt, yes, true / không, 0, Không đạt, Chưa đạt, no,
    false; case and accents ignored."""
    out, failed, c = _truth(s, _YES, _NO)
    values = out.astype("Float64").astype("float64")
    return Parsed(values, error_codes(c.obj.index, failed, "unparseable_yesno"))


@by_distinct
def parse_answer(s: pd.Series) -> Parsed:
    """Satisfaction answers to a boolean Series: Hài lòng, Rất hài lòng, 1, x, ✓, ✔, có, yes, true -> True;
    Không hài lòng, Chưa hài lòng, 0, không, no, false -> False; case and accents ignored."""
    out, failed, c = _truth(s, _SATISFIED, _NOT_SATISFIED)
    return Parsed(out, error_codes(c.obj.index, failed, "unparseable_answer"))

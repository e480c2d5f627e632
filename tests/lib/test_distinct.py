"""pipeline.lib.distinct: the per-distinct-cell helpers give what pandas gives, row for row."""

import numpy as np
import pandas as pd
import pytest

from pipeline.lib.distinct import in_set, map_distinct
from pipeline.lib.periods import is_future_series


@pytest.mark.parametrize("dtype", [object, "string"])
def test_in_set_matches_isin_and_treats_missing_as_false(dtype):
    s = pd.Series(["A", None, "B", "a", "A", "C"] * 50, index=range(100, 400), dtype=dtype)
    got = in_set(s, frozenset({"A", "C"}))
    want = s.isin(["A", "C"]).fillna(False).astype(bool)
    assert got.dtype == bool
    assert got.index.equals(s.index)
    assert got.tolist() == want.tolist()
    assert not got.iloc[1]


def test_in_set_accepts_a_list_or_index():
    s = pd.Series(["x", "y", "z"])
    assert in_set(s, ["y"]).tolist() == [False, True, False]
    assert in_set(s, pd.Index(["z", "x"])).tolist() == [True, False, True]
    assert in_set(pd.Series([], dtype=object), {"x"}).tolist() == []


def test_map_distinct_calls_once_per_distinct_cell_and_keeps_missing():
    calls = []

    def fn(v):
        calls.append(v)
        return v.lower()

    s = pd.Series(["A", "B", None, "A", np.nan, "B"], index=list("uvwxyz"))
    got = map_distinct(s, fn, na="missing")
    assert got.tolist() == ["a", "b", "missing", "a", "missing", "b"]
    assert got.index.tolist() == list("uvwxyz")
    assert sorted(calls) == ["A", "B"]


def test_is_future_series_per_distinct_code_matches_the_scalar_rule():
    import datetime as dt

    codes = pd.Series(["2026-Q1", "2026-Q4", None, "2027", "bad", "2026-Q4"] * 30, dtype="string")
    got = is_future_series(codes, dt.date(2026, 9, 30))
    assert got.tolist()[:6] == [False, True, False, True, False, True]
    assert got.index.equals(codes.index)

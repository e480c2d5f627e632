"""Column operations done once per distinct cell, then gathered back in row order.

A batch of the ingest holds hundreds of thousands of rows but only a few thousand distinct unit, hamlet,
period or status cells. ``Series.isin`` on pandas' Arrow strings walks the whole lookup set in Python on
every call (a 100k-code registry costs ~0.1 s per call), and ``Series.map`` with a Python function calls it
once per row. These helpers factorize the column first: same results, a fraction of the work.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

import numpy as np
import pandas as pd


def in_set(s: pd.Series, values: Collection) -> pd.Series:
    """``s.isin(values)`` as a plain bool Series on ``s.index``; missing cells give False."""
    lookup = values if isinstance(values, (set, frozenset, dict)) else set(values)
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    hit = np.fromiter((u in lookup for u in uniques), dtype=bool, count=len(uniques))
    out = np.zeros(len(s), dtype=bool)
    present = codes >= 0
    out[present] = hit[codes[present]]
    return pd.Series(out, index=s.index, name=s.name)


def map_distinct(s: pd.Series, fn: Callable[[object], object], na: object = None) -> pd.Series:
    """``fn`` applied to each distinct non-missing cell, gathered back (object dtype); missing -> ``na``."""
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    mapped = np.empty(len(uniques) + 1, dtype=object)
    mapped[:-1] = [fn(u) for u in uniques] if len(uniques) else []
    mapped[-1] = na
    return pd.Series(mapped[codes], index=s.index, name=s.name, dtype=object)

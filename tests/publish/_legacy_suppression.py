"""The suppression rule of releases before issue 12, kept verbatim (renamed) so that a test shows the attacker
(:mod:`pipeline.publish.disclosure_audit`) catches what it let through: secondary suppression acted only
when exactly one cell of a group was hidden, so two hidden hamlets that are both all-satisfied (or both
all-unsatisfied) were recovered from the commune total."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

PRIMARY = "primary_lt5"
SECONDARY = "secondary"


def legacy_suppress_satisfaction(
    df: pd.DataFrame,
    *,
    group_cols: Sequence[str],
    cell_col: str,
    count_col: str = "respondents",
    value_cols: Sequence[str] = ("satisfied",),
    min_count: int = 5,
    total_cell: Any = None,
    has_total_row: bool = False,
    block_cols: Any = None,  # noqa: ARG001 - accepted for call compatibility; the old rule had no blocks
) -> pd.DataFrame:
    """Return a copy of ``df`` with ``suppressed`` / ``suppression_reason`` added and values nulled.

    ``group_cols``: columns that define a group whose total is public (e.g. ``commune_code, question_code,
    period_code``). ``cell_col``: the detail dimension inside a group (e.g. ``hamlet_code``).
    If ``has_total_row`` is true, rows whose ``cell_col`` equals ``total_cell`` (or is null when
    ``total_cell`` is None) are the group's total rows.
    The input row order is kept.
    """
    missing = [c for c in [*group_cols, cell_col, count_col, *value_cols] if c not in df.columns]
    if missing:
        raise KeyError(f"suppress_satisfaction: missing columns {missing}")
    out = df.copy()
    counts = pd.to_numeric(out[count_col], errors="raise")
    if has_total_row:
        is_total = out[cell_col].isna() if total_cell is None else out[cell_col].eq(total_cell)
        is_total = is_total.fillna(False).astype(bool)
    else:
        is_total = pd.Series(False, index=out.index)

    primary = (counts > 0) & (counts < min_count)
    suppressed = primary.copy()
    reason = pd.Series([PRIMARY if p else None for p in primary], index=out.index, dtype="object")

    # Deterministic group iteration; dropna=False keeps groups with null keys.
    grouped = (
        out.groupby(list(group_cols), dropna=False, sort=True).indices
        if group_cols
        else {(): range(len(out))}
    )
    for _key, positions in grouped.items():
        idx = out.index[list(positions)]
        detail = idx[~is_total.loc[idx].to_numpy()]
        totals = idx[is_total.loc[idx].to_numpy()]
        n_supp = int(suppressed.loc[detail].sum())
        if n_supp != 1:
            continue
        candidates = [i for i in detail if not suppressed.loc[i] and counts.loc[i] > 0]
        if candidates:
            cand = sorted(candidates, key=lambda i: (counts.loc[i], str(out.at[i, cell_col])))[0]
            suppressed.loc[cand] = True
            reason.loc[cand] = SECONDARY
        else:
            for t in totals:
                if not suppressed.loc[t]:
                    suppressed.loc[t] = True
                    reason.loc[t] = SECONDARY

    for col in value_cols:
        # Cast to a nullable dtype first so that NaN/NA can be stored.
        if pd.api.types.is_bool_dtype(out[col]):
            out[col] = out[col].astype("boolean")
        elif pd.api.types.is_integer_dtype(out[col]):
            out[col] = out[col].astype("Int64")
        out.loc[suppressed, col] = None
    out["suppressed"] = suppressed.astype(bool)
    out["suppression_reason"] = reason
    return out

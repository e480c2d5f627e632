"""Cell suppression for the satisfaction-survey results (statistical disclosure control).

The published table (``mart_satisfaction``) holds, per group (commune x period x form x question), one row per
hamlet and one commune row (the group total, ``hamlet_code`` null). Each row carries ``respondents`` (n, the
answers given) and ``satisfied`` (s) with the rate and the >= 90 % flag derived from them. The commune row
also counts answers not attributed to any hamlet; their n is published implicitly
(``n_commune - sum(n_hamlets)``), their s is not.

What an attacker knows from one release: every n; every published s; ``0 <= s_i <= n_i`` for a hidden s;
and, per group whose commune row is published, ``s_commune = sum(s_hamlets) + s_unattributed``. Nothing else
links two groups (the survey has no published margin across questions, periods or communes).

The rule (documented for re-users in the release README; an outsider recomputes it exactly):

1. *Primary* (``suppression_reason = 'primary'``): every row (hamlet or commune) with
   ``0 < respondents < min_count`` (``NTM_SUPPRESSION_MIN_COUNT``, default 5). Rows with 0 respondents
   carry no answer and are never hidden.
2. *Complementary* (``'complementary'``), per group that has a primary hamlet row and whose commune row is
   published. Let K be the hidden hamlet rows plus the unattributed answers, ``T = sum(n over K)``,
   ``R = sum(s over K)`` (R is public: commune s minus the published hamlet s), and ``m`` the number of
   members of K with n > 0. Given the published numbers, a hidden hamlet i can take exactly the values
   ``max(0, R - (T - n_i)) .. min(n_i, R)``; this range holds two values or more for every hidden row with
   n > 0 **if and only if** ``m >= 2`` and ``0 < R < T``. While that does not hold:

   a. hide the published hamlet row j with ``n_j > 0`` that makes it hold once added
      (``m + 1 >= 2`` and ``0 < R + s_j < T + n_j``) with the fewest respondents (ties: the smaller
      ``hamlet_code``); one such row always suffices when any exists;
   b. if no hamlet row can (every other hamlet is all-satisfied while K is, or all-unsatisfied while K is),
      hide the commune row; without its s no equation binds the hidden hamlets, each keeps ``0 .. n_i`` and
      the commune row keeps ``P .. P + T`` (P: sum of the published hamlet s).

   A group whose commune row is primary (n < min_count) needs nothing more: all its answered hamlets are
   primary too and no equation binds them.
3. For a hidden row, ``satisfied``, ``satisfied_rate`` and ``meets_90`` are null. ``respondents`` stays
   published: it is the denominator a re-user needs and not the answer being protected.

Tables without a total row (``has_total_row=False``) are handled as if the group total were public
elsewhere (the conservative reading); if no detail row can protect a group, :class:`UnprotectableGroupError`
is raised instead of publishing a recoverable cell.

The independent check is :mod:`pipeline.publish.disclosure_audit`, which recomputes every hidden cell's
feasible range from the released Parquet files by linear programming and blocks the release if one is exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

PRIMARY = "primary"
COMPLEMENTARY = "complementary"
DEFAULT_MIN_COUNT = 5


class UnprotectableGroupError(ValueError):
    """A group's cells cannot be protected because its (public, unpublishable) total discloses them."""


def is_protected(n_hidden: Sequence[int], s_hidden: Sequence[int]) -> bool:
    """True when every hidden member with n > 0 of one equation ``sum(s) = R`` keeps two values or more.

    ``n_hidden`` / ``s_hidden``: respondents and satisfied of the hidden members (hidden hamlets and the
    unattributed answers). Exact criterion (see the module docstring): at least two members with n > 0 and
    ``0 < R < T``.
    """
    t = int(sum(n_hidden))
    r = int(sum(s_hidden))
    m = sum(1 for n in n_hidden if n > 0)
    return m >= 2 and 0 < r < t


def suppress_satisfaction(
    df: pd.DataFrame,
    *,
    group_cols: Sequence[str],
    cell_col: str,
    count_col: str = "respondents",
    satisfied_col: str = "satisfied",
    value_cols: Sequence[str] = ("satisfied",),
    min_count: int = DEFAULT_MIN_COUNT,
    total_cell: Any = None,
    has_total_row: bool = False,
) -> pd.DataFrame:
    """Return a copy of ``df`` with ``suppressed`` / ``suppression_reason`` added and values nulled.

    ``group_cols``: the columns of one group (one equation ``total = sum of cells``), e.g. ``commune_code,
    period_code, form_code, question_code``. ``cell_col``: the detail dimension (``hamlet_code``). If
    ``has_total_row``, the row of a group whose ``cell_col`` equals ``total_cell`` (null when
    ``total_cell`` is None) is the group total. ``satisfied_col``: the count the rule protects (it must be
    one of ``value_cols``, every one of which is nulled on a hidden row). The input row order is kept and
    the result does not depend on it.
    """
    if min_count < 1:
        raise ValueError(f"min_count must be >= 1, got {min_count}")
    missing = [
        c for c in [*group_cols, cell_col, count_col, satisfied_col, *value_cols] if c not in df.columns
    ]
    if missing:
        raise KeyError(f"suppress_satisfaction: missing columns {missing}")
    if satisfied_col not in value_cols:
        raise ValueError(f"satisfied_col {satisfied_col!r} must be one of value_cols {list(value_cols)}")
    out = df.copy()
    counts = pd.to_numeric(out[count_col], errors="raise").fillna(0).astype("int64").to_numpy()
    sat = pd.to_numeric(out[satisfied_col], errors="raise").fillna(0).astype("int64").to_numpy()
    if ((sat < 0) | (sat > counts)).any():
        bad = int(np.flatnonzero((sat < 0) | (sat > counts))[0])
        raise ValueError(
            f"suppress_satisfaction: row {bad}: {satisfied_col}={sat[bad]} outside 0..{count_col}={counts[bad]}"
        )
    if has_total_row:
        is_total = (out[cell_col].isna() if total_cell is None else out[cell_col].eq(total_cell)).to_numpy(
            dtype=bool, na_value=False
        )
    else:
        is_total = np.zeros(len(out), dtype=bool)
    cell_keys = out[cell_col].astype("string").fillna("").to_numpy()

    hidden = (counts > 0) & (counts < min_count)
    reason = np.where(hidden, PRIMARY, None).astype(object)

    grouped = (
        out.groupby(list(group_cols), dropna=False, sort=True).indices
        if group_cols
        else {(): np.arange(len(out))}
    )
    for key, positions in grouped.items():
        positions = np.asarray(positions)
        detail = positions[~is_total[positions]]
        totals = positions[is_total[positions]]
        if len(totals) > 1:
            raise ValueError(f"suppress_satisfaction: group {key} has {len(totals)} total rows")
        if not hidden[detail].any():
            continue
        if len(totals) == 1:
            t = int(totals[0])
            n_rest = int(counts[t] - counts[detail].sum())
            s_rest = int(sat[t] - sat[detail].sum())
            if n_rest < 0 or s_rest < 0 or s_rest > n_rest:
                raise ValueError(
                    f"suppress_satisfaction: group {key}: the total row ({counts[t]} respondents, {sat[t]} "
                    f"satisfied) is smaller than its cells ({counts[detail].sum()}, {sat[detail].sum()})"
                )
        else:
            t, n_rest, s_rest = None, 0, 0
        # order candidates once: fewest respondents first, then cell key
        order = sorted(detail, key=lambda i: (counts[i], cell_keys[i]))
        while True:
            if t is not None and hidden[t]:
                break  # no published total: nothing binds the hidden cells
            k = [i for i in detail if hidden[i]]
            n_k = [int(counts[i]) for i in k] + [n_rest]
            s_k = [int(sat[i]) for i in k] + [s_rest]
            if is_protected(n_k, s_k):
                break
            choice = next(
                (
                    j
                    for j in order
                    if not hidden[j]
                    and counts[j] > 0
                    and is_protected([*n_k, int(counts[j])], [*s_k, int(sat[j])])
                ),
                None,
            )
            if choice is None:
                if t is None:
                    raise UnprotectableGroupError(
                        f"nhóm {key}: tổng nhóm công khai làm lộ các ô bị ẩn (mọi ô đều hài lòng hết hoặc đều "
                        "không hài lòng); hãy công bố bảng kèm dòng tổng để có thể ẩn nó. / "
                        f"group {key}: the public group total discloses its suppressed cells (every cell is "
                        "all-satisfied or every cell all-unsatisfied); publish the table with a total row"
                    )
                choice = t
            hidden[choice] = True
            reason[choice] = COMPLEMENTARY

    for col in value_cols:
        # Cast to a nullable dtype first so that NaN/NA can be stored.
        if pd.api.types.is_bool_dtype(out[col]):
            out[col] = out[col].astype("boolean")
        elif pd.api.types.is_integer_dtype(out[col]):
            out[col] = out[col].astype("Int64")
        out.loc[hidden, col] = None
    out["suppressed"] = hidden.astype(bool)
    out["suppression_reason"] = pd.Series(reason, index=out.index, dtype="object")
    return out

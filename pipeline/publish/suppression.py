"""Cell suppression for the satisfaction-survey results (statistical disclosure control).

The published table (``mart_satisfaction``) holds, per group (commune x period x form x question), one row per
hamlet and one commune row (the group total, ``hamlet_code`` null). Each row carries ``respondents`` (n, the
answers given) and ``satisfied`` (s) with the rate and the >= 90 % flag derived from them. The commune row
also counts answers not attributed to any hamlet; their number is not published.

What an attacker knows from one release: every published n and s; for a hidden row, its marker
(``primary`` => ``1 <= n <= t-1``, ``complementary`` => ``n >= t``; the threshold t is documented) and
``0 <= s <= n``; per group whose commune row is published, ``N = sum(n_hamlets) + n_rest`` and
``S = sum(s_hamlets) + s_rest`` with unknown ``n_rest >= 0``, ``0 <= s_rest <= n_rest``. No other published
table is derived from survey answers (checked: only ``mart_satisfaction`` reads ``fact_survey_answer``, which
is not published). The one link across groups is the same location on another question of the same form and
period: most respondents answer every question, so an n shown there is treated as this cell's n. Hence a
*block* (commune x period x form) hides the same locations on every question.

The rule (documented for re-users in the release README; an outsider recomputes it exactly):

1. *Primary* (``suppression_reason = 'primary'``): every row with ``0 < n < t`` (``NTM_SUPPRESSION_MIN_COUNT``,
   default 5, at least 3: with t <= 2 the marker alone gives n = 1). Rows with n = 0 are never hidden.
2. A location (hamlet key, or the commune row) hidden on one question of a block is hidden on every question
   of the block where its n > 0; its reason there is ``primary`` if n < t, else ``complementary``.
3. Exact criterion per group (closed forms in :func:`member_ranges`). Commune row published: T = N - sum of
   the published hamlets' n, R = S - sum of their s, L = sum of the hidden hamlets' lower bounds (1 per
   primary, t per complementary). A hidden hamlet i can take n in ``L_i .. min(U_i, T - L + L_i)`` and s in
   ``max(0, R - T + L_i) .. min(n_max_i, R)`` (the union over n of contiguous, overlapping ranges), and
   "everyone satisfied" (n - s = 0) is certain iff R = T. With t >= 3, every hidden cell keeps two values
   or more for n and for s and "everyone satisfied" is never certain **iff L < T and 0 < R < T**. Commune
   row hidden: no equation binds; protected if it is complementary, or primary with fewer than t - 1
   answered hamlets (otherwise N <= t - 1 forces every hamlet's n to 1).
4. *Complementary*, per block, greedy: while some group of the block is not protected, take the first such
   group (sorted keys) and hide, on every question of the block, the published hamlet of that group with
   n > 0 and the fewest respondents over the block (ties: the smaller ``hamlet_code``) that protects it; if
   none does, hide the commune row; if the commune row is already hidden (or the table has no total row),
   hide the smallest candidate and look again; with no candidate left, :class:`UnprotectableGroupError`
   stops the release (fail closed). Hiding more never unprotects a group (L grows by at most the added n,
   R and T - R do not shrink), so the loop ends.
5. For a hidden row, ``respondents`` (with ``hide_count``), ``satisfied``, ``satisfied_rate`` and
   ``meets_90`` are null.

Tables without a total row (``has_total_row=False``) are handled as if the group total were public elsewhere
with no unattributed answers (the conservative reading).

The independent check is :mod:`pipeline.publish.disclosure_audit`, which recomputes every hidden cell's
feasible ranges of n and s from the released Parquet files by linear programming and blocks the release if
one is exact.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

PRIMARY = "primary"
COMPLEMENTARY = "complementary"
DEFAULT_MIN_COUNT = 5
INF = math.inf


class UnprotectableGroupError(ValueError):
    """A group's cells cannot be protected because its (public, unpublishable) total discloses them."""


@dataclass(frozen=True)
class Member:
    """A hidden cell as the attacker sees it: ``lo <= n <= hi`` from its marker (primary: 1 .. min_count-1;
    complementary: min_count .. infinity)."""

    lo: float
    hi: float


def marker_bounds(n: int, min_count: int) -> Member:
    """What the published marker tells about a hidden cell's n (the threshold is documented)."""
    return Member(1, min_count - 1) if n < min_count else Member(min_count, INF)


def member_ranges(
    members: Sequence[Member],
    total: tuple[int, int] | None,
    published: tuple[int, int],
    *,
    rest: bool,
    hidden_total: Member | None = None,
) -> list[tuple[float, float, float, float, float]]:
    """Exact feasible ranges ``(n_lo, n_hi, s_lo, s_hi, d_hi)`` of each hidden member of one group, given
    the published numbers (``d = n - s``, the unsatisfied count; ``d_hi = 0`` means "all satisfied" is known).

    ``total``: the group total (N, S) when it is published; None when it is hidden (then ``hidden_total``
    gives its marker bounds and its own ranges are appended last). ``published``: the sum of the published
    cells' (n, s). ``rest``: whether answers not attributed to any cell may exist (``0 <= n_rest``, unbounded;
    true for the survey's commune rows). Closed forms (proof in the module docstring); the attacker
    (:mod:`.disclosure_audit`) recomputes the same ranges by linear programming.
    """
    p_n, p_s = published
    sum_lo = sum(m.lo for m in members)
    sum_hi = sum(m.hi for m in members) + (INF if rest else 0)
    out = []
    if total is not None:
        t_n, t_s = total[0] - p_n, total[1] - p_s
        for m in members:
            n_lo = max(m.lo, t_n - (sum_hi - m.hi))
            n_hi = min(m.hi, t_n - (sum_lo - m.lo))
            s_lo = max(0, t_s - t_n + n_lo)
            s_hi = min(n_hi, t_s)
            d_hi = min(n_hi, t_n - t_s)
            out.append((n_lo, n_hi, s_lo, s_hi, d_hi))
        return out
    assert hidden_total is not None
    # no equation on s; on n only N = P_n + sum(n_i) + n_rest with N within its marker bounds
    slack = hidden_total.hi - p_n - sum_lo  # how far the hidden cells may exceed their lower bounds
    for m in members:
        n_hi = min(m.hi, m.lo + slack)
        out.append((m.lo, n_hi, 0, n_hi, n_hi))
    c_lo = max(hidden_total.lo, p_n + sum_lo)
    c_hi = hidden_total.hi if rest else min(hidden_total.hi, p_n + sum_hi)
    out.append((c_lo, c_hi, p_s, p_s + c_hi - p_n, c_hi - p_s))
    return out


def ranges_protected(ranges: Sequence[tuple[float, float, float, float, float]]) -> bool:
    """Every hidden member keeps two values or more for n and for s, and "all satisfied" is not certain."""
    return all(n_hi > n_lo and s_hi > s_lo and d_hi >= 1 for n_lo, n_hi, s_lo, s_hi, d_hi in ranges)


def is_protected(
    n_hidden: Sequence[int],
    s_hidden: Sequence[int],
    *,
    min_count: int = DEFAULT_MIN_COUNT,
    n_rest: int = 0,
    s_rest: int = 0,
    rest: bool = True,
) -> bool:
    """True when every hidden cell of one group (published total, the other cells published) keeps two
    values or more for its n and its s given the published numbers and its marker (see the module docstring).

    ``n_hidden`` / ``s_hidden``: respondents and satisfied of the hidden cells; ``n_rest`` / ``s_rest``: the
    answers not attributed to any cell (hidden inside the total); ``rest``: whether the attacker must allow
    for such answers (true when the total row may count answers without a cell).
    """
    members = [marker_bounds(n, min_count) for n in n_hidden if n > 0]
    total = (int(sum(n_hidden)) + n_rest, int(sum(s_hidden)) + s_rest)
    return ranges_protected(member_ranges(members, total, (0, 0), rest=rest))


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
    block_cols: Sequence[str] | None = None,
    hide_count: bool = True,
) -> pd.DataFrame:
    """Return a copy of ``df`` with ``suppressed`` / ``suppression_reason`` added and values nulled.

    ``group_cols``: the columns of one group (one equation ``total = sum of cells``), e.g. ``commune_code,
    period_code, form_code, question_code``. ``cell_col``: the detail dimension (``hamlet_code``). If
    ``has_total_row``, the row of a group whose ``cell_col`` equals ``total_cell`` (null when
    ``total_cell`` is None) is the group total. ``satisfied_col``: the count the rule protects (it must be
    one of ``value_cols``, every one of which is nulled on a hidden row; ``count_col`` too with
    ``hide_count``). ``block_cols`` (a subset of ``group_cols``, e.g. without ``question_code``): the groups
    of one block hide the same cells (a cell hidden in one question of a form is hidden in all of them, so
    that its n shown on another question cannot give it away). The input row order is kept and the result
    does not depend on it.
    """
    if min_count < 3:
        raise ValueError(
            f"min_count must be >= 3 (with 1 or 2 the marker 'primary' alone gives n), got {min_count}"
        )
    missing = [
        c for c in [*group_cols, cell_col, count_col, satisfied_col, *value_cols] if c not in df.columns
    ]
    if missing:
        raise KeyError(f"suppress_satisfaction: missing columns {missing}")
    if satisfied_col not in value_cols:
        raise ValueError(f"satisfied_col {satisfied_col!r} must be one of value_cols {list(value_cols)}")
    block_cols = list(group_cols if block_cols is None else block_cols)
    if not set(block_cols) <= set(group_cols):
        raise ValueError(f"block_cols {block_cols} must be a subset of group_cols {list(group_cols)}")
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
    total_key = "\x00total"  # never a cell key
    keys = np.where(is_total, total_key, cell_keys)

    hidden = (counts > 0) & (counts < min_count)
    gcols = list(group_cols)
    group_of = (
        out.groupby(gcols, dropna=False, sort=True).ngroup().to_numpy() if gcols else np.zeros(len(out), int)
    )
    blocks = (
        out.groupby(block_cols, dropna=False, sort=True).indices if block_cols else {(): np.arange(len(out))}
    )
    for bkey, bpos in blocks.items():
        bpos = np.asarray(bpos)
        groups: dict[int, np.ndarray] = {}
        for p in bpos:
            groups.setdefault(int(group_of[p]), []).append(int(p))  # type: ignore[arg-type]
        groups = {g: np.asarray(v) for g, v in sorted(groups.items())}
        for pos in groups.values():
            if is_total[pos].sum() > 1:
                raise ValueError(
                    f"suppress_satisfaction: group {bkey} has {int(is_total[pos].sum())} total rows"
                )
            t = pos[is_total[pos]]
            if len(t) == 1:
                detail = pos[~is_total[pos]]
                if (
                    counts[t[0]] < counts[detail].sum()
                    or sat[t[0]] < sat[detail].sum()
                    or (sat[t[0]] - sat[detail].sum() > counts[t[0]] - counts[detail].sum())
                ):
                    raise ValueError(
                        f"suppress_satisfaction: group {bkey}: the total row ({counts[t[0]]} respondents, "
                        f"{sat[t[0]]} satisfied) is smaller than its cells ({counts[detail].sum()}, "
                        f"{sat[detail].sum()})"
                    )
        _protect_block(
            bkey,
            bpos,
            list(groups.values()),
            hidden,
            keys,
            is_total,
            counts,
            sat,
            min_count,
            has_total_row,
            total_key,
        )

    reason = np.where(hidden, np.where(counts < min_count, PRIMARY, COMPLEMENTARY), None).astype(object)
    for col in [*value_cols, *([count_col] if hide_count else [])]:
        # Cast to a nullable dtype first so that NaN/NA can be stored.
        if pd.api.types.is_bool_dtype(out[col]):
            out[col] = out[col].astype("boolean")
        elif pd.api.types.is_integer_dtype(out[col]):
            out[col] = out[col].astype("Int64")
        out.loc[hidden, col] = None
    out["suppressed"] = hidden.astype(bool)
    out["suppression_reason"] = pd.Series(reason, index=out.index, dtype="object")
    return out


def _protect_block(
    bkey, bpos, groups, hidden, keys, is_total, counts, sat, min_count, has_total_row, total_key
) -> None:
    """Hide cell keys of one block (a key hidden in one of its groups is hidden in all) until every group of
    the block is protected; updates ``hidden`` in place."""
    # people per cell key over the block: what hiding that key costs
    cost: dict[str, int] = {}
    for p in bpos:
        if not is_total[p]:
            cost[keys[p]] = cost.get(keys[p], 0) + int(counts[p])
    hidden_keys = {keys[p] for p in bpos if hidden[p]}
    args = (keys, is_total, counts, sat, min_count, has_total_row, total_key)
    while True:
        for p in bpos:
            if keys[p] in hidden_keys and counts[p] > 0:
                hidden[p] = True
        failing = next((pos for pos in groups if not _group_protected(pos, hidden_keys, *args)), None)
        if failing is None:
            return
        candidates = sorted(
            {keys[p] for p in failing if not is_total[p] and counts[p] > 0 and keys[p] not in hidden_keys},
            key=lambda k: (cost[k], k),
        )
        choice = next((k for k in candidates if _group_protected(failing, hidden_keys | {k}, *args)), None)
        if choice is None and has_total_row and total_key not in hidden_keys and any(is_total[failing]):
            choice = total_key
        if choice is None and candidates:
            choice = candidates[0]  # no single cell suffices: hide the smallest and look again
        if choice is None:
            raise UnprotectableGroupError(
                f"nhóm {bkey}: số liệu công bố làm lộ các ô bị ẩn và không còn ô nào để ẩn thêm / "
                f"group {bkey}: the published numbers disclose its suppressed cells and no cell is "
                "left to hide"
            )
        hidden_keys.add(choice)


def _group_protected(
    pos, hidden_keys, keys, is_total, counts, sat, min_count, has_total_row, total_key
) -> bool:  # noqa: ARG001
    """The exact criterion on one group if the cells of ``hidden_keys`` (and n > 0) were hidden."""
    hid = [p for p in pos if keys[p] in hidden_keys and counts[p] > 0]
    if not hid:
        return True
    detail_hid = [p for p in hid if not is_total[p]]
    members = [marker_bounds(int(counts[p]), min_count) for p in detail_hid]
    shown = [p for p in pos if not is_total[p] and p not in hid]
    published = (int(counts[shown].sum()), int(sat[shown].sum()))
    tot = [p for p in pos if is_total[p]]
    if tot and tot[0] in hid:
        hidden_total = marker_bounds(int(counts[tot[0]]), min_count)
        ranges = member_ranges(members, None, published, rest=True, hidden_total=hidden_total)
    elif tot:
        ranges = member_ranges(members, (int(counts[tot[0]]), int(sat[tot[0]])), published, rest=True)
    else:
        # no total row: the conservative reading is a group total public elsewhere, every answer in a cell
        total = (int(counts[pos].sum()), int(sat[pos].sum()))
        ranges = member_ranges(members, total, published, rest=False)
    return ranges_protected(ranges)

"""The attacker: recompute every suppressed survey cell from the released files alone.

For each table of a release that carries counts of people (columns ``respondents`` and ``satisfied``), this
module plays the outsider who holds only the Parquet files and the documented threshold t. Per group (the
columns of :data:`GROUP_COLS` the table has) every hidden row is a pair of variables (n, s):

* bounds from its marker: ``primary`` => ``1 <= n <= t - 1``; ``complementary`` => ``n >= t``; no marker =>
  ``n >= 0``; a hidden row that still shows n or s has that variable fixed (so the old output, which kept n
  published, is caught: its n has one value);
* ``s - n <= 0`` (and s >= 0);
* if the group has its total row (``hamlet_code`` null): ``n_total = sum(n_hamlet) + n_rest`` and
  ``s_total = sum(s_hamlet) + s_rest``, where the answers not attributed to a hamlet are a pair with
  ``0 <= s_rest <= n_rest`` (unbounded: nothing says how many there are).

For each hidden row it computes min and max of n, min and max of s, and max of n - s (0 means "everyone
satisfied" is certain) by linear programming (:func:`scipy.optimize.linprog`, HiGHS). The groups share no
variable, so one LP minimises the sum of one hidden variable of every group at once (the optimum of a sum of
independent blocks is each block's optimum): five LPs per round, rounds = the largest number of hidden cells
in a group, whatever the size of the release. Unbounded variables get the cap :data:`CAP`, which only
shrinks the feasible set (intervals found are inside the true ones; a cap-hitting maximum is reported as
infinite).

**Why the LP optimum is the integer optimum (soundness).** Substitute d = n - s (a unimodular change of
variables). The constraints become: per group one equation on the s variables (+-1), one on the d variables
(+-1), and per hidden row (and per unattributed pair) ``lo <= s + d <= hi`` with s, d >= 0. Every column
has exactly two nonzeros, +-1: one in a group equation, one in its row's constraint. Put the equations and
the hamlet/unattributed row constraints in one set and the total row's constraint in the other: a column
with equal signs (the total row's: +1, +1) has its nonzeros in different sets, one with opposite signs
(a hamlet's or the unattributed answers': -1, +1) in the same set, so by the Heller-Tompkins criterion the
matrix is totally unimodular. With integer bounds and right-hand sides every vertex is integral, so the LP minimum and
maximum of n, s and n - s are attained at integer points and equal the integer ones: no enumeration is
needed. Values that would break this (a rate or the 90 % flag still shown on a hidden row) never enter the
LP: such a row is reported as disclosed at once (fail closed). Tests compare the LP with exact enumeration
on generated groups.

A hidden cell is **recoverable** when its n has one value, or its s has one value, or "everyone satisfied"
is certain, or it shows a value. :func:`cross_question_leaks` adds hidden locations whose n is shown on
another question of the same commune, period and form. The release gate (:func:`audit_release_tables`,
called by ``publish_release`` before anything is swapped in, and the ``release_integrity`` check on
``latest``) fails on any of them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from scipy.optimize import linprog
from scipy.sparse import coo_matrix

from .suppression import COMPLEMENTARY, DEFAULT_MIN_COUNT, PRIMARY

GROUP_COLS = ("commune_code", "period_code", "form_code", "question_code")
CELL_COL = "hamlet_code"
COUNT_COL = "respondents"
SATISFIED_COL = "satisfied"
RATE_COL = "satisfied_rate"
MEETS_COL = "meets_90"
FLAG_COL = "suppressed"
REASON_COL = "suppression_reason"
EPS = 1e-6
CAP = 1e7  # upper bound for an unbounded count: only shrinks the feasible set (see the module docstring)


class DisclosureAuditError(RuntimeError):
    """Raised when a suppressed cell of the release can be recomputed; nothing is published."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__(
            "Ô khảo sát bị ẩn vẫn tính lại được từ dữ liệu công bố; không công bố. / Suppressed survey cells can "
            "be recomputed from the published numbers; nothing published:\n  " + "\n  ".join(self.problems)
        )


@dataclass(frozen=True)
class AuditResult:
    """``cells``: one row per hidden cell: the group and cell keys, ``respondents``, ``lo``, ``hi``,
    ``recoverable``; ``lps``: how many linear programs were solved."""

    cells: pd.DataFrame
    lps: int

    @property
    def recoverable(self) -> pd.DataFrame:
        return self.cells[self.cells["recoverable"]]


def _shown(df: pd.DataFrame, col: str) -> np.ndarray:
    if col not in df:
        return np.full(len(df), np.nan)
    return pd.to_numeric(df[col], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def feasible_intervals(
    df: pd.DataFrame,
    *,
    group_cols: Sequence[str] | None = None,
    cell_col: str = CELL_COL,
    min_count: int = DEFAULT_MIN_COUNT,
) -> AuditResult:
    """Each hidden cell's feasible interval of ``respondents`` (n) and ``satisfied`` (s), and the largest
    possible unsatisfied count ``d = n - s``, given everything else ``df`` publishes (see the module
    docstring for the model and why the LP optimum is the integer optimum)."""
    group_cols = [c for c in (GROUP_COLS if group_cols is None else group_cols) if c in df.columns]
    df = df.reset_index(drop=True)
    n_shown = _shown(df, COUNT_COL)
    s_shown = _shown(df, SATISFIED_COL)
    flagged = (
        df[FLAG_COL].astype("boolean").to_numpy(dtype=bool, na_value=False)
        if FLAG_COL in df
        else np.zeros(len(df), dtype=bool)
    )
    # a cell to audit: it is flagged suppressed, or it hides n or s (a flagged cell that still shows a value
    # is recoverable by definition: the LP fixes that variable)
    hidden = flagged | np.isnan(n_shown) | np.isnan(s_shown)
    reason = (
        df[REASON_COL].astype("string").fillna("").to_numpy()
        if REASON_COL in df
        else np.full(len(df), "", dtype=object)
    )
    is_total = df[cell_col].isna().to_numpy()
    shows_other = np.zeros(len(df), dtype=bool)  # rate / meets_90 still shown on a hidden row
    for col in (RATE_COL, MEETS_COL):
        if col in df:
            shows_other |= df[col].notna().to_numpy()

    # variables: (n, s) of every hidden row, plus (n, s) of the answers not attributed to a cell in each
    # group with a total row
    var_lo: list[float] = []
    var_hi: list[float] = []
    a_rows: list[int] = []
    a_cols: list[int] = []
    a_vals: list[float] = []
    b_eq: list[float] = []
    u_rows: list[int] = []  # s - n <= 0
    u_cols: list[int] = []
    u_vals: list[float] = []
    group_vars: list[list[tuple[int, int]]] = []
    row_var = np.full(len(df), -1)

    def new_var(lo: float, hi: float) -> int:
        var_lo.append(lo)
        var_hi.append(hi)
        return len(var_lo) - 1

    def pair(n_lo: float, n_hi: float, s_fix: float) -> tuple[int, int]:
        vn = new_var(n_lo, n_hi)
        vs = new_var(s_fix, s_fix) if not np.isnan(s_fix) else new_var(0.0, CAP)
        k = len(u_rows) // 2
        u_rows.extend([k, k])
        u_cols.extend([vs, vn])
        u_vals.extend([1.0, -1.0])
        return vn, vs

    grouped = (
        df.groupby(group_cols, dropna=False, sort=True).indices if group_cols else {(): np.arange(len(df))}
    )
    problems: list[str] = []
    for key, pos in grouped.items():
        pos = np.asarray(pos)
        if not hidden[pos].any():
            continue
        mine = []
        for p in pos[hidden[pos]]:
            if not np.isnan(n_shown[p]):
                n_lo = n_hi = n_shown[p]
            elif reason[p] == PRIMARY:
                n_lo, n_hi = 1.0, float(min_count - 1)
            elif reason[p] == COMPLEMENTARY:
                n_lo, n_hi = float(min_count), CAP
            else:
                n_lo, n_hi = 0.0, CAP
            vn, vs = pair(n_lo, n_hi, s_shown[p])
            row_var[p] = vn
            mine.append((vn, vs))
        group_vars.append(mine)
        totals = pos[is_total[pos]]
        if len(totals) != 1:
            continue  # no total row: no equation binds this group
        t = totals[0]
        cells = pos[~is_total[pos]]
        rn, rs = pair(0.0, CAP, np.nan)  # answers without a cell: 0 <= s_rest <= n_rest, nothing else
        for which, shown_vals in ((0, n_shown), (1, s_shown)):
            eq = len(b_eq)
            const = 0.0
            for p, sign in [(t, 1.0), *((c, -1.0) for c in cells)]:
                if hidden[p]:
                    a_rows.append(eq)
                    a_cols.append(int(row_var[p]) + which)
                    a_vals.append(sign)
                else:
                    if np.isnan(shown_vals[p]):
                        problems.append(f"group {key}: a published row without {COUNT_COL}/{SATISFIED_COL}")
                    const += sign * shown_vals[p]
            a_rows.append(eq)
            a_cols.append(rs if which else rn)
            a_vals.append(-1.0)
            b_eq.append(-const)
    if problems:
        raise ValueError("; ".join(problems[:5]))

    n_vars = len(var_lo)
    lo = np.array(var_lo, dtype="float64")
    hi = np.array(var_hi, dtype="float64")
    d_hi = hi.copy()  # per n-variable: max(n - s)
    lps = 0
    if n_vars:
        bounds = np.column_stack([lo, hi])
        a_ub = coo_matrix((u_vals, (u_rows, u_cols)), shape=(len(u_rows) // 2, n_vars)).tocsr()
        b_ub = np.zeros(len(u_rows) // 2)
        a_eq = coo_matrix((a_vals, (a_rows, a_cols)), shape=(len(b_eq), n_vars)).tocsr() if b_eq else None
        res_lo, res_hi = lo.copy(), hi.copy()
        width = max((len(g) for g in group_vars), default=0)
        for k in range(width):
            pairs = [g[k] for g in group_vars if len(g) > k]
            tn = [vn for vn, _ in pairs]
            ts = [vs for _, vs in pairs]
            for targets, weights in ((tn, None), (ts, None), (tn, ts)):
                senses = (-1.0,) if weights is not None else (1.0, -1.0)
                for sense in senses:
                    c = np.zeros(n_vars)
                    c[targets] = sense
                    if weights is not None:
                        c[weights] = -sense  # maximise n - s
                    sol = linprog(
                        c,
                        A_ub=a_ub,
                        b_ub=b_ub,
                        A_eq=a_eq,
                        b_eq=np.array(b_eq) if b_eq else None,
                        bounds=bounds,
                        method="highs",
                    )
                    lps += 1
                    if sol.status != 0:
                        raise ValueError(
                            f"the published numbers are inconsistent (LP status {sol.status}: {sol.message})"
                        )
                    if weights is not None:
                        d_hi[targets] = sol.x[targets] - sol.x[weights]
                    elif sense > 0:
                        res_lo[targets] = sol.x[targets]
                    else:
                        res_hi[targets] = sol.x[targets]
        lo, hi = res_lo, res_hi

    sel = np.flatnonzero(hidden)
    cells = df.loc[sel, [*group_cols, cell_col, COUNT_COL]].copy()
    v = row_var[sel]

    def col(values: np.ndarray, rnd) -> pd.Series:
        return pd.Series([rnd(x) for x in values], index=cells.index, dtype="float64")

    cells["n_lo"] = col(lo[v], lambda x: math.ceil(x - EPS))
    cells["n_hi"] = col(hi[v], lambda x: math.inf if x >= CAP / 2 else math.floor(x + EPS))
    cells["lo"] = col(lo[v + 1], lambda x: math.ceil(x - EPS))
    cells["hi"] = col(hi[v + 1], lambda x: math.inf if x >= CAP / 2 else math.floor(x + EPS))
    cells["d_hi"] = col(d_hi[v], lambda x: math.floor(x + EPS))
    cells["shows_value"] = shows_other[sel] | ~np.isnan(s_shown[sel])
    cells["recoverable"] = (
        (cells["n_hi"] <= cells["n_lo"])
        | ((cells["hi"] <= cells["lo"]) & (cells["n_hi"] > 0))
        | ((cells["d_hi"] < 1) & (cells["n_hi"] > 0))
        | cells["shows_value"]
    )
    return AuditResult(cells.reset_index(drop=True), lps)


def cross_question_leaks(df: pd.DataFrame, *, question_col: str = "question_code") -> pd.DataFrame:
    """Hidden cells whose location shows its n on another question of the same commune, period and form.

    Nothing published says that every respondent answers every question, but on a real survey they mostly
    do, so an n shown on the sibling question is treated as this cell's n (fail closed)."""
    block = [c for c in GROUP_COLS if c in df.columns and c != question_col]
    if question_col not in df.columns or COUNT_COL not in df.columns:
        return df.iloc[0:0]
    key = df[CELL_COL].astype("string").fillna("\x00total")
    frame = df.assign(_cell=key)
    n = pd.to_numeric(frame[COUNT_COL], errors="coerce")
    hidden = frame[n.isna()]
    shown = frame[n.fillna(0) > 0][[*block, "_cell", question_col]].rename(
        columns={question_col: "other_question"}
    )
    merged = hidden.merge(shown, on=[*block, "_cell"], how="inner")
    return merged[merged[question_col] != merged["other_question"]].drop(columns="_cell")


def survey_tables(tables: Mapping[str, Sequence[str | Path]]) -> list[str]:
    """The tables of a release that carry counts of people: every table with ``respondents`` and
    ``satisfied`` columns (read from the Parquet schema, so a new such table cannot be forgotten)."""
    found = []
    for name, paths in tables.items():
        if not paths:
            continue
        cols = set(pq.read_schema(str(paths[0])).names)
        if {COUNT_COL, SATISFIED_COL} <= cols:
            found.append(name)
    return found


def _describe(d: dict) -> str:
    if d["shows_value"]:
        return "ô bị ẩn vẫn hiện giá trị / a suppressed cell still shows a value"
    if d["n_hi"] <= d["n_lo"]:
        return (
            f"respondents = {d['n_lo']:g} là giá trị duy nhất số liệu công bố cho phép / is the only value the "
            "published numbers allow"
        )
    if d["hi"] <= d["lo"]:
        return (
            f"satisfied = {d['lo']:g} là giá trị duy nhất số liệu công bố cho phép / is the only value the "
            "published numbers allow"
        )
    return "biết chắc mọi người đều hài lòng / everyone is known to be satisfied"


def audit_release_tables(
    tables: Mapping[str, Sequence[str | Path]], *, min_count: int | None = None, max_listed: int = 10
) -> list[str]:
    """Run the attacker on every survey table of a release; return one line per recoverable cell (empty:
    every suppressed cell keeps two values or more for n and for s, and "all satisfied" is never certain).
    ``min_count`` (default :data:`~.suppression.DEFAULT_MIN_COUNT`) is the documented threshold: the
    attacker knows that a ``primary`` cell has ``1 <= n <= min_count - 1`` and a ``complementary`` one
    ``n >= min_count``; a cell with ``0 < respondents < min_count`` that shows a value is reported too."""
    min_count = DEFAULT_MIN_COUNT if min_count is None else min_count
    problems: list[str] = []
    for name in survey_tables(tables):
        df = pd.concat([pd.read_parquet(p) for p in tables[name]], ignore_index=True)
        small = df[(df[COUNT_COL] > 0) & (df[COUNT_COL] < min_count)]
        if len(small):
            problems.append(
                f"{name}: {len(small)} ô có dưới {min_count} người trả lời vẫn hiện số người trả lời / {len(small)} "
                f"cell(s) with fewer than {min_count} respondents show their count"
            )
        result = feasible_intervals(df, min_count=min_count)
        bad = result.recoverable
        for row in bad.head(max_listed).itertuples(index=False):
            d = row._asdict()
            keys = ", ".join(f"{c}={d[c]}" for c in (*GROUP_COLS, CELL_COL) if c in d)
            problems.append(f"{name}: {keys}: {_describe(d)}")
        if len(bad) > max_listed:
            problems.append(
                f"{name}: ... và {len(bad) - max_listed} ô khác / and {len(bad) - max_listed} more recoverable cell(s)"
            )
        leaks = cross_question_leaks(df)
        for row in leaks.head(max_listed).itertuples(index=False):
            d = row._asdict()
            keys = ", ".join(f"{c}={d[c]}" for c in (*GROUP_COLS, CELL_COL) if c in d)
            problems.append(
                f"{name}: {keys}: số người trả lời của cùng địa bàn hiện ở câu {d['other_question']} / the same location "
                f"shows its respondents on question {d['other_question']}"
            )
        if len(leaks) > max_listed:
            problems.append(f"{name}: ... and {len(leaks) - max_listed} more cross-question leak(s)")
    return problems


def audit_release_dir(release_dir: Path, *, min_count: int | None = None) -> list[str]:
    """:func:`audit_release_tables` on a published release folder (the files its datapackage.json lists)."""
    release_dir = Path(release_dir)
    package = json.loads((release_dir / "datapackage.json").read_text(encoding="utf-8"))
    tables = {
        r["name"]: [release_dir / f["path"] for f in r.get("ntm:files", [])]
        for r in package.get("resources", [])
    }
    return audit_release_tables(tables, min_count=min_count)

"""The attacker: recompute every suppressed survey cell from the released files alone.

For each table of a release that carries counts of people (columns ``respondents`` and ``satisfied``), this
module plays the outsider who holds only the Parquet files. Per group (the columns of
:data:`GROUP_COLS` the table has) it knows:

* every row's ``respondents`` n (published);
* a published row's ``satisfied`` s; for a hidden row (``satisfied`` null) only ``0 <= s <= n``, narrowed by
  whatever the row still shows: ``satisfied_rate`` gives s exactly (``round(rate * n / 100)``), ``meets_90``
  gives ``10 s >= 9 n`` or ``10 s < 9 n``;
* if the group has its total row (``hamlet_code`` null): ``s_total = sum(s_hamlet) + s_rest``, where the
  answers not attributed to a hamlet are a variable with ``0 <= s_rest <= n_total - sum(n_hamlet)``.

It then computes each hidden cell's feasible interval of s by linear programming
(:func:`scipy.optimize.linprog`, HiGHS): the minimum and the maximum of that variable subject to the
equations and bounds. The groups share no variable, so one LP per round minimises the sum of one hidden
variable of every group at once (the optimum of a sum of independent blocks is each block's optimum): the
number of LPs is twice the largest number of hidden cells in a group, whatever the size of the release.
With integer data the bounds of this problem are integers; they are rounded inward with a 1e-6 tolerance.

A cell is **recoverable** when its interval holds one value (``hi == lo``) while it has n > 0. The release
gate (:func:`audit_release_tables`, called by ``publish_release`` before anything is swapped in, and the
``release_integrity`` check on ``latest``) fails on any recoverable cell.
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

GROUP_COLS = ("commune_code", "period_code", "form_code", "question_code")
CELL_COL = "hamlet_code"
COUNT_COL = "respondents"
SATISFIED_COL = "satisfied"
RATE_COL = "satisfied_rate"
MEETS_COL = "meets_90"
FLAG_COL = "suppressed"
EPS = 1e-6


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


def _bounds(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """What a row shows about its own s: [lo, hi]."""
    n = df[COUNT_COL].to_numpy(dtype="float64")
    lo = np.zeros(len(df))
    hi = n.copy()
    if SATISFIED_COL in df:
        s = pd.to_numeric(df[SATISFIED_COL], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        known = ~np.isnan(s)
        lo[known] = s[known]
        hi[known] = s[known]
    if RATE_COL in df:
        rate = pd.to_numeric(df[RATE_COL], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        known = ~np.isnan(rate)
        lo[known] = np.maximum(lo[known], np.round(rate[known] * n[known] / 100.0))
        hi[known] = np.minimum(hi[known], np.round(rate[known] * n[known] / 100.0))
    if MEETS_COL in df:
        meets = df[MEETS_COL].astype("boolean")
        yes = meets.eq(True).to_numpy(dtype=bool, na_value=False)
        no = meets.eq(False).to_numpy(dtype=bool, na_value=False)
        need = np.ceil(9 * n / 10)  # 100 s / n >= 90  <=>  s >= ceil(0.9 n)
        lo[yes] = np.maximum(lo[yes], need[yes])
        hi[no] = np.minimum(hi[no], need[no] - 1)
    return lo, hi


def feasible_intervals(
    df: pd.DataFrame, *, group_cols: Sequence[str] | None = None, cell_col: str = CELL_COL
) -> AuditResult:
    """Each hidden cell's feasible interval of ``satisfied`` given everything else ``df`` publishes."""
    group_cols = [c for c in (GROUP_COLS if group_cols is None else group_cols) if c in df.columns]
    df = df.reset_index(drop=True)
    n = pd.to_numeric(df[COUNT_COL], errors="raise").fillna(0).to_numpy(dtype="float64")
    lo, hi = _bounds(df)
    # a cell to audit: its s is not shown, or it is flagged suppressed (a flagged cell that still shows a
    # value is recoverable by definition)
    hidden = lo < hi
    if FLAG_COL in df:
        hidden |= df[FLAG_COL].astype("boolean").to_numpy(dtype=bool, na_value=False)
    is_total = df[cell_col].isna().to_numpy()

    # variables: every hidden row, plus one "rest" variable per group with a total row and unattributed n
    var_lo: list[float] = []
    var_hi: list[float] = []
    row_var = np.full(len(df), -1)
    rows_i: list[int] = []
    cols_i: list[int] = []
    vals: list[float] = []
    b_eq: list[float] = []
    group_vars: list[list[int]] = []  # the hidden published rows' variables of each group
    problems: list[str] = []
    grouped = (
        df.groupby(group_cols, dropna=False, sort=True).indices if group_cols else {(): np.arange(len(df))}
    )
    for key, pos in grouped.items():
        pos = np.asarray(pos)
        if not hidden[pos].any():
            continue
        mine = []
        for p in pos[hidden[pos]]:
            row_var[p] = len(var_lo)
            mine.append(len(var_lo))
            var_lo.append(lo[p])
            var_hi.append(hi[p])
        group_vars.append(mine)
        totals = pos[is_total[pos]]
        if len(totals) != 1:
            continue  # no published total row: no equation binds this group
        t = totals[0]
        cells = pos[~is_total[pos]]
        n_rest = n[t] - n[cells].sum()
        if n_rest < 0:
            problems.append(f"group {key}: the total row has fewer respondents than its cells")
            continue
        eq = len(b_eq)
        const = 0.0
        for p, sign in [(t, 1.0), *((c, -1.0) for c in cells)]:
            if hidden[p]:
                rows_i.append(eq)
                cols_i.append(int(row_var[p]))
                vals.append(sign)
            else:
                const += sign * lo[p]
        if n_rest > 0:
            rows_i.append(eq)
            cols_i.append(len(var_lo))
            vals.append(-1.0)
            var_lo.append(0.0)
            var_hi.append(float(n_rest))
        b_eq.append(-const)
    if problems:
        raise ValueError("; ".join(problems))

    n_vars = len(var_lo)
    res_lo = np.array(var_lo, dtype="float64")
    res_hi = np.array(var_hi, dtype="float64")
    lps = 0
    if b_eq and n_vars:
        a_eq = coo_matrix((vals, (rows_i, cols_i)), shape=(len(b_eq), n_vars)).tocsr()
        bounds = np.column_stack([res_lo, res_hi])
        width = max(len(g) for g in group_vars)
        for k in range(width):
            targets = [g[k] for g in group_vars if len(g) > k]
            for sense in (1.0, -1.0):
                c = np.zeros(n_vars)
                c[targets] = sense
                sol = linprog(c, A_eq=a_eq, b_eq=np.array(b_eq), bounds=bounds, method="highs")
                lps += 1
                if sol.status != 0:
                    raise ValueError(
                        f"the published numbers are inconsistent (LP status {sol.status}: {sol.message})"
                    )
                if sense > 0:
                    res_lo[targets] = sol.x[targets]
                else:
                    res_hi[targets] = sol.x[targets]

    sel = np.flatnonzero(hidden)
    cells = df.loc[sel, [*group_cols, cell_col, COUNT_COL]].copy()
    v = row_var[sel]
    cells["lo"] = pd.Series([math.ceil(res_lo[i] - EPS) for i in v], index=cells.index, dtype="int64")
    cells["hi"] = pd.Series([math.floor(res_hi[i] + EPS) for i in v], index=cells.index, dtype="int64")
    cells["recoverable"] = (cells["hi"] <= cells["lo"]) & (cells[COUNT_COL] > 0)
    return AuditResult(cells.reset_index(drop=True), lps)


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


def audit_release_tables(
    tables: Mapping[str, Sequence[str | Path]], *, min_count: int | None = None, max_listed: int = 10
) -> list[str]:
    """Run the attacker on every survey table of a release; return one line per recoverable cell (empty:
    every suppressed cell keeps two values or more). With ``min_count``, a cell with
    ``0 < respondents < min_count`` that shows its ``satisfied`` value is reported too (primary rule)."""
    problems: list[str] = []
    for name in survey_tables(tables):
        df = pd.concat([pd.read_parquet(p) for p in tables[name]], ignore_index=True)
        if min_count is not None:
            small = df[(df[COUNT_COL] > 0) & (df[COUNT_COL] < min_count) & df[SATISFIED_COL].notna()]
            if len(small):
                problems.append(
                    f"{name}: {len(small)} ô có dưới {min_count} người trả lời vẫn hiện giá trị / {len(small)} "
                    f"cell(s) with fewer than {min_count} respondents show their value"
                )
        result = feasible_intervals(df)
        bad = result.recoverable
        for row in bad.head(max_listed).itertuples(index=False):
            d = row._asdict()
            keys = ", ".join(f"{c}={d[c]}" for c in (*GROUP_COLS, CELL_COL) if c in d)
            problems.append(
                f"{name}: {keys}: satisfied = {d['lo']} of {d[COUNT_COL]} là giá trị duy nhất số liệu công bố cho "
                "phép / is the only value the published numbers allow"
            )
        if len(bad) > max_listed:
            problems.append(
                f"{name}: ... và {len(bad) - max_listed} ô khác / and {len(bad) - max_listed} more recoverable cell(s)"
            )
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

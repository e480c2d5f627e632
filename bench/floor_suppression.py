"""Survey cell suppression for the whole-release floor, written from raw/README.md section 8 alone (not from
``pipeline.publish.suppression``): primary, consistent per form, the protection criterion, complementary.

The input is the unsuppressed ``mart_satisfaction`` (one row per hamlet and one commune row, ``hamlet_code``
null, per commune x period x form x question); the output adds ``suppressed`` and ``suppression_reason`` and
nulls ``respondents``, ``satisfied``, ``satisfied_rate`` and ``meets_90`` of the hidden rows.
"""

from __future__ import annotations

import pandas as pd

TOTAL = None  # the commune row's location (hamlet_code null)


class Unprotectable(ValueError):
    """Step 4: no hamlet and not the commune row can protect a group: the release stops."""


def suppress(df: pd.DataFrame, t: int = 5) -> pd.DataFrame:
    if t < 3:
        raise ValueError("the threshold t is at least 3")
    out = df.reset_index(drop=True)
    n = [int(v) if pd.notna(v) else 0 for v in out["respondents"]]
    s = [int(v) if pd.notna(v) else 0 for v in out["satisfied"]]
    loc = [TOTAL if pd.isna(v) else str(v) for v in out["hamlet_code"]]  # position -> location
    hidden = pd.Series(False, index=out.index)
    block_cols = ["commune_code", "period_code", "form_code"]
    for _, block in out.groupby(block_cols, dropna=False, sort=True):
        idx = block.index
        # 1. primary: 0 < n < t; 2. a location hidden on one question is hidden on all of the form's
        hidden_locs = {loc[i] for i in idx if 0 < n[i] < t}
        cost = {}  # respondents of a hamlet summed over the form's questions
        for i in idx:
            if loc[i] is not TOTAL:
                cost[loc[i]] = cost.get(loc[i], 0) + int(n[i])
        groups = [g.index for _, g in block.groupby("question_code", sort=True)]

        def protected(g, locs) -> bool:
            hid = [i for i in g if loc[i] in locs and n[i] > 0]
            if not hid:
                return True
            total = [i for i in g if loc[i] is TOTAL]
            if total and total[0] in hid:  # commune row hidden
                c = total[0]
                answered = sum(1 for i in g if loc[i] is not TOTAL and n[i] > 0)
                return n[c] >= t or answered < t - 1
            if not total:
                return False  # not in this table: every group has its commune row
            shown = [i for i in g if loc[i] is not TOTAL and i not in hid]
            big_t = int(n[total[0]]) - int(sum(n[i] for i in shown))
            big_r = int(s[total[0]]) - int(sum(s[i] for i in shown))
            big_l = sum(1 if n[i] < t else t for i in hid if loc[i] is not TOTAL)
            return big_l < big_t and 0 < big_r < big_t

        # 3./4. complementary: while a group is not protected, hide the published hamlet with the fewest
        # respondents over the form (ties: the smaller code) that protects it; else the commune row
        while True:
            failing = next((g for g in groups if not protected(g, hidden_locs)), None)
            if failing is None:
                break
            candidates = sorted(
                {loc[i] for i in failing if loc[i] is not TOTAL and n[i] > 0 and loc[i] not in hidden_locs},
                key=lambda h: (cost[h], h),
            )
            choice = next((h for h in candidates if protected(failing, hidden_locs | {h})), None)
            if choice is None and TOTAL not in hidden_locs and protected(failing, hidden_locs | {TOTAL}):
                choice = TOTAL
            if choice is None:
                raise Unprotectable(f"group {tuple(block.iloc[0][block_cols])}: no cell protects it")
            hidden_locs = hidden_locs | {choice}
        for i in idx:
            if loc[i] in hidden_locs and n[i] > 0:
                hidden[i] = True
    out["suppressed"] = hidden.astype(bool)
    out["suppression_reason"] = pd.Series(
        [("primary" if n[i] < t else "complementary") if hidden[i] else None for i in out.index], dtype=object
    )
    for c in ("respondents", "satisfied", "satisfied_rate", "meets_90"):
        if pd.api.types.is_bool_dtype(out[c]):
            out[c] = out[c].astype("boolean")
        elif pd.api.types.is_integer_dtype(out[c]):
            out[c] = out[c].astype("Int64")
        out.loc[hidden, c] = None
    return out

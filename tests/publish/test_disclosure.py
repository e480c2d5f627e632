from __future__ import annotations

import itertools

import pandas as pd
import pytest

from pipeline.publish import suppress_satisfaction

GROUP = ["commune_code", "question_code", "period_code"]


def cells(respondents, satisfied, hamlets=None, question="Q01"):
    hamlets = hamlets or [f"18484-T{i + 1:02d}" for i in range(len(respondents))]
    return pd.DataFrame(
        {
            "commune_code": "18484",
            "question_code": question,
            "period_code": "2026",
            "hamlet_code": hamlets,
            "respondents": respondents,
            "satisfied": satisfied,
        }
    )


def feasible_values(out: pd.DataFrame, target: int, group_total_satisfied: int) -> set[int]:
    """Every value the target cell's `satisfied` can take given what is published.

    Published: each cell's respondents, the unsuppressed `satisfied` values and the group total.
    A suppressed cell can hold 0..respondents. Brute force over the suppressed cells.
    """
    supp = out.index[out["suppressed"]].tolist()
    known = int(out.loc[~out["suppressed"], "satisfied"].sum())
    ranges = [range(int(out.at[i, "respondents"]) + 1) for i in supp]
    vals = set()
    for combo in itertools.product(*ranges):
        if known + sum(combo) == group_total_satisfied:
            vals.add(combo[supp.index(target)])
    return vals


def test_primary_and_secondary_only_secondary_protects():
    # three hamlets, 12 / 3 / 20 respondents; the commune total (33 of 35 satisfied... ) is public elsewhere
    df = cells([12, 3, 20], [10, 2, 15])
    total = int(df["satisfied"].sum())
    out = suppress_satisfaction(df, group_cols=GROUP, cell_col="hamlet_code")
    assert out["suppressed"].tolist() == [True, True, False]
    assert out["suppression_reason"].tolist() == ["complementary", "primary", None]
    assert out["satisfied"].isna().tolist() == [True, True, False]
    assert out["respondents"].isna().tolist() == [True, True, False]  # n hidden with s

    # even for an attacker who knew each n: with primary suppression alone, total - others gives the cell
    # back exactly ...
    out = out.assign(respondents=df["respondents"])
    primary_only = out.copy()
    primary_only.loc[0, "suppressed"] = False
    primary_only.loc[0, "satisfied"] = 10
    assert feasible_values(primary_only, 1, total) == {2}
    # ... the secondary cell is what protects it
    assert feasible_values(out.assign(satisfied=df["satisfied"].where(~out["suppressed"])), 1, total) == {
        0,
        1,
        2,
        3,
    }


def test_no_suppression_when_all_cells_large():
    out = suppress_satisfaction(cells([12, 8, 20], [10, 2, 15]), group_cols=GROUP, cell_col="hamlet_code")
    assert not out["suppressed"].any() and out["suppression_reason"].isna().all()
    assert out["satisfied"].tolist() == [10, 2, 15]


def test_two_primary_cells_need_no_secondary():
    out = suppress_satisfaction(cells([2, 4, 20], [1, 3, 15]), group_cols=GROUP, cell_col="hamlet_code")
    assert out["suppression_reason"].tolist() == ["primary", "primary", None]


def test_zero_respondents_not_suppressed_and_not_chosen_as_secondary():
    # the 0-respondent cell carries no answer; it cannot protect anything, so the 9 is chosen
    out = suppress_satisfaction(cells([0, 3, 9, 30], [0, 1, 5, 20]), group_cols=GROUP, cell_col="hamlet_code")
    assert out["suppression_reason"].tolist() == [None, "primary", "complementary", None]


def test_secondary_ties_are_deterministic():
    df = cells([7, 3, 7], [5, 2, 6], hamlets=["18484-T09", "18484-T01", "18484-T02"])
    out = suppress_satisfaction(df, group_cols=GROUP, cell_col="hamlet_code")
    assert out.set_index("hamlet_code")["suppression_reason"].to_dict() == {
        "18484-T09": None,
        "18484-T01": "primary",
        "18484-T02": "complementary",
    }
    shuffled = suppress_satisfaction(df.iloc[::-1], group_cols=GROUP, cell_col="hamlet_code")
    assert shuffled.sort_index().equals(out)


def test_groups_are_independent():
    df = pd.concat([cells([12, 3, 20], [10, 2, 15]), cells([12, 6, 20], [10, 2, 15], question="Q02")])
    df = df.reset_index(drop=True)
    out = suppress_satisfaction(df, group_cols=GROUP, cell_col="hamlet_code")
    assert out["suppression_reason"].tolist() == ["complementary", "primary", None, None, None, None]


def test_total_row_in_table():
    # a group with one answered detail cell: the total equals the cell, both are below 5
    df = pd.concat([cells([3], [2]), cells([3], [2], hamlets=[None])]).reset_index(drop=True)
    out = suppress_satisfaction(df, group_cols=GROUP, cell_col="hamlet_code", has_total_row=True)
    assert out["suppression_reason"].tolist() == ["primary", "primary"]
    assert out["satisfied"].isna().all()

    # the total (8) also counts 5 answers not attributed to a hamlet: commune 6 satisfied - 0 published
    # leaves 6 for the 3 and the 5 together, so the 3 can hold 1..3: nothing more is hidden
    df = pd.concat([cells([3, 0], [2, 0]), cells([8], [6], hamlets=[None])]).reset_index(drop=True)
    out = suppress_satisfaction(df, group_cols=GROUP, cell_col="hamlet_code", has_total_row=True)
    assert out["suppression_reason"].tolist() == ["primary", None, None]
    # all 8 satisfied: the 3 is forced to 3, and no other hamlet can help: the total row is hidden
    df = pd.concat([cells([3, 0], [3, 0]), cells([8], [8], hamlets=[None])]).reset_index(drop=True)
    out = suppress_satisfaction(df, group_cols=GROUP, cell_col="hamlet_code", has_total_row=True)
    assert out["suppression_reason"].tolist() == ["primary", None, "complementary"]
    assert out["satisfied"].isna().tolist() == [True, False, True]

    # with other cells, a detail cell is chosen and the total stays published
    df = pd.concat([cells([12, 3, 20], [10, 2, 15]), cells([35], [27], hamlets=["ALL"])]).reset_index(
        drop=True
    )
    out = suppress_satisfaction(
        df, group_cols=GROUP, cell_col="hamlet_code", has_total_row=True, total_cell="ALL"
    )
    # n hidden: the total's 3 unexplained answers may be the 3 (n 1..3) or answers without a hamlet, and
    # s 0..2 of them: the primary cell needs no partner (fewest people hidden)
    assert out["suppression_reason"].tolist() == [None, "primary", None, None]
    assert out["satisfied"].tolist()[3] == 27
    # all satisfied: "everyone in the 3 is satisfied" would be certain; the 12 (smallest) joins it
    df.loc[1, "satisfied"] = 3
    df.loc[3, "satisfied"] = 28
    out = suppress_satisfaction(
        df, group_cols=GROUP, cell_col="hamlet_code", has_total_row=True, total_cell="ALL"
    )
    assert out["suppression_reason"].tolist() == ["complementary", "primary", None, None]


def test_percent_column_nulled_too_and_bool_dtype():
    df = cells([12, 3, 20], [10, 2, 15]).assign(satisfied_pct=lambda d: d.satisfied / d.respondents * 100)
    out = suppress_satisfaction(
        df, group_cols=GROUP, cell_col="hamlet_code", value_cols=("satisfied", "satisfied_pct")
    )
    assert out["satisfied_pct"].isna().tolist() == [True, True, False]
    assert out["suppressed"].dtype == bool


def test_missing_column_raises():
    with pytest.raises(KeyError):
        suppress_satisfaction(cells([1], [1]), group_cols=GROUP, cell_col="hamlet", count_col="respondents")

"""Disclosure control of the satisfaction survey against an attacker who holds the release.

Every test here runs the attacker (:mod:`pipeline.publish.disclosure_audit`, LP over the published numbers)
on the suppressor's output: on adversarial groups (two or three hidden hamlets all-satisfied or
all-unsatisfied, zero hidden cells, one-hamlet groups, unattributed answers), on hypothesis-generated groups
(checked against exact enumeration), on a synthetic province through the publish asset's code path, and
through ``publish_release`` (the blocking gate). The suppression rule of earlier releases is kept in
``_legacy_suppression.py`` to show that the attacker catches what it let through.
"""

from __future__ import annotations

import itertools
import time
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.config import get_settings
from pipeline.publish import DisclosureAuditError, TableSpec, audit_release_dir, publish_release
from pipeline.publish.assets import stage_suppressed_satisfaction
from pipeline.publish.disclosure_audit import audit_release_tables, cross_question_leaks, feasible_intervals
from pipeline.publish.reuser_readme import suppression_rule_lines
from pipeline.publish.suppression import (
    COMPLEMENTARY,
    PRIMARY,
    UnprotectableGroupError,
    is_protected,
    suppress_satisfaction,
)
from tests.publish import _synth
from tests.publish._legacy_suppression import legacy_suppress_satisfaction

GROUP = ["commune_code", "period_code", "form_code", "question_code"]
VALUES = ["satisfied", "satisfied_rate", "meets_90"]
KW = dict(
    group_cols=GROUP,
    cell_col="hamlet_code",
    value_cols=VALUES,
    has_total_row=True,
    block_cols=["commune_code", "period_code", "form_code"],  # as the publish asset
)


def group(cells, rest=(0, 0), question="Q01", commune="18484", period="2026"):
    """A mart_satisfaction-shaped group: hamlet rows ``cells`` = [(n, s), ...] and the commune row, which
    also counts ``rest`` = (n, s) answers not attributed to a hamlet."""
    rows = [
        dict(hamlet_code=f"{commune}-T{i + 1:02d}", location_level="hamlet", respondents=n, satisfied=s)
        for i, (n, s) in enumerate(cells)
    ]
    rows.append(
        dict(
            hamlet_code=None,
            location_level="commune",
            respondents=sum(n for n, _ in cells) + rest[0],
            satisfied=sum(s for _, s in cells) + rest[1],
        )
    )
    df = pd.DataFrame(rows).assign(
        commune_code=commune, period_code=period, form_code="HL", question_code=question
    )
    return with_rates(df)


def with_rates(df: pd.DataFrame) -> pd.DataFrame:
    """satisfied_rate and meets_90 as mart_satisfaction computes them (null rate for 0 respondents)."""
    rate = (100.0 * df["satisfied"] / df["respondents"].where(df["respondents"] > 0)).round(9)
    return df.assign(satisfied_rate=rate, meets_90=(rate >= 90).where(rate.notna()).astype("boolean"))


def reasons(out: pd.DataFrame) -> list:
    return out["suppression_reason"].tolist()


def intervals(out: pd.DataFrame) -> dict:
    cells = feasible_intervals(out).cells
    return {
        (h if isinstance(h, str) else "commune"): (lo, hi)
        for h, lo, hi in zip(cells["hamlet_code"], cells["lo"], cells["hi"], strict=True)
    }


def intervals_n(out: pd.DataFrame, min_count: int = 5) -> dict:
    """{cell: ((n_lo, n_hi), (s_lo, s_hi))} from the attacker."""
    cells = feasible_intervals(out, min_count=min_count).cells
    return {
        (h if isinstance(h, str) else "commune"): ((a, b), (lo, hi))
        for h, a, b, lo, hi in zip(
            cells["hamlet_code"], cells["n_lo"], cells["n_hi"], cells["lo"], cells["hi"], strict=True
        )
    }


CAP_ENUM = 40  # the enumeration's stand-in for "unbounded" (a hidden commune row's n); the LP reports inf


def enumerate_values(out: pd.DataFrame, min_count: int = 5) -> dict:
    """Exact enumeration of one group, independent of the LP and of the closed forms: every (n, s) pair each
    hidden cell can take given the published rows and the markers (primary: 1 <= n <= min_count - 1;
    complementary: n >= min_count), 0 <= s <= n, and the commune row = hamlets + unattributed answers
    (n_rest >= 0, 0 <= s_rest <= n_rest). Returns {cell: set of (n, s)}."""
    hamlets = out[out["hamlet_code"].notna()]
    total = out[out["hamlet_code"].isna()].iloc[0]
    shown = hamlets[hamlets["respondents"].notna()]
    p_n, p_s = int(shown["respondents"].sum()), int(shown["satisfied"].sum())

    def n_dom(reason, hi_cap):
        if reason == PRIMARY:
            return range(1, min_count)
        return range(min_count, hi_cap + 1)

    if pd.notna(total["respondents"]):
        t_n, t_s = int(total["respondents"]) - p_n, int(total["satisfied"]) - p_s
        targets = {(t_n, t_s)}
        cap = t_n
    else:
        dom = n_dom(total["suppression_reason"], p_n + CAP_ENUM)
        targets = {(a - p_n, b) for a in dom if a >= p_n for b in range(a - p_n + 1)}
        cap = max(a for a, _ in targets)
    pairs = {
        h: {(v, w) for v in n_dom(r, cap) for w in range(v + 1)}
        for h, r in zip(hamlets["hamlet_code"], hamlets["suppression_reason"], strict=True)
        if pd.isna(hamlets.loc[hamlets["hamlet_code"] == h, "respondents"].iloc[0])
    }
    pairs["<rest>"] = {(v, w) for v in range(cap + 1) for w in range(v + 1)}

    def conv(members) -> set:
        acc = {(0, 0)}
        for m in members:
            acc = {(a + v, b + w) for a, b in acc for v, w in pairs[m] if a + v <= cap}
        return acc

    values = {}
    for h in [h for h in pairs if h != "<rest>"]:
        others = conv(m for m in pairs if m != h)
        values[h] = {(v, w) for v, w in pairs[h] if any((a - v, b - w) in others for a, b in targets)}
    if pd.isna(total["respondents"]):
        values["commune"] = {(p_n + a, p_s + b) for a, b in conv(pairs) & targets}
    return values


def summary(values: dict) -> dict:
    """{cell: ((n_lo, n_hi), (s_lo, s_hi))} of an enumeration."""
    return {
        h: ((min(v for v, _ in vs), max(v for v, _ in vs)), (min(w for _, w in vs), max(w for _, w in vs)))
        for h, vs in values.items()
    }


# ---------------------------------------------------------------------------------------------------------
# Adversarial groups
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sat", ["all", "none"])
def test_two_hidden_hamlets_both_all_satisfied_or_none_are_protected(sat):
    cells = [(3, 3), (4, 4), (20, 15), (30, 20)] if sat == "all" else [(3, 0), (4, 0), (20, 15), (30, 20)]
    df = group(cells)
    # the old rule hides only the two small cells: the commune total forces both (3 and 4, or 0 and 0)
    old = legacy_suppress_satisfaction(df, **KW)
    caught = feasible_intervals(old).recoverable
    assert sorted(caught["hamlet_code"]) == ["18484-T01", "18484-T02"]
    assert (caught["lo"] == caught["hi"]).all()

    out = suppress_satisfaction(df, **KW)
    assert reasons(out) == [PRIMARY, PRIMARY, COMPLEMENTARY, None, None]  # the 20 is the smallest that helps
    got = intervals_n(out)
    # n: primary 1..4, complementary 5..T-2; s: every value from 0 to what the commune total leaves
    assert got == {
        "18484-T01": ((1, 4), (0, 4)),
        "18484-T02": ((1, 4), (0, 4)),
        "18484-T03": ((5, 25), (0, 22) if sat == "all" else (0, 15)),
    }
    assert summary(enumerate_values(out)) == got
    assert out.loc[out["suppressed"], [*VALUES, "respondents"]].isna().all().all()  # n hidden too
    shown = out[~out["suppressed"]]
    assert shown["respondents"].tolist() == df.loc[shown.index, "respondents"].tolist()


def test_three_hidden_hamlets_all_satisfied():
    df = group([(2, 2), (3, 3), (4, 4), (6, 6), (9, 5), (40, 30)])
    out = suppress_satisfaction(df, **KW)
    # the 6 is all-satisfied too (adding it keeps R = T): the 9 is the smallest cell that helps
    assert reasons(out) == [PRIMARY, PRIMARY, PRIMARY, None, COMPLEMENTARY, None, None]
    assert feasible_intervals(out).recoverable.empty
    assert min(hi - lo for lo, hi in intervals(out).values()) >= 1


def test_one_plus_five_is_caught_and_not_produced():
    """Primary n1 and complementary n2 with n1 + n2 = 6 (threshold 5): n2 >= 5 and n1 >= 1 force n1 = 1,
    n2 = 5. The attacker catches a release hiding exactly these two; the suppressor never chooses the 5."""
    df = group([(1, 0), (5, 3), (20, 10)])
    pinned = suppress_satisfaction(df, **KW)
    pinned.loc[[1], ["respondents", "satisfied", "satisfied_rate", "meets_90"]] = None
    pinned.loc[[1, 2], ["suppressed", "suppression_reason"]] = [[True, COMPLEMENTARY], [False, None]]
    pinned.loc[2, ["respondents", "satisfied"]] = [20, 10]
    caught = feasible_intervals(pinned).cells.set_index("hamlet_code")
    assert caught.loc["18484-T01", ["n_lo", "n_hi"]].tolist() == [1, 1]
    assert caught.loc["18484-T02", ["n_lo", "n_hi"]].tolist() == [5, 5]
    assert caught["recoverable"].all()
    assert summary(enumerate_values(pinned)) == {"18484-T01": ((1, 1), (0, 1)), "18484-T02": ((5, 5), (2, 3))}

    out = suppress_satisfaction(df, **KW)
    assert reasons(out) == [PRIMARY, None, COMPLEMENTARY, None]  # the 20, not the 5 (n 5 adds no slack)
    assert intervals_n(out) == {"18484-T01": ((1, 4), (0, 4)), "18484-T03": ((5, 20), (0, 10))}
    assert summary(enumerate_values(out)) == intervals_n(out)


def test_two_primaries_that_sum_to_the_known_rest_are_protected_by_a_partner():
    # commune 13 = 4 + 4 + 5 published: the two hidden primaries could be 4 + 4, or 1 + 7 ... no: each is
    # at most 4, the rest is >= 0, so n 1..4 each; but they are all-satisfied: a partner joins
    df = group([(4, 4), (4, 4), (5, 2)])
    out = suppress_satisfaction(df, **KW)
    assert reasons(out) == [PRIMARY, PRIMARY, COMPLEMENTARY, None]
    assert summary(enumerate_values(out)) == intervals_n(out)
    assert feasible_intervals(out).recoverable.empty
    # an unsatisfied answer among them: n 1..4 and s 0..4 with no partner (fewest people hidden)
    out = suppress_satisfaction(group([(4, 3), (4, 4), (5, 2)]), **KW)
    assert reasons(out) == [PRIMARY, PRIMARY, None, None]
    assert intervals_n(out) == {"18484-T01": ((1, 4), (0, 4)), "18484-T02": ((1, 4), (0, 4))}


def test_hamlets_with_one_answer_filling_a_primary_commune_are_refused():
    """Four hamlets with one answer each, commune n = 4 < 5: every row is primary, and n >= 1 per hamlet
    with commune n <= 4 forces every n. Nothing is left to hide: the release stops (fail closed)."""
    with pytest.raises(UnprotectableGroupError, match="no cell is left to hide"):
        suppress_satisfaction(group([(1, 1), (1, 0), (1, 1), (1, 0)]), **KW)
    # three such hamlets (commune 3 <= 4) leave every n at 1..2
    out = suppress_satisfaction(group([(1, 1), (1, 0), (1, 1)]), **KW)
    assert reasons(out) == [PRIMARY] * 4
    assert summary(enumerate_values(out)) == intervals_n(out)
    assert intervals_n(out)["18484-T01"] == ((1, 2), (0, 2))


def test_the_old_output_with_n_published_is_caught_for_n():
    df = group([(3, 1), (4, 2), (20, 15)])
    out = suppress_satisfaction(df, **KW)
    assert feasible_intervals(out).recoverable.empty
    shown = suppress_satisfaction(df, **KW, hide_count=False)  # n stays published on hidden cells
    rec = feasible_intervals(shown).recoverable
    assert rec["hamlet_code"].tolist() == ["18484-T01", "18484-T02"]
    assert (rec["n_lo"] == rec["n_hi"]).all() and (rec["hi"] > rec["lo"]).all()  # n exact, s not
    problems = _audit(shown)
    assert any("respondents = 3 là giá trị duy nhất" in p for p in problems)


def test_a_location_hidden_on_one_question_is_hidden_on_every_question_of_its_form():
    df = pd.concat(
        [group([(3, 1), (8, 8), (20, 15)]), group([(6, 2), (8, 8), (20, 15)], question="Q02")],
        ignore_index=True,
    )
    per_question = suppress_satisfaction(df, **{**KW, "block_cols": None})
    leaks = cross_question_leaks(per_question)
    assert leaks[["question_code", "hamlet_code", "other_question"]].values.tolist() == [
        ["Q01", "18484-T01", "Q02"]
    ]  # its n = 6 on Q02 would be its n on Q01 when every respondent answers every question
    assert any("shows its respondents on question Q02" in p for p in _audit(per_question))
    out = suppress_satisfaction(df, **KW)
    assert reasons(out) == [PRIMARY, None, None, None, COMPLEMENTARY, None, None, None]
    assert cross_question_leaks(out).empty and _audit(out) == []


def _audit(out: pd.DataFrame) -> list[str]:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "mart_satisfaction.parquet"
        out.assign(respondents=out["respondents"].astype("Int64")).to_parquet(path)
        return audit_release_tables({"mart_satisfaction": [path]}, min_count=5)


def test_zero_hidden_cells_change_nothing():
    df = pd.concat([group([(12, 10), (8, 8), (20, 0)]), group([(0, 0), (7, 7)], question="Q02")])
    out = suppress_satisfaction(df, **KW)
    assert not out["suppressed"].any()
    assert out["satisfied"].tolist() == df["satisfied"].tolist()
    result = feasible_intervals(out)
    assert result.cells.empty and result.lps == 0


def test_one_hamlet_group_hides_hamlet_and_commune_row():
    df = group([(3, 3)])
    out = suppress_satisfaction(df, **KW)
    assert reasons(out) == [PRIMARY, PRIMARY]  # the commune row has 3 respondents too
    assert intervals_n(out) == {"18484-T01": ((1, 4), (0, 4)), "commune": ((1, 4), (0, 4))}
    assert feasible_intervals(out).recoverable.empty


def test_unattributed_answers_protect_or_force_the_commune_row():
    # 5 answers without a hamlet: with n hidden, 3 + 5 with 6 satisfied leaves the 3 at n 1..4, s 0..4
    out = suppress_satisfaction(group([(3, 2), (0, 0)], rest=(5, 4)), **KW)
    assert reasons(out) == [PRIMARY, None, None]
    assert intervals_n(out) == {"18484-T01": ((1, 4), (0, 4))}
    # all satisfied: "everyone in T01 is satisfied" is certain; no other hamlet has answers: the commune row
    # is hidden instead
    out = suppress_satisfaction(group([(3, 3), (0, 0)], rest=(5, 5)), **KW)
    assert reasons(out) == [PRIMARY, None, COMPLEMENTARY]
    assert intervals_n(out) == {"18484-T01": ((1, 4), (0, 4)), "commune": ((5, np.inf), (0, np.inf))}


def test_every_other_hamlet_extreme_hides_the_commune_row():
    # hidden cells all-unsatisfied and every published hamlet too: no hamlet can move R off 0
    out = suppress_satisfaction(group([(2, 0), (4, 0), (10, 0), (30, 0)]), **KW)
    assert reasons(out) == [PRIMARY, PRIMARY, None, None, COMPLEMENTARY]
    assert feasible_intervals(out).recoverable.empty


def test_a_lone_hidden_cell_with_an_interior_value_needs_no_partner_once_n_is_hidden():
    out = suppress_satisfaction(group([(4, 2), (7, 7), (5, 3)]), **KW)
    # with n published (the old rule) the 4 alone was exact; with n hidden the attacker cannot tell the 4
    # from answers without a hamlet: n 1..4, s 0..2, no partner needed (fewest people hidden)
    assert reasons(out) == [PRIMARY, None, None, None]
    assert intervals_n(out) == {"18484-T01": ((1, 4), (0, 2))}
    # but if its s were 4 (all satisfied), "everyone satisfied" would be certain: a partner joins
    out = suppress_satisfaction(group([(4, 4), (7, 7), (5, 3)]), **KW)
    assert reasons(out) == [PRIMARY, None, COMPLEMENTARY, None]
    assert feasible_intervals(out).recoverable.empty


def test_fewest_people_and_deterministic_tie_break():
    df = group([(3, 3), (9, 9), (8, 5), (8, 2), (30, 20)])
    out = suppress_satisfaction(df, **KW)
    # 9 and 8 are candidates-sized; the all-satisfied 9 cannot help; the two 8s tie: T03 < T04
    assert reasons(out) == [PRIMARY, None, COMPLEMENTARY, None, None, None]
    shuffled = suppress_satisfaction(df.iloc[[4, 2, 0, 5, 3, 1]], **KW)
    assert shuffled.sort_index().equals(out)


def test_threshold_is_configurable():
    df = group([(6, 6), (7, 7), (30, 20)])
    assert not suppress_satisfaction(df, **KW)["suppressed"].any()
    out = suppress_satisfaction(df, **KW, min_count=10)
    assert reasons(out) == [PRIMARY, PRIMARY, COMPLEMENTARY, None]
    assert feasible_intervals(out).recoverable.empty
    for bad in (0, 2):  # with 2 the marker "primary" alone would give n = 1
        with pytest.raises(ValueError, match="min_count must be >= 3"):
            suppress_satisfaction(df, **KW, min_count=bad)


def test_settings_read_the_threshold(monkeypatch):
    monkeypatch.setenv("NTM_SUPPRESSION_MIN_COUNT", "8")
    assert get_settings().suppression_min_count == 8
    monkeypatch.setenv("NTM_SUPPRESSION_MIN_COUNT", "zero")
    with pytest.raises(ValueError, match="NTM_SUPPRESSION_MIN_COUNT must be an integer >= 3"):
        get_settings()


def test_groups_without_a_total_row_assume_a_public_total_and_refuse_what_cannot_be_protected():
    df = pd.DataFrame(
        dict(
            commune_code="1",
            question_code="Q01",
            hamlet_code=["A", "B", "C"],
            respondents=[3, 4, 9],
            satisfied=[3, 4, 9],
        )
    )
    with pytest.raises(UnprotectableGroupError, match="no cell is left to hide"):
        suppress_satisfaction(df, group_cols=["commune_code", "question_code"], cell_col="hamlet_code")


def test_inconsistent_input_is_refused():
    with pytest.raises(ValueError, match="outside"):
        suppress_satisfaction(group([(3, 4)]), **KW)
    bad = group([(3, 1), (9, 5)])
    bad.loc[bad["hamlet_code"].isna(), "respondents"] = 10
    with pytest.raises(ValueError, match="smaller than its cells"):
        suppress_satisfaction(bad, **KW)


# ---------------------------------------------------------------------------------------------------------
# The attacker reads everything a row still shows
# ---------------------------------------------------------------------------------------------------------


def test_attacker_uses_rate_flag_and_marker():
    out = suppress_satisfaction(group([(3, 1), (4, 2), (20, 15)]), **KW)
    assert reasons(out) == [PRIMARY, PRIMARY, None, None] and feasible_intervals(out).recoverable.empty
    leaked = out.copy()
    leaked.loc[0, "satisfied_rate"] = 100 / 3  # the rate of a hidden cell gives its count
    rec = feasible_intervals(leaked).recoverable
    assert rec["hamlet_code"].tolist() == ["18484-T01"] and rec["shows_value"].all()  # fail closed
    flag = suppress_satisfaction(group([(4, 4), (4, 3), (20, 15)]), **KW)
    flag.loc[0, "meets_90"] = True  # 10 s >= 9 * 4  ->  s = 4
    assert feasible_intervals(flag).recoverable["hamlet_code"].tolist() == ["18484-T01"]
    shown = out.copy()
    shown.loc[0, "satisfied"] = 1  # flagged suppressed but still showing its value
    assert "18484-T01" in feasible_intervals(shown).recoverable["hamlet_code"].tolist()


def test_attacker_refuses_inconsistent_numbers():
    out = suppress_satisfaction(group([(3, 1), (4, 2), (20, 15)]), **KW)
    out.loc[out["hamlet_code"].isna(), "satisfied"] = 40  # more than its 27 respondents could give
    with pytest.raises(ValueError, match="inconsistent"):
        feasible_intervals(out)


# ---------------------------------------------------------------------------------------------------------
# Generated groups: suppression always protects, the LP equals exact enumeration, fewest people hidden
# ---------------------------------------------------------------------------------------------------------


@st.composite
def groups(draw):
    k = draw(st.integers(1, 5))
    ns = draw(st.lists(st.integers(0, 9), min_size=k, max_size=k))
    mode = draw(st.sampled_from(["any", "all", "none"]))
    cells = []
    for n in ns:
        s = n if mode == "all" else 0 if mode == "none" else draw(st.integers(0, n))
        cells.append((n, s))
    n_rest = draw(st.sampled_from([0, 0, 0, 1, 3, 6]))
    s_rest = n_rest if mode == "all" else 0 if mode == "none" else draw(st.integers(0, n_rest))
    return cells, (n_rest, s_rest)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(groups())
def test_generated_groups_are_protected_and_the_lp_is_exact(case):
    cells, rest = case
    df = group(cells, rest)
    answered = [n for n, _ in cells if n > 0]
    if rest[0] == 0 and answered == [1] * 4:
        # the one group no suppression can protect: commune n = 4 (primary: 1..4) and four hidden hamlets
        # of n >= 1 force every n to 1; the release stops (fail closed) rather than publish it
        with pytest.raises(UnprotectableGroupError, match="no cell is left to hide"):
            suppress_satisfaction(df, **KW)
        return
    out = suppress_satisfaction(df, **KW)
    result = feasible_intervals(out)
    got = intervals_n(out)
    exact = enumerate_values(out)
    for h, ((n_lo, n_hi), (s_lo, s_hi)) in summary(exact).items():
        (ln_lo, ln_hi), (ls_lo, ls_hi) = got[h]
        assert (ln_lo, ls_lo) == (n_lo, s_lo), h
        # unbounded in the LP (a hidden commune row): the enumeration reaches its own cap
        assert ln_hi == n_hi or (ln_hi == np.inf and n_hi >= CAP_ENUM // 2), h
        assert ls_hi == s_hi or (ls_hi == np.inf and s_hi >= CAP_ENUM // 2), h
        assert n_hi > n_lo and s_hi > s_lo  # two values or more for n and for s
        assert any(v > w for v, w in exact[h])  # "everyone satisfied" is never certain
        ns = {v for v, _ in exact[h]}
        assert ns == set(range(n_lo, n_hi + 1))  # no holes
    assert result.recoverable.empty and cross_question_leaks(out).empty
    assert out.loc[out["suppressed"], "respondents"].isna().all()

    # fewest people: no set of published hamlets with fewer respondents would have protected the group
    hamlets = out[out["hamlet_code"].notna()].reset_index(drop=True)
    prim = hamlets["suppression_reason"].eq(PRIMARY).to_numpy()
    if prim.any() and out["suppression_reason"].iloc[-1] != PRIMARY:
        n = [c[0] for c in cells]
        s = [c[1] for c in cells]
        base = [i for i in range(len(n)) if prim[i]]
        others = [i for i in range(len(n)) if not prim[i] and n[i] > 0]
        best = min(
            (
                sum(n[i] for i in sub)
                for r in range(len(others) + 1)
                for sub in itertools.combinations(others, r)
                if is_protected(
                    [n[i] for i in (*base, *sub)],
                    [s[i] for i in (*base, *sub)],
                    n_rest=rest[0],
                    s_rest=rest[1],
                )
            ),
            default=None,
        )
        comp = hamlets["suppression_reason"].eq(COMPLEMENTARY).to_numpy()
        if best is None:
            assert out["suppression_reason"].iloc[-1] == COMPLEMENTARY and not comp.any()
        else:
            assert sum(n[i] for i in range(len(n)) if comp[i]) == best


def test_batched_lp_equals_one_lp_per_group():
    rng = np.random.default_rng(12)
    frames = []
    for q in range(40):
        k = int(rng.integers(1, 6))
        ns = rng.integers(1, 9, k)
        cells = [(int(n), int(rng.integers(0, n + 1)) if q % 3 else int(n)) for n in ns]
        frames.append(group(cells, rest=(int(q % 4 == 0), 0), question=f"Q{q:02d}"))
    df = pd.concat(frames, ignore_index=True)
    out = suppress_satisfaction(df, **KW)
    batched = feasible_intervals(out)
    one_by_one = pd.concat(
        [feasible_intervals(g).cells for _, g in out.groupby("question_code", sort=True)], ignore_index=True
    )
    key = ["question_code", "hamlet_code"]
    pd.testing.assert_frame_equal(
        batched.cells.sort_values(key).reset_index(drop=True),
        one_by_one.sort_values(key).reset_index(drop=True),
    )
    assert batched.lps < sum(feasible_intervals(g).lps for _, g in out.groupby("question_code"))
    assert len(batched.cells) > 40 and batched.recoverable.empty


# ---------------------------------------------------------------------------------------------------------
# A synthetic province, through the publish asset's code path
# ---------------------------------------------------------------------------------------------------------


def province_satisfaction(seed: int = 42) -> pd.DataFrame:
    """mart_satisfaction for the 69 communes / ~1,700 hamlets of the province-scale generator, 10 questions,
    2 survey years, with small hamlets (1-4 answers), all-satisfied and all-unsatisfied hamlets, hamlets
    without answers and answers not attributed to a hamlet."""
    from pipeline.synth.scale import World

    w = World("province", seed, None)
    rng = np.random.default_rng([seed, 12])
    rows = []
    h_commune = w.cc[w.h_commune]
    for year in ("2026", "2027"):
        size = rng.choice(["small", "zero", "normal"], p=[0.15, 0.02, 0.83], size=len(w.h_code))
        n = np.where(size == "small", rng.integers(1, 5, len(w.h_code)), rng.integers(25, 37, len(w.h_code)))
        n = np.where(size == "zero", 0, n)
        kind = rng.choice(["all", "none", "mixed"], p=[0.2, 0.1, 0.7], size=len(w.h_code))
        p = rng.uniform(0.6, 0.97, len(w.h_code))
        rest_n = np.where(rng.uniform(size=len(w.cc)) < 0.2, rng.integers(1, 7, len(w.cc)), 0)
        for q in range(1, 11):
            s = np.where(kind == "all", n, np.where(kind == "none", 0, rng.binomial(n, p)))
            rest_s = rng.binomial(rest_n, 0.8)
            hamlets = pd.DataFrame(
                dict(
                    commune_code=h_commune,
                    hamlet_code=w.h_code,
                    location_level="hamlet",
                    respondents=n,
                    satisfied=s,
                )
            )
            communes = hamlets.groupby("commune_code", as_index=False)[["respondents", "satisfied"]].sum()
            communes = communes.merge(
                pd.DataFrame(dict(commune_code=w.cc, rn=rest_n, rs=rest_s)), on="commune_code"
            )
            communes = communes.assign(
                respondents=communes["respondents"] + communes["rn"],
                satisfied=communes["satisfied"] + communes["rs"],
                hamlet_code=None,
                location_level="commune",
            ).drop(columns=["rn", "rs"])
            rows.append(
                pd.concat([hamlets, communes]).assign(
                    period_code=year, form_code="HL-NTM", question_code=f"Q{q:02d}"
                )
            )
    df = pd.concat(rows, ignore_index=True)
    df = df[(df["respondents"] > 0) | df["hamlet_code"].isna()]  # the mart has no row without an answer
    df = with_rates(df)
    df["satisfaction_key"] = [f"k{i}" for i in range(len(df))]
    return df.astype({"respondents": "int32", "satisfied": "int32"})


def test_synthetic_province_release_has_no_recoverable_cell(tmp_path):
    mart = province_satisfaction()
    con = duckdb.connect()
    con.execute("create schema marts")
    con.register("mart_df", mart)
    con.execute("create table marts.mart_satisfaction as select * from mart_df")
    t0 = time.perf_counter()
    stats = stage_suppressed_satisfaction(con, min_count=5)  # the asset's own step
    suppress_s = time.perf_counter() - t0
    path = tmp_path / "mart_satisfaction.parquet"
    con.execute(f"copy publish_mart_satisfaction to '{path}' (format parquet)")
    t0 = time.perf_counter()
    problems = audit_release_tables({"mart_satisfaction": [path]}, min_count=5)
    audit_s = time.perf_counter() - t0
    result = feasible_intervals(pd.read_parquet(path))
    print(
        f"province: {len(mart)} rows, {stats}, suppress {suppress_s:.2f}s, audit {audit_s:.2f}s, {result.lps} LPs"
    )
    assert problems == []
    assert stats["primary"] > 1000 and stats["complementary"] > 100
    assert len(result.cells) == stats["primary"] + stats["complementary"]
    assert (result.cells["hi"] - result.cells["lo"]).min() >= 1
    assert (result.cells["n_hi"] - result.cells["n_lo"]).min() >= 1 and (result.cells["d_hi"] >= 1).all()
    published = pd.read_parquet(path)
    assert published.loc[published["suppressed"], "respondents"].isna().all()
    assert cross_question_leaks(published).empty
    # the same province under the old rule: the attacker recovers cells
    old = legacy_suppress_satisfaction(
        mart, group_cols=GROUP, cell_col="hamlet_code", value_cols=VALUES, has_total_row=True
    )
    caught = feasible_intervals(old).recoverable
    assert len(caught) > 50


# ---------------------------------------------------------------------------------------------------------
# The release gate
# ---------------------------------------------------------------------------------------------------------

SAT_SPEC = TableSpec(
    name="mart_satisfaction",
    sql="select * from marts.mart_satisfaction_published",
    title_vi="Mức độ hài lòng",
    title_en="Satisfaction",
    fields={
        "satisfaction_key": ("Khóa", "Key"),
        "commune_code": ("Mã xã", "Commune code"),
        "period_code": ("Kỳ", "Period"),
        "form_code": ("Mẫu phiếu", "Form"),
        "question_code": ("Câu hỏi", "Question"),
        "hamlet_code": ("Mã thôn", "Hamlet code"),
        "location_level": ("Cấp", "Level"),
        "respondents": ("Số người trả lời", "Respondents"),
        "satisfied": ("Số hài lòng", "Satisfied"),
        "satisfied_rate": ("Tỷ lệ", "Rate"),
        "meets_90": ("Đạt 90 %", "Meets 90 %"),
        "suppressed": ("Bị ẩn", "Suppressed"),
        "suppression_reason": ("Lý do ẩn", "Why hidden"),
    },
    primary_key=["satisfaction_key"],
)


def _stage(warehouse: Path, out: pd.DataFrame) -> None:
    out = out.assign(satisfaction_key=[f"k{i}" for i in range(len(out))])
    con = duckdb.connect(str(warehouse))
    con.register("o", out)
    con.execute(
        "create or replace table marts.mart_satisfaction_published as select satisfaction_key, commune_code, "
        "period_code, form_code, question_code, hamlet_code, location_level, respondents::integer as respondents, "
        "satisfied::integer as satisfied, satisfied_rate::double as satisfied_rate, meets_90::boolean as meets_90, "
        "suppressed, suppression_reason from o"
    )
    con.close()


def _publish(warehouse: Path, open_data: Path, **kw):
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return publish_release(con, [*_synth.specs(), SAT_SPEC], open_data, partition_min_rows=50, **kw)
    finally:
        con.close()


def test_release_gate_blocks_a_recoverable_cell_and_passes_the_protected_release(warehouse, open_data):
    df = pd.concat(
        [group([(3, 3), (4, 4), (20, 15), (30, 20)]), group([(2, 0), (12, 6)], question="Q02")],
        ignore_index=True,
    )
    _stage(warehouse, suppress_satisfaction(df, **KW))
    first = _publish(warehouse, open_data)
    latest = open_data / "latest"
    assert audit_release_dir(latest, min_count=5) == []
    readme = (latest / "README.md").read_text(encoding="utf-8")
    assert "### Ẩn ô khảo sát sự hài lòng" in readme and "### Satisfaction cell suppression" in readme
    assert (
        pd.read_parquet(next((latest / "data").glob("mart_satisfaction*.parquet")))["suppressed"].sum() == 5
    )

    _stage(warehouse, legacy_suppress_satisfaction(df, **KW))
    with pytest.raises(DisclosureAuditError) as exc:
        _publish(warehouse, open_data)
    message = str(exc.value)
    assert message.startswith("Ô khảo sát bị ẩn vẫn tính lại được")
    # the old rule: n published on hidden cells and the commune total forces both
    assert "hamlet_code=18484-T01: respondents = 3 là giá trị duy nhất" in message
    assert "is the only value the published numbers allow" in message
    assert "hamlet_code=18484-T02: respondents = 4" in message
    assert (open_data / "latest").resolve() == first.path  # latest untouched
    assert not list((open_data / ".staging").iterdir())


def test_release_gate_blocks_a_small_cell_that_shows_its_value(warehouse, open_data):
    df = group([(3, 1), (4, 2), (20, 15)])
    out = suppress_satisfaction(df, **KW)
    _stage(
        warehouse,
        out.assign(
            suppressed=False,
            suppression_reason=None,
            satisfied=df["satisfied"],
            respondents=df["respondents"],
        ),
    )
    with pytest.raises(DisclosureAuditError, match="fewer than 5 respondents show their count"):
        _publish(warehouse, open_data)


def test_the_documented_rule_carries_the_threshold_in_both_languages():
    text = "\n".join(suppression_rule_lines(7))
    assert text.count("0 < n < 7") == 2 and text.count("t = 7") == 2
    vi, en = text.split("### Satisfaction cell suppression")
    assert "**khi và chỉ khi** L < T và 0 < R < T" in vi and "**if and only if** L < T and 0 < R < T" in en
    assert "`respondents`, `satisfied`, `satisfied_rate` và `meets_90` để trống" in vi
    assert "`respondents`, `satisfied`, `satisfied_rate` and `meets_90` are null" in en
    # the worked examples are the ones test_two_hidden_hamlets_both_all_satisfied_or_none_are_protected and
    # test_one_plus_five_is_caught_and_not_produced check
    assert (
        "n ∈ 1…4, 1…4, 5…25 và s ∈ 0…4, 0…4, 0…22" in vi and "n ∈ 1…4, 1…4, 5…25 and s ∈ 0…4, 0…4, 0…22" in en
    )
    assert "n ∈ 1…4 và 5…20" in vi and "n ∈ 1…4 and 5…20" in en


def test_release_integrity_check_runs_the_attacker_on_latest(warehouse, open_data, monkeypatch):
    """The asset check on ``latest`` fails on a recoverable cell too (here a release written with the gate
    switched off, as a release of an older version would be)."""
    from pipeline.publish import release
    from pipeline.publish.checks import release_integrity

    monkeypatch.setenv("NTM_OPEN_DATA_DIR", str(open_data))
    df = group([(3, 3), (4, 4), (20, 15), (30, 20)])
    _stage(warehouse, suppress_satisfaction(df, **KW))
    _publish(warehouse, open_data)
    assert release_integrity().passed

    _stage(warehouse, legacy_suppress_satisfaction(df, **KW))
    monkeypatch.setattr(release, "audit_release_tables", lambda *a, **k: [])
    _publish(warehouse, open_data, now=datetime(2026, 12, 20, 9, 0))
    result = release_integrity()
    assert not result.passed
    # the old rule showed n on its hidden cells: the suppression check on latest already refuses it
    assert "suppressed cells, still show values or their count" in str(result.metadata["problems"].value)


def test_no_other_published_table_is_derived_from_survey_answers():
    """The margins across the release: only mart_satisfaction carries counts of survey respondents, so the
    attacker's equations are complete. Any published model downstream of the survey sources (dbt lineage)
    would have to be added to the suppression and to the attacker."""
    import json

    from pipeline.publish.assets import PUBLISHED
    from pipeline.transform.assets import DBT_PROJECT

    manifest = json.loads(Path(DBT_PROJECT.manifest_path).read_text())
    children = manifest["child_map"]
    start = [u for u in [*manifest["nodes"], *manifest["sources"]] if "survey" in u.split(".")[-1]]
    assert any(u.endswith("fact_survey_answer") for u in start)
    seen, todo = set(start), list(start)
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    derived = {u.split(".")[-1] for u in seen if u.startswith("model.")}
    assert derived & set(PUBLISHED) == {"mart_satisfaction"}


@st.composite
def blocks(draw):
    """Two questions of one form over the same 1-4 hamlets: n differ a little between questions (skipped
    answers), s independent."""
    k = draw(st.integers(1, 4))
    base = draw(st.lists(st.integers(0, 9), min_size=k, max_size=k))
    questions = []
    for _ in range(2):
        cells = []
        for n0 in base:
            n = max(0, n0 - draw(st.integers(0, 1)))
            cells.append((n, draw(st.integers(0, n))))
        questions.append(cells)
    rest = draw(st.sampled_from([0, 0, 2]))
    return questions, rest


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blocks())
def test_generated_blocks_hide_the_same_locations_and_the_lp_is_exact_per_group(case):
    questions, rest = case
    df = pd.concat(
        [group(c, (rest, rest // 2), question=f"Q{i + 1:02d}") for i, c in enumerate(questions)],
        ignore_index=True,
    )
    try:
        out = suppress_satisfaction(df, **KW)
    except UnprotectableGroupError:
        # only the one unprotectable shape: a primary commune filled by t - 1 hamlets of one answer each
        assert any(rest == 0 and [n for n, _ in c if n > 0] == [1] * 4 for c in questions)
        return
    assert cross_question_leaks(out).empty and _audit(out) == []
    hidden = out[out["suppressed"]]
    for _, g in out.groupby("question_code"):
        lp = intervals_n(g)
        exact = summary(enumerate_values(g))
        assert set(lp) == set(exact)
        for h, ((n_lo, n_hi), (s_lo, s_hi)) in exact.items():
            (ln_lo, ln_hi), (ls_lo, ls_hi) = lp[h]
            assert (ln_lo, ls_lo) == (n_lo, s_lo), h
            assert ln_hi == n_hi or (ln_hi == np.inf and n_hi >= CAP_ENUM // 2), h
            assert ls_hi == s_hi or (ls_hi == np.inf and s_hi >= CAP_ENUM // 2), h
            assert n_hi > n_lo and s_hi > s_lo
    # a location hidden on one question with n > 0 on the other is hidden there too
    for h in set(hidden["hamlet_code"].fillna("commune")):
        rows = out[(out["hamlet_code"].fillna("commune") == h) & (df["respondents"] > 0)]
        assert rows["suppressed"].all(), h

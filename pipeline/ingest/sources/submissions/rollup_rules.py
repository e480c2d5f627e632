"""The ingest side of the roll-up rules the catalog declares per indicator (raw/README.md section 7): a value
needs its fraction (7.1) and a hamlet's value comes from a unit allowed to report it (7.4)."""

from __future__ import annotations

import pandas as pd

from pipeline.ingest.problems import Problems
from pipeline.ingest.reference import ReferenceData
from pipeline.lib.distinct import in_set


def rollup_rules(
    p: Problems,
    ref: ReferenceData,
    cat: pd.DataFrame,
    cti: pd.Series,
    unit: pd.Series,
    hamlet: pd.Series,
    known_h: pd.Series,
    period: pd.Series,
    value: pd.Series,
    numer: pd.Series,
    denom: pd.Series,
) -> None:
    """The roll-up rules of the indicator rows (``cti``: known indicators), each row against its catalog entry.

    7.1 ``missing_fraction_rule``: a value without numerator and denominator is quarantined
    (``missing_fraction``) when the rule is ``quarantine``; with ``derive_from_weight`` it is kept (dbt derives
    the fraction from the weight) unless the hamlet has no weight for the period's year (``missing_weight``).
    Half a fraction (only one of the two) is quarantined whatever the rule, except ``not_applicable``.
    7.4 ``hamlet_reporters``: a hamlet's value comes from the hamlet's own unit, or (``own_or_listed``) from a
    unit whose ``reports_for_hamlets`` lists it; any other unit's row is quarantined (``reporter_not_allowed``).
    """
    idx = cti.index
    rule = pd.Series(cat["missing_fraction_rule"].to_numpy(), index=idx)
    weight = pd.Series(cat["fraction_weight"].to_numpy(), index=idx)
    ratio_rule = cti & rule.notna() & (rule != "not_applicable")
    has_num, has_den = numer.notna(), denom.notna()
    half = ratio_rule & (has_num ^ has_den)
    p.add(half & has_num, "missing_fraction", "denominator")
    p.add(half & has_den, "missing_fraction", "numerator")
    bare = ratio_rule & ~has_num & ~has_den & value.notna()
    p.add(bare & (rule == "quarantine"), "missing_fraction", "numerator")
    derive = bare & (rule == "derive_from_weight")
    if derive.any():
        # households is the only weight the catalog declares today (reference.RULE_COLUMNS)
        rows = derive & (weight == "households") & known_h & period.notna()
        keys = zip(hamlet[rows].astype(str), period[rows].astype(str).str[:4].astype(int), strict=True)
        has_weight = [k in ref.households for k in keys]
        p.add(
            rows & ~pd.Series(has_weight, index=idx[rows.to_numpy()]).reindex(idx, fill_value=True),
            "missing_weight",
            "hamlet_code",
        )

    who = pd.Series(cat["hamlet_reporters"].to_numpy(), index=idx)
    checked = cti & known_h & hamlet.notna() & unit.notna() & in_set(who, {"own_or_listed", "own_only"})
    # a hamlet reporting for itself is the common case: look the registry up only for the other rows
    others = checked & (unit != hamlet).fillna(True).astype(bool)
    if others.any():
        pairs = zip(unit[others].astype(str), hamlet[others].astype(str), strict=True)
        listed = pd.Series([pair in ref.reporters for pair in pairs], index=idx[others.to_numpy()])
        allowed = listed & (who[others] == "own_or_listed")
        p.add(others & ~allowed.reindex(idx, fill_value=True), "reporter_not_allowed", "hamlet_code")

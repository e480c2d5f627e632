"""The indicator rows (CT) of a submission: a known indicator, a hamlet of the indicator's level valid in the
period, a value of the indicator's type and range, and the roll-up rules the catalog declares per indicator
(raw/README.md section 7)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.ingest.cells import cell_number, cell_text, cell_yesno, column_of
from pipeline.ingest.problems import Problems
from pipeline.ingest.reference import ReferenceData
from pipeline.ingest.sources.submissions.rollup_rules import rollup_rules
from pipeline.ingest.sources.submissions.rows import Rows
from pipeline.lib.distinct import in_set
from pipeline.lib.periods import period_end, period_start


@dataclass
class Indicators:
    """The parsed cells of the indicator rows (CT)."""

    hamlet: pd.Series
    value: pd.Series
    numerator: pd.Series
    denominator: pd.Series


def indicator_rows(b: pd.DataFrame, p: Problems, ref: ReferenceData, rows: Rows) -> Indicators:
    """The indicator rows: a known indicator, a hamlet of the indicator's level valid in the period, a value
    of the indicator's type and range (computed from numerator and denominator when blank), and the roll-up
    rules of the catalog (:func:`rollup_rules`)."""
    ct = rows.ct
    p.add(ct & rows.indicator.isna(), "missing_value", "indicator_code")
    known_ind = in_set(rows.indicator, ref.indicator_codes)
    p.add(ct & rows.indicator.notna() & ~known_ind, "unknown_indicator", "indicator_code")
    cat = ref.indicators.reindex(rows.indicator.where(known_ind, None).astype(object))
    vtype = pd.Series(cat["value_type"].to_numpy(), index=b.index)
    level = pd.Series(cat["level"].to_numpy(), index=b.index)
    vmin = pd.Series(cat["min_value"].to_numpy(dtype="float64"), index=b.index)
    vmax = pd.Series(cat["max_value"].to_numpy(dtype="float64"), index=b.index)
    cti = ct & known_ind

    hamlet, known_h = indicator_hamlets(b, p, ref, rows, cti, level)

    raw_value = column_of(b, "value")
    is_yesno = cti & (vtype == "yesno")
    yn_val, yn_err = cell_yesno(raw_value.where(is_yesno, None))
    num_val, num_err, has_pct = cell_number(raw_value.where(cti & ~is_yesno, None))
    p.add_errors(yn_err, "value", is_yesno)
    p.add_errors(num_err, "value", cti & ~is_yesno)
    p.add(cti & ~is_yesno & has_pct & (vtype != "percent"), "unexpected_percent_sign", "value")
    numer, numer_err, _ = cell_number(column_of(b, "numerator").where(cti, None))
    denom, denom_err, _ = cell_number(column_of(b, "denominator").where(cti, None))
    p.add_errors(numer_err, "numerator", cti)
    p.add_errors(denom_err, "denominator", cti)
    value = yn_val.where(is_yesno, num_val)
    share = cti & in_set(vtype, {"percent", "ratio"})
    both = share & numer.notna() & denom.notna()
    p.add(both & (denom == 0), "zero_denominator", "denominator")
    frac_only = (vtype == "percent") | ((vtype == "ratio") & (vmax <= 1))
    over = both & (denom > 0) & frac_only & (numer > denom)
    p.add(over, "numerator_exceeds_denominator", "numerator")
    p.add(cti & ((numer < 0) | (denom < 0)).fillna(False), "value_out_of_range", "numerator")
    computed = np.where(vtype == "percent", 100.0, 1.0) * numer / denom.where(denom != 0)
    value = value.where(value.notna() | ~both, computed)
    value_err = yn_err.where(is_yesno, num_err)
    p.add(
        cti & ~both & value.isna() & value_err.isna() & column_of(b, "value").pipe(cell_text).isna(),
        "missing_value",
        "value",
    )
    rollup_rules(p, ref, cat, cti, rows.unit, hamlet, known_h, rows.period, value, numer, denom)
    lo = vmin.where(vmin.notna(), np.where(in_set(vtype, {"count", "percent"}), 0.0, -np.inf))
    hi = vmax.where(vmax.notna(), np.where(vtype == "percent", 100.0, np.inf))
    p.add(cti & ~over & value.notna() & ((value < lo) | (value > hi)), "value_out_of_range", "value")
    return Indicators(hamlet=hamlet, value=value, numerator=numer, denominator=denom)


def indicator_hamlets(
    b: pd.DataFrame, p: Problems, ref: ReferenceData, rows: Rows, cti: pd.Series, level: pd.Series
) -> tuple[pd.Series, pd.Series]:
    """(hamlet of each indicator row, known in the registry): a blank hamlet of a hamlet-level indicator
    reported by a hamlet's own unit is that hamlet; the hamlet must be valid in the period and match the
    indicator's level."""
    ct = rows.ct
    hamlet = cell_text(column_of(b, "hamlet_code"), upper=True)
    unit_is_hamlet = in_set(rows.unit, ref.hamlet_codes)
    hamlet = hamlet.where(~(hamlet.isna() & unit_is_hamlet & (level == "hamlet")), rows.unit)
    has_h = hamlet.notna()
    known_h = in_set(hamlet, ref.hamlet_codes)
    p.add(ct & has_h & ~known_h, "unknown_hamlet", "hamlet_code")
    valid_h = hamlet_valid_in_period(ref, hamlet.where(ct & known_h), rows.period)
    p.add(ct & known_h & ~valid_h, "hamlet_not_valid_in_period", "hamlet_code")
    p.add(cti & (level == "commune") & has_h, "hamlet_level_mismatch", "hamlet_code")
    p.add(cti & (level == "hamlet") & ~has_h, "hamlet_level_mismatch", "hamlet_code")
    return hamlet, known_h


def period_bounds(codes: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(first day, last day) of each period code (NaT where the code is missing)."""
    uniq = codes.dropna().unique()
    starts = {c: pd.Timestamp(period_start(c)) for c in uniq}
    ends = {c: pd.Timestamp(period_end(c)) for c in uniq}
    return (
        pd.to_datetime(codes.map(starts), errors="coerce"),
        pd.to_datetime(codes.map(ends), errors="coerce"),
    )


def hamlet_valid_in_period(ref: ReferenceData, hamlet: pd.Series, period: pd.Series) -> pd.Series:
    """True where some version of the hamlet overlaps the period (NA inputs give True)."""
    start, end = period_bounds(period)
    probe = pd.DataFrame({"hamlet_code": hamlet, "start": start, "end": end, "_i": np.arange(len(hamlet))})
    probe = probe[probe["hamlet_code"].notna() & probe["start"].notna()]
    out = pd.Series(True, index=hamlet.index)
    if probe.empty:
        return out
    probe["hamlet_code"] = probe["hamlet_code"].astype(str)
    m = probe.merge(ref.hamlets[["hamlet_code", "valid_from", "valid_to"]], on="hamlet_code", how="inner")
    m["ok"] = (m["valid_from"].isna() | (m["valid_from"] <= m["end"])) & (
        m["valid_to"].isna() | (m["valid_to"] >= m["start"])
    )
    ok = m.groupby("_i")["ok"].any()
    arr = out.to_numpy().copy()
    idx = probe["_i"].to_numpy()
    arr[idx] = pd.Series(idx).map(ok).fillna(False).astype(bool).to_numpy()
    return pd.Series(arr, index=hamlet.index)

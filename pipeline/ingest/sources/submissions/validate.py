"""Unit periodic reports (template ``BaoCao``): indicator rows (CT) and plan-task rows (NV).

All versions are kept: ``raw.submissions`` holds one row per (file, unit, period, submitted_at) with an
``arrival_seq`` that grows across runs; the dbt models pick the latest version (latest submitted_at,
ties broken by arrival_seq).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from pipeline.ingest.cells import cell_datetime, cell_number, cell_text, cell_yesno, column_of
from pipeline.ingest.manifest import BATCH_FILES, BatchResult, IngestContext, run_source
from pipeline.ingest.masking import mask_free_text
from pipeline.ingest.problems import Problems
from pipeline.ingest.reference import ReferenceData
from pipeline.ingest.reports import IngestReport
from pipeline.ingest.sources.submissions.template import SUBMISSION, TASK_STATUS_CODES
from pipeline.lib.distinct import in_set, map_distinct
from pipeline.lib.periods import is_future_series, parse_period, period_end, period_start
from pipeline.lib.pii import name_index
from pipeline.lib.text import fold

SOURCE = "submissions"
_STATUS_KEYS = {fold(k): v for k, v in TASK_STATUS_CODES.items()} | {v: v for v in TASK_STATUS_CODES.values()}


def _periods(b: pd.DataFrame, p: Problems, today: date, column: str = "period") -> pd.Series:
    raw = cell_text(column_of(b, column))
    parsed = parse_period(raw)
    codes = pd.Series(parsed.values, index=b.index).astype("string")
    err = pd.Series(parsed.error, index=b.index).astype(object)
    p.add(raw.isna(), "missing_value", column)
    p.add(raw.notna() & (err.notna() | codes.isna()), "malformed_period", column)
    ok = codes.notna() & err.isna()
    fut = pd.Series(is_future_series(codes.where(ok, None), today), index=b.index).fillna(False).astype(bool)
    p.add(ok & fut, "future_period", column)
    return codes.where(ok & ~fut)


def _period_bounds(codes: pd.Series) -> tuple[pd.Series, pd.Series]:
    uniq = codes.dropna().unique()
    starts = {c: pd.Timestamp(period_start(c)) for c in uniq}
    ends = {c: pd.Timestamp(period_end(c)) for c in uniq}
    return (
        pd.to_datetime(codes.map(starts), errors="coerce"),
        pd.to_datetime(codes.map(ends), errors="coerce"),
    )


def hamlet_valid_in_period(ref: ReferenceData, hamlet: pd.Series, period: pd.Series) -> pd.Series:
    """True where some version of the hamlet overlaps the period (NA inputs give True)."""
    start, end = _period_bounds(period)
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


def _rollup_rules(
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
    """The ingest side of the roll-up rules the catalog declares per indicator (raw/README.md section 7).

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


@dataclass
class _Rows:
    """The cells every row of a submission has (both kinds: indicator rows CT and plan-task rows NV)."""

    unit: pd.Series
    period: pd.Series
    submitted_at: pd.Series
    row_type: pd.Series
    ct: pd.Series  # an indicator row
    nv: pd.Series  # a plan-task row
    indicator: pd.Series
    task: pd.Series
    note: pd.Series


@dataclass
class _Indicators:
    """The parsed cells of the indicator rows (CT)."""

    hamlet: pd.Series
    value: pd.Series
    numerator: pd.Series
    denominator: pd.Series


@dataclass
class _Tasks:
    """The parsed cells of the plan-task rows (NV)."""

    status: pd.Series
    percent_done: pd.Series


def validate(b: pd.DataFrame, ctx: IngestContext) -> BatchResult:
    """One batch of submission rows: each row loaded or quarantined with its reasons, and the submission
    versions (file, unit, period, submitted_at) the loaded rows belong to. The steps run in this order (the
    order of the quarantine records): the shared cells, the indicator rows, the optional replace_all column,
    the task rows, the duplicates inside a file."""
    p = Problems(b, SUBMISSION)
    rows = _shared_cells(b, p, ctx)
    ind = _indicator_rows(b, p, ctx.ref, rows)
    replace_all, replace_err = cell_yesno(column_of(b, "replace_all"))  # optional column (roll-up rule 7.3)
    p.add_errors(replace_err, "replace_all")
    tasks = _task_rows(b, p, ctx.ref, rows)
    _duplicates_in_file(b, p, rows, ind.hamlet)

    bad = pd.Series(p.bad, index=b.index)
    good = ~bad
    values, task_frame = _loaded_rows(b, good, rows, ind, tasks)
    submissions = _submission_versions(b, good, bad, rows, replace_all, ctx.ref)
    return BatchResult(
        tables=mask_free_text(
            {
                "raw.submission_values": values,
                "raw.submission_tasks": task_frame,
                "raw.submissions": submissions,
            },
            ctx.names,
        ),
        quarantine=p.quarantine(),
        loaded_rows=b.loc[good, ["_sha", "_row"]],
    )


def _shared_cells(b: pd.DataFrame, p: Problems, ctx: IngestContext) -> _Rows:
    """Unit, period, submitted_at and row type of every row (a blank or unknown row type quarantines it)."""
    unit = cell_text(column_of(b, "unit_code"), upper=True)
    p.add(unit.isna(), "missing_value", "unit_code")
    p.add(unit.notna() & ~in_set(unit, ctx.ref.unit_codes), "unknown_unit", "unit_code")
    period = _periods(b, p, ctx.today)
    sub_at, sub_err = cell_datetime(column_of(b, "submitted_at"))
    p.add(column_of(b, "submitted_at").pipe(cell_text).isna(), "missing_value", "submitted_at")
    p.add_errors(sub_err, "submitted_at")

    indicator = cell_text(column_of(b, "indicator_code"), upper=True)
    task = cell_text(column_of(b, "task_code"), upper=True)
    rtype = cell_text(column_of(b, "row_type"), upper=True)
    # a required column: a blank "Loại dòng" quarantines the row (never guessed from the other cells)
    p.add(rtype.isna(), "missing_value", "row_type")
    p.add(rtype.notna() & ~in_set(rtype, {"CT", "NV"}), "unknown_row_type", "row_type")
    return _Rows(
        unit=unit,
        period=period,
        submitted_at=sub_at,
        row_type=rtype,
        ct=(rtype == "CT").fillna(False).astype(bool),
        nv=(rtype == "NV").fillna(False).astype(bool),
        indicator=indicator,
        task=task,
        note=cell_text(column_of(b, "note")),
    )


def _indicator_rows(b: pd.DataFrame, p: Problems, ref: ReferenceData, rows: _Rows) -> _Indicators:
    """The indicator rows: a known indicator, a hamlet of the indicator's level valid in the period, a value
    of the indicator's type and range (computed from numerator and denominator when blank), and the roll-up
    rules of the catalog (:func:`_rollup_rules`)."""
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

    hamlet, known_h = _hamlets(b, p, ref, rows, cti, level)

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
    _rollup_rules(p, ref, cat, cti, rows.unit, hamlet, known_h, rows.period, value, numer, denom)
    lo = vmin.where(vmin.notna(), np.where(in_set(vtype, {"count", "percent"}), 0.0, -np.inf))
    hi = vmax.where(vmax.notna(), np.where(vtype == "percent", 100.0, np.inf))
    p.add(cti & ~over & value.notna() & ((value < lo) | (value > hi)), "value_out_of_range", "value")
    return _Indicators(hamlet=hamlet, value=value, numerator=numer, denominator=denom)


def _hamlets(
    b: pd.DataFrame, p: Problems, ref: ReferenceData, rows: _Rows, cti: pd.Series, level: pd.Series
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


def _task_rows(b: pd.DataFrame, p: Problems, ref: ReferenceData, rows: _Rows) -> _Tasks:
    """The plan-task rows: a known task, a known status (Vietnamese or its code), percent done in 0..100."""
    nv, task = rows.nv, rows.task
    p.add(nv & task.isna(), "missing_value", "task_code")
    p.add(nv & task.notna() & ~in_set(task, ref.task_codes), "unknown_task", "task_code")
    status_raw = cell_text(column_of(b, "task_status"))
    status = map_distinct(status_raw, lambda s: _STATUS_KEYS.get(fold(s)) if isinstance(s, str) else None)
    status = status.astype(object).where(status.notna(), None)
    p.add(nv & status_raw.isna(), "missing_value", "task_status")
    p.add(
        nv & status_raw.notna() & pd.Series(status, index=b.index).isna(),
        "unknown_task_status",
        "task_status",
    )
    pdone, pdone_err, _ = cell_number(column_of(b, "percent_done").where(nv, None))
    p.add_errors(pdone_err, "percent_done", nv)
    p.add(nv & ((pdone < 0) | (pdone > 100)).fillna(False), "value_out_of_range", "percent_done")
    return _Tasks(status=pd.Series(status, index=b.index).astype(object), percent_done=pdone)


def _duplicates_in_file(b: pd.DataFrame, p: Problems, rows: _Rows, hamlet: pd.Series) -> None:
    """A row repeating an earlier one of the same file (same unit, period, submitted_at and indicator and
    hamlet, or task) is quarantined; the first stays."""
    keys = pd.DataFrame(
        {
            "s": b["_sha"],
            "u": rows.unit,
            "p": cell_text(column_of(b, "period")),
            "t": rows.submitted_at.astype("string"),
            "h": hamlet,
            "i": rows.indicator,
            "k": rows.task,
            "r": rows.row_type,
        }
    )
    dup_ct = rows.ct & keys.duplicated(subset=["s", "u", "p", "t", "h", "i", "r"], keep="first")
    dup_nv = rows.nv & keys.duplicated(subset=["s", "u", "p", "t", "k", "r"], keep="first")
    p.add(dup_ct, "duplicate_row", "indicator_code")
    p.add(dup_nv, "duplicate_row", "task_code")


def _loaded_rows(
    b: pd.DataFrame, good: pd.Series, rows: _Rows, ind: _Indicators, tasks: _Tasks
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(raw.submission_values, raw.submission_tasks): the good indicator rows and the good task rows."""
    meta = {"_file_sha256": b["_sha"], "_source_file": b["_path"], "_source_row": b["_row"].astype("int64")}
    values = pd.DataFrame(
        {
            "unit_code": rows.unit,
            "period_code": rows.period,
            "submitted_at": rows.submitted_at,
            "hamlet_code": ind.hamlet,
            "indicator_code": rows.indicator,
            "value": ind.value,
            "numerator": ind.numerator,
            "denominator": ind.denominator,
            "note": rows.note,
            **meta,
        }
    )[good & rows.ct]
    task_frame = pd.DataFrame(
        {
            "unit_code": rows.unit,
            "period_code": rows.period,
            "submitted_at": rows.submitted_at,
            "task_code": rows.task,
            "task_status": tasks.status,
            "percent_done": tasks.percent_done,
            "note": rows.note,
            **meta,
        }
    )[good & rows.nv]
    return values, task_frame


def _submission_versions(
    b: pd.DataFrame, good: pd.Series, bad: pd.Series, rows: _Rows, replace_all: pd.Series, ref: ReferenceData
) -> pd.DataFrame:
    """raw.submissions: one row per (file, unit, period, submitted_at) with at least one loaded row, its
    counts, replace_all, a submission_id and an arrival_seq in file and row order."""
    g = pd.DataFrame(
        {
            "_sha": b["_sha"],
            "_path": b["_path"],
            "_fidx": b["_fidx"],
            "_row": b["_row"],
            "unit_code": rows.unit,
            "period_code": rows.period,
            "submitted_at": rows.submitted_at,
            "good": good.astype("int64"),
            "bad": bad.astype("int64"),
            "replace_all": (replace_all == 1).fillna(False).astype("int64"),
        }
    )
    g = g[in_set(g["unit_code"], ref.unit_codes) & g["period_code"].notna() & g["submitted_at"].notna()]
    subs = (
        g.groupby(["_sha", "unit_code", "period_code", "submitted_at"], sort=False, dropna=True)
        .agg(
            _path=("_path", "first"),
            _fidx=("_fidx", "first"),
            _row=("_row", "min"),
            rows_loaded=("good", "sum"),
            rows_quarantined=("bad", "sum"),
            replace_all=("replace_all", "max"),
        )
        .reset_index()
    )
    subs = subs[subs["rows_loaded"] > 0].sort_values(["_fidx", "_row"], kind="stable").reset_index(drop=True)
    if not subs.empty:
        nth = subs.groupby(["_sha", "unit_code", "period_code"]).cumcount()
        base = (
            subs["_sha"].str[:12]
            + "-"
            + subs["unit_code"].astype(str)
            + "-"
            + subs["period_code"].astype(str)
        )
        subs["submission_id"] = base.where(nth == 0, base + "-" + (nth + 1).astype(str))
        subs["arrival_seq"] = np.arange(1, len(subs) + 1, dtype=np.int64)
    return pd.DataFrame(
        {
            "submission_id": subs.get("submission_id"),
            "unit_code": subs["unit_code"],
            "period_code": subs["period_code"],
            "submitted_at": subs["submitted_at"],
            "arrival_seq": subs.get("arrival_seq"),
            "rows_loaded": subs["rows_loaded"].astype("int64"),
            "rows_quarantined": subs["rows_quarantined"].astype("int64"),
            "replace_all": subs["replace_all"].astype(bool),
            "_file_sha256": subs["_sha"],
            "_source_file": subs["_path"],
            "_source_row": subs["_row"].astype("int64"),
        }
    )


def ingest_submissions(
    con: duckdb.DuckDBPyConnection,
    raw_dir: Path,
    ref: ReferenceData,
    *,
    today: date,
    salt: str = "",
    batch_files: int = BATCH_FILES,
) -> IngestReport:
    """Ingest new files of ``raw_dir/submissions/**``; ``salt`` keys the name hashes the notes are masked
    against (pipeline.ingest.masking)."""
    return run_source(
        con,
        raw_dir,
        SOURCE,
        SUBMISSION,
        validate,
        context=IngestContext(ref=ref, today=today, names=name_index(con, salt)),
        batch_files=batch_files,
    )

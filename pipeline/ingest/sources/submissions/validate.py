"""Unit periodic reports (template ``BaoCao``): indicator rows (CT) and plan-task rows (NV).

All versions are kept: ``raw.submissions`` holds one row per (file, unit, period, submitted_at) with an
``arrival_seq`` that grows across runs; the dbt models pick the latest version (latest submitted_at,
ties broken by arrival_seq). The steps of :func:`validate` are in this folder: ``rows`` (the cells every row
has), ``indicators`` and ``rollup_rules`` (CT rows), ``tasks`` (NV rows).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.ingest.batch import BatchResult, IngestContext, source_columns
from pipeline.ingest.cells import cell_text, cell_yesno, column_of
from pipeline.ingest.manifest import TemplateSource
from pipeline.ingest.masking import mask_free_text
from pipeline.ingest.problems import Problems
from pipeline.ingest.reference import ReferenceData
from pipeline.ingest.sources.submissions.indicators import Indicators, indicator_rows
from pipeline.ingest.sources.submissions.rows import Rows, shared_cells
from pipeline.ingest.sources.submissions.tasks import Tasks, task_rows
from pipeline.ingest.sources.submissions.template import SUBMISSION
from pipeline.lib.distinct import in_set

SOURCE = "submissions"


def validate(b: pd.DataFrame, ctx: IngestContext) -> BatchResult:
    """One batch of submission rows: each row loaded or quarantined with its reasons, and the submission
    versions (file, unit, period, submitted_at) the loaded rows belong to. The steps run in this order (the
    order of the quarantine records): the shared cells, the indicator rows, the optional replace_all column,
    the task rows, the duplicates inside a file."""
    p = Problems(b, SUBMISSION)
    rows = shared_cells(b, p, ctx)
    ind = indicator_rows(b, p, ctx.ref, rows)
    replace_all, replace_err = cell_yesno(column_of(b, "replace_all"))  # optional column (roll-up rule 7.3)
    p.add_errors(replace_err, "replace_all")
    tasks = task_rows(b, p, ctx.ref, rows)
    _duplicates_in_file(b, p, rows, ind.hamlet)

    good = p.good
    values, task_frame = _loaded_rows(b, good, rows, ind, tasks)
    submissions = _submission_versions(b, good, rows, replace_all, ctx.ref)
    tables = {
        "raw.submission_values": values,
        "raw.submission_tasks": task_frame,
        "raw.submissions": submissions,
    }
    return p.result(mask_free_text(tables, ctx.names))


def _duplicates_in_file(b: pd.DataFrame, p: Problems, rows: Rows, hamlet: pd.Series) -> None:
    """A row repeating an earlier one of the same file (same unit, period, submitted_at and indicator and
    hamlet, or task) is quarantined; the first stays."""
    period = cell_text(column_of(b, "period"))
    submitted = rows.submitted_at.astype("string")
    p.add_repeats(
        rows.ct, "indicator_code", rows.unit, period, submitted, hamlet, rows.indicator, rows.row_type
    )
    p.add_repeats(rows.nv, "task_code", rows.unit, period, submitted, rows.task, rows.row_type)


def _loaded_rows(
    b: pd.DataFrame, good: pd.Series, rows: Rows, ind: Indicators, tasks: Tasks
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(raw.submission_values, raw.submission_tasks): the good indicator rows and the good task rows."""
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
            **source_columns(b),
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
            **source_columns(b),
        }
    )[good & rows.nv]
    return values, task_frame


def _submission_versions(
    b: pd.DataFrame, good: pd.Series, rows: Rows, replace_all: pd.Series, ref: ReferenceData
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
            "bad": (~good).astype("int64"),
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


#: ``salt`` keys the name hashes the notes are masked against (pipeline.ingest.masking)
ingest_submissions = TemplateSource(SOURCE, SUBMISSION, validate, masks_names=True).ingest

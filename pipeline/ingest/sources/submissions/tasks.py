"""The plan-task rows (NV) of a submission: a known task, a known status, percent done in 0..100."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from pipeline.ingest.cells import cell_code, cell_number, cell_text, column_of
from pipeline.ingest.problems import Problems
from pipeline.ingest.reference import ReferenceData
from pipeline.ingest.sources.submissions.rows import Rows
from pipeline.ingest.sources.submissions.template import TASK_STATUS_CODES
from pipeline.lib.distinct import in_set


@dataclass
class Tasks:
    """The parsed cells of the plan-task rows (NV)."""

    status: pd.Series
    percent_done: pd.Series


def task_rows(b: pd.DataFrame, p: Problems, ref: ReferenceData, rows: Rows) -> Tasks:
    """The plan-task rows: a known task, a known status (Vietnamese or its code), percent done in 0..100."""
    nv, task = rows.nv, rows.task
    p.add(nv & task.isna(), "missing_value", "task_code")
    p.add(nv & task.notna() & ~in_set(task, ref.task_codes), "unknown_task", "task_code")
    status_raw = cell_text(column_of(b, "task_status"))
    status = cell_code(status_raw, TASK_STATUS_CODES)
    p.add(nv & status_raw.isna(), "missing_value", "task_status")
    p.add(nv & status_raw.notna() & status.isna(), "unknown_task_status", "task_status")
    pdone, pdone_err, _ = cell_number(column_of(b, "percent_done").where(nv, None))
    p.add_errors(pdone_err, "percent_done", nv)
    p.add(nv & ((pdone < 0) | (pdone > 100)).fillna(False), "value_out_of_range", "percent_done")
    return Tasks(status=status, percent_done=pdone)

"""The cells every row of a submission has, whatever its kind (indicator row CT or plan-task row NV): unit,
period, submitted_at, row type, the indicator and task codes and the note."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from pipeline.ingest.batch import IngestContext
from pipeline.ingest.cells import cell_datetime, cell_text, column_of
from pipeline.ingest.problems import Problems
from pipeline.lib.distinct import in_set
from pipeline.lib.periods import is_future_series, parse_period


@dataclass
class Rows:
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


def shared_cells(b: pd.DataFrame, p: Problems, ctx: IngestContext) -> Rows:
    """Unit, period, submitted_at and row type of every row (a blank or unknown row type quarantines it)."""
    unit = cell_text(column_of(b, "unit_code"), upper=True)
    p.add(unit.isna(), "missing_value", "unit_code")
    p.add(unit.notna() & ~in_set(unit, ctx.ref.unit_codes), "unknown_unit", "unit_code")
    period = periods(b, p, ctx.today)
    sub_at, _ = p.required("submitted_at", cell_datetime)

    indicator = cell_text(column_of(b, "indicator_code"), upper=True)
    task = cell_text(column_of(b, "task_code"), upper=True)
    rtype = cell_text(column_of(b, "row_type"), upper=True)
    # a required column: a blank "Loại dòng" quarantines the row (never guessed from the other cells)
    p.add(rtype.isna(), "missing_value", "row_type")
    p.add(rtype.notna() & ~in_set(rtype, {"CT", "NV"}), "unknown_row_type", "row_type")
    return Rows(
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


def periods(b: pd.DataFrame, p: Problems, today: date, column: str = "period") -> pd.Series:
    """The period code of each row; <NA> where blank (``missing_value``), unreadable (``malformed_period``)
    or after ``today`` (``future_period``)."""
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

"""The problems of one batch: quarantine records (file, row, column, bilingual reason) and the 'row is bad' mask.

Every source's ``validate`` collects its problems here; ``run_source`` quarantines the marked rows.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from pipeline.ingest import quarantine as q
from pipeline.ingest.batch import BatchResult
from pipeline.ingest.cells import cell_text, column_of
from pipeline.ingest.template import Template


class Problems:
    """Collects quarantine records and the 'row is bad' mask over one batch of one source's template."""

    def __init__(self, batch: pd.DataFrame, template: Template):
        self.b = batch
        self.bad = np.zeros(len(batch), dtype=bool)
        self.frames: list[pd.DataFrame] = []
        self.template = template

    def add(self, mask: pd.Series, code: str, column: str | None, name: str | None = None) -> None:
        m = pd.Series(mask, index=self.b.index).fillna(False).astype(bool)
        if not m.any():
            return
        self.bad |= m.to_numpy()
        label = None
        if column is not None:
            try:
                label = self.template.column(column).label_vi
            except KeyError:
                label = None
        frame = q.build(self.b, m, code, column, label_vi=label)
        if name is not None:
            frame["column_name"] = name
            frame["message_vi"] = frame["message_vi"].str.replace(f"[cột: {column}]", f"[cột: {name}]")
            frame["message_en"] = frame["message_en"].str.replace(f"[column: {column}]", f"[column: {name}]")
        self.frames.append(frame)

    def add_errors(self, errors: pd.Series, column: str, where: pd.Series | None = None) -> None:
        e = errors if where is None else errors.where(where.fillna(False).astype(bool), None)
        for code in e.dropna().unique():
            self.add(e == code, str(code), column)

    def required(self, column: str, parse: Callable[[pd.Series], tuple]) -> tuple:
        """``parse`` (a parser of :mod:`pipeline.ingest.cells` giving values first and error codes second) of a
        required column: a blank cell is ``missing_value``, an unreadable one its parser's reason."""
        raw = column_of(self.b, column)
        parsed = parse(raw)
        self.add(cell_text(raw).isna(), "missing_value", column)
        self.add_errors(parsed[1], column)
        return parsed

    def add_repeats(self, where: pd.Series, column: str, *keys: pd.Series) -> None:
        """``duplicate_row`` for the rows (among ``where``) that repeat the ``keys`` of an earlier row of the
        same file; the first stays (blank keys compare equal)."""
        frame = pd.DataFrame({"_sha": self.b["_sha"], **{f"k{i}": k for i, k in enumerate(keys)}})
        self.add(where & frame.duplicated(keep="first"), "duplicate_row", column)

    @property
    def good(self) -> pd.Series:
        """True for the rows without a problem: the rows the batch loads."""
        return ~pd.Series(self.bad, index=self.b.index)

    def quarantine(self) -> pd.DataFrame:
        return q.concat(self.frames)

    def result(self, tables: dict[str, pd.DataFrame]) -> BatchResult:
        """The batch's result: ``tables`` (the rows to insert), the quarantine records and the loaded rows."""
        return BatchResult(
            tables=tables, quarantine=self.quarantine(), loaded_rows=self.b.loc[self.good, ["_sha", "_row"]]
        )

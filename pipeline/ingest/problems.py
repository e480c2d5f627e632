"""The problems of one batch: quarantine records (file, row, column, bilingual reason) and the 'row is bad' mask.

Every source's ``validate`` collects its problems here; ``run_source`` quarantines the marked rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.ingest import quarantine as q
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

    def quarantine(self) -> pd.DataFrame:
        return q.concat(self.frames)

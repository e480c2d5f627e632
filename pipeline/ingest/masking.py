"""Masking of personal data in the free text the warehouse keeps (Decree 13/2023/NĐ-CP: process only what the
purpose needs): phone numbers -> [SĐT], ID numbers -> [CCCD], e-mail -> [EMAIL], names of respondents and
household-business owners -> [TÊN] (the rule: pipeline.lib.pii). The landing file is not touched; every
masked cell is counted in ``audit.pii_masked`` (file, table, column, kind), in the batch's transaction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.lib.pii import KINDS, NameIndex, mask_text

#: the free-text columns kept in the warehouse (every other raw column is a code, number or date)
FREE_TEXT: dict[str, tuple[str, ...]] = {
    "raw.submission_values": ("note",),
    "raw.submission_tasks": ("note",),
    "raw.survey_reasons": ("reason_text",),
}
AUDIT_TABLE = "audit.pii_masked"


def mask_free_text(tables: dict[str, pd.DataFrame], names: NameIndex | None) -> dict[str, pd.DataFrame]:
    """``tables`` with every FREE_TEXT column masked (once per distinct cell), plus the batch's
    ``audit.pii_masked`` rows: per file × table × column × kind, the cells masked and the replacements."""
    out = dict(tables)
    audit: list[pd.DataFrame] = []
    for table, cols in FREE_TEXT.items():
        frame = out.get(table)
        if frame is None or frame.empty:
            continue
        frame = frame.copy()
        for col in cols:
            if col not in frame.columns:
                continue
            codes, uniques = pd.factorize(frame[col], use_na_sentinel=True)
            if not len(uniques):
                continue
            results = [mask_text(str(u), names) for u in uniques]
            if not any(c for _, c in results):
                continue
            masked = np.array([m for m, _ in results] + [None], dtype=object)
            frame[col] = masked[codes]
            present = codes >= 0
            for kind in KINDS:
                per_value = np.array([c.get(kind, 0) for _, c in results] + [0], dtype=np.int64)
                n = per_value[codes]
                if not n.any():
                    continue
                g = (
                    pd.DataFrame({"file_sha256": frame["_file_sha256"].to_numpy(), "n": n, "hit": n > 0})[
                        present
                    ]
                    .groupby("file_sha256", sort=True)
                    .agg(cells=("hit", "sum"), replacements=("n", "sum"))
                    .reset_index()
                )
                g = g[g["cells"] > 0]
                g.insert(1, "table_name", table)
                g.insert(2, "column_name", col)
                g.insert(3, "kind", kind)
                audit.append(g)
        out[table] = frame
    if audit:
        frame = pd.concat(audit, ignore_index=True)
        frame["cells"] = frame["cells"].astype("int64")
        frame["replacements"] = frame["replacements"].astype("int64")
        out[AUDIT_TABLE] = frame
    return out

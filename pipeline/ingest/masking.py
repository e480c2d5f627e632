"""Masking of personal data in the free text the warehouse keeps (Decree 13/2023/NĐ-CP: process only what the
purpose needs): phone numbers -> [SĐT], ID numbers -> [CCCD], e-mail -> [EMAIL], names of respondents and
household-business owners -> [TÊN] (the rule: pipeline.lib.pii). The landing file is not touched; every
masked cell is counted in ``audit.pii_masked`` (file, table, column, kind), in the batch's transaction.
"""

from __future__ import annotations

import duckdb
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


def name_index(con: duckdb.DuckDBPyConnection, salt: str, names=()) -> NameIndex:
    """The names that must not be kept in free text nor published: respondents (stored only as salted
    hashes of the name key, and of the older NFC key) and owners of household businesses (OCOP producers of
    type household, with and without the business prefix "Hộ kinh doanh ...")."""
    index = NameIndex(salt, names=names)
    cols = {
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'raw' and table_name = 'survey_answers'"
        ).fetchall()
    }
    if "respondent_name_fold_hash" in cols:
        index.hashes.update(
            r[0]
            for r in con.execute(
                "select distinct respondent_name_fold_hash from raw.survey_answers "
                "where respondent_name_fold_hash is not null"
            ).fetchall()
        )
    # rows ingested before the fold hash existed: their NFC hash (exact diacritics) is searched instead
    fold = "respondent_name_fold_hash is null and " if "respondent_name_fold_hash" in cols else ""
    if "respondent_name_hash" in cols:
        index.legacy.update(
            r[0]
            for r in con.execute(
                "select distinct respondent_name_hash from raw.survey_answers "
                f"where {fold}respondent_name_hash is not null"
            ).fetchall()
        )
    has_ocop = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'raw' and table_name = 'ocop_products'"
    ).fetchone()[0]
    if has_ocop:
        index.add_owner_names(
            r[0]
            for r in con.execute(
                "select distinct producer_name from raw.ocop_products "
                "where producer_type = 'household' and producer_name is not null"
            ).fetchall()
        )
    return index


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

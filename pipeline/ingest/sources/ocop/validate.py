"""OCOP product records → ``raw.ocop_products``.

Checks: stars agree with the score (5★ 90–100, 4★ 70–89, 3★ 50–69; < 50 cannot hold a certificate),
expiry = issue + 36 months (same day; 29 Feb → 28 Feb), group 1-6, producer type / rating level / status
from the template's code maps. A ``=HYPERLINK(...)`` traceability cell is kept as text.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from pipeline.ingest.cells import cell_date, cell_number, cell_text, column_of
from pipeline.ingest.manifest import BATCH_FILES, BatchResult, IngestContext, run_source
from pipeline.ingest.problems import Problems
from pipeline.ingest.reference import ReferenceData
from pipeline.ingest.reports import IngestReport
from pipeline.ingest.sources.ocop.rules import CERTIFIED_MIN_STARS, STAR_BANDS
from pipeline.ingest.sources.ocop.template import (
    OCOP,
    OCOP_STATUS_CODES,
    PRODUCER_TYPE_CODES,
    RATING_LEVEL_CODES,
)
from pipeline.lib.text import fold

SOURCE = "ocop"


def expected_stars(score: pd.Series) -> pd.Series:
    """Stars of the certificate a score earns (NaN below the 3★ band: no certificate; pipeline.ingest.sources.ocop.rules)."""
    bands = [(stars, lo) for stars, lo in STAR_BANDS if stars >= CERTIFIED_MIN_STARS]
    return pd.Series(
        np.select([score >= lo for _, lo in bands], [float(stars) for stars, _ in bands], default=np.nan),
        index=score.index,
    ).where(score.notna())


def _coded(p: Problems, b: pd.DataFrame, column: str, codes: dict[str, str], required: bool) -> pd.Series:
    keys = {fold(k): v for k, v in codes.items()} | {v: v for v in codes.values()}
    raw = cell_text(column_of(b, column))
    out = raw.map(lambda s: keys.get(fold(s)), na_action="ignore").astype(object)
    out = out.where(out.notna(), None)
    if required:
        p.add(raw.isna(), "missing_value", column)
    p.add(raw.notna() & pd.Series(out, index=b.index).isna(), "invalid_value", column)
    return out


def validate(b: pd.DataFrame, ctx: IngestContext) -> BatchResult:
    ref = ctx.ref
    p = Problems(b, OCOP)

    texts = {
        c: cell_text(column_of(b, c))
        for c in (
            "product_id",
            "product_name",
            "producer_name",
            "subgroup",
            "certificate_no",
            "material_area_code",
        )
    }
    for c in ("product_id", "product_name", "producer_name"):
        p.add(texts[c].isna(), "missing_value", c)
    # traceability: kept verbatim (a =HYPERLINK(...) formula text stays text)
    trace = column_of(b, "traceability_url").astype(object)
    trace = cell_text(trace)

    group, gerr, _ = cell_number(column_of(b, "group_code"))
    p.add(cell_text(column_of(b, "group_code")).isna(), "missing_value", "group_code")
    p.add_errors(gerr, "group_code")
    p.add(group.notna() & ~group.isin([1, 2, 3, 4, 5, 6]), "invalid_value", "group_code")

    ptype = _coded(p, b, "producer_type", PRODUCER_TYPE_CODES, True)
    rating = _coded(p, b, "rating_level", RATING_LEVEL_CODES, False)
    status = _coded(p, b, "status", OCOP_STATUS_CODES, False)

    hamlet = cell_text(column_of(b, "hamlet_code"), upper=True)
    p.add(hamlet.notna() & ~hamlet.isin(ref.hamlet_codes), "unknown_hamlet", "hamlet_code")
    communes = ref.hamlets.drop_duplicates("hamlet_code").set_index("hamlet_code")["commune_code"]
    commune = hamlet.map(communes).astype(object)

    score, serr, _ = cell_number(column_of(b, "score"))
    p.add(cell_text(column_of(b, "score")).isna(), "missing_value", "score")
    p.add_errors(serr, "score")
    p.add((score < 0) | (score > 100), "value_out_of_range", "score")
    stars, sterr, _ = cell_number(column_of(b, "stars"))
    p.add(cell_text(column_of(b, "stars")).isna(), "missing_value", "stars")
    p.add_errors(sterr, "stars")
    exp = expected_stars(score)
    in_range = score.between(0, 100)
    p.add(stars.notna() & in_range & (exp.isna() | (stars != exp)), "stars_score_mismatch", "stars")

    issued, ierr = cell_date(column_of(b, "issued_on"))
    expires, eerr = cell_date(column_of(b, "expires_on"))
    p.add(cell_text(column_of(b, "issued_on")).isna(), "missing_value", "issued_on")
    p.add(cell_text(column_of(b, "expires_on")).isna(), "missing_value", "expires_on")
    p.add_errors(ierr, "issued_on")
    p.add_errors(eerr, "expires_on")
    both = issued.notna() & expires.notna()
    due = pd.Series(pd.NaT, index=b.index, dtype="datetime64[us]")
    if both.any():
        due[both] = (issued[both] + pd.DateOffset(months=36)).astype("datetime64[us]")
    p.add(both & (expires != due), "expiry_not_36_months", "expires_on")

    dup = texts["product_id"].notna() & pd.DataFrame({"s": b["_sha"], "p": texts["product_id"]}).duplicated()
    p.add(dup, "duplicate_row", "product_id")

    good = ~pd.Series(p.bad, index=b.index)
    products = pd.DataFrame(
        {
            "product_id": texts["product_id"],
            "product_name": texts["product_name"],
            "group_code": group.round().astype("Int64"),
            "subgroup": texts["subgroup"],
            "producer_name": texts["producer_name"],
            "producer_type": ptype,
            "hamlet_code": hamlet,
            "commune_code": commune,
            "score": score,
            "stars": stars.round().astype("Int64"),
            "rating_level": rating,
            "certificate_no": texts["certificate_no"],
            "issued_on": issued.dt.date,
            "expires_on": expires.dt.date,
            "material_area_code": texts["material_area_code"],
            "traceability_url": trace,
            "status": status,
            "_file_sha256": b["_sha"],
            "_source_file": b["_path"],
            "_source_row": b["_row"].astype("int64"),
        }
    )[good]
    return BatchResult(
        tables={"raw.ocop_products": products},
        quarantine=p.quarantine(),
        loaded_rows=b.loc[good, ["_sha", "_row"]],
    )


def ingest_ocop(
    con: duckdb.DuckDBPyConnection,
    raw_dir: Path,
    ref: ReferenceData,
    *,
    today: date,
    salt: str = "",
    batch_files: int = BATCH_FILES,
) -> IngestReport:
    """Ingest new files of ``raw_dir/ocop/**`` (``salt`` unused: producer names are organisations)."""
    return run_source(
        con,
        raw_dir,
        SOURCE,
        OCOP,
        validate,
        context=IngestContext(ref=ref, today=today),
        batch_files=batch_files,
    )

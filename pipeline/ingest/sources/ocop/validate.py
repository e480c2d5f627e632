"""OCOP product records → ``raw.ocop_products``.

Checks: stars agree with the score (5★ 90–100, 4★ 70–89, 3★ 50–69; < 50 cannot hold a certificate),
expiry = issue + 36 months (same day; 29 Feb → 28 Feb), group 1-6, producer type / rating level / status
from the template's code maps. A ``=HYPERLINK(...)`` traceability cell is kept as text.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.ingest.batch import BatchResult, IngestContext, source_columns
from pipeline.ingest.cells import cell_code, cell_date, cell_number, cell_text, column_of
from pipeline.ingest.manifest import TemplateSource
from pipeline.ingest.problems import Problems
from pipeline.ingest.reference import ReferenceData
from pipeline.ingest.sources.ocop.rules import CERTIFIED_MIN_STARS, STAR_BANDS
from pipeline.ingest.sources.ocop.template import (
    OCOP,
    OCOP_STATUS_CODES,
    PRODUCER_TYPE_CODES,
    RATING_LEVEL_CODES,
)

SOURCE = "ocop"
#: free-text columns kept as written; the first three are required
TEXT_COLUMNS = (
    "product_id",
    "product_name",
    "producer_name",
    "subgroup",
    "certificate_no",
    "material_area_code",
)
REQUIRED_TEXT = ("product_id", "product_name", "producer_name")
#: column -> (the template's words -> codes, required)
CODED_COLUMNS = {
    "producer_type": (PRODUCER_TYPE_CODES, True),
    "rating_level": (RATING_LEVEL_CODES, False),
    "status": (OCOP_STATUS_CODES, False),
}
#: the columns of raw.ocop_products, in the table's order (then the source columns)
PRODUCT_COLUMNS = (
    "product_id",
    "product_name",
    "group_code",
    "subgroup",
    "producer_name",
    "producer_type",
    "hamlet_code",
    "commune_code",
    "score",
    "stars",
    "rating_level",
    "certificate_no",
    "issued_on",
    "expires_on",
    "material_area_code",
    "traceability_url",
    "status",
)


def expected_stars(score: pd.Series) -> pd.Series:
    """Stars of the certificate a score earns (NaN below the 3★ band: no certificate; pipeline.ingest.sources.ocop.rules)."""
    bands = [(stars, lo) for stars, lo in STAR_BANDS if stars >= CERTIFIED_MIN_STARS]
    return pd.Series(
        np.select([score >= lo for _, lo in bands], [float(stars) for stars, _ in bands], default=np.nan),
        index=score.index,
    ).where(score.notna())


def validate(b: pd.DataFrame, ctx: IngestContext) -> BatchResult:
    """One batch of OCOP product rows: each row loaded or quarantined with its reasons. The steps run in this
    order (the order of the quarantine records): the texts, the group, the coded columns, the hamlet, score
    and stars, the certificate dates, the duplicates inside a file."""
    p = Problems(b, OCOP)
    cells = {
        **_texts(b, p),
        # traceability: kept verbatim (a =HYPERLINK(...) formula text stays text)
        "traceability_url": cell_text(column_of(b, "traceability_url").astype(object)),
        "group_code": _group(p),
        **{c: _coded(b, p, c, codes, required) for c, (codes, required) in CODED_COLUMNS.items()},
        **_place(b, p, ctx.ref),
        **_score_and_stars(p),
        **_certificate_dates(p),
    }
    p.add_repeats(cells["product_id"].notna(), "product_id", cells["product_id"])
    products = pd.DataFrame({**{c: cells[c] for c in PRODUCT_COLUMNS}, **source_columns(b)})[p.good]
    return p.result({"raw.ocop_products": products})


def _texts(b: pd.DataFrame, p: Problems) -> dict[str, pd.Series]:
    texts = {c: cell_text(column_of(b, c)) for c in TEXT_COLUMNS}
    for c in REQUIRED_TEXT:
        p.add(texts[c].isna(), "missing_value", c)
    return texts


def _group(p: Problems) -> pd.Series:
    """The product group, 1 to 6 (required)."""
    group, _, _ = p.required("group_code", cell_number)
    p.add(group.notna() & ~group.isin([1, 2, 3, 4, 5, 6]), "invalid_value", "group_code")
    return group.round().astype("Int64")


def _coded(b: pd.DataFrame, p: Problems, column: str, codes: dict[str, str], required: bool) -> pd.Series:
    """The code of a cell written as one of the template's words (or as the code); ``invalid_value`` else."""
    raw = cell_text(column_of(b, column))
    out = cell_code(raw, codes)
    if required:
        p.add(raw.isna(), "missing_value", column)
    p.add(raw.notna() & out.isna(), "invalid_value", column)
    return out


def _place(b: pd.DataFrame, p: Problems, ref: ReferenceData) -> dict[str, pd.Series]:
    """The hamlet (optional; known when given) and its commune."""
    hamlet = cell_text(column_of(b, "hamlet_code"), upper=True)
    p.add(hamlet.notna() & ~hamlet.isin(ref.hamlet_codes), "unknown_hamlet", "hamlet_code")
    return {"hamlet_code": hamlet, "commune_code": hamlet.map(ref.hamlet_communes).astype(object)}


def _score_and_stars(p: Problems) -> dict[str, pd.Series]:
    """The score (0 to 100) and the stars, which must be those the score earns (:func:`expected_stars`)."""
    score, _, _ = p.required("score", cell_number)
    p.add((score < 0) | (score > 100), "value_out_of_range", "score")
    stars, _, _ = p.required("stars", cell_number)
    exp = expected_stars(score)
    in_range = score.between(0, 100)
    p.add(stars.notna() & in_range & (exp.isna() | (stars != exp)), "stars_score_mismatch", "stars")
    return {"score": score, "stars": stars.round().astype("Int64")}


def _certificate_dates(p: Problems) -> dict[str, pd.Series]:
    """Issue and expiry dates (required); the certificate runs 36 months to the day."""
    issued, _ = p.required("issued_on", cell_date)
    expires, _ = p.required("expires_on", cell_date)
    both = issued.notna() & expires.notna()
    due = pd.Series(pd.NaT, index=issued.index, dtype="datetime64[us]")
    if both.any():
        due[both] = (issued[both] + pd.DateOffset(months=36)).astype("datetime64[us]")
    p.add(both & (expires != due), "expiry_not_36_months", "expires_on")
    return {"issued_on": issued.dt.date, "expires_on": expires.dt.date}


#: ``salt`` unused: producer names are organisations
ingest_ocop = TemplateSource(SOURCE, OCOP, validate).ingest

"""OCOP records against the rules of QĐ 148/QĐ-TTg: score in 0-100, stars matching the score band, a
certificate valid for 36 months. Pushed down into DuckDB like the other SQL checks."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from pipeline.ingest.sources.ocop.rules import STAR_BANDS

from .sql_base import (
    SAMPLE_LIMIT,
    CheckOutcome,
    check_severity,
    fetch_rows,
    guarded,
    quote_column,
    quote_table,
    table_columns,
)
from .suites import ERROR, Severity


@guarded
def check_ocop_rules(
    con: duckdb.DuckDBPyConnection,
    table: str = "marts.fact_ocop_certificate",
    *,
    score_col: str = "score",
    stars_col: str = "stars",
    issued_col: str = "issued_on",
    expires_col: str = "expires_on",
    id_cols: Sequence[str] = ("certificate_no", "product_id", "product_name"),
    certificate_col: str | None = "certificate_no",
    validity_months: int = 36,
    severity: Severity = ERROR,
) -> CheckOutcome:
    """OCOP certificates (QĐ 148/QĐ-TTg): stars agree with the score band (5★ 90–100, 4★ 70–89, 3★ 50–69,
    2★ 30–49, 1★ < 30) on every row; on certified rows (``certificate_col`` not null, or every row when it
    is None or absent) stars are 3..5; expiry = issue date + ``validity_months`` months where issued."""
    severity = check_severity(severity)
    cols = set(table_columns(con, table))
    ids = [c for c in id_cols if c in cols]
    s, st, iss, exp = (quote_column(c) for c in (score_col, stars_col, issued_col, expires_col))
    band = " ".join(f"when {s} >= {lo} then {stars}" for stars, lo in STAR_BANDS[:-1])
    expected_stars = f"case when {s} is null then null {band} else 1 end"
    expected_exp = f"cast({iss} + interval {int(validity_months)} month as date)"
    certified = (
        f"{quote_column(certificate_col)} is not null"
        if certificate_col and certificate_col in cols
        else "true"
    )
    r_range = f"({certified} and ({st} is null or {st} not between 3 and 5))"
    r_band = f"({s} is not null and {st} is not null and {st} <> {expected_stars})"
    r_exp = f"({iss} is not null and {exp} is distinct from {expected_exp})"
    base = (
        f"select {', '.join([*(quote_column(c) for c in ids), s, st])}, {expected_stars} as expected_stars, "
        f"{iss}, {exp}, {expected_exp} as expected_expires_on, "
        f"{r_range} as stars_out_of_range, {r_band} as stars_disagree_with_score, "
        f"{r_exp} as wrong_expiry from {quote_table(table)} where {r_range} or {r_band} or {r_exp}"
    )
    row = con.execute(
        f"select count(*), count(*) filter (where stars_out_of_range), "
        f"count(*) filter (where stars_disagree_with_score), count(*) filter (where wrong_expiry) from ({base})"
    ).fetchone()
    failed, n_range, n_band, n_exp = (int(x) for x in row)
    sample = fetch_rows(con, f"{base} order by all limit {SAMPLE_LIMIT}") if failed else []
    return CheckOutcome(
        name=f"ocop_rules:{table}",
        passed=failed == 0,
        severity=severity,
        message_vi=(
            "Số sao OCOP khớp điểm và hạn chứng nhận = ngày cấp + 36 tháng"
            if not failed
            else (
                f"{failed} chứng nhận OCOP sai quy tắc: {n_band} sao không khớp điểm, "
                f"{n_range} sao ngoài 3–5, {n_exp} hạn khác ngày cấp + {validity_months} tháng"
            )
        ),
        message_en=(
            "OCOP stars agree with the score and expiry = issue date + 36 months"
            if not failed
            else (
                f"{failed} OCOP certificates break a rule: {n_band} stars disagree with the score, "
                f"{n_range} stars outside 3-5, {n_exp} expiry not issue + {validity_months} months"
            )
        ),
        failed_count=failed,
        sample_rows=sample,
        metadata={
            "table": table,
            "stars_disagree_with_score": n_band,
            "stars_out_of_range": n_range,
            "wrong_expiry": n_exp,
            "score_bands": {f"{stars}*": lo for stars, lo in STAR_BANDS},
            "validity_months": validity_months,
        },
    )

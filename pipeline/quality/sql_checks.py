"""Data-quality checks pushed down into DuckDB (they scale to national data without loading tables).

Every check returns a :class:`CheckOutcome` with a bilingual message, the number of offending rows and up to
10 sample rows, so that a data officer can find and fix them. Table and column names are parameters; the
defaults follow the ``marts`` contracts (``dbt_project/models/marts``).

Severities: ``error`` checks block publishing, ``warn`` checks are shown and recorded only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from .suites import ERROR, WARN, Severity

if TYPE_CHECKING:
    import pandas as pd

from .sql_base import (  # noqa: F401 (re-exported: callers import every check from here)
    _IDENT,
    _TABLE,
    SAMPLE_LIMIT,
    CheckOutcome,
    _check_severity,
    _guarded,
    _missing_relation,
    _null_safe_join,
    _qi,
    _qt,
    _rows,
    _scalar,
    check_column_types,
    check_grain_unique,
    check_not_null,
    check_referential,
    json_safe,
    table_columns,
)

# ---------------------------------------------------------------------------------------------------------
# domain checks
# ---------------------------------------------------------------------------------------------------------


@_guarded
def check_indicator_ranges(
    con: duckdb.DuckDBPyConnection,
    fact: str = "marts.fact_indicator_value",
    dim: str = "marts.dim_indicator",
    *,
    value_col: str = "value",
    code_col: str = "indicator_code",
    min_col: str = "min_value",
    max_col: str = "max_value",
    value_type_col: str | None = "value_type",
    key_cols: Sequence[str] = ("location_code", "period_code", "indicator_code"),
    aggregation_col: str | None = "aggregation",
    share_aggregations: Sequence[str] = ("share_meeting",),
    additive_aggregations: Sequence[str] = ("sum",),
    severity: Severity = ERROR,
) -> CheckOutcome:
    """Each non-null value lies within its indicator's ``[min_value, max_value]`` (a null bound is open);
    ``yesno`` indicators hold exactly 0 or 1 (when the dimension has a ``value_type`` column).

    Roll-ups (commune/province marts) carry an ``aggregation`` column: a value aggregated as a share of
    hamlets meeting the threshold (``share_meeting``) is a percent, checked against 0-100 instead; a sum
    over hamlets or communes (``sum``) keeps only its lower bound (the upper bound is per reporting cell).
    Likewise a year summed from its quarters (``annual_rule = 'sum'``, ``period_kind = 'year'``), and a
    commune value summed over several reporting units (``units_count > 1``, the indicator's ``aggregation``
    is ``sum``): the bound is per unit, as the ingest applies it.
    """
    severity = _check_severity(severity)
    fact_cols = set(table_columns(con, fact))
    dim_cols = set(table_columns(con, dim))
    use_type = bool(value_type_col) and value_type_col in dim_cols
    keys = [c for c in key_cols if c in fact_cols and c != code_col]
    # one row per code (no fan-out if the dimension is versioned): the widest bounds of its versions
    dim_sql = (
        f"select {_qi(code_col)} as code, min({_qi(min_col)}) as lo, max({_qi(max_col)}) as hi"
        + (f", any_value({_qi(value_type_col)}) as value_type" if use_type else ", null as value_type")
        + (", any_value(annual_rule) as annual_rule" if "annual_rule" in dim_cols else "")
        + (", any_value(aggregation) as aggregation" if "aggregation" in dim_cols else "")
        + f" from {_qt(dim)} group by 1"
    )
    if aggregation_col and aggregation_col in fact_cols and share_aggregations:
        aggs = ", ".join("'" + a.replace("'", "''") + "'" for a in share_aggregations)
        share = f"coalesce(f.{_qi(aggregation_col)} in ({aggs}), false)"
    else:
        share = "false"
    open_max = []
    if aggregation_col and aggregation_col in fact_cols and additive_aggregations:
        adds = ", ".join("'" + a.replace("'", "''") + "'" for a in additive_aggregations)
        open_max.append(f"coalesce(f.{_qi(aggregation_col)} in ({adds}), false)")
    if "period_kind" in fact_cols and "annual_rule" in dim_cols:
        open_max.append("(f.period_kind = 'year' and coalesce(d.annual_rule = 'sum', false))")
    if "units_count" in fact_cols and "aggregation" in dim_cols and additive_aggregations:
        # a commune value combined from several reporting units (e.g. the products of each cooperative)
        adds = ", ".join("'" + a.replace("'", "''") + "'" for a in additive_aggregations)
        open_max.append(f"(coalesce(f.units_count, 1) > 1 and coalesce(d.aggregation in ({adds}), false))")
    additive = " or ".join(open_max) or "false"
    v = f"f.{_qi(value_col)}"
    select_cols = ", ".join([*(f"f.{_qi(c)}" for c in keys), f"f.{_qi(code_col)}", v])
    bounded = (
        f"select {select_cols}, "
        f"case when {share} then 0.0 else d.lo end as min_value, "
        f"case when {share} then 100.0 when {additive} then null else d.hi end as max_value, "
        f"case when {share} then 'percent' else d.value_type end as value_type "
        f"from {_qt(fact)} as f join ({dim_sql}) as d on f.{_qi(code_col)} = d.code where {v} is not null"
    )
    vv = _qi(value_col)
    bad_cond = (
        f"(min_value is not null and {vv} < min_value) or (max_value is not null and {vv} > max_value)"
        f" or (value_type = 'yesno' and {vv} not in (0, 1))"
    )
    base = f"select * from ({bounded}) where {bad_cond}"
    failed = int(_scalar(con, f"select count(*) from ({base})"))
    by_ind = (
        _rows(
            con,
            f"select {_qi(code_col)}, count(*) as n_rows from ({base}) group by 1 order by 2 desc, 1 "
            f"limit {SAMPLE_LIMIT}",
        )
        if failed
        else []
    )
    sample = _rows(con, f"{base} order by all limit {SAMPLE_LIMIT}") if failed else []
    return CheckOutcome(
        name=f"indicator_ranges:{fact}",
        passed=failed == 0,
        severity=severity,
        message_vi=(
            "Mọi giá trị chỉ tiêu nằm trong khoảng cho phép của chỉ tiêu"
            if not failed
            else f"{failed} giá trị chỉ tiêu nằm ngoài khoảng cho phép (vd. tỷ lệ % > 100)"
        ),
        message_en=(
            "Every indicator value lies within its indicator's allowed range"
            if not failed
            else f"{failed} indicator values lie outside their allowed range (e.g. a percent above 100)"
        ),
        failed_count=failed,
        sample_rows=sample,
        metadata={"fact": fact, "dim": dim, "failed_by_indicator": by_ind},
    )


@_guarded
def check_completeness(
    con: duckdb.DuckDBPyConnection,
    fact: str,
    expected_sql: str,
    *,
    keys: Sequence[str] = ("hamlet_code", "indicator_code", "period_code"),
    missing_marker: str | None = None,
    severity: Severity = ERROR,
) -> CheckOutcome:
    """Every expected key (e.g. active hamlet × hamlet-level indicator × period) is in ``fact``.

    ``expected_sql`` is a SELECT returning at least the ``keys`` columns. A row present in the fact counts
    as present even if its value is null: that is how a value is *explicitly marked missing*;
    ``missing_marker`` (a SQL condition on the fact, e.g. ``value is null``) counts those separately in the
    metadata. Keys match null-safely (``is not distinct from``), so commune-level rows with a null
    ``hamlet_code`` work. ``failed_count`` = expected keys absent from the fact.
    """
    severity = _check_severity(severity)
    kcols = ", ".join(_qi(c) for c in keys)
    expected = f"select distinct {kcols} from ({expected_sql}) as e"
    absent_sql = (
        f"select e.* from ({expected}) as e where not exists "
        f"(select 1 from {_qt(fact)} as f where {_null_safe_join('f', 'e', keys)})"
    )
    n_expected = int(_scalar(con, f"select count(*) from ({expected})"))
    absent = int(_scalar(con, f"select count(*) from ({absent_sql})"))
    marked = None
    if missing_marker:
        marked = int(
            _scalar(
                con,
                f"select count(*) from {_qt(fact)} as f where ({missing_marker}) and exists "
                f"(select 1 from ({expected}) as e where {_null_safe_join('f', 'e', keys)})",
            )
        )
    sample = _rows(con, f"{absent_sql} order by all limit {SAMPLE_LIMIT}") if absent else []
    by_col: dict[str, list[dict]] = {}
    if absent:
        for c in keys:
            by_col[c] = _rows(
                con,
                f"select {_qi(c)}, count(*) as n_missing from ({absent_sql}) group by 1 order by 2 desc, 1 "
                f"limit {SAMPLE_LIMIT}",
            )
    grain = " × ".join(keys)
    return CheckOutcome(
        name=f"completeness:{fact}",
        passed=absent == 0,
        severity=severity,
        message_vi=(
            f"Đủ {n_expected} ô {grain} cần có (có số liệu hoặc được đánh dấu thiếu)"
            if not absent
            else f"Thiếu {absent}/{n_expected} ô {grain}: không có số liệu và không được đánh dấu thiếu"
        ),
        message_en=(
            f"All {n_expected} expected {grain} cells are present or explicitly marked missing"
            if not absent
            else f"{absent} of {n_expected} expected {grain} cells are neither present nor marked missing"
        ),
        failed_count=absent,
        sample_rows=sample,
        metadata={
            "fact": fact,
            "keys": list(keys),
            "expected": n_expected,
            "absent": absent,
            "present": n_expected - absent,
            "marked_missing": marked,
            "absent_by_column": by_col,
        },
    )


OCOP_STAR_BANDS = ((5, 90.0), (4, 70.0), (3, 50.0), (2, 30.0), (1, 0.0))  # QĐ 148/QĐ-TTg


def ocop_stars_for_score(score: float) -> int:
    """Stars a 100-point OCOP score earns: 5★ 90–100, 4★ 70–89, 3★ 50–69, 2★ 30–49, 1★ below 30."""
    for stars, lo in OCOP_STAR_BANDS:
        if score >= lo:
            return stars
    return 1


@_guarded
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
    severity = _check_severity(severity)
    cols = set(table_columns(con, table))
    ids = [c for c in id_cols if c in cols]
    s, st, iss, exp = (_qi(c) for c in (score_col, stars_col, issued_col, expires_col))
    band = " ".join(f"when {s} >= {lo} then {stars}" for stars, lo in OCOP_STAR_BANDS[:-1])
    expected_stars = f"case when {s} is null then null {band} else 1 end"
    expected_exp = f"cast({iss} + interval {int(validity_months)} month as date)"
    certified = (
        f"{_qi(certificate_col)} is not null" if certificate_col and certificate_col in cols else "true"
    )
    r_range = f"({certified} and ({st} is null or {st} not between 3 and 5))"
    r_band = f"({s} is not null and {st} is not null and {st} <> {expected_stars})"
    r_exp = f"({iss} is not null and {exp} is distinct from {expected_exp})"
    base = (
        f"select {', '.join([*(_qi(c) for c in ids), s, st])}, {expected_stars} as expected_stars, "
        f"{iss}, {exp}, {expected_exp} as expected_expires_on, "
        f"{r_range} as stars_out_of_range, {r_band} as stars_disagree_with_score, "
        f"{r_exp} as wrong_expiry from {_qt(table)} where {r_range} or {r_band} or {r_exp}"
    )
    row = con.execute(
        f"select count(*), count(*) filter (where stars_out_of_range), "
        f"count(*) filter (where stars_disagree_with_score), count(*) filter (where wrong_expiry) from ({base})"
    ).fetchone()
    failed, n_range, n_band, n_exp = (int(x) for x in row)
    sample = _rows(con, f"{base} order by all limit {SAMPLE_LIMIT}") if failed else []
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
            "score_bands": {f"{stars}*": lo for stars, lo in OCOP_STAR_BANDS},
            "validity_months": validity_months,
        },
    )


@_guarded
def check_outliers_vs_previous_period(
    con: duckdb.DuckDBPyConnection,
    fact: str = "marts.fact_indicator_value",
    *,
    dim: str | None = "marts.dim_indicator",
    keys: Sequence[str] = ("location_code", "indicator_code"),
    period_col: str = "period_code",
    value_col: str = "value",
    code_col: str = "indicator_code",
    value_type_col: str = "value_type",
    max_ratio: float = 3.0,
    max_points: float = 30.0,
    min_base: float = 5.0,
    points_value_types: Sequence[str] = ("percent",),
    skip_value_types: Sequence[str] = ("yesno",),
    current_period: str | None = None,
    severity: Severity = WARN,
) -> CheckOutcome:
    """Values that jump against the previous period of the same location × indicator (a warning).

    Quarters are compared with quarters and years with years (``YYYY-Qn`` / ``YYYY`` codes sort in time
    order). With ``dim`` (and its ``value_type``): percents are flagged when they move more than
    ``max_points`` points, other numbers when they change more than ``max_ratio``× (either way) and one of
    the two values is at least ``min_base`` (so 1 → 3 households is not flagged); ``yesno`` is skipped.
    Without ``dim`` the ratio rule applies to every value. ``current_period`` restricts the check to one
    period (e.g. the Dagster partition).
    """
    severity = _check_severity(severity)
    pc, vc = _qi(period_col), _qi(value_col)
    part = ", ".join(_qi(c) for c in keys)
    kind = f"case when {pc} like '%-Q%' then 'quarter' else 'year' end"
    use_dim = dim is not None and value_type_col in table_columns(con, dim)
    if use_dim:
        joined = (
            f"select f.*, d.vt as _value_type from {_qt(fact)} as f left join "
            f"(select {_qi(code_col)} as code, any_value({_qi(value_type_col)}) as vt from {_qt(dim)} group by 1)"
            f" as d on f.{_qi(code_col)} = d.code"
        )
    else:
        joined = f"select f.*, null::varchar as _value_type from {_qt(fact)} as f"
    lagged = (
        f"select {part}, {pc}, {vc}, _value_type, "
        f"lag({pc}) over w as previous_period, lag({vc}) over w as previous_value "
        f"from ({joined}) where {vc} is not null "
        f"window w as (partition by {part}, {kind} order by {pc})"
    )
    pts = ", ".join(f"'{t}'" for t in points_value_types) or "null"
    skip = ", ".join(f"'{t}'" for t in skip_value_types) or "null"
    is_points = f"coalesce(_value_type in ({pts}), false)"
    ratio_jump = (
        f"(greatest(abs({vc}), abs(previous_value)) >= {float(min_base)} and "
        f"(least(abs({vc}), abs(previous_value)) = 0 or "
        f"greatest(abs({vc}), abs(previous_value)) / least(abs({vc}), abs(previous_value)) > {float(max_ratio)}))"
    )
    points_jump = f"abs({vc} - previous_value) > {float(max_points)}"
    flag = (
        f"previous_value is not null and not coalesce(_value_type in ({skip}), false) and "
        f"(case when {is_points} then {points_jump} else {ratio_jump} end)"
    )
    where_period = f" and {pc} = ?" if current_period else ""
    params = [current_period] if current_period else []
    base = (
        f"select {part}, previous_period, previous_value, {pc}, {vc}, {vc} - previous_value as change, "
        f"_value_type as value_type from ({lagged}) where {flag}{where_period}"
    )
    failed = int(_scalar(con, f"select count(*) from ({base})", params))
    sample = (
        _rows(con, f"{base} order by abs(change) desc, {part}, {pc} limit {SAMPLE_LIMIT}", params)
        if failed
        else []
    )
    return CheckOutcome(
        name=f"outliers_vs_previous_period:{fact}",
        passed=failed == 0,
        severity=severity,
        message_vi=(
            "Không có giá trị biến động bất thường so với kỳ trước"
            if not failed
            else (
                f"{failed} giá trị biến động bất thường so với kỳ trước "
                f"(> {max_points:g} điểm % hoặc > {max_ratio:g} lần): cần xem lại"
            )
        ),
        message_en=(
            "No value jumps against the previous period"
            if not failed
            else (
                f"{failed} values jump against the previous period "
                f"(> {max_points:g} percentage points or > {max_ratio:g}x): please review"
            )
        ),
        failed_count=failed,
        sample_rows=sample,
        metadata={
            "fact": fact,
            "max_ratio": max_ratio,
            "max_points": max_points,
            "min_base": min_base,
            "current_period": current_period,
        },
    )


def _normalise_resource_name(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name and not name.endswith(".parquet") else name.lower()


def previous_release_counts(previous_datapackage: Path) -> dict[str, int]:
    """``{resource name: rows}`` of a release's ``datapackage.json``.

    Reads ``ntm:rows`` (written by :mod:`pipeline.publish`), else ``rows`` / ``stats.rows``, else the row
    counts in the Parquet footers of the resource's files.
    """
    path = Path(previous_datapackage)
    if path.is_dir():
        path = path / "datapackage.json"
    dp = json.loads(path.read_text(encoding="utf-8"))
    out: dict[str, int] = {}
    for res in dp.get("resources", []):
        name = res.get("name")
        if not name:
            continue
        rows = res.get("ntm:rows", res.get("rows", (res.get("stats") or {}).get("rows")))
        if rows is None:
            paths = res.get("path")
            paths = [paths] if isinstance(paths, str) else list(paths or [])
            if paths and all(str(p).endswith(".parquet") for p in paths):
                import pyarrow.parquet as pq

                rows = sum(pq.ParquetFile(path.parent / p).metadata.num_rows for p in paths)
        if rows is not None:
            out[str(name)] = int(rows)
    return out


def check_row_count_vs_previous_release(
    current_counts: Mapping[str, int],
    previous_datapackage: Path | None,
    max_drop: float = 0.2,
    *,
    severity: Severity = WARN,
) -> CheckOutcome:
    """Warn when a table has lost more than ``max_drop`` (a share, 0.2 = 20 %) of its rows since the
    previous release, or has disappeared. Table names match with or without a schema prefix."""
    severity = _check_severity(severity)
    name = "row_count_vs_previous_release"
    if previous_datapackage is None or not Path(previous_datapackage).exists():
        return CheckOutcome(
            name=name,
            passed=True,
            severity=severity,
            message_vi="Chưa có bản phát hành trước để so sánh số dòng",
            message_en="No previous release to compare row counts with",
            metadata={"previous_datapackage": None, "current_counts": dict(current_counts)},
        )
    previous = {
        _normalise_resource_name(k): v for k, v in previous_release_counts(previous_datapackage).items()
    }
    current = {_normalise_resource_name(k): int(v) for k, v in current_counts.items()}
    rows: list[dict[str, Any]] = []
    for table in sorted(set(previous) | set(current)):
        prev, cur = previous.get(table), current.get(table)
        if prev is None:
            continue  # a new table cannot drop
        if cur is None:
            rows.append({"table": table, "previous_rows": prev, "current_rows": None, "drop_share": None})
            continue
        drop = (prev - cur) / prev if prev else 0.0
        if drop > max_drop:
            rows.append(
                {"table": table, "previous_rows": prev, "current_rows": cur, "drop_share": round(drop, 4)}
            )
    n = len(rows)
    return CheckOutcome(
        name=name,
        passed=n == 0,
        severity=severity,
        message_vi=(
            f"Không bảng nào giảm quá {max_drop:.0%} số dòng so với bản phát hành trước"
            if not n
            else f"{n} bảng giảm quá {max_drop:.0%} số dòng (hoặc biến mất) so với bản phát hành trước"
        ),
        message_en=(
            f"No table lost more than {max_drop:.0%} of its rows since the previous release"
            if not n
            else f"{n} tables lost more than {max_drop:.0%} of their rows (or vanished) since the previous release"
        ),
        failed_count=n,
        sample_rows=rows[:SAMPLE_LIMIT],
        metadata={
            "previous_datapackage": str(previous_datapackage),
            "max_drop": max_drop,
            "previous_counts": previous,
            "current_counts": current,
        },
    )


def check_suppression_applied(
    con_or_df: duckdb.DuckDBPyConnection | pd.DataFrame,
    min_count: int = 5,
    *,
    table: str = "marts.mart_satisfaction",
    count_col: str = "respondents",
    value_cols: Sequence[str] = ("satisfied", "satisfied_rate", "satisfied_pct", "meets_90"),
    suppressed_col: str | None = "suppressed",
    severity: Severity = ERROR,
) -> CheckOutcome:
    """Disclosure control: no published cell with ``0 < respondents < min_count`` shows a value.

    ``con_or_df`` is a DuckDB connection (then ``table`` is read) or the DataFrame about to be published.
    Value columns that do not exist are ignored; if ``suppressed_col`` exists, such cells must also be
    flagged ``suppressed = true``.
    """
    severity = _check_severity(severity)
    if isinstance(con_or_df, duckdb.DuckDBPyConnection):
        con, rel, source = con_or_df, _qt(table), table
    else:
        con = duckdb.connect()
        con.register("_published", con_or_df)
        rel, source = "_published", "<dataframe>"
    try:
        return _suppression(con, rel, source, min_count, count_col, value_cols, suppressed_col, severity)
    finally:
        if con is not con_or_df:
            con.close()


def _suppression(
    con, rel, source, min_count, count_col, value_cols, suppressed_col, severity
) -> CheckOutcome:
    try:
        cols = [d[0] for d in con.execute(f"select * from {rel} limit 0").description]
    except (duckdb.CatalogException, duckdb.BinderException) as e:
        return _missing_relation("check_suppression_applied", severity, source, e)
    if count_col not in cols:
        return _missing_relation(
            "check_suppression_applied", severity, source, KeyError(f"column {count_col} not found")
        )
    vals = [c for c in value_cols if c in cols]
    shows = [f"{_qi(c)} is not null" for c in vals]
    if suppressed_col and suppressed_col in cols:
        shows.append(f"not coalesce({_qi(suppressed_col)}, false)")
    small = f"{_qi(count_col)} > 0 and {_qi(count_col)} < {int(min_count)}"
    cond = f"({small}) and ({' or '.join(shows)})" if shows else "false"
    n_small = int(_scalar(con, f"select count(*) from {rel} where {small}"))
    failed = int(_scalar(con, f"select count(*) from {rel} where {cond}"))
    sample = _rows(con, f"select * from {rel} where {cond} limit {SAMPLE_LIMIT}") if failed else []
    return CheckOutcome(
        name=f"suppression_applied:{source}",
        passed=failed == 0,
        severity=severity,
        message_vi=(
            f"Các ô có dưới {min_count} người trả lời đều đã được ẩn ({n_small} ô)"
            if not failed
            else f"{failed} ô có dưới {min_count} người trả lời vẫn hiện giá trị: phải ẩn trước khi công bố"
        ),
        message_en=(
            f"Every cell with fewer than {min_count} respondents is suppressed ({n_small} cells)"
            if not failed
            else f"{failed} cells with fewer than {min_count} respondents still show values: suppress before publishing"
        ),
        failed_count=failed,
        sample_rows=sample,
        metadata={
            "table": source,
            "min_count": min_count,
            "small_cells": n_small,
            "value_columns": vals,
            "checked_suppressed_flag": bool(suppressed_col and suppressed_col in cols),
        },
    )


# ---------------------------------------------------------------------------------------------------------
# checks declared in a suite file (meta.sql_checks)
# ---------------------------------------------------------------------------------------------------------

DECLARABLE_CHECKS: dict[str, Callable[..., CheckOutcome]] = {
    "grain_unique": check_grain_unique,
    "not_null": check_not_null,
    "referential": check_referential,
    "column_types": check_column_types,
    "indicator_ranges": check_indicator_ranges,
    "completeness": check_completeness,
    "ocop_rules": check_ocop_rules,
    "outliers_vs_previous_period": check_outliers_vs_previous_period,
    "suppression_applied": check_suppression_applied,
}


def run_declared_checks(
    con: duckdb.DuckDBPyConnection,
    suite: Mapping[str, Any],
    *,
    only: Iterable[str] | None = None,
) -> list[CheckOutcome]:
    """Run the SQL checks a suite file declares in ``meta.sql_checks``.

    Each entry: ``{"check": <name in DECLARABLE_CHECKS>, "kwargs": {...}, "severity": "error"|"warn"}``.
    ``table`` defaults to the suite's table (``meta.table``) for checks that take one.
    """
    from .suites import suite_table

    wanted = set(only) if only is not None else None
    table = suite_table(suite)
    outcomes: list[CheckOutcome] = []
    for entry in (suite.get("meta") or {}).get("sql_checks", []):
        name = entry["check"]
        if wanted is not None and name not in wanted:
            continue
        fn = DECLARABLE_CHECKS.get(name)
        if fn is None:
            raise ValueError(f"unknown SQL check {name!r} in suite {suite.get('name')}")
        kwargs = dict(entry.get("kwargs") or {})
        if "severity" in entry:
            kwargs["severity"] = entry["severity"]
        if name in ("indicator_ranges", "completeness", "outliers_vs_previous_period"):
            kwargs.setdefault("fact", table)
        else:
            kwargs.setdefault("table", table)
        outcome = fn(con, **kwargs)
        if entry.get("description_vi"):
            outcome.metadata["description_vi"] = entry["description_vi"]
        if entry.get("description_en"):
            outcome.metadata["description_en"] = entry["description_en"]
        outcomes.append(outcome)
    return outcomes

"""Data-quality checks pushed down into DuckDB (they scale to national data without loading tables).

Every check returns a :class:`CheckOutcome` with a bilingual message, the number of offending rows and up to
10 sample rows, so that a data officer can find and fix them. Table and column names are parameters; the
defaults follow the ``marts`` contracts (``dbt_project/models/marts``).

Severities: ``error`` checks block publishing, ``warn`` checks are shown and recorded only. The generic
checks (grain, not null, referential, column types) are in :mod:`.sql_base`, the OCOP rules in
:mod:`.ocop_checks`, the release-level ones (row counts against the previous release, small-cell
suppression) in :mod:`.release_checks`; a suite file can declare any of them
(:data:`pipeline.quality.declared_checks.DECLARABLE_CHECKS`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import duckdb

from .sql_base import (
    SAMPLE_LIMIT,
    CheckOutcome,
    check_severity,
    fetch_rows,
    fetch_scalar,
    guarded,
    null_safe_join,
    quote_column,
    quote_table,
    table_columns,
)
from .suites import ERROR, WARN, Severity

# ---------------------------------------------------------------------------------------------------------
# domain checks
# ---------------------------------------------------------------------------------------------------------


@guarded
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
    severity = check_severity(severity)
    fact_cols = set(table_columns(con, fact))
    dim_cols = set(table_columns(con, dim))
    use_type = bool(value_type_col) and value_type_col in dim_cols
    keys = [c for c in key_cols if c in fact_cols and c != code_col]
    # one row per code (no fan-out if the dimension is versioned): the widest bounds of its versions
    dim_sql = (
        f"select {quote_column(code_col)} as code, min({quote_column(min_col)}) as lo, "
        f"max({quote_column(max_col)}) as hi"
        + (
            f", any_value({quote_column(value_type_col)}) as value_type"
            if use_type
            else ", null as value_type"
        )
        + (", any_value(annual_rule) as annual_rule" if "annual_rule" in dim_cols else "")
        + (", any_value(aggregation) as aggregation" if "aggregation" in dim_cols else "")
        + f" from {quote_table(dim)} group by 1"
    )
    if aggregation_col and aggregation_col in fact_cols and share_aggregations:
        aggs = ", ".join("'" + a.replace("'", "''") + "'" for a in share_aggregations)
        share = f"coalesce(f.{quote_column(aggregation_col)} in ({aggs}), false)"
    else:
        share = "false"
    open_max = []
    if aggregation_col and aggregation_col in fact_cols and additive_aggregations:
        adds = ", ".join("'" + a.replace("'", "''") + "'" for a in additive_aggregations)
        open_max.append(f"coalesce(f.{quote_column(aggregation_col)} in ({adds}), false)")
    if "period_kind" in fact_cols and "annual_rule" in dim_cols:
        open_max.append("(f.period_kind = 'year' and coalesce(d.annual_rule = 'sum', false))")
    if "units_count" in fact_cols and "aggregation" in dim_cols and additive_aggregations:
        # a commune value combined from several reporting units (e.g. the products of each cooperative)
        adds = ", ".join("'" + a.replace("'", "''") + "'" for a in additive_aggregations)
        open_max.append(f"(coalesce(f.units_count, 1) > 1 and coalesce(d.aggregation in ({adds}), false))")
    additive = " or ".join(open_max) or "false"
    v = f"f.{quote_column(value_col)}"
    select_cols = ", ".join([*(f"f.{quote_column(c)}" for c in keys), f"f.{quote_column(code_col)}", v])
    bounded = (
        f"select {select_cols}, "
        f"case when {share} then 0.0 else d.lo end as min_value, "
        f"case when {share} then 100.0 when {additive} then null else d.hi end as max_value, "
        f"case when {share} then 'percent' else d.value_type end as value_type "
        f"from {quote_table(fact)} as f join ({dim_sql}) as d on f.{quote_column(code_col)} = d.code "
        f"where {v} is not null"
    )
    vv = quote_column(value_col)
    bad_cond = (
        f"(min_value is not null and {vv} < min_value) or (max_value is not null and {vv} > max_value)"
        f" or (value_type = 'yesno' and {vv} not in (0, 1))"
    )
    base = f"select * from ({bounded}) where {bad_cond}"
    failed = int(fetch_scalar(con, f"select count(*) from ({base})"))
    by_ind = (
        fetch_rows(
            con,
            f"select {quote_column(code_col)}, count(*) as n_rows from ({base}) "
            f"group by 1 order by 2 desc, 1 limit {SAMPLE_LIMIT}",
        )
        if failed
        else []
    )
    sample = fetch_rows(con, f"{base} order by all limit {SAMPLE_LIMIT}") if failed else []
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


@guarded
def check_pair_by_indicator(
    con: duckdb.DuckDBPyConnection,
    table: str,
    *,
    column_a: str,
    column_b: str,
    indicator_condition: str,
    dim: str = "marts.dim_indicator",
    code_col: str = "indicator_code",
    key_cols: Sequence[str] = (),
    severity: Severity = ERROR,
) -> CheckOutcome:
    """``column_a`` does not exceed ``column_b`` on the rows of the indicators that satisfy
    ``indicator_condition`` (a SQL condition on the columns of ``dim``, e.g. ``measure_kind = 'stock'``).

    For pair rules that hold for some indicators only: numerator ≤ denominator holds for a share of a
    population (``percent``, or a ``ratio`` whose ``max_value`` ≤ 1, the ingest's rule) but not for
    "devices per household"; hamlets reporting ≤ hamlets existing holds for ``stock`` indicators but not
    for ``flow`` ones, which also count hamlets that ceased during the period (roll-up rule 7.2). Rows with
    a null in either column are ignored. ``failed_count`` = offending rows; the metadata names the
    indicators the rule was applied to (``indicators_checked``) and the offending rows per indicator.
    """
    severity = check_severity(severity)
    a, b, code = quote_column(column_a), quote_column(column_b), quote_column(code_col)
    codes_sql = f"select distinct {code} as code from {quote_table(dim)} where ({indicator_condition})"
    checked = [r[0] for r in con.execute(f"{codes_sql} order by 1").fetchall()]
    keys = [c for c in key_cols if c != code_col]
    cols = ", ".join([*(f"f.{quote_column(c)}" for c in keys), f"f.{code}", f"f.{a}", f"f.{b}"])
    base = (
        f"select {cols} from {quote_table(table)} as f semi join ({codes_sql}) as d on f.{code} = d.code "
        f"where f.{a} > f.{b}"
    )
    failed = int(fetch_scalar(con, f"select count(*) from ({base})"))
    sample = fetch_rows(con, f"{base} order by all limit {SAMPLE_LIMIT}") if failed else []
    by_ind = (
        fetch_rows(
            con,
            f"select {code}, count(*) as n_rows from ({base}) group by 1 order by 2 desc, 1 limit {SAMPLE_LIMIT}",
        )
        if failed
        else []
    )
    return CheckOutcome(
        name=f"pair_by_indicator:{table}.{column_a}<={column_b}",
        passed=failed == 0,
        severity=severity,
        message_vi=(
            f"{column_a} không vượt {column_b} ở mọi dòng của {len(checked)} chỉ tiêu áp dụng quy tắc"
            if not failed
            else f"{failed} dòng có {column_a} lớn hơn {column_b} (chỉ tiêu áp dụng quy tắc: {len(checked)})"
        ),
        message_en=(
            f"{column_a} does not exceed {column_b} on any row of the {len(checked)} indicators the rule applies to"
            if not failed
            else f"{failed} rows have {column_a} greater than {column_b} ({len(checked)} indicators the rule applies to)"
        ),
        failed_count=failed,
        sample_rows=sample,
        metadata={
            "table": table,
            "column_a": column_a,
            "column_b": column_b,
            "indicator_condition": indicator_condition,
            "indicators_checked": checked,
            "failed_by_indicator": by_ind,
        },
    )


@guarded
def check_completeness(
    con: duckdb.DuckDBPyConnection,
    fact: str,
    expected_sql: str,
    *,
    keys: Sequence[str] = ("hamlet_code", "indicator_code", "period_code"),
    missing_marker: str | None = None,
    explained_sql: str | None = None,
    severity: Severity = ERROR,
) -> CheckOutcome:
    """Every expected key (e.g. active hamlet × hamlet-level indicator × period) is in ``fact``.

    ``expected_sql`` is a SELECT returning at least the ``keys`` columns. A row present in the fact counts
    as present even if its value is null: that is how a value is *explicitly marked missing*;
    ``missing_marker`` (a SQL condition on the fact, e.g. ``value is null``) counts those separately in the
    metadata. Keys match null-safely (``is not distinct from``), so commune-level rows with a null
    ``hamlet_code`` work.

    ``explained_sql`` (optional) is a SELECT over the relation ``absent`` (the expected keys absent from the
    fact; ``expected`` is also available) returning the ``keys`` and a ``reason`` for the absent cells that
    another record already accounts for (e.g. a report that never arrived, rows quarantined at ingest). Those
    are counted by reason in the metadata (``explained``) and do not fail the check. ``failed_count`` =
    expected keys absent from the fact and not explained.
    """
    severity = check_severity(severity)
    # the expected and absent keys are computed once into temporary tables (the queries below read them
    # five to eight times; as CTEs each read recomputed the expected cross join and the anti-join)
    temp_expected, temp_absent = _temp_name("completeness_expected"), _temp_name("completeness_absent")
    try:
        return _completeness(
            con, fact, expected_sql, keys, missing_marker, explained_sql, severity, temp_expected, temp_absent
        )
    finally:
        for name in (temp_expected, temp_absent):
            con.execute(f"drop table if exists temp.main.{name}")


def _temp_name(kind: str) -> str:
    """A temporary table's name for one check's intermediate rows (unique: checks may share a connection)."""
    return f"ntm_check_{kind}_{uuid.uuid4().hex[:12]}"


def _completeness(
    con: duckdb.DuckDBPyConnection,
    fact: str,
    expected_sql: str,
    keys: Sequence[str],
    missing_marker: str | None,
    explained_sql: str | None,
    severity: Severity,
    temp_expected: str,
    temp_absent: str,
) -> CheckOutcome:
    kcols = ", ".join(quote_column(c) for c in keys)
    con.execute(f"create temp table {temp_expected} as select distinct {kcols} from ({expected_sql}) as e")
    con.execute(
        f"create temp table {temp_absent} as select e.* from temp.main.{temp_expected} as e where not exists "
        f"(select 1 from {quote_table(fact)} as f where {null_safe_join('f', 'e', keys)})"
    )
    ctes = (
        f"with expected as (select * from temp.main.{temp_expected}), "
        f"absent as (select * from temp.main.{temp_absent})"
    )
    if explained_sql:
        ctes += (
            f", explained as (select {kcols}, any_value(reason) as reason from ({explained_sql}) as x "
            f"group by all)"
        )
        unexplained = (
            f"{ctes} select a.* from absent as a where not exists "
            f"(select 1 from explained as x where {null_safe_join('x', 'a', keys)})"
        )
        explained_rows = fetch_rows(
            con,
            f"{ctes} select x.reason, count(*) as n_cells from explained as x semi join absent as a on "
            f"{null_safe_join('x', 'a', keys)} group by 1 order by 1",
        )
    else:
        unexplained = f"{ctes} select * from absent"
        explained_rows = []
    explained = {r["reason"]: int(r["n_cells"]) for r in explained_rows}
    n_expected = int(fetch_scalar(con, f"{ctes} select count(*) from expected"))
    n_absent = int(fetch_scalar(con, f"{ctes} select count(*) from absent"))
    absent = int(fetch_scalar(con, f"select count(*) from ({unexplained})"))
    marked = None
    if missing_marker:
        marked = int(
            fetch_scalar(
                con,
                f"{ctes} select count(*) from {quote_table(fact)} as f where ({missing_marker}) and exists "
                f"(select 1 from expected as e where {null_safe_join('f', 'e', keys)})",
            )
        )
    sample = (
        fetch_rows(con, f"select * from ({unexplained}) order by all limit {SAMPLE_LIMIT}") if absent else []
    )
    by_col: dict[str, list[dict]] = {}
    if absent:
        for c in keys:
            by_col[c] = fetch_rows(
                con,
                f"select {quote_column(c)}, count(*) as n_missing from ({unexplained}) "
                f"group by 1 order by 2 desc, 1 limit {SAMPLE_LIMIT}",
            )
    grain = " × ".join(keys)
    n_explained = n_absent - absent
    why_vi = f"; {n_explained} ô vắng đã có lý do ({', '.join(f'{k}: {v}' for k, v in explained.items())})"
    why_en = (
        f"; {n_explained} absent cells accounted for ({', '.join(f'{k}: {v}' for k, v in explained.items())})"
    )
    return CheckOutcome(
        name=f"completeness:{fact}",
        passed=absent == 0,
        severity=severity,
        message_vi=(
            (
                (
                    f"Đủ {n_expected} ô {grain} cần có (có số liệu hoặc được đánh dấu thiếu)"
                    if not n_explained
                    else f"Mọi ô vắng trong {n_expected} ô {grain} cần có đều đã có lý do"
                )
                if not absent
                else f"Thiếu {absent}/{n_expected} ô {grain}: không có số liệu, không được đánh dấu thiếu, không có lý do"
            )
            + (why_vi if n_explained else "")
        ),
        message_en=(
            (
                (
                    f"All {n_expected} expected {grain} cells are present or explicitly marked missing"
                    if not n_explained
                    else f"Every absent cell of the {n_expected} expected {grain} cells is accounted for"
                )
                if not absent
                else f"{absent} of {n_expected} expected {grain} cells are neither present, marked missing nor accounted for"
            )
            + (why_en if n_explained else "")
        ),
        failed_count=absent,
        sample_rows=sample,
        metadata={
            "fact": fact,
            "keys": list(keys),
            "expected": n_expected,
            "absent": n_absent,
            "unexplained": absent,
            "present": n_expected - n_absent,
            "marked_missing": marked,
            "explained": explained,
            "absent_by_column": by_col,
        },
    )


@guarded
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
    min_base: float = 10.0,
    points_value_types: Sequence[str] = ("percent",),
    skip_value_types: Sequence[str] = ("yesno",),
    current_period: str | None = None,
    severity: Severity = WARN,
) -> CheckOutcome:
    """Values that jump against the previous period of the same location × indicator (a warning).

    Quarters are compared with quarters and years with years (``YYYY-Qn`` / ``YYYY`` codes sort in time
    order). With ``dim`` (and its ``value_type``): percents are flagged when they move more than
    ``max_points`` points, other numbers when they change more than ``max_ratio``× (either way) and one of
    the two values is at least ``min_base`` (10: small counts move more than 3× by chance: two quarters of a
    count that averages 4, e.g. training sessions, differ that much one time in ten, 5 → 1; with a base of
    10, under one in a hundred); ``yesno`` is skipped.
    Without ``dim`` the ratio rule applies to every value. ``current_period`` restricts the check to one
    period (e.g. the Dagster partition).
    """
    severity = check_severity(severity)
    pc, vc = quote_column(period_col), quote_column(value_col)
    part = ", ".join(quote_column(c) for c in keys)
    kind = f"case when {pc} like '%-Q%' then 'quarter' else 'year' end"
    use_dim = dim is not None and value_type_col in table_columns(con, dim)
    if use_dim:
        joined = (
            f"select f.*, d.vt as _value_type from {quote_table(fact)} as f left join "
            f"(select {quote_column(code_col)} as code, any_value({quote_column(value_type_col)}) as vt "
            f"from {quote_table(dim)} group by 1)"
            f" as d on f.{quote_column(code_col)} = d.code"
        )
    else:
        joined = f"select f.*, null::varchar as _value_type from {quote_table(fact)} as f"
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
    # the flagged rows are computed once (a temporary table): counting and sampling them each re-ran the window
    flagged = _temp_name("outliers")
    try:
        con.execute(f"create temp table {flagged} as {base}", params)
        failed = int(fetch_scalar(con, f"select count(*) from temp.main.{flagged}"))
        sample = (
            fetch_rows(
                con,
                f"select * from temp.main.{flagged} order by abs(change) desc, {part}, {pc} limit {SAMPLE_LIMIT}",
            )
            if failed
            else []
        )
    finally:
        con.execute(f"drop table if exists temp.main.{flagged}")
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

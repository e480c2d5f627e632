"""Period by period: when a period-partitioned table changed, validate only the rows of its changed periods.

Applies to a suite whose ``meta.batch_column`` (``period_code``) is a column of the table and whose
expectations are all either **row-level** (:data:`ROW_LEVEL`: each row passes or fails on its own values, no
``mostly``) or a row count / uniqueness, which is decided over the whole table in DuckDB. Each period's rows
are fingerprinted (as :mod:`.fingerprint` does for a table); a period whose fingerprint, row-level rules and
gate code equal those of an earlier *passed* validation keeps that validation's outcomes
(``audit.gate_period_results``); the other periods are validated by GX one at a time and the outcomes are
summed per expectation (unexpected counts, samples, failed periods). When most rows changed (or nothing is
stored yet) one GX pass over the whole table is cheaper: each period is then recorded as passed only if
every row passed every row-level rule. The suite's SQL checks, row counts and uniqueness always run over the
whole table.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import duckdb

from . import gx_sql, reuse
from .gx_results import ExpectationOutcome, SuiteResult
from .sql_base import SAMPLE_LIMIT, quote_column, quote_table
from .suites import ROW_COUNT_EXPECTATIONS, UNIQUENESS_EXPECTATIONS, WARN, expectation_column, severity_of

TABLE = "audit.gate_period_results"
DDL = f"""create table if not exists {TABLE} (
    run_id varchar not null,
    table_name varchar not null,
    period varchar not null,
    period_key varchar not null,
    row_count bigint not null,
    passed boolean not null,
    validated_at timestamptz not null default current_timestamp,
    outcomes varchar not null,
    primary key (run_id, table_name, period))"""
KEEP_PER_PERIOD = 5
#: expectations GX decides row by row: the outcome on a table is the sum of the outcomes on its periods
ROW_LEVEL = frozenset(
    {
        "expect_column_values_to_be_between",
        "expect_column_values_to_match_regex",
        "expect_column_values_to_not_match_regex",
        "expect_column_values_to_match_regex_list",
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_null",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_not_be_in_set",
        "expect_column_value_lengths_to_be_between",
        "expect_column_value_lengths_to_equal",
        "expect_column_pair_values_a_to_be_greater_than_b",
        "expect_column_pair_values_to_be_equal",
    }
)
WHOLE_TABLE = ROW_COUNT_EXPECTATIONS | UNIQUENESS_EXPECTATIONS
NULL_PERIOD = "<null>"
#: a changed period with more rows is not validated alone (one GX batch would hold it all)
MAX_ROWS_PER_PERIOD = 1_000_000


def is_row_level(exp: Mapping[str, Any]) -> bool:
    return exp["type"] in ROW_LEVEL and "mostly" not in (exp.get("kwargs") or {})


def splittable(suite: Mapping[str, Any], columns: list[str]) -> str | None:
    """The period column when the suite may be validated period by period, else None (then the table is
    validated whole, as before)."""
    col = (suite.get("meta") or {}).get("batch_column")
    if not col or col not in columns:
        return None
    exps = suite.get("expectations", [])
    if not any(is_row_level(e) for e in exps):
        return None
    if all(is_row_level(e) or e["type"] in WHOLE_TABLE for e in exps):
        return str(col)
    return None


def period_fingerprints(con: duckdb.DuckDBPyConnection, table: str, col: str) -> dict[str, tuple[int, str]]:
    """``{period (NULL_PERIOD for null): (rows, digest)}``: like a table fingerprint, per period."""
    t, c = quote_table(table), quote_column(col)
    schema = ";".join(f"{r[0]}:{r[1]}" for r in con.execute(f"describe {t}").fetchall())
    out = {}
    for value, rows, total in con.execute(
        f"select {c}::varchar, count(*), coalesce(sum(hash(t)), 0)::varchar from {t} as t group by 1"
    ).fetchall():
        digest = hashlib.sha256(f"{schema}\n{rows}\n{total}".encode()).hexdigest()[:32]
        out[NULL_PERIOD if value is None else str(value)] = (int(rows), digest)
    return out


def _period_key(digest: str, rules_fp: str, code: str) -> str:
    return hashlib.sha256(f"{digest}\n{rules_fp}\n{code}".encode()).hexdigest()[:32]


def _has_table(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = 'audit' "
            "and table_name = 'gate_period_results'"
        ).fetchone()[0]
    )


@dataclass(frozen=True)
class PeriodOutcome:
    period: str
    key: str
    rows: int
    passed: bool
    outcomes: list[ExpectationOutcome]  # the row-level expectations, in suite order
    reused_from: str | None  # run id of the validation reused, None when validated now


def _stored(con: duckdb.DuckDBPyConnection, table: str, keys: Mapping[str, str]) -> dict[str, PeriodOutcome]:
    """Per period, the newest result under its key, when it passed (a newer failure hides an older pass)."""
    if not keys or not _has_table(con):
        return {}
    out = {}
    for period, key, rows, passed, outcomes, run_id in con.execute(
        f"select period, period_key, row_count, passed, outcomes, run_id from {TABLE} "
        "where table_name = ? and period_key in (select unnest(?)) "
        "qualify row_number() over (partition by period, period_key order by validated_at desc) = 1",
        [table, list(keys.values())],
    ).fetchall():
        if passed and keys.get(period) == key:
            exps = [ExpectationOutcome(**e) for e in json.loads(outcomes)]
            out[period] = PeriodOutcome(period, key, int(rows), True, exps, run_id)
    return out


def _merge(per_period: list[list[ExpectationOutcome]], labels: list[str]) -> list[ExpectationOutcome]:
    merged = []
    for i in range(len(per_period[0]) if per_period else 0):
        parts = [p[i] for p in per_period]
        first = parts[0]
        out = ExpectationOutcome(
            type=first.type,
            column=first.column,
            kwargs=first.kwargs,
            severity=first.severity,
            success=all(p.success for p in parts),
            description_vi=first.description_vi,
            description_en=first.description_en,
            evaluated_by=first.evaluated_by,
        )
        counted = [p for p in parts if p.unexpected_count is not None]
        if counted:
            out.unexpected_count = sum(int(p.unexpected_count or 0) for p in counted)
            out.element_count = sum(int(p.element_count or 0) for p in counted)
            if out.element_count:
                out.unexpected_percent = 100.0 * out.unexpected_count / out.element_count
        for p, label in zip(parts, labels, strict=True):
            out.batches += p.batches
            out.failed_batches += [label] if not p.success else []
            if out.exception is None and p.exception:
                out.exception = p.exception
            if not p.success and out.observed_value is None:
                out.observed_value = p.observed_value
            out.partial_unexpected_list += p.partial_unexpected_list[
                : SAMPLE_LIMIT - len(out.partial_unexpected_list)
            ]
            out.sample_rows += p.sample_rows[: SAMPLE_LIMIT - len(out.sample_rows)]
        merged.append(out)
    return merged


@dataclass(frozen=True)
class Split:
    column: str  # the period column
    result: SuiteResult
    validated: list[str]  # periods validated in this run
    reused: dict[str, str]  # period -> run id whose validation was reused


def validate_by_period(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    suite: Mapping[str, Any],
    col: str,
    run_id: str,
    validate: Callable[[str, Mapping[str, Any]], SuiteResult],
    max_rows_per_period: int | None = None,
    use_stored: bool = True,
) -> Split:
    """Validate the changed periods of ``relation`` (see the module). When no period is reusable, more than
    half the rows changed or a changed period holds more than ``max_rows_per_period`` rows, the row-level
    rules run in one pass over the whole table instead (the runner's bounded batches), and each period is
    recorded as passed when every row passed. ``use_stored=False``: nothing reused."""
    started = dt.datetime.now(dt.UTC)
    exps = suite["expectations"]
    row_idx = [i for i, e in enumerate(exps) if is_row_level(e)]
    row_suite = {**suite, "expectations": [exps[i] for i in row_idx]}
    rules_fp = reuse.suite_fingerprint(row_suite)
    code = reuse.code_version()
    fps = period_fingerprints(con, relation, col)
    keys = {p: _period_key(d, rules_fp, code) for p, (_, d) in fps.items()}
    stored = _stored(con, relation, keys) if use_stored else {}
    n_rows = sum(r for r, _ in fps.values())
    changed = sorted(p for p in fps if p not in stored)
    limit = MAX_ROWS_PER_PERIOD if max_rows_per_period is None else max_rows_per_period
    results: dict[str, PeriodOutcome] = dict(stored)
    if not stored or 2 * sum(fps[p][0] for p in changed) > n_rows or any(fps[p][0] > limit for p in changed):
        # most rows changed (a first run, a new suite or code, a rebuild): one pass over the whole table
        # is cheaper than one per period; when every row passed every row-level rule, so did each period
        whole = validate(relation, row_suite)
        merged, labels = whole.expectations, whole.batches
        if all(o.success for o in merged):
            for p in fps:
                outs = [_passed_part(o, fps[p][0]) for o in merged]
                results[p] = PeriodOutcome(p, keys[p], fps[p][0], True, outs, None)
        validated, reused_from = sorted(fps), {}
        rows_by_gx = n_rows
    else:
        results.update(_each(con, relation, col, changed, row_suite, validate, keys, fps))
        periods = sorted(results)
        merged = _merge([results[p].outcomes for p in periods], [f"{col}={p}" for p in periods])
        labels = [f"{col}={p}" for p in periods]
        validated = changed
        reused_from = {p: results[p].reused_from for p in periods if results[p].reused_from}
        rows_by_gx = sum(fps[p][0] for p in changed)
    outcomes: dict[int, ExpectationOutcome] = dict(zip(row_idx, merged, strict=True))
    for i, e in enumerate(exps):
        if i not in outcomes:
            skeleton = ExpectationOutcome(
                type=e["type"],
                column=expectation_column(e),
                kwargs=dict(e["kwargs"]),
                severity=severity_of(e),
                success=True,
                description_vi=(e.get("meta") or {}).get("description_vi"),
                description_en=(e.get("meta") or {}).get("description_en"),
            )
            outcomes[i] = gx_sql.evaluate_table_wide(con, relation, e, n_rows, skeleton)
    ordered = [outcomes[i] for i in range(len(exps))]
    errors = [o for o in ordered if not o.success and o.severity != WARN]
    warns = [o for o in ordered if not o.success and o.severity == WARN]
    n_ok = sum(o.success for o in ordered)
    result = SuiteResult(
        table=relation,
        suite_name=suite["name"],
        success=not errors,
        error_failures=errors,
        warn_failures=warns,
        expectations=ordered,
        statistics={
            "evaluated_expectations": len(ordered),
            "successful_expectations": n_ok,
            "unsuccessful_expectations": len(ordered) - n_ok,
            "error_failures": len(errors),
            "warn_failures": len(warns),
            "row_count": n_rows,
            "rows_validated_by_gx": rows_by_gx,
            "periods_validated": validated,
            "periods_reused": len(reused_from),
        },
        batches=labels,
        batch_column=col,
        row_count=n_rows,
        run_id=run_id,
        duration_s=round((dt.datetime.now(dt.UTC) - started).total_seconds(), 3),
    )
    _record(con, run_id, relation, [results[p] for p in validated if p in results])
    return Split(col, result, validated, reused_from)


def _passed_part(whole: ExpectationOutcome, rows: int) -> ExpectationOutcome:
    """One period's share of an outcome that every row passed: no unexpected row among its ``rows``."""
    counted = whole.unexpected_count is not None
    return ExpectationOutcome(
        type=whole.type,
        column=whole.column,
        kwargs=whole.kwargs,
        severity=whole.severity,
        success=True,
        unexpected_count=0 if counted else None,
        unexpected_percent=0.0 if counted else None,
        element_count=rows if counted else None,
        description_vi=whole.description_vi,
        description_en=whole.description_en,
        evaluated_by=whole.evaluated_by,
        batches=1,
    )


def _each(con, relation, col, changed, row_suite, validate, keys, fps) -> dict[str, PeriodOutcome]:
    """Validate each changed period alone (its rows through a temporary view)."""
    name = f"gate_period_{relation.replace('.', '_')}"
    t, c = quote_table(relation), quote_column(col)
    out = {}
    try:
        for period in changed:
            q = period.replace("'", "''")
            where = f"{c} is null" if period == NULL_PERIOD else f"{c}::varchar = '{q}'"
            con.execute(f"create or replace temp view {name} as select * from {t} where {where}")
            r = validate(f"temp.main.{name}", row_suite)
            out[period] = PeriodOutcome(period, keys[period], fps[period][0], r.success, r.expectations, None)
    finally:
        con.execute(f"drop view if exists {name}")
    return out


def _record(con: duckdb.DuckDBPyConnection, run_id: str, table: str, done: list[PeriodOutcome]) -> None:
    if not done:
        return
    con.execute("create schema if not exists audit")
    con.execute(DDL)
    con.executemany(
        f"insert or replace into {TABLE} (run_id, table_name, period, period_key, row_count, passed, outcomes) "
        "values (?, ?, ?, ?, ?, ?, ?)",
        [
            [
                run_id,
                table,
                p.period,
                p.key,
                p.rows,
                p.passed,
                reuse.canonical([asdict(o) for o in p.outcomes]),
            ]
            for p in done
        ],
    )
    con.execute(
        f"delete from {TABLE} as g using (select run_id, table_name, period, row_number() over (partition by "
        f"table_name, period order by validated_at desc, run_id desc) as n from {TABLE}) as old "
        f"where g.run_id = old.run_id and g.table_name = old.table_name and g.period = old.period "
        f"and old.n > {KEEP_PER_PERIOD}"
    )

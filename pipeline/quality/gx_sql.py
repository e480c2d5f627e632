"""The suite's per-row expectations evaluated in DuckDB, for tables too large to stream through GX.

GX validates a pandas batch at about 10 us a row here: the 125 M survey answers of the national benchmark
would take over 20 minutes, and the indicator marts as long again. Above ``NTM_GX_SQL_ABOVE_ROWS`` rows
(default 5,000,000; commune and province tables stay well below) :func:`pipeline.quality.gx_runner.run_suite`
asks this module first: each expectation type below becomes one SQL aggregate over the whole table, with
GX's semantics (missing values ignored except by the null checks, ``row_condition`` applied first,
``ignore_row_if`` for column pairs), and the same outcome fields (unexpected count, element count, partial
unexpected list, sample rows: those of the first SAMPLE_LIMIT unexpected rows in the order GX would meet
them, ``gx_batches.gx_row_order``). A type or option not listed raises :class:`Unsupported` and that expectation
stays with GX, batch by batch. ``tests/quality/test_quality_gx_scale.py`` runs the fact_indicator_value suite,
with the rules dbt now owns put back (``suite_with_dbt_rules``: together they use every supported type), both
ways, on clean and corrupted rows, and compares the outcomes.

Why not GX's own SQL execution (a SQL datasource over DuckDB through ``duckdb-engine``)? Measured on
2026-11-30 with great-expectations 1.24.1, duckdb-engine 0.17.0, SQLAlchemy 2.1.9, duckdb 2.0.1
(``bench/gx_sqlalchemy_probe.py``, fact_indicator_value's suite of 25 expectations on the bundled sample):
as shipped, 24 of 25 outcomes are errors, ``MetricResolutionError: list index out of range`` in
``SqlAlchemyExecutionEngine.resolve_metric_bundle`` (GX fetches the rows after closing the connection, and
duckdb-engine's cursor is empty then); with that private method patched, every regex expectation still fails
with ``Regex is not supported for dialect duckdb`` (DuckDB is not a ``GXSqlDialect``) and
``expect_column_values_to_be_of_type`` with ``KeyError: 'type'``. Every suite uses regexes, so this module
stays until GX supports DuckDB as a dialect.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import duckdb

from pipeline import config

from .sql_base import SAMPLE_LIMIT, check_grain_unique, json_safe, quote_column, quote_table
from .suites import ROW_COUNT_EXPECTATIONS

# what GX's path shows of a failed expectation (gx_runner._merge): the first SAMPLE_LIMIT unexpected values
# over the batches, and the sample rows of the first SAMPLE_LIMIT unexpected rows
PARTIAL_UNEXPECTED_COUNT = SAMPLE_LIMIT
_OPERATORS = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
COLUMN_MAP_TYPES = frozenset(
    {
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_null",
        "expect_column_values_to_be_between",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_match_regex",
        "expect_column_pair_values_a_to_be_greater_than_b",
    }
)
SUPPORTED = COLUMN_MAP_TYPES | {"expect_table_columns_to_match_set", "expect_column_values_to_be_of_type"}


class Unsupported(Exception):
    """This expectation (type or option) has no SQL form here: GX evaluates it."""


def sql_above_rows() -> int:
    """NTM_GX_SQL_ABOVE_ROWS (:func:`pipeline.config.gx_sql_above_rows`, default 5,000,000)."""
    return config.gx_sql_above_rows()


def _condition(kw: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """GX 1.x structured ``row_condition`` (comparison / nullity, possibly and-ed) as SQL."""
    cond = kw.get("row_condition")
    if not cond:
        return "true", []
    if isinstance(cond, str) or kw.get("condition_parser") not in (None, "great_expectations"):
        raise Unsupported("string row_condition")
    parts = cond.get("conditions") if cond.get("type") == "and" else [cond]
    sql, params = [], []
    for c in parts or []:
        col = quote_column(c["column"]["name"])
        if c.get("type") == "comparison" and c.get("operator") in _OPERATORS:
            sql.append(f"{col} {_OPERATORS[c['operator']]} ?")
            params.append(c["parameter"])
        elif c.get("type") == "nullity":
            sql.append(f"{col} is {'' if c.get('is_null', True) else 'not '}null")
        else:
            raise Unsupported(f"row_condition {c.get('type')}")
    return " and ".join(sql) or "true", params


def _unexpected(exp_type: str, kw: Mapping[str, Any]) -> tuple[str, list[Any], list[str]]:
    """(SQL predicate of an unexpected row, its parameters, the columns shown as unexpected values)."""
    if kw.get("mostly") not in (None, 1, 1.0):
        raise Unsupported("mostly")
    if exp_type == "expect_column_pair_values_a_to_be_greater_than_b":
        a, b = quote_column(kw["column_A"]), quote_column(kw["column_B"])
        mode = kw.get("ignore_row_if", "both_values_are_missing")
        if mode != "either_value_is_missing":
            raise Unsupported(f"ignore_row_if {mode}")
        op = ">=" if kw.get("or_equal") else ">"
        return (
            f"{a} is not null and {b} is not null and not ({a} {op} {b})",
            [],
            [
                kw["column_A"],
                kw["column_B"],
            ],
        )
    col = quote_column(kw["column"])
    if exp_type == "expect_column_values_to_not_be_null":
        return f"{col} is null", [], [kw["column"]]
    if exp_type == "expect_column_values_to_be_null":
        return f"{col} is not null", [], [kw["column"]]
    if exp_type == "expect_column_values_to_be_between":
        if kw.get("parse_strings_as_datetimes") or kw.get("allow_cross_type_comparisons"):
            raise Unsupported("between options")
        tests, params = [], []
        if kw.get("min_value") is not None:
            tests.append(f"{col} {'>' if kw.get('strict_min') else '>='} ?")
            params.append(kw["min_value"])
        if kw.get("max_value") is not None:
            tests.append(f"{col} {'<' if kw.get('strict_max') else '<='} ?")
            params.append(kw["max_value"])
        if not tests:
            raise Unsupported("between without bounds")
        return f"{col} is not null and not ({' and '.join(tests)})", params, [kw["column"]]
    if exp_type == "expect_column_values_to_be_in_set":
        values = list(kw["value_set"])
        if not values:
            return f"{col} is not null", [], [kw["column"]]
        marks = ", ".join("?" for _ in values)
        return f"{col} is not null and {col} not in ({marks})", values, [kw["column"]]
    if exp_type == "expect_column_values_to_match_regex":
        return f"{col} is not null and not regexp_matches({col}, ?)", [kw["regex"]], [kw["column"]]
    raise Unsupported(exp_type)


def evaluate(
    con: duckdb.DuckDBPyConnection,
    table: str,
    exp: Mapping[str, Any],
    columns: Sequence[str],
    out: Any,
    order: str | None = "rowid",
) -> Any:
    """Fill ``out`` (an ``ExpectationOutcome`` skeleton) from DuckDB; raise :class:`Unsupported` first.

    The unexpected values listed and the sample rows are those of the first SAMPLE_LIMIT unexpected rows in
    ``order`` (an SQL ``order by`` list; ``None``: scan order): given the order in which GX meets the rows
    (:func:`pipeline.quality.gx_batches.gx_row_order`), the same values and rows as GX's path shows."""
    kind, kw = exp["type"], exp["kwargs"]
    if kind not in SUPPORTED:
        raise Unsupported(kind)
    t = quote_table(table)
    out.evaluated_by = "duckdb"
    out.batches = 1
    if kind == "expect_table_columns_to_match_set":
        want = list(kw["column_set"])
        out.observed_value = list(columns)
        if kw.get("exact_match", True):
            out.success = set(columns) == set(want)
        else:
            out.success = set(want) <= set(columns)
        return _finish(out)
    if kind == "expect_column_values_to_be_of_type":
        # the dtype GX would see: the column as DuckDB hands it to pandas (the batches' conversion)
        sample = con.execute(f"select {quote_column(kw['column'])} from {t} limit 10000").df()
        out.observed_value = str(sample[kw["column"]].dtype)
        out.success = out.observed_value == kw["type_"]
        return _finish(out)
    where, where_params = _condition(kw)
    bad, bad_params, shown = _unexpected(kind, kw)
    total, unexpected = con.execute(
        f"select count(*), count(*) filter (where {bad}) from {t} where {where}",
        [*bad_params, *where_params],
    ).fetchall()[0]
    out.element_count = int(total)
    out.unexpected_count = int(unexpected)
    out.unexpected_percent = 100.0 * unexpected / total if total else 0.0
    out.success = unexpected == 0
    if unexpected:
        cur = con.execute(
            f"select * from {t} where ({where}) and ({bad}){f' order by {order}' if order else ''} "
            f"limit {max(PARTIAL_UNEXPECTED_COUNT, SAMPLE_LIMIT)}",
            [*where_params, *bad_params],
        )
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        if len(shown) == 1:
            out.partial_unexpected_list = json_safe([r[shown[0]] for r in rows[:PARTIAL_UNEXPECTED_COUNT]])
        else:
            out.partial_unexpected_list = json_safe(
                [[r[c] for c in shown] for r in rows[:PARTIAL_UNEXPECTED_COUNT]]
            )
        out.sample_rows = [{str(k): json_safe(v) for k, v in r.items()} for r in rows[:SAMPLE_LIMIT]]
    return _finish(out)


def _finish(out: Any) -> Any:
    if not out.success:
        out.failed_batches = ["all"]
    return out


def evaluate_table_wide(
    con: duckdb.DuckDBPyConnection, table: str, exp: Mapping[str, Any], n_rows: int, out: Any
) -> Any:
    """Row counts and uniqueness over the whole table (what a batch cannot decide), into ``out``."""
    out.evaluated_by = "duckdb"
    out.batches = 1
    kw = exp["kwargs"]
    if exp["type"] in ROW_COUNT_EXPECTATIONS:
        out.observed_value = n_rows
        if exp["type"] == "expect_table_row_count_to_equal":
            out.success = n_rows == int(kw["value"])
        else:
            lo, hi = kw.get("min_value"), kw.get("max_value")
            out.success = (lo is None or n_rows >= lo) and (hi is None or n_rows <= hi)
        return out
    cols = list(kw.get("column_list") or [kw["column"]])
    # GX ignores rows whose columns are all null by default (ignore_row_if): do the same
    mode = kw.get("ignore_row_if", "all_values_are_missing")
    if mode == "any_value_is_missing":
        skip = " or ".join(f"{quote_column(c)} is null" for c in cols)
    elif mode == "all_values_are_missing":
        skip = " and ".join(f"{quote_column(c)} is null" for c in cols)
    else:
        skip = "false"
    where = f"not ({skip})"
    chk = check_grain_unique(con, table, cols, severity=out.severity, where=where)
    out.element_count = int(
        con.execute(f"select count(*) from {quote_table(table)} where {where}").fetchone()[0]
    )
    out.success = chk.passed
    out.unexpected_count = chk.failed_count
    out.unexpected_percent = 100.0 * chk.failed_count / out.element_count if out.element_count else 0.0
    out.partial_unexpected_list = [{c: r.get(c) for c in cols} for r in chk.sample_rows]
    out.sample_rows = chk.sample_rows
    if not out.success:
        out.failed_batches = ["all"]
    return out

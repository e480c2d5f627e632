"""The shared base of the DuckDB quality checks: :class:`CheckOutcome`, quoting and sampling helpers, and
the generic table checks (grain, not-null keys, referential integrity, column types). The domain checks
(indicator ranges, completeness, OCOP, outliers, row counts, disclosure) are in :mod:`.sql_checks`.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import duckdb

from .suites import ERROR, SEVERITIES, Severity

if TYPE_CHECKING:
    pass

SAMPLE_LIMIT = 10
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}$")


@dataclass
class CheckOutcome:
    name: str
    passed: bool
    severity: Severity
    message_vi: str
    message_en: str
    failed_count: int = 0
    sample_rows: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def blocking(self) -> bool:
        """True when this outcome must stop publishing (an ``error`` check that failed)."""
        return self.severity == ERROR and not self.passed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------------


def quote_column(col: str) -> str:
    """Quote a column identifier (names are checked: no SQL can be smuggled in through a name)."""
    if not _IDENT.match(col):
        raise ValueError(f"invalid column name {col!r}")
    return f'"{col}"'


def quote_table(table: str) -> str:
    if not _TABLE.match(table):
        raise ValueError(f"invalid table name {table!r}")
    return ".".join(f'"{p}"' for p in table.split("."))


def check_severity(severity: str) -> Severity:
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}, got {severity!r}")
    return severity  # type: ignore[return-value]


def json_safe(v: Any) -> Any:
    """A value that ``json.dumps`` (and Dagster metadata) accepts: dates as ISO text, NaN as None."""
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return None if math.isnan(v) or math.isinf(v) else v
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, (dt.date, dt.datetime, dt.time)):
        return v.isoformat()
    if isinstance(v, dt.timedelta):
        return str(v)
    if isinstance(v, Mapping):
        return {str(k): json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set)):
        return [json_safe(x) for x in v]
    if hasattr(v, "item"):  # numpy / pandas scalars
        try:
            return json_safe(v.item())
        except (ValueError, TypeError):
            pass
    if type(v).__name__ in ("NAType", "NaTType"):
        return None
    return str(v)


def fetch_rows(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | None = None) -> list[dict]:
    cur = con.execute(sql, list(params or []))
    names = [d[0] for d in cur.description]
    return [{n: json_safe(v) for n, v in zip(names, row, strict=True)} for row in cur.fetchall()]


def fetch_scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | None = None) -> Any:
    row = con.execute(sql, list(params or [])).fetchone()
    return None if row is None else row[0]


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """Column names of a table or view (in order)."""
    cur = con.execute(f"select * from {quote_table(table)} limit 0")
    return [d[0] for d in cur.description]


def missing_relation(name: str, severity: Severity, table: str, err: Exception) -> CheckOutcome:
    return CheckOutcome(
        name=name,
        passed=False,
        severity=severity,
        message_vi=f"Không kiểm tra được bảng {table}: {err}",
        message_en=f"Could not check {table}: {err}",
        failed_count=0,
        metadata={"table": table, "error": str(err)},
    )


def guarded(fn: Callable[..., CheckOutcome]) -> Callable[..., CheckOutcome]:
    """Turn a missing table/column (a catalog or binder error) or an input file the check's SQL cannot read
    (an IO error, e.g. a Parquet file that is not there) into a failed outcome that names the check, the
    table and the error, instead of a crash of the whole gate."""

    def wrapper(con, *args, **kwargs):
        try:
            return fn(con, *args, **kwargs)
        except (duckdb.CatalogException, duckdb.BinderException, duckdb.IOException) as e:
            table = kwargs.get("table") or kwargs.get("fact") or (args[0] if args else "?")
            severity = check_severity(kwargs.get("severity", ERROR))
            return missing_relation(fn.__name__, severity, str(table), e)

    wrapper.__name__ = fn.__name__
    wrapper.__qualname__ = fn.__qualname__
    wrapper.__doc__ = fn.__doc__
    wrapper.__wrapped__ = fn  # type: ignore[attr-defined]
    return wrapper


def null_safe_join(left: str, right: str, cols: Sequence[str]) -> str:
    return " and ".join(
        f"{left}.{quote_column(c)} is not distinct from {right}.{quote_column(c)}" for c in cols
    )


# ---------------------------------------------------------------------------------------------------------
# generic checks
# ---------------------------------------------------------------------------------------------------------


@guarded
def check_grain_unique(
    con: duckdb.DuckDBPyConnection,
    table: str,
    cols: Sequence[str],
    *,
    where: str | None = None,
    severity: Severity = ERROR,
) -> CheckOutcome:
    """One row per grain: ``cols`` together identify a row (nulls compare equal, as in a dbt grain test).

    ``failed_count`` = rows that share their grain with another row; samples are the duplicated keys.
    ``where``: an optional SQL condition restricting the rows checked.
    """
    severity = check_severity(severity)
    keys = ", ".join(quote_column(c) for c in cols)
    filt = f" where {where}" if where else ""
    dup_sql = (
        f"select {keys}, count(*) as n_rows from {quote_table(table)}{filt} group by all having count(*) > 1"
    )
    failed, groups = con.execute(f"select coalesce(sum(n_rows), 0), count(*) from ({dup_sql})").fetchone()
    failed, groups = int(failed), int(groups)
    sample = fetch_rows(con, f"{dup_sql} order by n_rows desc, {keys} limit {SAMPLE_LIMIT}") if failed else []
    grain = " × ".join(cols)
    return CheckOutcome(
        name=f"grain_unique:{table}",
        passed=failed == 0,
        severity=severity,
        message_vi=(
            f"Mỗi {grain} chỉ có một dòng trong {table}"
            if not failed
            else f"{failed} dòng trong {table} trùng khoá {grain} ({groups} khoá bị trùng)"
        ),
        message_en=(
            f"One row per {grain} in {table}"
            if not failed
            else f"{failed} rows of {table} share their {grain} key ({groups} duplicated keys)"
        ),
        failed_count=failed,
        sample_rows=sample,
        metadata={"table": table, "grain": list(cols), "duplicated_keys": groups},
    )


@guarded
def check_not_null(
    con: duckdb.DuckDBPyConnection,
    table: str,
    cols: Sequence[str],
    *,
    severity: Severity = ERROR,
) -> CheckOutcome:
    """No nulls in ``cols``; ``failed_count`` = rows with a null in any of them."""
    severity = check_severity(severity)
    t = quote_table(table)
    any_null = " or ".join(f"{quote_column(c)} is null" for c in cols)
    per_col = ", ".join(f'count(*) filter (where {quote_column(c)} is null) as "{c}"' for c in cols)
    row = con.execute(f"select count(*) filter (where {any_null}), {per_col} from {t}").fetchone()
    failed = int(row[0])
    nulls = {c: int(n) for c, n in zip(cols, row[1:], strict=True)}
    sample = fetch_rows(con, f"select * from {t} where {any_null} limit {SAMPLE_LIMIT}") if failed else []
    bad = [c for c, n in nulls.items() if n]
    return CheckOutcome(
        name=f"not_null:{table}",
        passed=failed == 0,
        severity=severity,
        message_vi=(
            f"Các cột khoá {', '.join(cols)} của {table} không có giá trị rỗng"
            if not failed
            else f"{failed} dòng trong {table} bị rỗng ở cột {', '.join(bad)}"
        ),
        message_en=(
            f"Key columns {', '.join(cols)} of {table} have no nulls"
            if not failed
            else f"{failed} rows of {table} have a null in {', '.join(bad)}"
        ),
        failed_count=failed,
        sample_rows=sample,
        metadata={"table": table, "columns": list(cols), "null_counts": nulls},
    )


@guarded
def check_referential(
    con: duckdb.DuckDBPyConnection,
    table: str,
    col: str,
    dim_table: str,
    dim_col: str,
    *,
    severity: Severity = ERROR,
) -> CheckOutcome:
    """Every non-null ``table.col`` exists in ``dim_table.dim_col``.

    ``failed_count`` = offending rows; samples are the unknown codes with their row counts.
    """
    severity = check_severity(severity)
    orphan_sql = (
        f"select f.{quote_column(col)} as {quote_column(col)}, count(*) as n_rows "
        f"from {quote_table(table)} as f "
        f"anti join (select distinct {quote_column(dim_col)} as k from {quote_table(dim_table)}) as d "
        f"on f.{quote_column(col)} = d.k "
        f"where f.{quote_column(col)} is not null group by 1"
    )
    failed, codes = con.execute(f"select coalesce(sum(n_rows), 0), count(*) from ({orphan_sql})").fetchone()
    failed, codes = int(failed), int(codes)
    sample = fetch_rows(con, f"{orphan_sql} order by n_rows desc, 1 limit {SAMPLE_LIMIT}") if failed else []
    return CheckOutcome(
        name=f"referential:{table}.{col}->{dim_table}.{dim_col}",
        passed=failed == 0,
        severity=severity,
        message_vi=(
            f"Mọi mã {col} của {table} đều có trong {dim_table}"
            if not failed
            else f"{failed} dòng trong {table} có {col} không có trong {dim_table} ({codes} mã lạ)"
        ),
        message_en=(
            f"Every {col} of {table} exists in {dim_table}"
            if not failed
            else f"{failed} rows of {table} have a {col} missing from {dim_table} ({codes} unknown codes)"
        ),
        failed_count=failed,
        sample_rows=sample,
        metadata={
            "table": table,
            "column": col,
            "dim_table": dim_table,
            "dim_column": dim_col,
            "unknown_codes": codes,
        },
    )


@guarded
def check_column_types(
    con: duckdb.DuckDBPyConnection,
    table: str,
    expected: Mapping[str, str],
    *,
    exact_columns: bool = True,
    severity: Severity = ERROR,
) -> CheckOutcome:
    """Columns and DuckDB types as the contract says (``{column: 'varchar' | 'double' | ...}``).

    Type names are compared case-insensitively after DuckDB's own aliasing (``integer`` = ``int4``...).
    """
    severity = check_severity(severity)
    cur = con.execute(f"select * from {quote_table(table)} limit 0")
    actual = {d[0]: str(d[1]).lower() for d in cur.description}

    def canon(t: str) -> str:
        try:
            return str(con.execute(f"select null::{t}").description[0][1]).lower()
        except duckdb.Error:
            return t.lower()

    problems: list[dict[str, Any]] = []
    for col, typ in expected.items():
        if col not in actual:
            problems.append({"column": col, "expected": typ, "actual": None, "problem": "missing"})
        elif canon(typ) != actual[col]:
            problems.append({"column": col, "expected": typ, "actual": actual[col], "problem": "type"})
    if exact_columns:
        for col in actual:
            if col not in expected:
                problems.append(
                    {"column": col, "expected": None, "actual": actual[col], "problem": "unexpected"}
                )
    n = len(problems)
    return CheckOutcome(
        name=f"column_types:{table}",
        passed=n == 0,
        severity=severity,
        message_vi=(
            f"Cột và kiểu dữ liệu của {table} đúng hợp đồng"
            if not n
            else f"{n} cột của {table} sai tên hoặc kiểu dữ liệu"
        ),
        message_en=(
            f"Columns and types of {table} match the contract"
            if not n
            else f"{n} columns of {table} are missing, unexpected or of the wrong type"
        ),
        failed_count=n,
        sample_rows=problems[:SAMPLE_LIMIT],
        metadata={"table": table, "actual_types": actual},
    )

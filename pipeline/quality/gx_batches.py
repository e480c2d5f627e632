"""How a suite is cut into batches for GX: the whole table when small, one ``batch_column`` value (a period)
at a time when each value fits, else contiguous ``rowid`` ranges; and which expectations a batch cannot
decide (row counts, and uniqueness over columns that do not include the batch column), so that they are
evaluated over the whole table in DuckDB instead."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from .sql_base import quote_column, quote_table
from .suites import ROW_COUNT_EXPECTATIONS, UNIQUENESS_EXPECTATIONS


@dataclass(frozen=True)
class Batch:
    label: str
    sql: str
    params: tuple[Any, ...] = ()


def plan_batches(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[str],
    n_rows: int,
    batch_column: str | None,
    max_rows_per_batch: int,
) -> tuple[list[Batch], str | None]:
    t = quote_table(table)
    if n_rows <= max_rows_per_batch:
        return [Batch(label="all", sql=f"select * from {t}")], None
    if batch_column and batch_column in columns:
        c = quote_column(batch_column)
        groups = con.execute(f"select {c}, count(*) from {t} group by 1 order by 1 nulls last").fetchall()
        values = [g[0] for g in groups]
        if max(g[1] for g in groups) > max_rows_per_batch and _is_base_table(con, table):
            # one value holds more rows than a batch may (a survey year at national scale: ~25M answers):
            # rowid ranges keep memory bounded; uniqueness then goes to DuckDB (see needs_sql)
            return _rowid_batches(con, t, max_rows_per_batch)
        batches = []
        for v in values:
            if v is None:
                batches.append(Batch(f"{batch_column}=null", f"select * from {t} where {c} is null"))
            else:
                batches.append(Batch(f"{batch_column}={v}", f"select * from {t} where {c} = ?", (v,)))
        return batches, batch_column
    # no batch column: contiguous rowid ranges (base tables only); a view is validated whole
    return _rowid_batches(con, t, max_rows_per_batch)


def _is_base_table(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    try:
        con.execute(f"select rowid from {quote_table(table)} limit 0")
    except duckdb.Error:
        return False
    return True


def _rowid_batches(
    con: duckdb.DuckDBPyConnection, t: str, max_rows_per_batch: int
) -> tuple[list[Batch], str | None]:
    try:
        lo, hi = con.execute(f"select min(rowid), max(rowid) from {t}").fetchone()
    except duckdb.Error:
        return [Batch(label="all", sql=f"select * from {t}")], None
    batches = []
    start = int(lo or 0)
    while start <= int(hi or -1):
        end = start + max_rows_per_batch
        batches.append(
            Batch(
                f"rowid={start}..{end - 1}", f"select * from {t} where rowid >= ? and rowid < ?", (start, end)
            )
        )
        start = end
    return batches, "rowid"


def needs_sql(exp: Mapping[str, Any], batch_column: str | None) -> bool:
    """True for expectations that a batch cannot decide (evaluated in DuckDB over the whole table)."""
    if exp["type"] in ROW_COUNT_EXPECTATIONS:
        return True
    if exp["type"] in UNIQUENESS_EXPECTATIONS:
        cols = exp["kwargs"].get("column_list") or [exp["kwargs"].get("column")]
        return batch_column is None or batch_column not in cols
    return False

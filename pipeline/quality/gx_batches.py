"""How a suite is cut into batches for GX: the whole table when small, one ``batch_column`` value (a period)
at a time when each value fits, else contiguous ``rowid`` ranges; which expectations a batch cannot
decide (row counts, and uniqueness over columns that do not include the batch column), so that they are
evaluated over the whole table in DuckDB instead; and which columns a batch must hold (:func:`gx_columns`:
only those the GX expectations read, when every one of them names its columns)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from .sql_base import quote_column, quote_table
from .suites import ROW_COUNT_EXPECTATIONS, SCHEMA_EXPECTATIONS, UNIQUENESS_EXPECTATIONS

#: the index column of a pruned batch (the table's ``rowid``): sample rows are fetched by it afterwards
ROWID = "__ntm_rowid"
#: kwargs that name the columns an expectation reads
COLUMN_KWARGS = ("column", "column_A", "column_B", "column_list")
#: families of expectations that read only the columns their kwargs name
_COLUMN_FAMILIES = (
    "expect_column_",
    "expect_compound_columns_",
    "expect_multicolumn_",
    "expect_select_column_",
)
#: schema expectations that still read only their own column (its dtype does not depend on the others)
_OWN_COLUMN_SCHEMA = frozenset(
    {"expect_column_values_to_be_of_type", "expect_column_values_to_be_in_type_list"}
)


@dataclass(frozen=True)
class Batch:
    label: str
    sql: str
    params: tuple[Any, ...] = ()


def _condition_columns(cond: Any, found: set[str]) -> bool:
    """Collect the columns of a structured GX ``row_condition`` into ``found``; False when it cannot be read
    (a pandas/spark string condition, or a shape not known here)."""
    if isinstance(cond, Mapping):
        col = cond.get("column")
        if isinstance(col, Mapping) and isinstance(col.get("name"), str):
            found.add(col["name"])
        elif col is not None:
            return False
        return all(_condition_columns(c, found) for c in cond.get("conditions") or [])
    if isinstance(cond, list):
        return all(_condition_columns(c, found) for c in cond)
    return False


def gx_columns(exps: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> list[str] | None:
    """The table's columns (in table order) that GX needs to decide ``exps``, or None when every column must
    be loaded: a table-level schema expectation (column set, count, order, existence), an expectation type
    outside the column families, or a ``row_condition`` that is not a structured GX condition.

    A row count needs no column (the batch still has all its rows, indexed by ``rowid``). A column named in a
    suite but absent from the table stays absent, so GX reports it missing as it would on the whole table."""
    wanted: set[str] = set()
    for e in exps:
        kind, kw = e["type"], e.get("kwargs") or {}
        if kind in ROW_COUNT_EXPECTATIONS:
            continue
        if kind in SCHEMA_EXPECTATIONS and kind not in _OWN_COLUMN_SCHEMA:
            return None
        if not kind.startswith(_COLUMN_FAMILIES):
            return None
        for k in COLUMN_KWARGS:
            v = kw.get(k)
            if isinstance(v, str):
                wanted.add(v)
            elif isinstance(v, (list, tuple)):
                wanted.update(str(c) for c in v)
        cond = kw.get("row_condition")
        if cond and not _condition_columns(cond, wanted):
            return None
    return [c for c in columns if c in wanted]


def plan_batches(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[str],
    n_rows: int,
    batch_column: str | None,
    max_rows_per_batch: int,
    select: str = "*",
) -> tuple[list[Batch], str | None]:
    """The batches of ``table`` (their SQL selects ``select``: ``*`` or a column list) and the column they
    are cut on (``None``: one batch; ``"rowid"``: rowid ranges)."""
    t = quote_table(table)
    if n_rows <= max_rows_per_batch:
        return [Batch(label="all", sql=f"select {select} from {t}")], None
    if batch_column and batch_column in columns:
        c = quote_column(batch_column)
        groups = con.execute(f"select {c}, count(*) from {t} group by 1 order by 1 nulls last").fetchall()
        values = [g[0] for g in groups]
        if max(g[1] for g in groups) > max_rows_per_batch and is_base_table(con, table):
            # one value holds more rows than a batch may (a survey year at national scale: ~25M answers):
            # rowid ranges keep memory bounded; uniqueness then goes to DuckDB (see needs_sql)
            return _rowid_batches(con, t, max_rows_per_batch, select)
        batches = []
        for v in values:
            if v is None:
                batches.append(Batch(f"{batch_column}=null", f"select {select} from {t} where {c} is null"))
            else:
                batches.append(Batch(f"{batch_column}={v}", f"select {select} from {t} where {c} = ?", (v,)))
        return batches, batch_column
    # no batch column: contiguous rowid ranges (base tables only); a view is validated whole
    return _rowid_batches(con, t, max_rows_per_batch, select)


def gx_row_order(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[str],
    n_rows: int,
    batch_column: str | None,
    max_rows_per_batch: int,
) -> str | None:
    """The SQL ``order by`` list of the order in which GX would meet the rows of ``table`` (``None``: scan
    order, a view validated whole): the batches of :func:`plan_batches` one after another, each in ``rowid``
    order (a batch is a plain scan, and DuckDB keeps insertion order). Whole or in rowid ranges: ``rowid``;
    by ``batch_column``: that column ascending, nulls last (the batches' order), then ``rowid``."""
    _, used = plan_batches(con, table, columns, n_rows, batch_column, max_rows_per_batch, "1")
    base = is_base_table(con, table)
    if used is None or used == "rowid":
        return "rowid" if base else None
    c = quote_column(used)
    return f"{c} asc nulls last, rowid" if base else f"{c} asc nulls last"


def is_base_table(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """True when ``table`` has a ``rowid`` (a base table; a view has none)."""
    try:
        con.execute(f"select rowid from {quote_table(table)} limit 0")
    except duckdb.Error:
        return False
    return True


def _rowid_batches(
    con: duckdb.DuckDBPyConnection, t: str, max_rows_per_batch: int, select: str = "*"
) -> tuple[list[Batch], str | None]:
    try:
        lo, hi = con.execute(f"select min(rowid), max(rowid) from {t}").fetchone()
    except duckdb.Error:
        return [Batch(label="all", sql=f"select {select} from {t}")], None
    batches = []
    start = int(lo or 0)
    while start <= int(hi or -1):
        end = start + max_rows_per_batch
        batches.append(
            Batch(
                f"rowid={start}..{end - 1}",
                f"select {select} from {t} where rowid >= ? and rowid < ?",
                (start, end),
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

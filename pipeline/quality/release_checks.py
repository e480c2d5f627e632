"""Checks of a release as a whole: row counts against the previous release (a sudden drop means lost data)
and disclosure control of small survey cells. Same :class:`~pipeline.quality.sql_base.CheckOutcome` as the
other SQL checks."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from .sql_base import (
    SAMPLE_LIMIT,
    CheckOutcome,
    check_severity,
    fetch_rows,
    fetch_scalar,
    missing_relation,
    quote_column,
    quote_table,
)
from .suites import ERROR, WARN, Severity

if TYPE_CHECKING:
    import pandas as pd


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
    severity = check_severity(severity)
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
    """Disclosure control: no published cell with ``0 < respondents < min_count`` shows a value or its count.

    ``con_or_df`` is a DuckDB connection (then ``table`` is read) or the DataFrame about to be published.
    Value columns that do not exist are ignored. If ``suppressed_col`` exists, such cells must also be
    flagged ``suppressed = true``, and every flagged cell must hide ``count_col`` too (null): a suppressed
    cell's respondents are protected like its satisfied count (raw/README.md section 8). A small cell that
    shows its respondents fails whatever else it hides.
    """
    severity = check_severity(severity)
    if isinstance(con_or_df, duckdb.DuckDBPyConnection):
        con, rel, source = con_or_df, quote_table(table), table
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
        return missing_relation("check_suppression_applied", severity, source, e)
    if count_col not in cols:
        return missing_relation(
            "check_suppression_applied", severity, source, KeyError(f"column {count_col} not found")
        )
    vals = [c for c in value_cols if c in cols]
    flagged = suppressed_col and suppressed_col in cols
    small = f"{quote_column(count_col)} > 0 and {quote_column(count_col)} < {int(min_count)}"
    # a small count shown is itself the leak (n is protected like s); a flagged cell must show nothing
    cond = f"({small})"
    if flagged:
        shows = " or ".join(f"{quote_column(c)} is not null" for c in [count_col, *vals])
        cond += f" or (coalesce({quote_column(suppressed_col)}, false) and ({shows}))"
        small = f"({small}) or coalesce({quote_column(suppressed_col)}, false)"
    n_small = int(fetch_scalar(con, f"select count(*) from {rel} where {small}"))
    failed = int(fetch_scalar(con, f"select count(*) from {rel} where {cond}"))
    sample = fetch_rows(con, f"select * from {rel} where {cond} limit {SAMPLE_LIMIT}") if failed else []
    return CheckOutcome(
        name=f"suppression_applied:{source}",
        passed=failed == 0,
        severity=severity,
        message_vi=(
            f"Các ô có dưới {min_count} người trả lời đều đã được ẩn cả số người trả lời ({n_small} ô)"
            if not failed
            else f"{failed} ô có dưới {min_count} người trả lời hoặc ô bị ẩn vẫn hiện giá trị hay số người trả "
            "lời: phải ẩn trước khi công bố"
        ),
        message_en=(
            f"Every cell with fewer than {min_count} respondents is suppressed, its count too ({n_small} cells)"
            if not failed
            else f"{failed} cells with fewer than {min_count} respondents, or suppressed cells, still show values "
            "or their count: suppress before publishing"
        ),
        failed_count=failed,
        sample_rows=sample,
        metadata={
            "table": source,
            "min_count": min_count,
            "small_cells": n_small,
            "value_columns": vals,
            "checked_suppressed_flag": bool(flagged),
        },
    )

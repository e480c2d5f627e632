"""Which periods a run's ``dbt build`` must rebuild, from what is new in the warehouse since the last build.

``audit.dbt_built_files`` lists the ingested files the marts were last built from, ``audit.dbt_builds`` the
builds (run, time, scope, code fingerprint). Both are written only after a successful ``dbt build``, by the
process that holds the warehouse lock. A run without an explicit period (``make run``, the nightly
schedule) is scoped to one period when every file ingested since the last build is a submission file of
that quarter (or of quarters of one year), the code is unchanged and the facts exist; anything else (a
survey, OCOP or reference file, a code change, a first build, ``--force``) rebuilds every period.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from pipeline.partitions import period_for_files

BUILDS_DDL = """create table if not exists audit.dbt_builds (
    run_id varchar, finished_at timestamp, scope varchar, code_fingerprint varchar, files bigint)"""


@dataclass(frozen=True)
class Scope:
    period: str | None  # None: every period
    reason: str
    new_files: int | None = None


def _exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )


def decide(con: duckdb.DuckDBPyConnection, code_fingerprint: str) -> Scope:
    """The narrowest safe scope for a run without an explicit period (see the module docstring)."""
    for schema, table in (
        ("audit", "dbt_builds"),
        ("audit", "dbt_built_files"),
        ("audit", "ingest_files"),
        ("raw", "submissions"),
        ("marts", "fact_indicator_value"),
    ):
        if not _exists(con, schema, table):
            return Scope(None, f"no previous build ({schema}.{table} missing): every period")
    last = con.execute(
        "select code_fingerprint from audit.dbt_builds order by finished_at desc limit 1"
    ).fetchone()
    if not last or last[0] != code_fingerprint:
        return Scope(None, "code changed since the last build (or none recorded): every period")
    new = con.execute(
        """
        select f.file_sha256, f.source
        from audit.ingest_files as f
        anti join audit.dbt_built_files as b using (file_sha256)
        where coalesce(f.rows_loaded, 0) > 0
        """
    ).fetchall()
    if not new:
        return Scope(None, "nothing new since the last build: every period", 0)
    others = sorted({source for _, source in new if source != "submissions"})
    if others:
        return Scope(None, f"new {', '.join(others)} file(s): every period", len(new))
    periods = [
        r[0]
        for r in con.execute(
            "select distinct period_code from raw.submissions where _file_sha256 in "
            "(select unnest(?::varchar[]))",
            [[sha for sha, _ in new]],
        ).fetchall()
    ]
    period = period_for_files(periods)
    if period is None:
        return Scope(None, f"new submissions span {len(set(periods))} periods: every period", len(new))
    return Scope(period, f"{len(new)} new submission file(s), all of {period}", len(new))


def record(con: duckdb.DuckDBPyConnection, run_id: str, scope: str, code_fingerprint: str) -> None:
    """After a successful dbt build: the files it was built from, and the build."""
    con.execute("begin")
    try:
        con.execute(BUILDS_DDL)
        con.execute(
            "create or replace table audit.dbt_built_files as "
            "select file_sha256 from audit.ingest_files where coalesce(rows_loaded, 0) > 0"
        )
        n = con.execute("select count(*) from audit.dbt_built_files").fetchone()[0]
        con.execute(
            "insert into audit.dbt_builds values (?, ?, ?, ?, ?)",
            [run_id, dt.datetime.now(dt.UTC).replace(tzinfo=None), scope, code_fingerprint, n],
        )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise

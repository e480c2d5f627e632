"""The run that publishes is the run that checked: content fingerprints of the gated tables.

The quality gate fingerprints every table it checks *before* checking it and records the fingerprint with
its run id and outcome in ``audit.gate_fingerprints``. The publish step recomputes the fingerprint of every
published table while it holds the warehouse (no other run can write until the release is written) and
refuses to publish when one differs: another run rebuilt it after this run's gate, or it was changed by
hand. A fingerprint is the row count and the sum of DuckDB's 64-bit ``hash`` of every row (order-free,
sensitive to duplicates), plus the column names and types.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import duckdb

TABLE = "audit.gate_fingerprints"
DDL = f"""create table if not exists {TABLE} (
    run_id varchar not null,
    table_name varchar not null,
    row_count bigint not null,
    fingerprint varchar not null,
    passed boolean not null,
    checked_at timestamptz not null default current_timestamp,
    primary key (run_id, table_name))"""


@dataclass(frozen=True)
class Fingerprint:
    rows: int
    digest: str


def table_fingerprint(con: duckdb.DuckDBPyConnection, table: str) -> Fingerprint:
    """Fingerprint of ``table`` (``schema.name``): one scan, cost of a ``count(*)`` plus a row hash."""
    columns = con.execute(f"describe {table}").fetchall()
    rows, total = con.execute(
        f"select count(*), coalesce(sum(hash(t)), 0)::varchar from {table} as t"
    ).fetchone()
    schema = ";".join(f"{c[0]}:{c[1]}" for c in columns)
    digest = hashlib.sha256(f"{schema}\n{rows}\n{total}".encode()).hexdigest()[:32]
    return Fingerprint(int(rows), digest)


def fingerprints(con: duckdb.DuckDBPyConnection, tables: Iterable[str]) -> dict[str, Fingerprint]:
    return {t: table_fingerprint(con, t) for t in tables}


def record_gate(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    taken: Mapping[str, Fingerprint],
    passed: Mapping[str, bool],
) -> None:
    """Store what this run's gate saw (``taken``, fingerprinted before the checks) and whether it passed."""
    con.execute("create schema if not exists audit")
    con.execute(DDL)
    con.executemany(
        f"insert or replace into {TABLE} (run_id, table_name, row_count, fingerprint, passed) "
        "values (?, ?, ?, ?, ?)",
        [[run_id, t, fp.rows, fp.digest, bool(passed.get(t, False))] for t, fp in taken.items()],
    )


@dataclass(frozen=True)
class Problem:
    table: str
    checked_run_id: str | None  # the run whose gate saw the table (None: never checked)
    rows_checked: int | None
    rows_now: int
    reason: str  # "changed" | "failed_gate" | "never_checked"


def verify_gate(
    con: duckdb.DuckDBPyConnection, run_id: str, tables: Iterable[str]
) -> tuple[dict[str, str], list[Problem]]:
    """Compare each table with what a gate checked: this run's gate, or when this run did not check the
    table (a publish-only run), the latest gate that did. Returns ``({table: checking run id}, problems)``."""
    tables = list(tables)
    has_table = con.execute(
        "select count(*) from information_schema.tables where table_schema = 'audit' "
        "and table_name = 'gate_fingerprints'"
    ).fetchone()[0]
    recorded: dict[str, tuple[str, int, str, bool]] = {}
    if has_table:
        for table, rid, rows, digest, passed in con.execute(
            f"select table_name, run_id, row_count, fingerprint, passed from {TABLE} "
            "where table_name in (select unnest(?)) "
            "qualify row_number() over (partition by table_name "
            "    order by (run_id = ?) desc, checked_at desc) = 1",
            [tables, run_id],
        ).fetchall():
            recorded[table] = (rid, rows, digest, passed)
    checked_by: dict[str, str] = {}
    problems: list[Problem] = []
    for table in tables:
        now = table_fingerprint(con, table)
        if table not in recorded:
            problems.append(Problem(table, None, None, now.rows, "never_checked"))
            continue
        rid, rows, digest, passed = recorded[table]
        if not passed:
            problems.append(Problem(table, rid, rows, now.rows, "failed_gate"))
        elif digest != now.digest:
            problems.append(Problem(table, rid, rows, now.rows, "changed"))
        else:
            checked_by[table] = rid
    return checked_by, problems


class UncheckedContentError(RuntimeError):
    """A published table is not the content a passed quality gate checked; nothing is published."""


_REASONS = {
    "changed": (
        "đã thay đổi sau khi lượt chạy {run} kiểm tra ({rows_checked} → {rows_now} dòng){by_vi}",
        "changed after run {run} checked it ({rows_checked} → {rows_now} rows){by_en}",
    ),
    "failed_gate": (
        "không đạt cổng chất lượng của lượt chạy {run}",
        "did not pass the quality gate of run {run}",
    ),
    "never_checked": (
        "chưa từng được cổng chất lượng kiểm tra",
        "was never checked by the quality gate",
    ),
}


def mismatch_message(
    run_id: str,
    problems: list[Problem],
    rebuilt_by: Callable[[str, str | None], str | None] = lambda _t, _r: None,
) -> str:
    """Bilingual (Vietnamese first) message naming each table, the run that checked it and, when known,
    the run that rebuilt it (``rebuilt_by(table, checking run id)``)."""
    vi, en = [], []
    for p in problems:
        other = rebuilt_by(p.table, p.checked_run_id) if p.reason == "changed" else None
        fields = {
            "run": p.checked_run_id,
            "rows_checked": p.rows_checked,
            "rows_now": p.rows_now,
            "by_vi": f", do lượt chạy {other} dựng lại"
            if other
            else ", không rõ do đâu (sửa ngoài Dagster?)",
            "by_en": f", rebuilt by run {other}" if other else ", by an unknown writer (outside Dagster?)",
        }
        tv, te = _REASONS[p.reason]
        vi.append(f"{p.table} {tv.format(**fields)}")
        en.append(f"{p.table} {te.format(**fields)}")
    return (
        f"Lượt chạy {run_id} không công bố: nội dung sẽ phát hành không phải nội dung đã được kiểm tra — "
        + "; ".join(vi)
        + ". Bản phát hành trước vẫn giữ nguyên; hãy chạy lại để cổng chất lượng kiểm tra đúng dữ liệu sẽ "
        "công bố. / "
        f"Run {run_id} did not publish: the content it would release is not the content that was checked — "
        + "; ".join(en)
        + ". The previous release stays; run the pipeline again so that the gate checks what is published."
    )

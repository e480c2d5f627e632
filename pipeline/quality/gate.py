"""The gate's work on the tables it checks, without Dagster: fingerprint each table before its checks, then
validate it (GX suite + declared SQL checks) or reuse an earlier passed result (:mod:`.reuse`), and record
both what was seen (``audit.gate_fingerprints``, compared by the publish step) and the results
(``audit.gate_results``). :mod:`.checks` turns the outcomes into Dagster asset check results."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import duckdb

from . import fingerprint, periods, reuse
from .declared_checks import run_declared_checks
from .gx_results import SuiteResult
from .sql_base import CheckOutcome


@dataclass(frozen=True)
class TableOutcome:
    table: str  # the mart's name (``fact_indicator_value``)
    result: SuiteResult
    sql_outcomes: list[CheckOutcome]
    fingerprint: fingerprint.Fingerprint
    key: str
    reused: reuse.Stored | None
    note: str  # why the table was validated (empty when reused)
    split: periods.Split | None = None  # validated period by period: which periods, which reused

    @property
    def passed(self) -> bool:
        return self.result.success and not any(o.blocking for o in self.sql_outcomes)

    def metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "content_fingerprint": self.fingerprint.digest,
            "fingerprint_rows": self.fingerprint.rows,
            "reuse_key": self.key,
            "reused": self.reused is not None,
        }
        if self.reused is not None:
            meta["reused_from_run"] = self.reused.validated_run_id
            meta["validated_at"] = self.reused.validated_at.isoformat()
        else:
            meta["validated_because"] = self.note
        if self.split is not None:
            meta["periods_validated"] = ", ".join(self.split.validated) or "-"
            meta["periods_reused"] = len(self.split.reused)
        return meta


def run_gate(
    con: duckdb.DuckDBPyConnection,
    suites: Mapping[str, Mapping[str, Any]],
    run_id: str,
    *,
    validate: Callable[[str, Mapping[str, Any]], SuiteResult],
    reuse_on: bool = True,
    off_reason: str = "",
    log: Callable[[str], None] = lambda _m: None,
) -> Iterator[TableOutcome]:
    """Check every ``marts.<table>`` of ``suites`` (``{table: suite dict}``), yielding one outcome each.

    ``validate(relation, suite)`` runs the GX suite (only called for a table that is not reused). The
    fingerprints and results are recorded after the last table (one transaction each)."""
    relations = [f"marts.{t}" for t in suites]
    # before the checks: a change while they run is caught when the release is written
    taken = fingerprint.fingerprints(con, relations)
    seen: dict[str, fingerprint.Fingerprint | None] = dict(taken)
    code = reuse.code_version()
    passed: dict[str, bool] = {}
    records: list[reuse.Record] = []
    reused: list[str] = []
    reused_periods: list[str] = []
    for table, suite in suites.items():
        relation = f"marts.{table}"
        fp = taken[relation]
        suite_fp = reuse.suite_fingerprint(suite)
        blockers = reuse.reuse_blockers(suite)
        inputs, problems = reuse.suite_inputs(suite, relation)
        input_fps = _input_digests(con, inputs, seen, problems)
        key = reuse.reuse_key(fp.digest, suite_fp, code, input_fps)
        stored = None
        if not reuse_on:
            note = f"reuse turned off ({off_reason})"
        elif blockers or problems:
            note = "never reused: " + "; ".join(blockers + problems)
        else:
            stored = reuse.find(con, relation, key)
            note = "" if stored else "no earlier passed result for this content, suite, code and inputs"
        split = None
        if stored is not None:
            result, sql_outcomes = stored.result, stored.sql_outcomes
            reused.append(f"{table} ({stored.validated_run_id})")
        else:
            if reuse_on and not (blockers or problems):
                split = _by_period(con, relation, suite, run_id, validate)
            if split is not None:
                result = split.result
                note += (
                    f"; rows of changed {split.column} validated ({', '.join(split.validated) or '-'}), "
                    f"{len(split.reused)} unchanged {split.column} value(s) reused"
                )
                if split.reused:
                    total = len(split.reused) + len(split.validated)
                    reused_periods.append(f"{table} ({len(split.reused)} of {total})")
            else:
                result = validate(relation, suite)
            sql_outcomes = run_declared_checks(con, suite)
        outcome = TableOutcome(table, result, sql_outcomes, fp, key, stored, note, split)
        passed[relation] = outcome.passed
        records.append(
            reuse.Record(
                relation,
                key,
                fp.digest,
                suite_fp,
                code,
                input_fps,
                outcome.passed,
                stored,
                result,
                sql_outcomes,
            )
        )
        yield outcome
    fingerprint.record_gate(con, run_id, {r: taken[r] for r in passed}, passed)
    reuse.record(con, run_id, records)
    if reused:
        log(
            f"Cổng chất lượng dùng lại kết quả đạt trước đó (bảng, bộ kiểm tra, mã không đổi) / "
            f"Quality gate reused earlier passed results (table, suite and code unchanged): "
            f"{len(reused)} of {len(suites)} tables: {', '.join(reused)}"
        )
    if reused_periods:
        log(
            "Cổng chất lượng chỉ kiểm tra các kỳ đã thay đổi (quy tắc theo dòng) / Quality gate validated only the "
            f"changed periods (row-level rules), unchanged periods reused: {', '.join(reused_periods)}"
        )


def _input_digests(
    con: duckdb.DuckDBPyConnection,
    inputs: set[str],
    seen: dict[str, fingerprint.Fingerprint | None],
    problems: list[str],
) -> dict[str, str]:
    """Content fingerprints of the relations a suite's SQL checks read (``seen`` caches them for the run);
    one that cannot be read is a problem (the table is then not reused)."""
    out = {}
    for rel in sorted(inputs):
        if rel not in seen:
            try:
                seen[rel] = fingerprint.table_fingerprint(con, rel)
            except duckdb.Error:
                seen[rel] = None
        got = seen[rel]
        if got is None:
            problems.append(f"input {rel} cannot be read")
        else:
            out[rel] = got.digest
    return out


def _by_period(con, relation, suite, run_id, validate) -> periods.Split | None:
    """Validate only the changed periods' rows when the suite allows it (None: validate the whole table).
    After a failure of the table every period is validated again: a failure is never reused."""
    columns = [r[0] for r in con.execute(f"describe {relation}").fetchall()]
    col = periods.splittable(suite, columns)
    if col is None:
        return None
    fresh = reuse.last_failed(con, relation)
    return periods.validate_by_period(con, relation, suite, col, run_id, validate, use_stored=not fresh)

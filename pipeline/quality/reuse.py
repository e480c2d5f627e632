"""Reuse of an earlier gate result: a table whose content, suite, gate code and every other relation its
checks read are unchanged since a run whose gate *passed* on it is not validated again.

The reuse key of a table is a hash of: its content fingerprint (:mod:`.fingerprint`), the suite as the
instance runs it (expectations with their parameters and severities, the SQL checks with their text), the
gate's code (:func:`code_version`: the ``pipeline/quality`` sources and the GX, DuckDB and pandas versions)
and the fingerprint of every other relation the suite's SQL checks read (:func:`suite_inputs`). A suite
that reads anything else (today's date, a random value, a file, a previous release, a relation that cannot
be named) is never reused (:func:`reuse_blockers`). A failed result is never reused. Results live in
``audit.gate_results`` (one row per run and table) so that they survive across runs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import inspect
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import duckdb

from .gx_results import ExpectationOutcome, SuiteResult
from .sql_base import CheckOutcome, json_safe

TABLE = "audit.gate_results"
DDL = f"""create table if not exists {TABLE} (
    run_id varchar not null,
    table_name varchar not null,
    reuse_key varchar not null,
    content_fingerprint varchar not null,
    suite_fingerprint varchar not null,
    code_version varchar not null,
    inputs varchar not null,
    passed boolean not null,
    reused boolean not null,
    validated_run_id varchar not null,
    validated_at timestamptz not null,
    result varchar not null,
    checked_at timestamptz not null default current_timestamp,
    primary key (run_id, table_name))"""
#: results kept per table (the newest); older rows are deleted when a run records its own
KEEP_PER_TABLE = 20
#: run tag that turns reuse off for one run (any of 0/false/no/off), like NTM_GATE_REUSE=0
REUSE_TAG = "ntm/gate_reuse"

# Declared SQL checks (pipeline.quality.declared_checks) and the relations each reads besides its own table:
# keyword arguments naming a relation (the default from the function's signature when the suite leaves it
# out) and keyword arguments holding SQL text (its relations are read from DuckDB's parser). A check not
# listed here is never reused.
RELATION_KWARGS: dict[str, tuple[str, ...]] = {
    "grain_unique": (),
    "not_null": (),
    "column_types": (),
    "ocop_rules": (),
    "suppression_applied": (),
    "referential": ("dim_table",),
    "indicator_ranges": ("dim",),
    "pair_by_indicator": ("dim",),
    "outliers_vs_previous_period": ("dim",),
    "completeness": (),
}
SQL_KWARGS: dict[str, tuple[str, ...]] = {
    "completeness": ("expected_sql", "explained_sql"),
    "pair_by_indicator": ("indicator_condition",),
}
#: relations the completeness check defines itself (``expected``, ``absent``, ``explained``)
CHECK_CTES = frozenset({"expected", "absent", "explained"})
# SQL or GX parameters whose value is not a function of the tables: the date and time, randomness, files,
# GX evaluation parameters ($PARAMETER: another validation's result)
VOLATILE = re.compile(
    r"\b(current_date|current_time|current_timestamp|localtime|localtimestamp|now|today|"
    r"get_current_time|get_current_timestamp|transaction_timestamp|random|uuid|gen_random_uuid|setseed|"
    r"read_\w+|\w+_scan|glob|getenv|current_setting|query_table|query)\s*\(|"
    r"\b(current_date|current_timestamp|current_time|localtimestamp|localtime)\b|\$PARAMETER",
    re.IGNORECASE,
)
#: the gate's checks outside the suites, and why each is never reused (they run in every run)
NEVER_REUSED = {
    "row_count_vs_previous_release": (
        "so với bản phát hành đang công bố (open_data/latest), không chỉ với bảng",
        "compares with the release currently published (open_data/latest), not with the table alone",
    ),
}


@dataclass(frozen=True)
class Stored:
    """An earlier gate result that may stand for this run's."""

    run_id: str  # the run that recorded it (may itself have reused)
    validated_run_id: str  # the run that actually validated the content
    validated_at: dt.datetime
    passed: bool
    result: SuiteResult
    sql_outcomes: list[CheckOutcome]


def reuse_enabled(setting: bool, tags: Mapping[str, str]) -> tuple[bool, str]:
    """Whether this run may reuse, and why not: NTM_GATE_REUSE (``setting``) and the run tag
    :data:`REUSE_TAG` (either set to 0/false/no/off turns reuse off)."""
    tag = str(tags.get(REUSE_TAG, "")).strip().lower()
    if tag in ("0", "false", "no", "off"):
        return False, f"run tag {REUSE_TAG}={tags[REUSE_TAG]}"
    if not setting:
        return False, "NTM_GATE_REUSE=0"
    return True, ""


def canonical(value: Any) -> str:
    return json.dumps(json_safe(value), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def suite_fingerprint(suite: Mapping[str, Any]) -> str:
    """Hash of the suite as this instance runs it (after the level filter): every expectation with its
    type, parameters and severity, and the suite's meta (its SQL checks with their parameters and text)."""
    return hashlib.sha256(canonical(suite).encode()).hexdigest()[:32]


_CODE_VERSION: str | None = None


def code_version() -> str:
    """Hash of the code that evaluates a suite: ``pipeline/quality/*.py``, the GX context module, and the
    installed great_expectations, duckdb and pandas versions (computed once per process)."""
    global _CODE_VERSION
    if _CODE_VERSION is None:
        here = Path(__file__).resolve().parent
        files = sorted(here.glob("*.py")) + [here.parent / "lib" / "gx_context.py"]
        h = hashlib.sha256()
        for p in files:
            h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\n")
        for dist in ("great_expectations", "duckdb", "pandas"):
            try:
                h.update(f"{dist}=={importlib.metadata.version(dist)}\n".encode())
            except importlib.metadata.PackageNotFoundError:
                h.update(f"{dist}==none\n".encode())
        _CODE_VERSION = h.hexdigest()[:16]
    return _CODE_VERSION


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):  # keys too: GX's {"$PARAMETER": ...}
        return [s for k, v in value.items() for s in [str(k), *_strings(v)]]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return []


def _checks() -> Mapping[str, Callable[..., Any]]:
    from .declared_checks import DECLARABLE_CHECKS

    return DECLARABLE_CHECKS


def reuse_blockers(suite: Mapping[str, Any]) -> list[str]:
    """Why the suite's outcome may differ on the same tables (empty: it may be reused): a parameter that
    reads the date or time, randomness, a file or a GX evaluation parameter; a SQL check the reuse rule
    does not know."""
    found = []
    for exp in suite.get("expectations", []):
        for s in _strings(exp.get("kwargs")):
            if m := VOLATILE.search(s):
                found.append(f"{exp['type']}: {m.group(0).strip()}")
    known = _checks()
    for entry in (suite.get("meta") or {}).get("sql_checks", []):
        name = entry.get("check")
        if name not in RELATION_KWARGS or name not in known:
            found.append(f"{name}: SQL check not known to the reuse rule")
            continue
        for s in _strings(entry.get("kwargs")):
            if m := VOLATILE.search(s):
                found.append(f"{name}: {m.group(0).strip()}")
    return found


def _relation(name: str) -> str:
    """``marts.x AS b`` (DuckDB's qualified name list) -> ``marts.x``."""
    return re.split(r"\s+as\s+", name.strip(), maxsplit=1, flags=re.IGNORECASE)[0].replace('"', "")


def suite_inputs(suite: Mapping[str, Any], table: str) -> tuple[set[str], list[str]]:
    """The relations (``schema.name``) the suite's SQL checks read besides ``table``, and the problems that
    make the set unknown (an unqualified relation, SQL that does not parse): then the suite is not reused."""
    inputs: set[str] = set()
    problems: list[str] = []
    known = _checks()
    for entry in (suite.get("meta") or {}).get("sql_checks", []):
        name = entry.get("check")
        if name not in RELATION_KWARGS or name not in known:
            continue  # reported by reuse_blockers
        kwargs = dict(entry.get("kwargs") or {})
        params = inspect.signature(known[name]).parameters
        for kw in RELATION_KWARGS[name]:
            rel = kwargs.get(kw, params[kw].default if kw in params else None)
            if rel:
                inputs.add(str(rel))
        for kw in SQL_KWARGS.get(name, ()):
            sql = kwargs.get(kw)
            if not sql:
                continue
            text = sql if kw.endswith("_sql") else f"select * from t where {sql}"
            try:
                names = duckdb.get_table_names(text, qualified=True)
            except duckdb.Error as e:
                problems.append(f"{name}.{kw}: {e}")
                continue
            for n in names:
                rel = _relation(n)
                if "." in rel:
                    inputs.add(rel)
                elif not (rel in CHECK_CTES or (rel == "t" and not kw.endswith("_sql"))):
                    problems.append(f"{name}.{kw}: unqualified relation {rel!r}")
    inputs.discard(table)
    return inputs, problems


def reuse_key(content: str, suite_fp: str, code: str, inputs: Mapping[str, str]) -> str:
    return hashlib.sha256(
        canonical({"content": content, "suite": suite_fp, "code": code, "inputs": dict(inputs)}).encode()
    ).hexdigest()[:32]


# ---------------------------------------------------------------------------------------------------------
# storage
# ---------------------------------------------------------------------------------------------------------


def _has_table(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = 'audit' "
            "and table_name = 'gate_results'"
        ).fetchone()[0]
    )


def _encode(result: SuiteResult, sql_outcomes: list[CheckOutcome]) -> str:
    d = result.to_dict()
    d["docs_path"] = None
    return canonical({"suite": d, "sql": [json_safe(o.to_dict()) for o in sql_outcomes]})


def _decode(text: str) -> tuple[SuiteResult, list[CheckOutcome]]:
    d = json.loads(text)
    s = dict(d["suite"])
    exps = [ExpectationOutcome(**e) for e in s.pop("expectations")]
    s.pop("error_failures")  # the failed outcomes of the list, rebuilt from it
    s.pop("warn_failures")
    result = SuiteResult(
        **s,
        expectations=exps,
        error_failures=[e for e in exps if not e.success and e.severity != "warn"],
        warn_failures=[e for e in exps if not e.success and e.severity == "warn"],
    )
    return result, [CheckOutcome(**o) for o in d["sql"]]


def find(con: duckdb.DuckDBPyConnection, table: str, key: str) -> Stored | None:
    """The newest recorded result of ``table`` under ``key``, if it passed (a newer failure under the same
    key hides an older pass: a failure is never reused)."""
    if not _has_table(con):
        return None
    row = con.execute(
        f"select run_id, validated_run_id, validated_at, passed, result from {TABLE} "
        "where table_name = ? and reuse_key = ? order by checked_at desc limit 1",
        [table, key],
    ).fetchone()
    if row is None or not row[3]:
        return None
    result, sql_outcomes = _decode(row[4])
    return Stored(row[0], row[1], row[2], bool(row[3]), result, sql_outcomes)


def last_failed(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """True when the newest recorded gate result of ``table`` (any key) failed."""
    if not _has_table(con):
        return False
    row = con.execute(
        f"select passed from {TABLE} where table_name = ? order by checked_at desc, run_id desc limit 1",
        [table],
    ).fetchone()
    return row is not None and not row[0]


@dataclass(frozen=True)
class Record:
    table: str
    key: str
    content: str
    suite_fp: str
    code: str
    inputs: Mapping[str, str]
    passed: bool
    reused_from: Stored | None
    result: SuiteResult
    sql_outcomes: list[CheckOutcome]


def record(con: duckdb.DuckDBPyConnection, run_id: str, records: list[Record]) -> None:
    """Store this run's results (idempotent per run and table) and keep the newest per table."""
    if not records:
        return
    con.execute("create schema if not exists audit")
    con.execute(DDL)
    now = dt.datetime.now(dt.UTC)
    rows = [
        [
            run_id,
            r.table,
            r.key,
            r.content,
            r.suite_fp,
            r.code,
            canonical(r.inputs),
            r.passed,
            r.reused_from is not None,
            r.reused_from.validated_run_id if r.reused_from else run_id,
            r.reused_from.validated_at if r.reused_from else now,
            _encode(r.result, r.sql_outcomes),
        ]
        for r in records
    ]
    con.executemany(
        f"insert or replace into {TABLE} (run_id, table_name, reuse_key, content_fingerprint, "
        "suite_fingerprint, code_version, inputs, passed, reused, validated_run_id, validated_at, result) "
        "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    con.execute(
        f"delete from {TABLE} as g using (select run_id, table_name, row_number() over (partition by "
        f"table_name order by checked_at desc, run_id desc) as n from {TABLE}) as old "
        f"where g.run_id = old.run_id and g.table_name = old.table_name and old.n > {KEEP_PER_TABLE}"
    )


def as_dict(stored: Stored) -> dict[str, Any]:
    return {k: v for k, v in asdict(stored).items() if k not in ("result", "sql_outcomes")}

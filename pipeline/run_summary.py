"""What one `python -m pipeline run` did, read from the Dagster result and the warehouse audit tables.

:func:`collect` is a pure function of an ``ExecuteInProcessResult`` and the warehouse: per source the
files and rows of the landing zone, the rejected files and quarantined rows, the checks (a warning is one
failed warn-level expectation or check, so a GX suite with 3 failed warn expectations counts 3), the
release, and - when nothing was published - the one-sentence cause and the exit code
(:mod:`pipeline.exit_codes`). :mod:`pipeline.run_report` turns it into at most one screen of bilingual lines
and writes every rejected file and quarantined row to ``runs/<run_id>/quarantine.csv``.

Scope of the file lists (quarantine.csv, the counts per source): the **current landing zone** - every
file under the raw dir now (``audit.file_paths`` state other than ``missing`` / ``changed``), whether this
run read it or an earlier run did (an unchanged file is not read again, its quarantined rows stay in
``audit.quarantine``). "new" counts the files this run read for the first time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.exit_codes import ExitCode

#: rows of audit.ingest_files of files no source reads that a person should look at (hidden, misplaced)
NOT_LOADED = ("rejected", "not_ingested")


@dataclass
class SourceCounts:
    source: str
    files: int = 0
    new: int = 0
    rejected: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0

    @property
    def unchanged(self) -> int:
        return self.files - self.new - self.rejected


@dataclass(frozen=True)
class Finding:
    """One failed expectation or check: table · expectation · column · count."""

    table: str
    check: str
    expectation: str
    column: str = ""
    count: int | None = None

    def label(self) -> str:
        parts = [self.table, self.expectation or self.check]
        if self.column:
            parts.append(self.column)
        if self.count is not None:
            parts.append(f"{self.count:,} dòng / rows")
        return " · ".join(parts)


@dataclass
class RunSummary:
    run_id: str
    elapsed: float
    sources: list[SourceCounts] = field(default_factory=list)
    problems: list[dict] = field(default_factory=list)  # quarantine.csv rows (rejected files first)
    checks_passed: int = 0
    blocking: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (step, the user's error message)
    release: dict[str, Any] = field(default_factory=dict)
    outside_sources: dict[str, int] = field(default_factory=dict)
    sample: str = ""  # the first rows the first blocking failure found (a few lines)
    quality_report: str = (
        ""  # the gate's offline report of this run (warehouse/data_docs/<run_id>/index.html)
    )

    @property
    def rejected_files(self) -> list[dict]:
        return [p for p in self.problems if p["kind"] != "quarantined_row"]

    @property
    def quarantined(self) -> list[dict]:
        return [p for p in self.problems if p["kind"] == "quarantined_row"]

    @property
    def exit_code(self) -> ExitCode:
        if self.errors:
            return ExitCode.RUN_FAILED
        if self.blocking:
            return ExitCode.BLOCKED
        return ExitCode.OK if self.release else ExitCode.RUN_FAILED

    def cause(self) -> str | None:
        """Why nothing was published, in one bilingual sentence (None when a release is current)."""
        if self.release and not self.errors and not self.blocking:
            return None
        if self.errors:
            step, message = self.errors[0]
            more = f" (+{len(self.errors) - 1})" if len(self.errors) > 1 else ""
            return (
                f"Không công bố vì bước {step} bị lỗi{more} / Nothing published because step {step} "
                f"failed{more}: {message}"
            )
        if self.blocking and self.release:  # e.g. release_integrity after the swap
            return (
                f"Đã công bố nhưng kiểm tra chặn không đạt / Published, but a blocking check failed: "
                f"{self.blocking[0].label()}"
            )
        if self.blocking:
            first = self.blocking[0].label()
            n = len(self.blocking) - 1
            return (
                f"Không công bố vì kiểm tra chặn không đạt{f' (+{n} khác)' if n else ''} / Nothing published "
                f"because a blocking check failed{f' (+{n} more)' if n else ''}: {first}"
            )
        return "Không công bố, lượt chạy thất bại / Nothing published: the run failed."


# --------------------------------------------------------------------------------------------------------
# collect
# --------------------------------------------------------------------------------------------------------


def meta_value(v: Any) -> Any:
    return getattr(v, "value", getattr(v, "data", getattr(v, "text", v)))


def parse_markdown_table(text: str) -> list[dict[str, str]]:
    """Rows of a pipe table as written by ``DataFrame.to_markdown`` ("-" or empty: no rows)."""
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip().startswith("|")]
    if len(lines) < 2:
        return []
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = []
    for ln in lines[2:]:
        cells = [c.strip() for c in ln.strip("|").split("|")]
        # the last column (message) may itself hold a pipe: join the overflow back
        if len(cells) > len(header):
            cells = cells[: len(header) - 1] + [" | ".join(cells[len(header) - 1 :])]
        rows.append(dict(zip(header, cells, strict=False)))
    return rows


def _int(value: Any) -> int | None:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def check_findings(ev) -> tuple[list[Finding], list[Finding]]:
    """(blocking, warnings) of one asset check evaluation, one Finding per failed expectation or check."""
    table = ev.asset_key.to_user_string()
    meta = {k: meta_value(v) for k, v in ev.metadata.items()}
    severity = getattr(ev.severity, "value", str(ev.severity))
    if "failed_expectations" in meta:  # a gx_suite check: count its failed expectations one by one
        rows = parse_markdown_table(str(meta["failed_expectations"]))
        found: dict[str, list[Finding]] = {"error": [], "warn": []}
        for r in rows:
            f = Finding(
                table,
                ev.check_name,
                r.get("expectation", ""),
                "" if r.get("column") in (None, "nan", "None") else r["column"],
                _int(r.get("unexpected_count")),
            )
            found["error" if r.get("severity") == "error" else "warn"].append(f)
        # the table shows the first 10: the rest are counted, not named
        n_warn = _int(meta.get("warnings"))
        if n_warn is not None and n_warn > len(found["warn"]):
            more = n_warn - len(found["warn"])
            found["warn"].append(Finding(table, ev.check_name, f"+{more} khác / more", ""))
            found["warn"].extend(Finding(table, ev.check_name, "") for _ in range(more - 1))
        if not ev.passed and not found["error"]:
            found["error"].append(Finding(table, ev.check_name, str(meta.get("message", ""))))
        return found["error"], found["warn"]
    if ev.passed:
        return [], []
    count = next((_int(meta[k]) for k in ("unexpected_count", "failed_count", "rows") if k in meta), None)
    f = Finding(table, ev.check_name, ev.check_name, "", count if count else None)
    return ([f], []) if severity == "ERROR" else ([], [f])


def _messages(err) -> list[str]:
    out = []
    while err is not None:
        out.append(err.message or "")
        err = getattr(err, "cause", None)
    return out


def _innermost(err) -> str:
    """The user's error in Dagster's chain of wrappers: the outermost error that is not Dagster's own
    (``WarehouseBusy``'s bilingual message, not the DuckDB lock error it was raised from); else the innermost."""
    chain = []
    while err is not None:
        chain.append(err)
        err = getattr(err, "cause", None)
    ours = [e for e in chain if not (getattr(e, "cls_name", "") or "").startswith("Dagster")]
    err = ours[0] if ours else (chain[-1] if chain else None)
    text = (err.message if err is not None else "").strip()
    # "SomeError: message" -> message; one line is enough for the sentence
    # "module.SomeError: message" -> message (a bilingual message is kept whole: both halves, up to 1,200 chars)
    text = re.sub(r"^(?:[A-Za-z_]\w*\.)*[A-Z]\w*:\s*", "", text)
    first = text.splitlines()[0] if text else ""
    return first if len(first) <= 1200 else first[:1199] + "…"


# dbt's log line for a model whose insert broke a contract constraint (dagster-dbt quotes it in its error):
# "Runtime Error in model dim_province (models/marts/dim_province.sql)
#   Constraint Error: NOT NULL constraint failed: dim_province__dbt_tmp.province_name"
_NOT_NULL_VIOLATION = re.compile(
    r"in model (?P<model>\w+) \([^)]*\)\s*Constraint Error: NOT NULL constraint failed: \S+?\.(?P<column>\w+)"
)


def contract_violations(text: str) -> list[str]:
    """One bilingual sentence per model whose build broke a NOT NULL constraint of its contract (the one owner
    of not-null on a mart: dbt_project/macros/contract_constraints.sql), naming the model and the column."""
    out = []
    for m in _NOT_NULL_VIOLATION.finditer(text or ""):
        model, column = m.group("model"), m.group("column")
        out.append(
            f"cột {column} của {model} có giá trị rỗng, trái ràng buộc not_null trong hợp đồng dbt; {model} và "
            f"mọi bảng phía sau không được dựng lại / column {column} of {model} has a NULL, against the not_null "
            f"constraint of its dbt contract; {model} and everything downstream were not rebuilt"
        )
    return list(dict.fromkeys(out))


def _step_failures(result) -> tuple[list[Finding], list[tuple[str, str]]]:
    """dbt tests that failed (blocking) and the other step errors (the user's message, not Dagster's)."""
    blocking: list[Finding] = []
    errors: list[tuple[str, str]] = []
    for e in result.all_events:
        if e.event_type_value != "STEP_FAILURE":
            continue
        err = e.event_specific_data.error if e.event_specific_data else None
        message = err.message if err else ""
        chain, cur = [], err
        while cur is not None:
            chain.append(cur.cls_name or "")
            cur = cur.cause
        tests = list(dict.fromkeys(re.findall(r"Failure in test (\S+)", message)))
        if tests:
            blocking.extend(Finding("dbt", t, t) for t in tests)
        elif any("AssetCheckFailed" in c for c in chain) or "blocking asset check" in message.lower():
            continue  # a blocking check failed: named by its evaluation
        elif violations := contract_violations("\n".join(_messages(err))):
            more = f" (+{len(violations) - 1})" if len(violations) > 1 else ""
            errors.append((e.step_key or "?", violations[0] + more))
        else:
            errors.append((e.step_key or "?", _innermost(err) or "?"))
    return blocking, errors


def sample_lines(rows: list[dict], first: str = "", limit: int = 3, width: int = 160) -> str:
    """A few offending rows as ``column=value`` lines (the failing column first, empty cells left out)."""
    out = []
    for row in rows[:limit]:
        cells = {str(k): v for k, v in row.items() if str(v) not in ("", "nan", "NaT", "None", "<NA>")}
        keys = sorted(cells, key=lambda k: k != first)
        line = ", ".join(f"{k}={cells[k]}" for k in keys)
        out.append(line if len(line) <= width else line[: width - 1] + "…")
    return "\n".join(out)


def _gx_sample(result, finding: Finding, limit: int = 3) -> str:
    for ev in result.get_asset_check_evaluations():
        if ev.asset_key.to_user_string() == finding.table and ev.check_name == finding.check:
            text = str(meta_value(ev.metadata["sample_rows"])) if "sample_rows" in ev.metadata else ""
            return sample_lines(parse_markdown_table(text), finding.column, limit)
    return ""


def dbt_failures(con, test_name: str, limit: int = 3) -> str:
    """The first failing rows of a dbt test (stored as a view in schema dbt_test__audit)."""
    import duckdb

    try:
        views = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'dbt_test__audit'"
            ).fetchall()
        ]
        # dbt names the view after the test, or <truncated name>_<md5> when the name is long
        matches = [v for v in views if v == test_name or (len(v) > 40 and test_name.startswith(v[:-33]))]
        for view in matches:
            df = con.execute(f'select * from dbt_test__audit."{view}" limit {int(limit)}').df()
            if len(df):
                return sample_lines(df.astype(str).to_dict("records"), limit=limit)
    except duckdb.Error:
        return ""
    return ""


def release_metadata(result) -> dict[str, Any]:
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        if mat and mat.asset_key.path[-1] == "open_data_release":
            return {k: meta_value(v) for k, v in mat.metadata.items()}
    return {}


def _outside_sources(result) -> dict[str, int]:
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        if mat and "files_outside_sources_by_reason" in mat.metadata:
            return dict(meta_value(mat.metadata["files_outside_sources_by_reason"]) or {})
    return {}


def _reason(code: str, detail: str | None = None) -> tuple[str, str]:
    from pipeline.ingest.quarantine import REASONS

    vi, en = REASONS.get(code, (code, code))
    if detail:
        return f"{vi} ({detail})", f"{en} ({detail})"
    return vi, en


def _detail(code: str, reason: str) -> str | None:
    """The detail the ingest appended to a file's reason ("code: en / vi (detail)"), if any."""
    from pipeline.ingest.reports import rejection_reason

    plain = rejection_reason(code, None)
    if reason.startswith(plain + " (") and reason.endswith(")"):
        return reason[len(plain) + 2 : -1]
    return None


def landing_problems(con) -> tuple[list[SourceCounts], list[dict], dict[str, tuple[str, str, datetime]]]:
    """Per source counts, the quarantine.csv rows of the current landing zone and each file's first
    ingest time (to tell new files from unchanged ones)."""
    current = """
        select distinct fp.path, f.file_sha256, f.source, f.status, f.reason, f.rows_loaded,
               f.rows_quarantined, f.ingested_at
        from audit.file_paths as fp
        join audit.ingest_files as f using (file_sha256)
        where fp.state not in ('missing', 'changed')
    """
    files = con.execute(current + " order by fp.path").fetchall()
    problems: list[dict] = []
    for path, _sha, source, status, reason, *_ in files:
        if status not in NOT_LOADED:
            continue
        code = (reason or "").partition(":")[0].strip()
        vi, en = _reason(code, _detail(code, reason or ""))
        problems.append(
            {
                "kind": "rejected_file" if status == "rejected" else "file_not_loaded",
                "source": source,
                "file": path,
                "row": "",
                "column": "",
                "reason_code": code,
                "reason_vi": vi,
                "reason_en": en,
            }
        )
    # one line per problem of a row (a row can have several); raw values are not copied
    quarantined = con.execute(
        f"""
        select q.source, q.source_file, q.row_number, q.column_name, q.reason_code, q.message_vi,
               q.message_en
        from audit.quarantine as q
        where q.file_sha256 in (select file_sha256 from ({current}))
        order by q.source_file, q.row_number nulls first, q.column_name
        """
    ).fetchall()
    for source, file, row, column, code, vi, en in quarantined:
        problems.append(
            {
                "kind": "rejected_file" if row is None else "quarantined_row",
                "source": source,
                "file": file,
                "row": "" if row is None else int(row),
                "column": column or "",
                "reason_code": code,
                "reason_vi": vi,
                "reason_en": en,
            }
        )
    by_source: dict[str, SourceCounts] = {}
    first_seen: dict[str, tuple[str, str, datetime]] = {}
    seen_sha: set[str] = set()
    for path, sha, source, status, _reason_text, loaded, quarantined_n, ingested_at in files:
        if status in ("ignored", "not_ingested") or not source:
            continue
        c = by_source.setdefault(source, SourceCounts(source))
        c.files += 1
        c.rejected += status == "rejected"
        first_seen[path] = (source, status, ingested_at)
        if sha not in seen_sha:  # the same content under two names is loaded once
            seen_sha.add(sha)
            c.rows_loaded += int(loaded or 0)
            c.rows_quarantined += int(quarantined_n or 0)
    order = ["submissions", "surveys", "ocop", "reference"]
    sources = sorted(by_source.values(), key=lambda c: order.index(c.source) if c.source in order else 99)
    return sources, problems, first_seen


def collect(result, warehouse: Path, elapsed: float, started_at: datetime | None = None) -> RunSummary:
    """Everything the summary prints, from the run's result and the warehouse (read only).
    ``started_at`` (local time, as audit.ingest_files.ingested_at): files first ingested since are new."""
    import duckdb

    s = RunSummary(run_id=result.run_id, elapsed=elapsed)
    for ev in result.get_asset_check_evaluations():
        blocking, warnings = check_findings(ev)
        s.blocking.extend(blocking)
        s.warnings.extend(warnings)
        if ev.passed:
            s.checks_passed += 1
        if not s.quality_report and "data_docs" in ev.metadata:
            s.quality_report = str(meta_value(ev.metadata["data_docs"]))
    failed_tests, s.errors = _step_failures(result)
    named = {f.check for f in s.blocking}
    s.blocking.extend(f for f in failed_tests if f.check not in named)
    s.release = release_metadata(result)
    s.sample = _gx_sample(result, s.blocking[0]) if s.blocking else ""
    s.outside_sources = _outside_sources(result)
    if warehouse.exists():
        try:
            con = duckdb.connect(str(warehouse), read_only=True)
        except duckdb.Error:
            return s
        try:
            s.sources, s.problems, first_seen = landing_problems(con)
            if s.blocking and not s.sample:
                s.sample = dbt_failures(con, s.blocking[0].check)
        except duckdb.Error:
            return s
        finally:
            con.close()
        if started_at is not None:
            # a file is new when this run ingested it first (a rejected file is counted apart)
            news: dict[str, int] = {}
            for source, status, when in first_seen.values():
                if when is not None and when >= started_at and status != "rejected":
                    news[source] = news.get(source, 0) + 1
            for src in s.sources:
                src.new = news.get(src.source, 0)
    return s

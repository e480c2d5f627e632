"""The quality report of a run: one self-contained HTML page, ``<data_docs_dir>/<run_id>/index.html``, listing
every suite and every check of the gate with its outcome (GX expectations, those decided in DuckDB, the
suite's SQL checks, the row-count checks). Styles are inline and there is no script: it opens offline, from
any copy. The GX Data Docs of the run (the richer view) sit beside it in ``gx/``.

Only the last ``keep`` reports are kept (:func:`prune_reports`): never the current run's, never anything
outside ``data_docs_dir``.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from .gx_results import SuiteResult
from .sql_base import CheckOutcome
from .suites import ERROR

REPORT_NAME = "index.html"
GX_SUBDIR = "gx"
SAMPLE_CHARS = 300
OUTCOME_LABELS = {"passed": "đạt / passed", "warning": "cảnh báo / warning", "failed": "lỗi / failed"}
_TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class CheckRow:
    """One check of one suite, as the report shows it."""

    check: str
    column: str
    severity: str
    passed: bool
    unexpected_count: int | None
    sample: str
    evaluated_by: str  # gx | duckdb | sql
    description: str = ""

    @property
    def outcome(self) -> str:
        if self.passed:
            return "passed"
        return "failed" if self.severity == ERROR else "warning"


@dataclass
class SuiteSection:
    table: str
    suite: str
    rows_validated: int
    batches: int
    checks: list[CheckRow] = field(default_factory=list)
    reused_from: str = (
        ""  # "<run id> (<when>)": the result of an earlier run stands (pipeline/quality/reuse.py)
    )

    @property
    def outcome(self) -> str:
        outcomes = {c.outcome for c in self.checks}
        return "failed" if "failed" in outcomes else "warning" if "warning" in outcomes else "passed"


def _other(check: dict[str, Any]) -> str:
    if check["passed"]:
        return "passed"
    return "failed" if check["severity"] == ERROR else "warning"


def _sample(values: Any) -> str:
    if not values:
        return ""
    text = json.dumps(values, ensure_ascii=False, default=str)
    return text if len(text) <= SAMPLE_CHARS else text[: SAMPLE_CHARS - 1] + "…"


def _bilingual(vi: str | None, en: str | None) -> str:
    vi, en = (vi or "").strip(), (en or "").strip()
    return f"{vi} / {en}" if vi and en and vi != en else vi or en


def suite_section(
    table: str, result: SuiteResult, sql_outcomes: Sequence[CheckOutcome], reused_from: str = ""
) -> SuiteSection:
    """The report's section of one table: every expectation of its suite, then the suite's SQL checks."""
    rows = [
        CheckRow(
            check=e.type,
            column=e.column or "",
            severity=e.severity,
            passed=bool(e.success),
            unexpected_count=e.unexpected_count,
            sample=_sample(e.sample_rows[:3] or e.partial_unexpected_list[:10] or e.exception),
            evaluated_by=e.evaluated_by,
            description=_bilingual(e.description_vi, e.description_en),
        )
        for e in result.expectations
    ] + [
        CheckRow(
            check=o.name,
            column="",
            severity=o.severity,
            passed=o.passed,
            unexpected_count=o.failed_count,
            sample=_sample(o.sample_rows[:3]),
            evaluated_by="sql",
            description=_bilingual(o.message_vi, o.message_en),
        )
        for o in sql_outcomes
    ]
    return SuiteSection(
        table=table,
        suite=result.suite_name,
        rows_validated=int(result.row_count or 0),
        batches=len(result.batches or []),
        checks=rows,
        reused_from=reused_from,
    )


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_report(
    run_id: str,
    sections: Sequence[SuiteSection],
    other_checks: Sequence[dict[str, Any]] = (),
    *,
    gx_index: str | None = None,
    generated_at: dt.datetime | None = None,
) -> str:
    """The page (a string). ``other_checks``: rows ``{table, check, severity, passed, details}`` of checks
    outside the suites (row count against the previous release); ``gx_index``: relative link to GX Data Docs."""
    checks = [c for s in sections for c in s.checks]
    totals = {
        "suites": len(sections),
        "checks": len(checks) + len(other_checks),
        "passed": sum(c.passed for c in checks) + sum(bool(o["passed"]) for o in other_checks),
        "failed": sum(c.outcome == "failed" for c in checks)
        + sum(_other(o) == "failed" for o in other_checks),
        "warnings": sum(c.outcome == "warning" for c in checks)
        + sum(_other(o) == "warning" for o in other_checks),
    }
    generated = (generated_at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return (
        _env()
        .get_template("quality_report.html.j2")
        .render(
            run_id=run_id,
            sections=sections,
            other_checks=[{**o, "outcome": _other(o)} for o in other_checks],
            totals=totals,
            labels=OUTCOME_LABELS,
            gx_index=gx_index,
            generated=generated.strftime("%Y-%m-%d %H:%M:%S UTC"),
        )
    )


def write_report(
    docs_dir: Path, run_id: str, sections, other_checks=(), *, gx_index: str | None = None
) -> Path:
    """Write the page to ``docs_dir/index.html`` (through a temporary file: a reader never sees half)."""
    docs_dir.mkdir(parents=True, exist_ok=True)
    path = docs_dir / REPORT_NAME
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(render_report(run_id, sections, other_checks, gx_index=gx_index), encoding="utf-8")
    tmp.replace(path)
    return path


def prune_reports(root: Path, keep: int, current: str | None = None) -> list[Path]:
    """Delete all but the ``keep`` newest run folders of ``root`` (by modification time; the ``current``
    run's folder is always kept and counts as one of them). Only direct sub-folders of ``root`` that hold
    a report (``index.html``) are candidates; symlinks and anything else are left alone. Returns what was
    deleted, oldest first."""
    if keep < 1:
        raise ValueError(f"keep must be >= 1, got {keep}")
    root = Path(root)
    if not root.is_dir():
        return []
    base = root.resolve()
    runs = [
        p
        for p in root.iterdir()
        if p.is_dir() and not p.is_symlink() and p.resolve().parent == base and (p / REPORT_NAME).is_file()
    ]
    runs.sort(key=lambda p: (p.stat().st_mtime, p.name), reverse=True)
    kept = [p for p in runs if p.name == current]
    for p in runs:
        if len(kept) >= keep:
            break
        if p not in kept:
            kept.append(p)
    doomed = sorted((p for p in runs if p not in kept), key=lambda p: p.stat().st_mtime)
    for p in doomed:
        shutil.rmtree(p)
    return doomed

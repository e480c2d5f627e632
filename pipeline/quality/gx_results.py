"""What a suite validation returns: one :class:`ExpectationOutcome` per expectation (whether GX or DuckDB
decided it, over how many batches) and the :class:`SuiteResult` of the table."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .sql_base import SAMPLE_LIMIT, json_safe
from .suites import Severity


@dataclass
class ExpectationOutcome:
    type: str
    column: str | None
    kwargs: dict[str, Any]
    severity: Severity
    success: bool
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    element_count: int | None = None
    partial_unexpected_list: list[Any] = field(default_factory=list)
    sample_rows: list[dict[str, Any]] = field(default_factory=list)
    observed_value: Any = None
    description_vi: str | None = None
    description_en: str | None = None
    evaluated_by: str = "gx"  # gx | duckdb
    batches: int = 0
    failed_batches: list[str] = field(default_factory=list)
    exception: str | None = None


@dataclass
class SuiteResult:
    table: str
    suite_name: str
    success: bool  # no failed ``error`` expectation (``warn`` failures never make this False)
    error_failures: list[ExpectationOutcome]
    warn_failures: list[ExpectationOutcome]
    expectations: list[ExpectationOutcome]
    statistics: dict[str, Any]
    docs_path: Path | None = None
    batches: list[str] = field(default_factory=list)
    batch_column: str | None = None
    row_count: int = 0
    run_id: str = ""
    duration_s: float = 0.0

    @property
    def blocking(self) -> bool:
        return not self.success

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["docs_path"] = str(self.docs_path) if self.docs_path else None
        return json_safe(d)

    def failures_table(self) -> list[dict[str, Any]]:
        """One compact row per failed expectation (for Dagster metadata / logs)."""
        return [
            {
                "severity": e.severity,
                "expectation": e.type,
                "column": e.column,
                "unexpected_count": e.unexpected_count,
                "unexpected_percent": None
                if e.unexpected_percent is None
                else round(e.unexpected_percent, 3),
                "sample": json_safe(e.partial_unexpected_list[:SAMPLE_LIMIT]),
                "description_en": e.description_en,
                "description_vi": e.description_vi,
                "exception": e.exception,
            }
            for e in [*self.error_failures, *self.warn_failures]
        ]

"""The SQL checks a suite file declares (``meta.sql_checks`` of ``expectations/*.json``): the names a suite may
use (:data:`DECLARABLE_CHECKS`) and :func:`run_declared_checks`, which runs them on the suite's table."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import duckdb

from .ocop_checks import check_ocop_rules
from .release_checks import check_suppression_applied
from .sql_base import CheckOutcome, check_column_types, check_grain_unique, check_not_null, check_referential
from .sql_checks import (
    check_completeness,
    check_indicator_ranges,
    check_outliers_vs_previous_period,
    check_pair_by_indicator,
)

DECLARABLE_CHECKS: dict[str, Callable[..., CheckOutcome]] = {
    "grain_unique": check_grain_unique,
    "not_null": check_not_null,
    "referential": check_referential,
    "column_types": check_column_types,
    "indicator_ranges": check_indicator_ranges,
    "completeness": check_completeness,
    "ocop_rules": check_ocop_rules,
    "outliers_vs_previous_period": check_outliers_vs_previous_period,
    "pair_by_indicator": check_pair_by_indicator,
    "suppression_applied": check_suppression_applied,
}


def run_declared_checks(
    con: duckdb.DuckDBPyConnection,
    suite: Mapping[str, Any],
    *,
    only: Iterable[str] | None = None,
) -> list[CheckOutcome]:
    """Run the SQL checks a suite file declares in ``meta.sql_checks``.

    Each entry: ``{"check": <name in DECLARABLE_CHECKS>, "kwargs": {...}, "severity": "error"|"warn"}``.
    ``table`` defaults to the suite's table (``meta.table``) for checks that take one.
    """
    from .suites import suite_table

    wanted = set(only) if only is not None else None
    table = suite_table(suite)
    outcomes: list[CheckOutcome] = []
    for entry in (suite.get("meta") or {}).get("sql_checks", []):
        name = entry["check"]
        if wanted is not None and name not in wanted:
            continue
        fn = DECLARABLE_CHECKS.get(name)
        if fn is None:
            raise ValueError(f"unknown SQL check {name!r} in suite {suite.get('name')}")
        kwargs = dict(entry.get("kwargs") or {})
        if "severity" in entry:
            kwargs["severity"] = entry["severity"]
        if name in ("indicator_ranges", "completeness", "outliers_vs_previous_period"):
            kwargs.setdefault("fact", table)
        else:
            kwargs.setdefault("table", table)
        outcome = fn(con, **kwargs)
        if entry.get("description_vi"):
            outcome.metadata["description_vi"] = entry["description_vi"]
        if entry.get("description_en"):
            outcome.metadata["description_en"] = entry["description_en"]
        outcomes.append(outcome)
    return outcomes

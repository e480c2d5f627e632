"""Data quality for the published tables: Great Expectations 1.x suites (``expectations/*.json``) run on
DuckDB tables batch by batch (:mod:`.gx_runner`), checks pushed down into DuckDB (:mod:`.sql_checks`,
:mod:`.sql_base`, :mod:`.ocop_checks`, :mod:`.release_checks`), and
the suite files themselves (:mod:`.suites`).

Importing this package is cheap: Great Expectations is imported only when a suite is first run.
Severity everywhere: ``error`` blocks publishing, ``warn`` is shown and recorded only.
"""

from .declared_checks import run_declared_checks
from .gx_runner import ExpectationOutcome, SuiteResult, build_data_docs, build_suite, get_context, run_suite
from .ocop_checks import check_ocop_rules
from .release_checks import (
    check_row_count_vs_previous_release,
    check_suppression_applied,
    previous_release_counts,
)
from .sql_base import CheckOutcome, check_column_types, check_grain_unique, check_not_null, check_referential
from .sql_checks import (
    check_completeness,
    check_indicator_ranges,
    check_outliers_vs_previous_period,
)
from .suites import (
    ERROR,
    EXPECTATIONS_DIR,
    WARN,
    SuiteFileError,
    is_blocking,
    list_suites,
    load_suite_dict,
    severity_of,
    suite_columns,
    suite_table,
)

__all__ = [
    "ERROR",
    "EXPECTATIONS_DIR",
    "WARN",
    "CheckOutcome",
    "ExpectationOutcome",
    "SuiteFileError",
    "SuiteResult",
    "build_data_docs",
    "build_suite",
    "check_column_types",
    "check_completeness",
    "check_grain_unique",
    "check_indicator_ranges",
    "check_not_null",
    "check_ocop_rules",
    "check_outliers_vs_previous_period",
    "check_referential",
    "check_row_count_vs_previous_release",
    "check_suppression_applied",
    "get_context",
    "is_blocking",
    "list_suites",
    "load_suite_dict",
    "previous_release_counts",
    "run_declared_checks",
    "run_suite",
    "severity_of",
    "suite_columns",
    "suite_table",
]

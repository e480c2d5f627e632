"""Expectation-suite files: where they live, how they are loaded, and what each expectation's severity is.

One Great Expectations 1.x suite per published table lives in ``expectations/<table>.json`` (the shape
``ExpectationSuite.to_json_dict()`` writes: ``name``, ``expectations: [{type, kwargs, meta, severity}]``,
``meta``). This project adds to every expectation's ``meta``:

* ``severity``: ``error`` (blocking: stops publishing) or ``warn`` (shown and recorded, never blocks);
* ``description_vi`` / ``description_en``: what is checked, in words a data officer can act on.

GX 1.x has its own ``severity`` field (``critical`` | ``warning`` | ``info``); the loader keeps both in step
(``error`` <-> ``critical``, ``warn`` <-> ``warning``/``info``) and refuses a file where they disagree.

The suite ``meta`` carries ``table`` (the DuckDB relation, e.g. ``marts.fact_indicator_value``),
``batch_column`` (the column large tables are validated batch by batch on, or null) and optionally
``sql_checks`` (checks pushed down to DuckDB, run by :func:`pipeline.quality.declared_checks.run_declared_checks`).

Nothing here imports Great Expectations: listing and reading suites is instant.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml

from pipeline.config import DBT_PROJECT_DIR, EXPECTATIONS_DIR

Severity = Literal["error", "warn"]
ERROR: Severity = "error"
WARN: Severity = "warn"
SEVERITIES: tuple[Severity, ...] = (ERROR, WARN)

# GX 1.x native FailureSeverity values <-> this project's severities.
_GX_TO_NTM: dict[str, Severity] = {"critical": ERROR, "warning": WARN, "info": WARN}
_NTM_TO_GX: dict[Severity, str] = {ERROR: "critical", WARN: "warning"}

MARTS_MODELS_DIR = DBT_PROJECT_DIR / "models" / "marts"
SUITE_SUFFIXES = (".json",)

# Expectations that describe the table as a whole (evaluated once, not per batch).
SCHEMA_EXPECTATIONS = frozenset(
    {
        "expect_table_columns_to_match_set",
        "expect_table_columns_to_match_ordered_list",
        "expect_table_column_count_to_equal",
        "expect_table_column_count_to_be_between",
        "expect_column_to_exist",
        "expect_column_values_to_be_of_type",
        "expect_column_values_to_be_in_type_list",
    }
)
ROW_COUNT_EXPECTATIONS = frozenset(
    {"expect_table_row_count_to_be_between", "expect_table_row_count_to_equal"}
)
UNIQUENESS_EXPECTATIONS = frozenset(
    {"expect_compound_columns_to_be_unique", "expect_column_values_to_be_unique"}
)


class SuiteFileError(ValueError):
    """A suite file is malformed (not a GX 1.x suite, or an unknown / inconsistent severity)."""


def expectations_dir() -> Path:
    """The repository's ``expectations/`` folder (absolute)."""
    return EXPECTATIONS_DIR


def list_suites(directory: Path | None = None) -> dict[str, Path]:
    """``{table name (file stem): path}`` for every suite file, sorted by table name."""
    root = Path(directory) if directory is not None else EXPECTATIONS_DIR
    if not root.is_dir():
        return {}
    files = sorted(p for p in root.iterdir() if p.is_file() and p.suffix in SUITE_SUFFIXES)
    return {p.stem: p for p in files}


def severity_of(expectation: Mapping[str, Any] | Any) -> Severity:
    """``error`` | ``warn`` of one expectation (a dict from a suite file, or a GX ExpectationConfiguration).

    ``meta.severity`` wins; else GX's native ``severity``; else ``error`` (fail safe: block).
    """
    if isinstance(expectation, Mapping):
        meta = expectation.get("meta") or {}
        native = expectation.get("severity")
    else:
        meta = getattr(expectation, "meta", None) or {}
        native = getattr(expectation, "severity", None)
    sev = meta.get("severity")
    if sev is not None:
        sev = str(sev).lower()
        if sev not in SEVERITIES:
            raise SuiteFileError(f"unknown meta.severity {sev!r} (expected one of {SEVERITIES})")
        return sev  # type: ignore[return-value]
    if native is not None:
        native = str(getattr(native, "value", native)).lower()
        if native not in _GX_TO_NTM:
            raise SuiteFileError(f"unknown GX severity {native!r}")
        return _GX_TO_NTM[native]
    return ERROR


def is_blocking(expectation: Mapping[str, Any] | Any) -> bool:
    return severity_of(expectation) == ERROR


def gx_severity(severity: Severity) -> str:
    """The GX 1.x ``FailureSeverity`` value for a project severity."""
    return _NTM_TO_GX[severity]


def _normalise_expectation(exp: Mapping[str, Any], where: str) -> dict[str, Any]:
    if not isinstance(exp, Mapping):
        raise SuiteFileError(f"{where}: an expectation must be an object")
    exp_type = exp.get("type") or exp.get("expectation_type")
    if not exp_type or not str(exp_type).startswith("expect_"):
        raise SuiteFileError(f"{where}: missing or invalid 'type'")
    kwargs = exp.get("kwargs")
    if not isinstance(kwargs, Mapping):
        raise SuiteFileError(f"{where} ({exp_type}): 'kwargs' must be an object")
    meta = dict(exp.get("meta") or {})
    meta_sev = meta.get("severity")
    native = exp.get("severity")
    if meta_sev is not None and native is not None:
        meta_sev_l = str(meta_sev).lower()
        if meta_sev_l not in SEVERITIES:
            raise SuiteFileError(f"{where} ({exp_type}): unknown meta.severity {meta_sev!r}")
        native_l = str(native).lower()
        if _GX_TO_NTM.get(native_l) != meta_sev_l:
            raise SuiteFileError(
                f"{where} ({exp_type}): meta.severity {meta_sev!r} disagrees with GX severity {native!r}"
            )
    try:
        sev = severity_of({"meta": meta, "severity": native})
    except SuiteFileError as e:
        raise SuiteFileError(f"{where} ({exp_type}): {e}") from None
    meta["severity"] = sev
    out = {"type": str(exp_type), "kwargs": dict(kwargs), "meta": meta, "severity": gx_severity(sev)}
    if exp.get("id"):
        out["id"] = exp["id"]
    return out


def normalise_suite_dict(data: Mapping[str, Any], *, source: str = "<suite>") -> dict[str, Any]:
    """Validate the shape of a suite dict and fill both severity fields of every expectation.

    Returns a new dict accepted by ``great_expectations.ExpectationSuite(**d)``-style loading
    (see :func:`pipeline.quality.gx_runner.build_suite`).
    """
    if not isinstance(data, Mapping):
        raise SuiteFileError(f"{source}: a suite must be a JSON object")
    name = data.get("name") or data.get("expectation_suite_name")
    if not name:
        raise SuiteFileError(f"{source}: missing 'name'")
    exps = data.get("expectations")
    if not isinstance(exps, list):
        raise SuiteFileError(f"{source}: 'expectations' must be a list")
    out: dict[str, Any] = {
        "name": str(name),
        "expectations": [_normalise_expectation(e, f"{source}[{i}]") for i, e in enumerate(exps)],
        "meta": dict(data.get("meta") or {}),
    }
    if data.get("notes"):
        out["notes"] = data["notes"]
    return out


def load_suite_dict(path: Path | str) -> dict[str, Any]:
    """Read one suite file (JSON) and return the normalised dict (see :func:`normalise_suite_dict`)."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise SuiteFileError(f"{path}: not valid JSON: {e}") from e
    return for_level(normalise_suite_dict(raw, source=str(path)))


def for_level(suite: dict[str, Any], level: str | None = None) -> dict[str, Any]:
    """The suite without the expectations whose ``meta.levels`` leaves out the instance's level (NTM_LEVEL:
    e.g. ``["commune"]`` on "fact_submission has rows": a province-level instance builds its roll-ups from the
    communes' report packages and has no unit report of its own)."""
    if level is None:
        from pipeline.config import instance_level

        level = instance_level()[0]
    kept = [e for e in suite["expectations"] if level in ((e.get("meta") or {}).get("levels") or [level])]
    return {**suite, "expectations": kept}


def suite_table(suite: Mapping[str, Any], default_schema: str = "marts") -> str:
    """The DuckDB relation a suite validates: ``meta.table``, else ``<default_schema>.<name>``."""
    table = (suite.get("meta") or {}).get("table")
    return str(table) if table else f"{default_schema}.{suite['name']}"


def model_columns(model: str, models_dir: Path | None = None) -> dict[str, str | None] | None:
    """``{column: contract data_type}`` of a dbt mart, read from ``dbt_project/models/marts/<model>.yml``
    (None when the model has no such file or no column list)."""
    path = (Path(models_dir) if models_dir is not None else MARTS_MODELS_DIR) / f"{model}.yml"
    if not path.exists():
        return None
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    for m in doc.get("models") or []:
        if m.get("name") == model and m.get("columns"):
            return {c["name"]: c.get("data_type") for c in m["columns"]}
    return None


def suite_columns(suite: Mapping[str, Any]) -> list[str] | None:
    """The columns of the table a suite validates: the suite's own ``expect_table_columns_to_match_set`` /
    ``_ordered_list`` when it states one, else the dbt model's contract (dbt owns the schema)."""
    for exp in suite.get("expectations", []):
        if exp["type"] == "expect_table_columns_to_match_set":
            return list(exp["kwargs"]["column_set"])
        if exp["type"] == "expect_table_columns_to_match_ordered_list":
            return list(exp["kwargs"]["column_list"])
    cols = model_columns(str((suite.get("meta") or {}).get("dbt_model") or suite["name"]))
    return list(cols) if cols is not None else None


def expectation_column(exp: Mapping[str, Any]) -> str | None:
    """The column (or ``a, b`` column list) an expectation is about, for display."""
    kw = exp.get("kwargs") or {}
    if "column" in kw:
        return str(kw["column"])
    for key in ("column_list", "column_A"):
        if key in kw:
            if key == "column_A":
                return f"{kw['column_A']}, {kw.get('column_B')}"
            return ", ".join(map(str, kw[key]))
    return None


def load_all(directory: Path | None = None) -> dict[str, dict[str, Any]]:
    """Every suite file, loaded and normalised: ``{table: suite dict}``."""
    return {table: load_suite_dict(path) for table, path in list_suites(directory).items()}

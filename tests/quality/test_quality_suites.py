"""The suite files in expectations/: shape, severities, and columns against the dbt model contracts.

No Great Expectations import here (fast); the GX round trip of every file is in test_quality_gx_runner.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from pipeline.config import REPO_ROOT
from pipeline.quality import suites as s
from pipeline.quality.declared_checks import DECLARABLE_CHECKS

MARTS_DIR = REPO_ROOT / "dbt_project" / "models" / "marts"
SUITES = s.list_suites()
PRIORITY = [
    "fact_indicator_value",
    "mart_commune_indicator",
    "dim_hamlet",
    "fact_ocop_certificate",
    "mart_satisfaction",
]


def _model_columns_from_yml(model: str) -> dict[str, str | None] | None:
    for yml in sorted(MARTS_DIR.glob("*.yml")) + sorted(MARTS_DIR.glob("*.yaml")):
        doc = yaml.safe_load(yml.read_text(encoding="utf-8")) or {}
        for m in doc.get("models") or []:
            if m.get("name") == model and m.get("columns"):
                return {c["name"]: c.get("data_type") for c in m["columns"]}
    return None


def test_priority_suites_exist():
    assert set(PRIORITY) <= set(SUITES)


def test_list_suites_maps_table_to_file():
    for table, path in SUITES.items():
        assert path.parent == s.EXPECTATIONS_DIR and path.stem == table


@pytest.mark.parametrize("table", sorted(SUITES))
def test_suite_file_shape_and_severity(table):
    raw = json.loads(SUITES[table].read_text(encoding="utf-8"))
    assert raw["name"] == table
    assert raw["meta"]["table"] == f"marts.{table}"
    suite = s.load_suite_dict(SUITES[table])
    assert suite["expectations"], "a suite without expectations checks nothing"
    for exp, raw_exp in zip(suite["expectations"], raw["expectations"], strict=True):
        assert raw_exp["meta"]["severity"] in ("error", "warn"), exp  # explicit in the file
        assert raw_exp["meta"]["description_vi"] and raw_exp["meta"]["description_en"]
        assert s.severity_of(exp) == raw_exp["meta"]["severity"]
        assert exp["severity"] == s.gx_severity(s.severity_of(exp))
    # dbt owns the schema, keys and not-null (pipeline.quality.overlap, tests/quality/test_one_owner.py); the
    # grain the suite names is the model's
    grain = suite["meta"]["grain"]
    assert set(grain) <= set(s.suite_columns(suite))
    for chk in suite["meta"].get("sql_checks", []):
        assert chk["check"] in DECLARABLE_CHECKS
        assert chk["severity"] in ("error", "warn")
    batch_col = suite["meta"].get("batch_column")
    assert batch_col is None or batch_col in s.suite_columns(suite)


@pytest.mark.parametrize("table", sorted(SUITES))
def test_every_suite_validates_a_dbt_model_with_an_enforced_typed_contract(table):
    """dbt owns the schema: the table a suite validates is a mart whose contract is enforced and types every
    column (dbt refuses to build it otherwise), so the suite states no column list or types of its own."""
    assert (MARTS_DIR / f"{table}.sql").exists(), f"no dbt model {table}"
    doc = yaml.safe_load((MARTS_DIR / f"{table}.yml").read_text(encoding="utf-8"))
    (model,) = [m for m in doc["models"] if m["name"] == table]
    assert model["config"]["contract"]["enforced"] is True
    cols = _model_columns_from_yml(table)
    assert cols and all(cols.values()), "every column has a data_type"
    assert s.model_columns(table) == cols
    suite = s.load_suite_dict(SUITES[table])
    assert s.suite_columns(suite) == list(cols)  # from the contract, the suite states none


def test_severity_rules():
    assert s.severity_of({"meta": {"severity": "warn"}}) == "warn"
    assert s.severity_of({"severity": "warning"}) == "warn"
    assert s.severity_of({"severity": "critical"}) == "error"
    assert s.severity_of({}) == "error"  # fail safe: block
    with pytest.raises(s.SuiteFileError):
        s.severity_of({"meta": {"severity": "fatal"}})
    with pytest.raises(s.SuiteFileError):
        s.normalise_suite_dict(
            {
                "name": "x",
                "expectations": [
                    {
                        "type": "expect_column_to_exist",
                        "kwargs": {"column": "a"},
                        "meta": {"severity": "warn"},
                        "severity": "critical",
                    }
                ],
            }
        )


def test_malformed_files_are_refused(tmp_path: Path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(s.SuiteFileError):
        s.load_suite_dict(bad)
    with pytest.raises(s.SuiteFileError):
        s.normalise_suite_dict({"name": "x", "expectations": [{"type": "nope", "kwargs": {}}]})
    assert s.list_suites(tmp_path / "missing") == {}

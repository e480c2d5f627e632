"""The suite files in expectations/: shape, severities, and columns against the dbt model contracts.

No Great Expectations import here (fast); the GX round trip of every file is in test_quality_gx_runner.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from pipeline.quality import suites as s
from pipeline.quality.declared_checks import DECLARABLE_CHECKS

MARTS_DIR = s.REPO_ROOT / "dbt_project" / "models" / "marts"
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
    types = [e["type"] for e in suite["expectations"]]
    assert "expect_table_columns_to_match_set" in types
    assert {"expect_compound_columns_to_be_unique", "expect_column_values_to_be_unique"} & set(types)
    assert "expect_column_values_to_not_be_null" in types
    grain = suite["meta"]["grain"]
    assert set(grain) <= set(s.suite_columns(suite))
    for chk in suite["meta"].get("sql_checks", []):
        assert chk["check"] in DECLARABLE_CHECKS
        assert chk["severity"] in ("error", "warn")
    batch_col = suite["meta"].get("batch_column")
    assert batch_col is None or batch_col in s.suite_columns(suite)


@pytest.mark.parametrize("table", sorted(SUITES))
def test_suite_columns_match_dbt_model(table):
    if not (MARTS_DIR / f"{table}.sql").exists():
        pytest.skip(f"no dbt model {table} yet (provisional suite)")
    cols = _model_columns_from_yml(table)
    if cols is None:
        pytest.skip(f"{table}: no column list in the model yml yet")
    suite = s.load_suite_dict(SUITES[table])
    assert sorted(s.suite_columns(suite)) == sorted(cols)
    typed = [c for c in suite["meta"].get("sql_checks", []) if c["check"] == "column_types"]
    if all(cols.values()):
        assert typed, "declare the contract's DuckDB types (sql check column_types)"
        expected = typed[0]["kwargs"]["expected"]
        assert {k: v.lower() for k, v in expected.items()} == {k: v.lower() for k, v in cols.items()}


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

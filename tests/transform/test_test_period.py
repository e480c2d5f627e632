"""The tests' period of a dbt run (NTM_DBT_TEST_PERIOD_CODE): which dbt tests it narrows, and when the pipeline
sets it (pipeline.transform.scope.run_scope). Pure: the manifest and fakes, no dbt run (the SQL's effect is
tests/dbt/test_marts.py::test_a_period_run_tests_the_rows_of_its_period)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from pipeline.config import DBT_PROJECT_DIR
from pipeline.partitions import PERIOD_TAG
from pipeline.transform import scope as scopes

MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"

#: the models whose tests check only the test period's rows: the facts and hamlet marts incremental by period,
#: the views they are built from, and the per-period roll-up views over the fact (overview.md)
PERIOD_TESTED = {
    "int_submissions_ranked",
    "int_submission_values_versioned",
    "int_submission_value_changes",
    "int_indicator_values_selected",
    "int_indicator_values_annualised",
    "int_indicator_values_evaluated",
    "fact_indicator_value",
    "fact_submission",
    "fact_task_progress",
    "mart_hamlet_indicator",
    "mart_hamlet_indicator_restated",
    "indicator_value_restated",
    "commune_indicator_rolled_up",
    "commune_indicator_pooled",
    "province_indicator_rolled_up",
}


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads(MANIFEST.read_text(encoding="utf-8"))


def _scoped_tests(manifest: dict) -> dict[str, dict]:
    return {
        uid: n
        for uid, n in manifest["nodes"].items()
        if n["resource_type"] == "test"
        and (n.get("test_metadata") or {}).get("kwargs", {}).get("period_column")
    }


def test_period_scoped_tests_are_on_the_period_partitioned_models_only(manifest):
    nodes = manifest["nodes"]
    tested = {nodes[n["attached_node"]]["name"] for n in _scoped_tests(manifest).values()}
    assert tested == PERIOD_TESTED
    # none of them on a table rebuilt in full (the commune/province/compliance/OCOP marts, the dimensions)
    for name in PERIOD_TESTED:
        model = next(n for n in nodes.values() if n["resource_type"] == "model" and n["name"] == name)
        config = model["config"]
        assert config["materialized"] == "view" or (
            config["materialized"] == "incremental" and config["unique_key"] == "period_code"
        ), name


def test_a_period_scoped_unique_test_has_a_key_with_the_period(manifest):
    """A key without the period column is checked on every row (tests/generic/unique_keys.sql), so a
    period-scoped unique test must have at least one key the scope narrows."""
    for n in _scoped_tests(manifest).values():
        kwargs = n["test_metadata"]["kwargs"]
        if n["test_metadata"]["name"] == "unique_keys":
            keys = [[c] for c in kwargs.get("columns", [])] + kwargs.get("grains", [])
            assert any(kwargs["period_column"] in k for k in keys), n["name"]


def test_the_singular_tests_on_the_indicator_chain_are_period_scoped(manifest):
    for name in (
        "assert_ratio_of_sums_hamlet_values_have_a_fraction",
        "assert_hamlet_values_come_from_allowed_reporters",
    ):
        node = next(n for n in manifest["nodes"].values() if n["name"] == name)
        assert "ntm_test_period_scope(" in node["raw_code"], name


class _Changes:
    def __init__(self, period: str | None, sources=("submissions",)):
        self._period, self._sources = period, set(sources)
        self.everything, self.nothing = None, False
        self.files = [SimpleNamespace(period=period)]

    def period(self):
        return self._period

    def raw_tables(self):
        return {"submissions", "submission_values", "submission_tasks"}, "changed files"

    def sources(self):
        return self._sources


def _context(tags: dict) -> SimpleNamespace:
    return SimpleNamespace(run=SimpleNamespace(tags=tags), log=None)


def _warehouse(tmp_path):
    db = tmp_path / "ntm.duckdb"
    db.write_bytes(b"")
    return SimpleNamespace(database=db)


@pytest.mark.parametrize(
    ("tags", "found", "period", "tests_period"),
    [
        # the changes give the period: the tests check its rows
        ({}, _Changes("2030-Q4"), "2030-Q4", "2030-Q4"),
        # a tag naming the period the changes give (the sensor's run): proven too
        ({PERIOD_TAG: "2030-Q4"}, _Changes("2030-Q4"), "2030-Q4", "2030-Q4"),
        # a tag the changes do not prove (another period, other sources, no previous build): every row
        ({PERIOD_TAG: "2030-Q3"}, _Changes("2030-Q4"), "2030-Q3", None),
        ({PERIOD_TAG: "2030-Q4"}, _Changes(None, ("submissions", "reference")), "2030-Q4", None),
        ({PERIOD_TAG: "2030-Q4"}, None, "2030-Q4", None),
        # other sources changed: every period, every row
        ({}, _Changes(None, ("surveys",)), None, None),
    ],
)
def test_the_tests_period_is_set_only_when_the_changes_prove_it(
    tmp_path, monkeypatch, tags, found, period, tests_period
):
    monkeypatch.setattr(scopes, "changes_of", lambda *a: found)
    scope = scopes.run_scope(_context(tags), _warehouse(tmp_path), "fp")
    assert (scope.period, scope.tests_period) == (period, tests_period)

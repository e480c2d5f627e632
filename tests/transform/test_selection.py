"""Which dbt nodes a run rebuilds (pipeline.transform.selection) from what changed (pipeline.changes)."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import changes
from pipeline.config import DBT_PROJECT_DIR
from pipeline.transform import selection
from tests import dbt_parse_cache

MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"
SURVEYS = set(changes.SOURCE_TABLES["surveys"])
OCOP = set(changes.SOURCE_TABLES["ocop"])
SUBMISSIONS = set(changes.SOURCE_TABLES["submissions"])
INDICATOR_BRANCH = {"fact_indicator_value", "fact_submission", "fact_task_progress", "mart_hamlet_indicator"}


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads(MANIFEST.read_text(encoding="utf-8"))


def _models(manifest: dict, sel: selection.Selection) -> set[str]:
    return set(selection.names(manifest, sel.rebuilt))


def test_source_tables_are_the_tables_each_ingest_writes():
    """pipeline.changes.SOURCE_TABLES (which raw tables a changed file of a source can change) is what the
    ingest assets of that source materialize."""
    from pipeline.exchange.dhis2_assets import dhis2_assets
    from pipeline.exchange.federation_assets import commune_package_assets
    from pipeline.sensors import SOURCE_ASSETS

    assets = {**SOURCE_ASSETS, "communes": commune_package_assets, "dhis2": dhis2_assets}
    written = {source: {k.path[1] for k in a.keys if k.path[0] == "raw"} for source, a in assets.items()}
    assert written == {s: set(t) for s, t in changes.SOURCE_TABLES.items()}


def test_every_dbt_source_is_fed_by_a_landing_source_or_is_in_a_fingerprint(manifest):
    raw = {s["name"] for s in manifest["sources"].values() if s["schema"] == "raw"}
    fed = {t for tables in changes.SOURCE_TABLES.values() for t in tables}
    assert raw - fed <= set(changes.RAW_TABLES_WITHOUT_FILES), raw - fed
    # provinces and communes come from the vietnam-provinces package: a new version is a uv.lock change
    assert any("uv.lock" in globs for _, globs in changes.CODE_GLOBS)


def test_level_and_home_province_are_in_the_settings_fingerprint(tmp_path, monkeypatch):
    """raw.federation_settings is written from NTM_LEVEL / NTM_HOME_PROVINCE in every run, not from a file:
    changing them must mean everything."""
    from pipeline.config import get_settings

    monkeypatch.setenv("NTM_RAW_DIR", str(tmp_path / "raw"))
    monkeypatch.setenv("NTM_WAREHOUSE", str(tmp_path / "w" / "ntm.duckdb"))
    monkeypatch.setenv("NTM_PII_SALT", "x")
    monkeypatch.delenv("NTM_LEVEL", raising=False)
    monkeypatch.delenv("NTM_HOME_PROVINCE", raising=False)
    default = changes.settings_fingerprint(get_settings())
    monkeypatch.setenv("NTM_LEVEL", "commune")
    monkeypatch.setenv("NTM_HOME_PROVINCE", "42")
    assert changes.settings_fingerprint(get_settings()) == default  # the defaults, spelled out: no change
    monkeypatch.setenv("NTM_LEVEL", "province")
    assert changes.settings_fingerprint(get_settings()) != default
    monkeypatch.setenv("NTM_LEVEL", "commune")
    monkeypatch.setenv("NTM_HOME_PROVINCE", "01")
    assert changes.settings_fingerprint(get_settings()) != default


def test_no_node_of_the_project_reads_the_clock_the_run_or_the_environment(manifest):
    """Today nothing in models, tests or project macros depends on the date, the run or an environment
    variable (the home commune reaches dbt as a var from the settings fingerprint): every node is a function
    of its parents. A node that starts to would be rebuilt in every run (next test)."""
    assert selection.run_level_nodes(manifest) == set()


def test_a_node_that_reads_the_clock_is_rebuilt_in_every_run_with_its_descendants(manifest):
    m = copy.deepcopy(manifest)
    uid = "model.ntm.mart_reporting_compliance"
    m["nodes"][uid]["raw_code"] += "\n-- overdue: where due_date < current_date"
    sel = selection.select_for(m, SURVEYS, "surveys")
    assert "mart_reporting_compliance+" in sel.select
    assert "mart_reporting_compliance" in _models(m, sel) and "fact_survey_answer" in _models(m, sel)
    assert "fact_indicator_value" not in _models(m, sel)
    # through a macro of the project too
    m = copy.deepcopy(manifest)
    macro = next(u for u in m["macros"] if u == "macro.ntm.ntm_safe_percent")
    m["macros"][macro]["macro_sql"] += "{{ run_started_at }}"
    users = {u for u, n in m["nodes"].items() if macro in n.get("depends_on", {}).get("macros", [])}
    assert users and users <= selection.run_level_nodes(m)


def test_an_environment_variable_is_run_level_but_the_period_of_the_run_is_not(manifest):
    """The facts read NTM_DBT_PERIOD_CODE (macros/periods.sql) and the period-scoped tests
    NTM_DBT_TEST_PERIOD_CODE (macros/set_tests.sql): the period scope rules both, so neither makes a node
    rebuild in every run; any other env_var does."""
    assert "NTM_DBT_PERIOD_CODE" in manifest["macros"]["macro.ntm.ntm_period_scope"]["macro_sql"]
    assert "NTM_DBT_TEST_PERIOD_CODE" in manifest["macros"]["macro.ntm.ntm_test_period"]["macro_sql"]
    scoped = [u for u, n in manifest["nodes"].items() if "period_column" in str(n.get("test_metadata", {}))]
    assert scoped and not selection.run_level_nodes(manifest)
    m = copy.deepcopy(manifest)
    m["nodes"]["model.ntm.dim_period"]["raw_code"] += "{{ env_var('NTM_SOMETHING', '') }}"
    assert selection.run_level_nodes(m) == {"model.ntm.dim_period"}


def test_a_survey_only_change_rebuilds_the_survey_branch_only(manifest):
    sel = selection.select_for(manifest, SURVEYS, "surveys")
    models = _models(manifest, sel)
    assert {"fact_survey_answer", "mart_satisfaction", "int_survey_answers_deduplicated"} <= models
    assert not models & INDICATOR_BRANCH
    # the tests reading the rebuilt tables run, also those that read an unchanged table beside them
    tests = set(selection.names(manifest, sel.rebuilt, "test"))
    assert "relationships_fact_survey_answer" in tests
    assert "unique_keys_fact_indicator_value" not in tests
    assert not set(selection.names(manifest, sel.rebuilt, "seed"))


def test_an_ocop_only_change_rebuilds_the_ocop_branch_only(manifest):
    models = _models(manifest, selection.select_for(manifest, OCOP, "ocop"))
    assert {"fact_ocop_certificate", "mart_ocop_portfolio"} <= models
    assert not models & (INDICATOR_BRANCH | {"fact_survey_answer", "mart_satisfaction"})


def test_a_submissions_change_does_not_rebuild_the_survey_branch(manifest):
    models = _models(manifest, selection.select_for(manifest, SUBMISSIONS, "submissions"))
    assert models >= INDICATOR_BRANCH
    # OCOP's status at period end follows the latest quarter with a submission: rebuilt too
    assert "fact_ocop_certificate" in models
    assert not models & {"fact_survey_answer", "mart_satisfaction", "dim_hamlet", "dim_period"}


def test_a_reference_change_rebuilds_the_dimensions_and_the_indicator_branch(manifest):
    models = _models(manifest, selection.select_for(manifest, set(changes.SOURCE_TABLES["reference"]), "ref"))
    assert {
        "dim_hamlet",
        "dim_reporting_unit",
        "fact_indicator_value",
        "mart_hamlet_indicator_restated",
    } <= models
    assert "fact_survey_answer" not in models


def test_everything_means_no_selection(manifest):
    sel = selection.select_for(manifest, None, "code changed")
    assert sel.everything and sel.dbt_args() == []
    assert sel.rebuilt == frozenset(selection.buildable(manifest))


def test_a_dhis2_only_change_rebuilds_no_dbt_node(manifest):
    """raw.dhis2_values is no dbt source: nothing of dbt to rebuild (dbt is not started)."""
    sel = selection.select_for(manifest, set(changes.SOURCE_TABLES["dhis2"]), "dhis2")
    assert sel.rebuilt == frozenset() and not sel.everything


def test_the_dbt_arguments_select_exactly_the_computed_nodes(manifest, tmp_path):
    """`dbt ls` with the arguments the dbt step passes (after dagster-dbt's own `--select fqn:*`) lists exactly
    the nodes :func:`select_for` computed, tests included (an eager exclusion would drop the relationships
    tests from a rebuilt fact to an unchanged dimension)."""
    warehouse = tmp_path / "ls.duckdb"
    env = {**os.environ, "NTM_WAREHOUSE_PATH": str(warehouse)}
    # its own target folder (the default one, dbt_project/target, holds `make manifest`'s parse state, which
    # the pipeline runs of the suite start from), seeded with that state for this path: no full parse
    target = tmp_path / "target"
    dbt_parse_cache.seed_target(target, warehouse)
    for tables in (SURVEYS, SUBMISSIONS | OCOP):
        sel = selection.select_for(manifest, tables, "t")
        args = ["ls", "--quiet", "--output", "name", "--exclude-resource-type", "unit_test", *sel.dbt_args()]
        args += [
            "--select",
            "fqn:*",
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(target),
        ]
        out = subprocess.run(
            [str(Path(sys.executable).with_name("dbt")), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
        listed = set(out.stdout.split())
        want = {manifest["nodes"][u]["name"] for u in sel.rebuilt}
        assert listed == want, (sorted(listed - want), sorted(want - listed))


def test_the_changed_sources_give_the_raw_tables(tmp_path):
    def found(*paths: str, **kw) -> changes.ChangeSet:
        files = tuple(changes.FileChange(p, "new", "x") for p in paths)
        return changes.ChangeSet(
            last={"files": {}}, files=files, code_changed=False, settings_changed=False, **kw
        )

    assert found("surveys/a_2026.jsonl").raw_tables()[0] == SURVEYS
    assert found("ocop/o.xlsx", "surveys/s.csv").raw_tables()[0] == SURVEYS | OCOP
    tables, why = found("submissions/2026/18484-T03_2026-Q2.csv").raw_tables()
    assert tables == SUBMISSIONS and "submissions/2026-Q2 1" in why
    # a file outside every known source: nothing says what it feeds → everything
    tables, why = found("misc/x.csv").raw_tables()
    assert tables is None and "misc/x.csv" in why
    # code changed → everything
    code = changes.ChangeSet(last={"files": {}}, files=(), code_changed=True, settings_changed=False)
    assert code.raw_tables() == (None, "code changed since the last successful build")

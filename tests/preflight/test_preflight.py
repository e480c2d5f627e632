"""Pre-flight (pipeline/preflight/): each failure mode gives one problem naming what to fix, in Vietnamese
then English; the bundled sample passes; the layout it checks is the ingest's own."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from pipeline import preflight
from pipeline.config import REPO_ROOT
from pipeline.preflight import settings as preflight_settings

SAMPLE_RAW = REPO_ROOT / "raw"


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Settings unset, warehouse / open data / DAGSTER_HOME in tmp_path, the bundled sample as raw dir."""
    for var in list(os.environ):
        if var.startswith("NTM_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("NTM_RAW_DIR", str(SAMPLE_RAW))
    monkeypatch.setenv("NTM_WAREHOUSE", str(tmp_path / "wh" / "ntm.duckdb"))
    monkeypatch.setenv("NTM_OPEN_DATA_DIR", str(tmp_path / "od"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dh"))
    return monkeypatch


def _copy_raw(tmp_path: Path) -> Path:
    raw = tmp_path / "raw"
    shutil.copytree(SAMPLE_RAW, raw)
    return raw


def _only(problems, code):
    assert [p.code for p in problems] == [code], [p.message for p in problems]
    return problems[0]


def _bilingual(p: preflight.Problem, *names: str) -> None:
    """Vietnamese first, English second, both naming each of ``names``; a fix in both languages."""
    assert p.message == f"{p.vi} / {p.en}" and p.fix == f"{p.fix_vi} / {p.fix_en}"
    for name in names:
        assert name in p.vi and name in p.en, (name, p.message)
    assert p.vi != p.en and p.fix_vi != p.fix_en


def chmod_bites(folder: Path) -> bool:
    """False when running as root (or with CAP_DAC_OVERRIDE): a 0o500 folder is still writable."""
    probe = folder / "chmod_probe"
    probe.mkdir()
    probe.chmod(0o500)
    try:
        (probe / "x").write_text("x")
        return False
    except PermissionError:
        return True
    finally:
        probe.chmod(0o700)
        shutil.rmtree(probe)


def test_bundled_sample_passes_fast(env, tmp_path):
    times = []
    for _ in range(5):
        t = time.perf_counter()
        assert preflight.check() == []
        times.append(time.perf_counter() - t)
    assert sorted(times)[2] < 1.0, times
    # the folders a run writes to exist now; nothing is left in them
    for d in ("wh", "od", "dh"):
        assert (tmp_path / d).is_dir() and list((tmp_path / d).iterdir()) == []


# --- settings -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("NTM_KEEP_RELEASES", "abc"),
        ("NTM_KEEP_RELEASES", "0"),
        ("NTM_KEEP_RELEASES", ""),
        ("NTM_KEEP_RUNS", "-3"),
        ("NTM_TODAY", "2026-13-01"),
        ("NTM_TODAY", "30/11/2026"),
        ("NTM_SUPPRESSION_MIN_COUNT", "2"),
        ("NTM_SUPPRESSION_MIN_COUNT", "five"),
        ("NTM_HOME_COMMUNE", "1848"),
        ("NTM_HOME_COMMUNE", "18487"),  # 5 digits, but no such commune in the admin registry
        ("NTM_HOME_COMMUNE", "42"),
        ("NTM_HOME_COMMUNE", "１８４８４"),  # full-width digits
        ("NTM_DUCKDB_MEMORY_LIMIT", "4"),
        ("NTM_DUCKDB_MEMORY_LIMIT", "4 GBs"),
        ("NTM_DUCKDB_MEMORY_LIMIT", "10MB"),
        ("NTM_DUCKDB_MEMORY_LIMIT", "150%"),
        ("NTM_DUCKDB_THREADS", "two"),
        ("NTM_LOCK_TIMEOUT_S", "-1"),
        ("NTM_READER_WAIT_S", "nan"),
        ("NTM_MAX_FILE_BYTES", "128MiB"),
        ("NTM_MAX_ROWS_PER_FILE", "0"),
        ("NTM_XLSX_MAX_PART_BYTES", "1.5"),
        ("NTM_MAX_CELL_CHARS", "x"),
        ("NTM_MIN_FREE_MB", "lots"),
        ("NTM_LEVEL", "national"),
        ("NTM_LEVEL", "tinh"),
        ("NTM_HOME_PROVINCE", "4"),
        ("NTM_HOME_PROVINCE", "99"),  # two digits, not a province of the admin registry
        ("NTM_GX_SQL_ABOVE_ROWS", "-1"),
        ("NTM_GX_SQL_ABOVE_ROWS", "5e6"),
        ("NTM_SENSOR_INTERVAL_S", "0"),
        ("NTM_SENSOR_INTERVAL_S", ""),
        ("NTM_SENSOR_SETTLE_S", "soon"),
        ("NTM_PUBLISH_REUSE", "disable"),  # would have left reuse on: only 0/false/no/off turn it off
        ("NTM_GATE_REUSE", "never"),
    ],
)
def test_bad_setting_named_with_its_value(env, var, value):
    env.setenv(var, value)
    p = _only(preflight.check(), "bad_setting")
    assert p.subject == var
    _bilingual(p, var, repr(value))
    assert var in p.fix_vi and var in p.fix_en and "mặc định" in p.fix_vi and "default" in p.fix_en


def test_every_bad_setting_is_reported_at_once(env):
    env.setenv("NTM_KEEP_RELEASES", "abc")
    env.setenv("NTM_TODAY", "2026-13-01")
    assert [p.subject for p in preflight.check()] == ["NTM_KEEP_RELEASES", "NTM_TODAY"]


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("NTM_KEEP_RELEASES", "3"),
        ("NTM_KEEP_RUNS", ""),
        ("NTM_TODAY", "2026-02-28"),
        ("NTM_TODAY", ""),
        ("NTM_SUPPRESSION_MIN_COUNT", "3"),
        ("NTM_HOME_COMMUNE", "18481"),
        ("NTM_HOME_COMMUNE", ""),
        ("NTM_DUCKDB_MEMORY_LIMIT", "512MB"),
        ("NTM_DUCKDB_MEMORY_LIMIT", "2 GiB"),
        ("NTM_DUCKDB_MEMORY_LIMIT", "80%"),
        ("NTM_LOCK_TIMEOUT_S", "0"),
        ("NTM_READER_WAIT_S", "2.5"),
        ("NTM_MAX_FILE_BYTES", "1_000_000"),
        ("NTM_MIN_FREE_MB", "1"),
        ("NTM_LEVEL", "province"),
        ("NTM_LEVEL", "commune"),
        ("NTM_HOME_PROVINCE", "01"),
        ("NTM_GX_SQL_ABOVE_ROWS", "0"),
        ("NTM_GX_SQL_ABOVE_ROWS", ""),
        ("NTM_SENSOR_INTERVAL_S", "5"),
        ("NTM_SENSOR_SETTLE_S", "0.5"),
        ("NTM_PUBLISH_REUSE", "0"),
        ("NTM_PUBLISH_REUSE", "Off"),
        ("NTM_GATE_REUSE", "false"),
        ("NTM_GATE_REUSE", ""),
    ],
)
def test_good_setting_passes(env, var, value):
    env.setenv(var, value)
    assert preflight.check_settings() == []


SAMPLES = ["", " ", " 5", "2026-01-01 ", "0", "1", "2", "3", "-1", "abc", "1.5", "1_000", "nan", "inf", "2026-13-01", "2026-02-29",
           "2028-02-29", "4GB", "4", "80%"]  # fmt: skip


@pytest.mark.parametrize("spec", preflight.SETTINGS, ids=lambda s: s.var)
def test_settings_rules_are_at_least_as_strict_as_config(monkeypatch, spec):
    """Whatever pre-flight lets through, pipeline.config reads without an error."""
    from pipeline import config

    for value in [*SAMPLES, "province", "PROVINCE", "commune", "national", "42", "01", "99"]:
        monkeypatch.setenv(spec.var, value)
        if preflight.check_settings({spec.var: value}) == []:
            config.get_settings(), config.ingest_limits(), config.min_free_mb(), config.instance_level()
            config.gx_sql_above_rows(), config.sensor_interval_s(), config.sensor_settle_s()
            config.publish_reuse(), config.gate_reuse()


def test_memory_limits_accepted_are_accepted_by_duckdb():
    import duckdb

    con = duckdb.connect()
    for value in [
        "4GB",
        "4 GB",
        "4gb",
        "512MB",
        "1.5GB",
        "4GiB",
        "4G",
        "80%",
        "1TB",
        "100 megabytes",
        ".5GB",
    ]:
        assert preflight_settings.memory_limit(value), value
        con.execute(f"set memory_limit = '{value}'")
    for value in ["4", "abc", "4 GBs", "1,5GB", "-1GB", "0GB", "10MB", "101%"]:
        assert preflight_settings.memory_limit(value) is None, value


# --- raw dir and reference files ------------------------------------------------------------------------


def test_missing_raw_dir(env, tmp_path):
    env.setenv("NTM_RAW_DIR", str(tmp_path / "nowhere"))
    p = _only(preflight.check(), "raw_dir_missing")
    _bilingual(p, "NTM_RAW_DIR", str(tmp_path / "nowhere"))


def test_raw_dir_that_is_a_file(env, tmp_path):
    (tmp_path / "raw.csv").write_text("a,b\n")
    env.setenv("NTM_RAW_DIR", str(tmp_path / "raw.csv"))
    p = _only(preflight.check(), "raw_dir_not_dir")
    _bilingual(p, "NTM_RAW_DIR", str(tmp_path / "raw.csv"))


def test_empty_raw_dir(env, tmp_path):
    (tmp_path / "empty").mkdir()
    env.setenv("NTM_RAW_DIR", str(tmp_path / "empty"))
    problems = preflight.check()
    assert [p.code for p in problems] == ["raw_dir_empty", "reference_missing"]
    _bilingual(problems[0], str(tmp_path / "empty"), "submissions/", "surveys/", "ocop/")
    _bilingual(problems[1], *preflight.REQUIRED_REFERENCE_FILES)


def test_raw_dir_with_only_templates_readmes_and_hidden_files_is_empty(env, tmp_path):
    raw = _copy_raw(tmp_path)
    for source in preflight.SOURCES:
        shutil.rmtree(raw / source, ignore_errors=True)  # the sample has no dhis2/
        (raw / source).mkdir()
    (raw / "submissions" / "README.md").write_text("x")
    (raw / "submissions" / ".DS_Store").write_text("x")
    (raw / "surveys" / "khao_sat.csv.part").write_text("x")
    env.setenv("NTM_RAW_DIR", str(raw))
    _only(preflight.check(), "raw_dir_empty")
    (raw / "ocop" / "ocop.xlsx").write_bytes(b"PK")
    assert preflight.check() == []


def test_at_level_province_commune_packages_are_data_and_the_unit_folders_optional(env, tmp_path):
    raw = _copy_raw(tmp_path)
    for source in preflight.SOURCES:
        shutil.rmtree(raw / source, ignore_errors=True)
    (raw / "communes" / "18484").mkdir(parents=True)
    (raw / "communes" / "18484" / "report_18484_x.zip").write_bytes(b"PK")
    env.setenv("NTM_RAW_DIR", str(raw))
    p = _only(preflight.check(), "raw_dir_empty")  # level commune: packages are not its data
    assert "communes/" not in p.en
    env.setenv("NTM_LEVEL", "province")
    assert preflight.check() == []
    shutil.rmtree(raw / "communes")
    p = _only(preflight.check(), "raw_dir_empty")
    _bilingual(p, "communes/")


def test_raw_dir_one_level_too_high_names_the_folder_meant(env, tmp_path):
    _copy_raw(tmp_path / "landing")
    env.setenv("NTM_RAW_DIR", str(tmp_path / "landing"))
    problems = preflight.check()
    assert problems[0].code == "raw_dir_empty"
    assert f"NTM_RAW_DIR={tmp_path / 'landing' / 'raw'}" in problems[0].en


@pytest.mark.parametrize("name", preflight.REQUIRED_REFERENCE_FILES)
def test_missing_reference_file(env, tmp_path, name):
    raw = _copy_raw(tmp_path)
    (raw / "reference" / name).unlink()
    env.setenv("NTM_RAW_DIR", str(raw))
    p = _only(preflight.check(), "reference_missing")
    assert p.subject == str(raw / "reference" / name)
    _bilingual(p, name, str(raw / "reference"))
    assert name in p.fix_vi and name in p.fix_en


def test_optional_boundaries_file_may_be_missing(env, tmp_path):
    raw = _copy_raw(tmp_path)
    for name in preflight.OPTIONAL_REFERENCE_FILES:
        (raw / "reference" / name).unlink()
    env.setenv("NTM_RAW_DIR", str(raw))
    assert preflight.check() == []


def test_unreadable_raw_dir(env, tmp_path):
    if not chmod_bites(tmp_path):
        pytest.skip(
            "running as root: chmod does not stop root from reading (tests/preflight/test_preflight_cli.py drops CAP_DAC_OVERRIDE)"
        )
    raw = _copy_raw(tmp_path)
    raw.chmod(0o000)
    try:
        env.setenv("NTM_RAW_DIR", str(raw))
        _bilingual(_only(preflight.check(), "raw_dir_unreadable"), "NTM_RAW_DIR", str(raw))
    finally:
        raw.chmod(0o755)


def test_seed_catalogs_present_in_the_repository():
    assert preflight.check_seeds() == []


def test_missing_seed_catalog(tmp_path):
    shutil.copytree(REPO_ROOT / "dbt_project" / "seeds", tmp_path / "seeds")
    (tmp_path / "seeds" / "indicators.csv").unlink()
    p = _only(preflight.check_seeds(tmp_path / "seeds"), "catalog_missing")
    _bilingual(p, str(tmp_path / "seeds" / "indicators.csv"))


# --- the layout pre-flight checks is the one the ingest reads --------------------------------------------


def test_layout_is_the_ingests():
    from pipeline.ingest import files
    from pipeline.ingest.files import BOUNDARY_FILE
    from pipeline.ingest.reference import REGISTRY

    assert preflight.SOURCES == files.SOURCES
    from pipeline.exchange.federation import SOURCE as PACKAGE_SOURCE

    assert preflight.PACKAGE_SOURCE == files.PACKAGE_SOURCE == PACKAGE_SOURCE
    assert set(preflight.REQUIRED_REFERENCE_FILES) == set(REGISTRY)
    from pipeline.exchange.dhis2 import MAPPING_FILE

    assert preflight.OPTIONAL_REFERENCE_FILES == (BOUNDARY_FILE, MAPPING_FILE)
    assert files.DHIS2_MAPPING_FILE == MAPPING_FILE


@pytest.mark.parametrize("name", preflight.SEED_FILES)
def test_each_seed_checked_is_one_the_reference_ingest_requires(tmp_path, name):
    from pipeline.ingest.reference import ReferenceData, ReferenceError

    seeds = tmp_path / "seeds"
    shutil.copytree(REPO_ROOT / "dbt_project" / "seeds", seeds)
    (seeds / name).unlink()
    with pytest.raises(ReferenceError, match=name.replace(".", r"\.")):
        ReferenceData.from_files(SAMPLE_RAW, seeds_dir=seeds)


@pytest.mark.parametrize("name", preflight.REQUIRED_REFERENCE_FILES)
def test_each_reference_file_checked_is_required_by_the_ingest(tmp_path, name):
    from pipeline.ingest.reference import ReferenceData, ReferenceError

    raw = _copy_raw(tmp_path)
    (raw / "reference" / name).unlink()
    with pytest.raises(ReferenceError, match="reference file missing"):
        ReferenceData.from_files(raw)


# --- write access and disk ------------------------------------------------------------------------------


@pytest.mark.parametrize(("var", "sub"), [("NTM_WAREHOUSE", "wh"), ("NTM_OPEN_DATA_DIR", "od")])
def test_unwritable_dir_chmod(env, tmp_path, var, sub):
    if not chmod_bites(tmp_path):
        pytest.skip(
            "running as root: chmod does not stop root from writing (tests/preflight/test_preflight_cli.py drops CAP_DAC_OVERRIDE)"
        )
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        env.setenv(var, str(folder / "ntm.duckdb") if var == "NTM_WAREHOUSE" else str(folder))
        p = _only(preflight.check(), "not_writable")
        assert p.subject == var
        _bilingual(p, var, str(folder))
    finally:
        folder.chmod(0o755)


@pytest.mark.parametrize("var", ["NTM_WAREHOUSE", "NTM_OPEN_DATA_DIR", "DAGSTER_HOME"])
def test_unwritable_dir_a_file_in_the_way(env, tmp_path, var):
    """Holds as root too: the folder cannot be created because a file stands where its parent should be."""
    (tmp_path / "blocker").write_text("not a folder")
    target = tmp_path / "blocker" / "sub"
    env.setenv(var, str(target / "ntm.duckdb") if var == "NTM_WAREHOUSE" else str(target))
    p = _only(preflight.check(), "not_writable")
    assert p.subject == var
    _bilingual(p, var, str(target))


def test_warehouse_that_is_a_folder(env, tmp_path):
    (tmp_path / "wh.duckdb").mkdir()
    env.setenv("NTM_WAREHOUSE", str(tmp_path / "wh.duckdb"))
    p = _only(preflight.check(), "warehouse_is_dir")
    _bilingual(p, "NTM_WAREHOUSE", str(tmp_path / "wh.duckdb"))


def test_low_disk(env, tmp_path):
    env.setenv("NTM_MIN_FREE_MB", str(10**12))
    p = _only(preflight.check(), "low_disk")
    _bilingual(p, "NTM_MIN_FREE_MB", str(tmp_path / "wh"), f"{10**12:,} MB")


def test_low_disk_named_per_disk(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    # same disk: named once
    assert len(preflight.check_disk([(a, "NTM_WAREHOUSE"), (b, "NTM_OPEN_DATA_DIR")], 10**12)) == 1
    assert preflight.check_disk([(a, "NTM_WAREHOUSE")], 1) == []


# --- dbt manifest ---------------------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path):
    """A small dbt project: one model, one seed, a parsed manifest newer than both."""
    proj = tmp_path / "dbt_project"
    (proj / "models").mkdir(parents=True)
    (proj / "seeds").mkdir()
    (proj / "target").mkdir()
    (proj / "models" / "m.sql").write_text("select 1")
    (proj / "seeds" / "s.csv").write_text("a\n1\n")
    (proj / "dbt_project.yml").write_text("name: p\n")
    manifest = proj / "target" / "manifest.json"
    manifest.write_text(json.dumps({"metadata": {}, "nodes": {}}))
    old = time.time() - 60
    for p in proj.rglob("*"):
        if p.is_file() and p != manifest:
            os.utime(p, (old, old))
    return proj, manifest


def test_manifest_fresh(project):
    assert preflight.check_manifest(project[1], project[0]) == []


def test_manifest_missing(project):
    proj, manifest = project
    manifest.unlink()
    p = _only(preflight.check_manifest(manifest, proj), "manifest_missing")
    _bilingual(p, str(manifest))
    assert "make manifest" in p.fix_vi and "make manifest" in p.fix_en


def test_manifest_unreadable(project):
    proj, manifest = project
    manifest.write_text('{"nodes": ')
    p = _only(preflight.check_manifest(manifest, proj), "manifest_unreadable")
    _bilingual(p, str(manifest))
    assert "make manifest" in p.fix_en


@pytest.mark.parametrize("changed", ["models/m.sql", "seeds/s.csv", "dbt_project.yml", "models/new.yml"])
def test_manifest_stale(project, changed):
    proj, manifest = project
    (proj / changed).write_text("-- edited\n")
    p = _only(preflight.check_manifest(manifest, proj), "manifest_stale")
    _bilingual(p, str(manifest), changed)
    assert "make manifest" in p.fix_vi and "make manifest" in p.fix_en


def test_files_under_target_and_logs_do_not_make_the_manifest_stale(project):
    proj, manifest = project
    (proj / "logs").mkdir()
    (proj / "logs" / "dbt.log").write_text("x")
    (proj / "target" / "run_results.yml").write_text("x")
    (proj / "models" / "notes.txt").write_text("x")
    assert preflight.check_manifest(manifest, proj) == []


def test_repository_manifest_is_current():
    """`make manifest` ran before the tests (the Makefile's test target depends on it)."""
    assert preflight.check_manifest() == []


# --- the report -----------------------------------------------------------------------------------------


def test_report_one_line_per_problem_and_its_fix(env, tmp_path):
    from rich.console import Console

    env.setenv("NTM_KEEP_RELEASES", "abc")
    env.setenv("NTM_RAW_DIR", str(tmp_path / "nowhere"))
    console = Console(record=True, width=60, highlight=False)
    problems = preflight.check()
    preflight.print_report(problems, console)
    lines = console.export_text().splitlines()
    assert len(lines) == 1 + 2 * len(problems) == 5
    assert lines[1].strip().startswith("✗ biến môi trường NTM_KEEP_RELEASES='abc'")
    assert lines[2].strip().startswith("→ Cách sửa / fix: sửa NTM_KEEP_RELEASES")
    assert "NTM_RAW_DIR" in lines[3] and "NTM_RAW_DIR" in lines[4]
    one = preflight.one_line(problems)
    assert "\n" not in one and "NTM_KEEP_RELEASES" in one and "(+1)" in one


# --- runs the daemon would start ------------------------------------------------------------------------


def test_sensor_skips_naming_the_problem_and_keeps_its_cursor(env, tmp_path):
    import dagster as dg

    from pipeline.sensors import ntm_raw_files

    env.setenv("NTM_RAW_DIR", str(tmp_path / "nowhere"))
    context = dg.build_sensor_context(cursor='{"done": {}}')
    result = ntm_raw_files(context)
    assert isinstance(result, dg.SkipReason)
    assert "NTM_RAW_DIR" in result.skip_message and str(tmp_path / "nowhere") in result.skip_message
    assert context.cursor == '{"done": {}}'


def test_nightly_schedule_skips_naming_the_problem(env):
    import dagster as dg

    from pipeline.jobs import ntm_nightly

    env.setenv("NTM_TODAY", "2026-13-01")
    with dg.instance_for_test() as instance:
        result = ntm_nightly(dg.build_schedule_context(instance=instance))
    assert isinstance(result, dg.SkipReason)
    assert "NTM_TODAY='2026-13-01'" in result.skip_message and "pre-flight" in result.skip_message


def test_every_documented_setting_is_checked_and_every_checked_one_documented():
    import re

    from pipeline import config

    documented = set(re.findall(r"^\| (NTM_[A-Z_]+)", config.__doc__, flags=re.MULTILINE))
    checked = {s.var for s in preflight.SETTINGS}
    as_paths_or_free_text = {
        *("NTM_RAW_DIR", "NTM_WAREHOUSE", "NTM_OPEN_DATA_DIR", "NTM_PII_SALT"),
        *("NTM_SENDER_NAME", "NTM_SENDER_EMAIL"),  # the report package's sender (free text)
        # switches: any value is read (pipeline.config._flag and the accessors say how)
        *("NTM_INGEST_REHASH", "NTM_INGEST_FASTPATH", "NTM_GX_PREWARM", "NTM_NIGHTLY_FORCE"),
        "NTM_SENSOR_BASELINE",
        "NTM_FAULT_HOOK",  # tests only: checked when the first fault point loads it (pipeline.lib.faults)
        # set by the pipeline for dbt, not by hand
        *(
            "NTM_WAREHOUSE_PATH",
            "NTM_DBT_CONNECT_ATTEMPTS",
            "NTM_DBT_PERIOD_CODE",
            "NTM_DBT_TEST_PERIOD_CODE",
        ),
    }
    assert documented - as_paths_or_free_text == checked
    readme = (REPO_ROOT / "README.md").read_text()
    for var in checked:
        assert f"| `{var}` |" in readme, var

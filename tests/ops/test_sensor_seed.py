"""The landing-zone sensor asks pipeline.changes what changed since the last successful build: what that
build processed does not start another run, anything new or changed since does, once.

Fast tests evaluate the sensor in process against a tmp landing zone, a last-success record and a test
instance. The slow test chains on the session's CLI run (tests/conftest.py ``reference``): a copy of its
warehouse (with the record its publish step wrote), open data and DAGSTER_HOME under a real `dagster dev`,
whose daemon's first sensor tick must launch no run; then, with the cursor that tick stored, a changed raw
file makes the sensor request a run (evaluated in process, so no second full pipeline run), and the webserver
shows telemetry and the community prompt off."""

from __future__ import annotations

import os
import shutil
import time
import urllib.request
from pathlib import Path

import dagster as dg
import pytest

from pipeline import changes
from pipeline.config import get_settings
from pipeline.jobs import JOB_NAME
from pipeline.lib.hashing import sha256_file
from pipeline.sensors import SENSOR_NAME, ntm_raw_files
from tests.ops._support import REPO, copy_state, kill_group, start, wait_for

SUB = "submissions/2026/18484-KT_2026-Q1.csv"
SURVEY = "surveys/khao_sat_hai_long_2026.jsonl"
# the registries of raw/reference are copied too: pre-flight (when it runs in the sensor) needs them
REF = sorted(f"reference/{p.name}" for p in (REPO / "raw" / "reference").iterdir() if p.is_file())
ALL = {SUB, SURVEY, *REF}


def _write(path: Path, text: str, age_s: float = 100) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    t = time.time() - age_s
    os.utime(path, (t, t))


def _succeeded(raw: Path, rels: list[str], run_id: str = "run-ok") -> str:
    """A successful build whose ingest accounted for these files: the record its publish step writes."""
    accounted = {sha256_file(raw / rel) for rel in rels}
    changes.record_success(get_settings(), run_id=run_id, release_id="r1", accounted=accounted)
    return run_id


def _run(instance: dg.DagsterInstance, status: dg.DagsterEventType | None, at: float | None = None) -> str:
    """A run of the job in the instance: ended with ``status`` (RUN_SUCCESS / RUN_FAILURE) at ``at``, or
    still STARTED when ``status`` is None."""
    from pipeline.definitions import defs

    job = defs.resolve_job_def(JOB_NAME)
    run = instance.create_run_for_job(job_def=job, tags={"ntm/trigger": "cli"})
    events = [dg.DagsterEventType.RUN_START] + ([status] if status else [])
    for i, event_type in enumerate(events):
        instance.handle_new_event(
            dg.EventLogEntry(
                error_info=None,
                level="debug",
                user_message="",
                run_id=run.run_id,
                timestamp=(at or time.time()) - (len(events) - 1 - i),
                dagster_event=dg.DagsterEvent(event_type_value=event_type.value, job_name=job.name),
            )
        )
    return run.run_id


@pytest.fixture
def env(tmp_path, monkeypatch):
    raw, warehouse = tmp_path / "raw", tmp_path / "warehouse" / "ntm.duckdb"
    _write(raw / SUB, "a,b\n1,2\n")
    _write(raw / SURVEY, '{"a": 1}\n')
    _write(raw / "templates" / "bao_cao.csv", "template")
    shutil.copytree(REPO / "raw" / "reference", raw / "reference")
    monkeypatch.setenv("NTM_RAW_DIR", str(raw))
    monkeypatch.setenv("NTM_OPEN_DATA_DIR", str(tmp_path / "open_data"))
    monkeypatch.setenv("NTM_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("NTM_SENSOR_SETTLE_S", "0")
    monkeypatch.delenv("NTM_SENSOR_BASELINE", raising=False)
    return raw, warehouse


def _tick(instance, cursor: str | None):
    from pipeline.definitions import defs

    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, repository_def=defs.get_repository_def()
    )
    return ntm_raw_files(context), context.cursor


def test_first_tick_after_a_successful_build_launches_nothing_and_a_change_triggers_once(env):
    raw, _ = env
    with dg.instance_for_test() as instance:
        run_id = _succeeded(raw, sorted(ALL))
        result, cursor = _tick(instance, None)
        assert isinstance(result, dg.SkipReason), result
        n = len(ALL)
        assert f"since successful run {run_id}: {n} of {n} file(s) already processed" in result.skip_message
        # idempotent: later ticks stay quiet, a touch (same content) is no change
        result, cursor = _tick(instance, cursor)
        assert isinstance(result, dg.SkipReason)
        t = time.time() - 50
        os.utime(raw / SUB, (t, t))
        for _ in range(2):
            result, cursor = _tick(instance, cursor)
            assert isinstance(result, dg.SkipReason)
        # a file changed after that build: one run for its source and period, once
        _write(raw / SUB, "a,b\n1,3\n", age_s=40)
        result, cursor = _tick(instance, cursor)  # seen once: not settled yet
        assert isinstance(result, dg.SkipReason)
        result, cursor = _tick(instance, cursor)
        assert isinstance(result, dg.RunRequest), result
        assert result.tags["ntm/sources"] == "submissions" and result.tags["ntm/period"] == "2026-Q1"
        # the run it requested failed (no record): not requested again; a further change is, with the first
        result, cursor = _tick(instance, cursor)
        assert isinstance(result, dg.SkipReason) and "already requested" in result.skip_message
        _write(raw / "submissions/2026/18484-T03_2026-Q2.csv", "a,b\n5,6\n", age_s=40)
        result, cursor = _tick(instance, cursor)  # the new file settling, the first one already requested
        assert isinstance(result, dg.SkipReason) and "already requested" in result.skip_message
        result, cursor = _tick(instance, cursor)
        assert isinstance(result, dg.RunRequest), result
        assert result.tags["ntm/files"] == "2" and result.tags["ntm/period"] == "2026"
        # the run succeeds (its publish step records it): quiet again
        _succeeded(raw, sorted(ALL | {"submissions/2026/18484-T03_2026-Q2.csv"}), "run-2")
        result, cursor = _tick(instance, cursor)
        assert isinstance(result, dg.SkipReason) and "since successful run run-2" in result.skip_message


def test_files_not_processed_by_the_last_successful_build_trigger_in_the_first_tick(env):
    raw, _ = env
    with dg.instance_for_test() as instance:
        # the survey file was processed by the last successful build, the submission only by a run that
        # failed afterwards (its rows are in raw.*, but no successful build has built and published them)
        _succeeded(raw, [SURVEY, *REF])
        _run(instance, dg.DagsterEventType.RUN_FAILURE, at=time.time() - 60)
        result, _ = _tick(instance, None)
        assert isinstance(result, dg.RunRequest), result
        assert result.tags["ntm/files"] == "1" and result.tags["ntm/period"] == "2026-Q1"


def test_without_a_successful_build_every_file_triggers(env):
    raw, _ = env
    with dg.instance_for_test() as instance:
        _run(instance, dg.DagsterEventType.RUN_FAILURE)
        result, _ = _tick(instance, None)
        assert isinstance(result, dg.RunRequest)
        assert result.tags["ntm/files"] == str(len(ALL))


def test_the_sensor_waits_for_a_run_in_progress(env):
    raw, _ = env
    with dg.instance_for_test() as instance:
        _succeeded(raw, [SURVEY, *REF])
        started = _run(instance, None)
        result, cursor = _tick(instance, None)
        assert isinstance(result, dg.SkipReason) and cursor is None, (result, cursor)
        assert f"run {started} is STARTED" in result.skip_message
        instance.report_run_failed(instance.get_run_by_id(started))
        result, cursor = _tick(instance, None)
        assert isinstance(result, dg.RunRequest) and result.tags["ntm/files"] == "1"


def test_baseline_takes_the_changes_present_as_handled(env, monkeypatch):
    raw, _ = env
    monkeypatch.setenv("NTM_SENSOR_BASELINE", "1")
    with dg.instance_for_test() as instance:
        result, cursor = _tick(instance, None)
        assert (
            isinstance(result, dg.SkipReason)
            and f"baseline: {len(ALL)} changed file(s)" in result.skip_message
        )
        result, cursor = _tick(instance, cursor)
        assert isinstance(result, dg.SkipReason), result
        _write(raw / SUB, "a,b\n1,3\n", age_s=40)
        result, cursor = _tick(instance, cursor)  # settling
        result, cursor = _tick(instance, cursor)
        assert isinstance(result, dg.RunRequest) and result.tags["ntm/files"] == "1", result


def test_baseline_is_taken_at_the_first_tick_even_while_a_run_is_in_progress(env, monkeypatch):
    """The daemon's first tick may come while the run that handles the files present is in progress: the
    baseline is taken then, not at the first quiet tick, when a file landed after the start would be taken
    in too (it then triggers its own run)."""
    raw, _ = env
    monkeypatch.setenv("NTM_SENSOR_BASELINE", "1")
    with dg.instance_for_test() as instance:
        started = _run(instance, None)
        result, cursor = _tick(instance, None)
        assert (
            isinstance(result, dg.SkipReason)
            and f"baseline: {len(ALL)} changed file(s)" in result.skip_message
        )
        _write(raw / SUB, "a,b\n1,3\n", age_s=40)  # lands while the run is still going
        result, cursor = _tick(instance, cursor)
        assert isinstance(result, dg.SkipReason) and f"run {started} is STARTED" in result.skip_message
        instance.report_run_failed(instance.get_run_by_id(started))
        result, cursor = _tick(instance, cursor)  # settling
        result, cursor = _tick(instance, cursor)
        assert isinstance(result, dg.RunRequest) and result.tags["ntm/files"] == "1", result


def test_the_instance_config_turns_telemetry_and_the_community_prompt_off(tmp_path):
    """`make ui` uses .dagster/dagster.yaml: the loaded instance has telemetry and the NUX (the "join the
    Dagster community" prompt) off; without the `nux` block the prompt would be on."""
    config = (REPO / ".dagster" / "dagster.yaml").read_text()
    for name, text in (("ours", config), ("without_nux", config.replace("nux:\n  enabled: false\n", ""))):
        home = tmp_path / name
        home.mkdir()
        (home / "dagster.yaml").write_text(text)
        with dg.DagsterInstance.from_config(str(home)) as instance:
            assert instance.telemetry_enabled is False
            assert instance.nux_enabled is (name == "without_nux")


# --- real daemon -------------------------------------------------------------------------------------------

GQL_SENSOR = """
query($sel: SensorSelector!) { sensorOrError(sensorSelector: $sel) { __typename
  ... on Sensor { sensorState { status ticks(limit: 20) { status skipReason runIds cursor timestamp } } } } }"""
GQL_RUNS = "{ runsOrError { ... on Runs { results { runId status tags { key value } } } } }"


@pytest.mark.slow
@pytest.mark.skipif(bool(os.environ.get("NTM_SKIP_OPS_TESTS")), reason="NTM_SKIP_OPS_TESTS is set")
@pytest.mark.timeout(1200)
def test_make_ui_after_make_run_first_sensor_tick_launches_no_run(reference, tmp_path, monkeypatch):
    from tests.ops.test_e2e_dagster import REPO_SELECTOR, GraphQL, _free_port, _location_loaded

    env = copy_state(reference, tmp_path)
    # the CLI run's history: `make ui` uses the same DAGSTER_HOME as `make run`
    src_home, home = Path(reference["env"]["DAGSTER_HOME"]), Path(env["DAGSTER_HOME"])
    for item in src_home.iterdir():
        if item.name != "dagster.yaml" and not item.name.startswith("."):
            (shutil.copytree if item.is_dir() else shutil.copy2)(item, home / item.name)
    env.update(NTM_SENSOR_INTERVAL_S="5", NTM_SENSOR_SETTLE_S="2")
    env.pop("NTM_SENSOR_BASELINE", None)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        before = instance.get_run_records()
    assert [r.dagster_run.status for r in before] == [dg.DagsterRunStatus.SUCCESS]
    assert before[0].dagster_run.tags.get("ntm/trigger") == "cli"

    port = _free_port()
    dagster = REPO / ".venv/bin/dagster"
    proc = start(
        [str(dagster) if dagster.exists() else "dagster", "dev", "-w", "workspace.yaml", "-h", "127.0.0.1"]
        + ["-p", str(port)],
        env,
        tmp_path / "dagster_dev.log",
    )
    gql = GraphQL(port)
    sel = {**REPO_SELECTOR, "sensorName": SENSOR_NAME}
    try:
        wait_for(lambda: _location_loaded(gql), timeout=240, interval=2, what="the code location")
        # the community prompt and telemetry are off in what the webserver serves
        assert gql("{ shouldShowNux }")["shouldShowNux"] is False
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=60) as resp:
            page = resp.read().decode()
        assert '"telemetryEnabled": false' in page, page[:2000]

        def ticks(n: int):
            state = gql(GQL_SENSOR, {"sel": sel})["sensorOrError"]["sensorState"]
            done = [t for t in state["ticks"] if t["status"] != "STARTED"]
            return sorted(done, key=lambda t: t["timestamp"]) if len(done) >= n else None

        log = tmp_path / "dagster_dev.log"
        first, *later = wait_for(lambda: ticks(3), timeout=240, interval=2, what="three sensor ticks")
        assert first["status"] == "SKIPPED", (first, log.read_text(errors="replace")[-4000:])
        assert first["runIds"] == []
        assert f"since successful run {before[0].dagster_run.run_id}" in first["skipReason"], first
        total = len(changes.landing_files(Path(env["NTM_RAW_DIR"])))
        assert f": {total} of {total} file(s) already processed" in first["skipReason"], first
        assert all(t["status"] == "SKIPPED" and t["runIds"] == [] for t in later), later
        runs = gql(GQL_RUNS)["runsOrError"]["results"]
        assert [r["runId"] for r in runs] == [before[0].dagster_run.run_id], runs
        cursor = later[-1]["cursor"]
    finally:
        kill_group(proc, sig=15)
        kill_group(proc)

    # the daemon is gone; with the cursor it stored, a changed file makes the sensor request a run
    for key in ("NTM_RAW_DIR", "NTM_WAREHOUSE", "NTM_OPEN_DATA_DIR", "NTM_PII_SALT"):
        monkeypatch.setenv(key, env[key])
    monkeypatch.setenv("NTM_SENSOR_SETTLE_S", "0")
    raw = Path(env["NTM_RAW_DIR"])
    target = sorted((raw / "submissions").rglob("*.csv"))[0]
    with open(target, "a", encoding="utf-8") as fh:
        fh.write("\n")
    t = time.time() - 30
    os.utime(target, (t, t))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        result, cursor = _tick(instance, cursor)  # first sight of the new size/mtime: settling
        assert isinstance(result, dg.SkipReason), result
        result, cursor = _tick(instance, cursor)
    assert isinstance(result, dg.RunRequest), result
    assert result.tags["ntm/files"] == "1" and result.tags["ntm/sources"] == "submissions"

"""The landing-zone sensor's first cursor comes from the last successful run (pipeline.sensors.seed_cursor):
what that run processed does not start another run, anything new or changed since does.

Fast tests evaluate the sensor in process against a small warehouse and a test instance. The slow test
chains on the session's CLI run (tests/ops/conftest.py ``reference``): a copy of its warehouse, open data
and DAGSTER_HOME under a real `dagster dev`, whose daemon's first sensor tick must launch no run; then,
with the cursor that tick stored, a changed raw file makes the sensor request a run (evaluated in process,
so no second full pipeline run), and the webserver shows telemetry and the community prompt off."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
import urllib.request
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipeline.ingest.tables import ensure_warehouse_schema
from pipeline.jobs import JOB_NAME
from pipeline.lib.hashing import sha256_file
from pipeline.sensors import SENSOR_NAME, ntm_raw_files, seed_cursor
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


def _ingested(warehouse: Path, raw: Path, rels: list[str], at: dt.datetime, cache: bool = False) -> None:
    """Record files as the ingest does: audit.ingest_files (and optionally the stat cache audit.file_stats)."""
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(warehouse))
    try:
        ensure_warehouse_schema(con)
        for rel in rels:
            p = raw / rel
            sha, st = sha256_file(p), p.stat()
            con.execute(
                "insert or replace into audit.ingest_files (file_sha256, path, bytes, source, status, ingested_at) "
                "values (?, ?, ?, ?, 'loaded', ?)",
                [sha, rel, st.st_size, rel.split("/")[0], at],
            )
            if cache:
                con.execute(
                    "insert or replace into audit.file_stats values (?, ?, ?, ?, ?, ?, ?)",
                    [rel, sha, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, at],
                )
    finally:
        con.close()


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


def test_first_tick_after_a_successful_run_launches_nothing_and_a_change_still_triggers(env):
    raw, warehouse = env
    with dg.instance_for_test() as instance:
        _ingested(warehouse, raw, sorted(ALL), at=dt.datetime.now() - dt.timedelta(minutes=5))
        run_id = _run(instance, dg.DagsterEventType.RUN_SUCCESS)
        result, cursor = _tick(instance, None)
        assert isinstance(result, dg.SkipReason), result
        n = len(ALL)
        assert (
            f"seeded from successful run {run_id}: {n} of {n} file(s) already processed"
            in result.skip_message
        )
        assert set(json.loads(cursor)["done"]) == ALL
        # idempotent: later ticks stay quiet, a touch (same content) is no change
        result, cursor = _tick(instance, cursor)
        assert isinstance(result, dg.SkipReason) and "seeded" not in result.skip_message
        t = time.time() - 50
        os.utime(raw / SUB, (t, t))
        for _ in range(2):
            result, cursor = _tick(instance, cursor)
            assert isinstance(result, dg.SkipReason)
        # a file changed after that run: one run for its source and period, once
        _write(raw / SUB, "a,b\n1,3\n", age_s=40)
        result, cursor = _tick(instance, cursor)  # seen once: not settled yet
        assert isinstance(result, dg.SkipReason)
        result, cursor = _tick(instance, cursor)
        assert isinstance(result, dg.RunRequest), result
        assert result.tags["ntm/sources"] == "submissions" and result.tags["ntm/period"] == "2026-Q1"
        assert isinstance(_tick(instance, cursor)[0], dg.SkipReason)


def test_files_not_processed_by_the_last_successful_run_trigger_in_the_first_tick(env):
    raw, warehouse = env
    with dg.instance_for_test() as instance:
        # the survey file was ingested before the last successful run, the submission only by a run that
        # failed afterwards (its rows are in raw.*, but no successful run has built and published them)
        _ingested(warehouse, raw, [SURVEY, *REF], at=dt.datetime.now() - dt.timedelta(minutes=10))
        _run(instance, dg.DagsterEventType.RUN_SUCCESS, at=time.time() - 300)
        _ingested(warehouse, raw, [SUB], at=dt.datetime.now() - dt.timedelta(minutes=2))
        _run(instance, dg.DagsterEventType.RUN_FAILURE, at=time.time() - 60)
        result, cursor = _tick(instance, None)
        assert isinstance(result, dg.RunRequest), result
        assert result.tags["ntm/files"] == "1" and result.tags["ntm/period"] == "2026-Q1"
        assert set(json.loads(cursor)["done"]) == ALL


def test_without_a_successful_run_every_file_triggers(env):
    raw, warehouse = env
    with dg.instance_for_test() as instance:
        _ingested(warehouse, raw, sorted(ALL), at=dt.datetime.now() - dt.timedelta(minutes=5))
        _run(instance, dg.DagsterEventType.RUN_FAILURE)
        result, _ = _tick(instance, None)
        assert isinstance(result, dg.RunRequest)
        assert result.tags["ntm/files"] == str(len(ALL))


def test_seed_waits_for_a_run_in_progress_and_for_a_busy_warehouse(env):
    raw, warehouse = env
    with dg.instance_for_test() as instance:
        _ingested(warehouse, raw, sorted(ALL), at=dt.datetime.now() - dt.timedelta(minutes=5))
        _run(instance, dg.DagsterEventType.RUN_SUCCESS, at=time.time() - 60)
        started = _run(instance, None)
        result, cursor = _tick(instance, None)
        assert isinstance(result, dg.SkipReason) and cursor is None, (result, cursor)
        assert f"run {started} is STARTED" in result.skip_message
        # the run ends; the warehouse is held open by a writer (DuckDB: one writer per file)
        instance.report_run_failed(instance.get_run_by_id(started))
        writer = duckdb.connect(str(warehouse))
        try:
            result, cursor = _tick(instance, None)
            assert isinstance(result, dg.SkipReason) and cursor is None
            assert "warehouse busy" in result.skip_message
        finally:
            writer.close()
        result, cursor = _tick(instance, None)
        assert isinstance(result, dg.SkipReason) and set(json.loads(cursor)["done"]) == ALL


def test_seed_takes_unchanged_files_hashes_from_the_stat_cache(env, monkeypatch):
    raw, warehouse = env
    _ingested(warehouse, raw, sorted(ALL), at=dt.datetime.now() - dt.timedelta(minutes=5), cache=True)
    read: list[Path] = []
    monkeypatch.setattr("pipeline.sensors.sha256_file", lambda p: read.append(p) or sha256_file(p))
    with dg.instance_for_test() as instance:
        _run(instance, dg.DagsterEventType.RUN_SUCCESS)
        cursor, why = seed_cursor(raw, warehouse, instance)
        assert read == [] and set(cursor["done"]) == ALL, why
        # a copy (new inode and ctime, same content) is read, and still recognised by its content
        shutil.copy2(raw / SUB, raw / "x.csv")
        os.replace(raw / "x.csv", raw / SUB)
        cursor, why = seed_cursor(raw, warehouse, instance)
        assert read == [raw / SUB] and set(cursor["done"]) == ALL, why


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
        assert f"seeded from successful run {before[0].dagster_run.run_id}" in first["skipReason"], first
        total = len(json.loads(first["cursor"])["seen"])
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

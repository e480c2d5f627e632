"""End to end against the real Dagster services: `dagster dev` (webserver + daemon) on a free loopback port
with a temporary DAGSTER_HOME, raw dir, warehouse and open-data dir. First a `python -m pipeline run` is
SIGKILLed while STARTED: the daemon's run monitoring must mark it FAILED so that the queue (one run at a
time) is not blocked. Launches a materialization through the GraphQL API and waits for it, checks that the schedule and the sensor are registered and running,
drops a new submission file into the raw dir and waits for the sensor's run to succeed and publish a new
release, then shuts everything down. Bounded: every wait has a deadline and the whole test a timeout."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import dagster as dg
import pytest

from pipeline.publish.release import verify_release
from tests.ops._support import PY, REPO, kill_group, make_env, start, wait_for

pytestmark = [
    pytest.mark.slow,
    # part of `make test` (CI); `make test-ops` runs these alone. Skip locally with NTM_SKIP_OPS_TESTS=1.
    pytest.mark.skipif(bool(os.environ.get("NTM_SKIP_OPS_TESTS")), reason="NTM_SKIP_OPS_TESTS is set"),
    pytest.mark.timeout(1200),
]

LOCATION = "ntm"
REPOSITORY = "__repository__"
JOB = "ntm_full_refresh"
DROPPED = "submissions/2026/18484-T03_2026-Q2.csv"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GraphQL:
    def __init__(self, port: int):
        self.url = f"http://127.0.0.1:{port}/graphql"

    def __call__(self, query: str, variables: dict | None = None, timeout: float = 60) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        req = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            payload = json.loads(resp.read())
        assert "errors" not in payload, payload["errors"]
        return payload["data"]


REPO_SELECTOR = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}

LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
  }
}"""
RUN = """query Run($id: ID!) { runOrError(runId: $id) { __typename ... on Run { status } } }"""
RUNS = """
query Runs($filter: RunsFilter) {
  runsOrError(filter: $filter) {
    ... on Runs { results { runId status tags { key value } } }
  }
}"""
LOCATION_STATUS = """
query { workspaceOrError { ... on Workspace { locationEntries { name
  locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
SCHEDULES = """
query($sel: RepositorySelector!) { schedulesOrError(repositorySelector: $sel) {
  __typename ... on Schedules { results { name cronSchedule executionTimezone scheduleState { status } } } } }"""
SENSORS = """
query($sel: RepositorySelector!) { sensorsOrError(repositorySelector: $sel) {
  __typename ... on Sensors { results { name sensorState { status } } } } }"""

SENSOR_TICKS = """
query($sel: SensorSelector!) { sensorOrError(sensorSelector: $sel) { __typename
  ... on Sensor { sensorState { ticks(limit: 20) { status runIds timestamp } } } } }"""


def _wait_run(gql: GraphQL, run_id: str, timeout: float) -> str:
    def done():
        status = gql(RUN, {"id": run_id})["runOrError"]["status"]
        return status if status in {"SUCCESS", "FAILURE", "CANCELED"} else None

    return wait_for(done, timeout=timeout, interval=2, what=f"run {run_id}")


def _location_loaded(gql: GraphQL) -> bool:
    try:
        entries = gql(LOCATION_STATUS)["workspaceOrError"]["locationEntries"]
    except (urllib.error.URLError, ConnectionError, OSError):
        return False
    entry = next((e for e in entries if e["name"] == LOCATION), None)
    if not entry or not entry["locationOrLoadError"]:
        return False
    assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation", entry
    return True


def _kill_a_cli_run_while_started(env: dict[str, str], log: Path) -> str:
    """Start `python -m pipeline run`, SIGKILL it once its first step runs; returns its run id."""
    proc = start([PY, "-m", "pipeline", "run", "-v"], env, log)
    step = re.compile(r" - ntm_full_refresh - ([0-9a-f-]{36}) - \d+ - \w+ - STEP_START - ")
    try:
        match = wait_for(
            lambda: step.search(log.read_text(errors="replace")) or proc.poll() is not None,
            timeout=300,
            what="the CLI run's first step",
        )
        assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
    finally:
        kill_group(proc)
    return match.group(1)


def test_dagster_services_run_the_pipeline_and_the_sensor(tmp_path):
    env = make_env(
        tmp_path,
        NTM_SENSOR_INTERVAL_S="5",
        NTM_SENSOR_SETTLE_S="2",
        # files present at start are handled by the run launched below; the sensor reacts to new ones
        NTM_SENSOR_BASELINE="1",
    )
    raw = Path(env["NTM_RAW_DIR"])
    held_back = tmp_path / "incoming.csv"
    shutil.move(raw / DROPPED, held_back)
    home = Path(env["DAGSTER_HOME"])
    config = (home / "dagster.yaml").read_text()
    assert "poll_interval_seconds: 30" in config
    (home / "dagster.yaml").write_text(
        config.replace("poll_interval_seconds: 30", "poll_interval_seconds: 5")
    )

    # a run killed with SIGKILL (no chance to report anything) stays STARTED in the run history, holding
    # the single slot of the run queue (max_concurrent_runs: 1)
    orphan = _kill_a_cli_run_while_started(env, tmp_path / "killed.log")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_run_by_id(orphan).status == dg.DagsterRunStatus.STARTED

    port = _free_port()
    proc = start(
        [
            str(Path(REPO / ".venv/bin/dagster")) if (REPO / ".venv/bin/dagster").exists() else "dagster",
            "dev",
            "-w",
            "workspace.yaml",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        env,
        tmp_path / "dagster_dev.log",
    )
    gql = GraphQL(port)
    try:
        wait_for(lambda: _location_loaded(gql), timeout=180, interval=2, what="the code location")

        # schedule and sensor are registered and running
        schedules = gql(SCHEDULES, {"sel": REPO_SELECTOR})["schedulesOrError"]["results"]
        nightly = {s["name"]: s for s in schedules}["ntm_nightly"]
        assert nightly["cronSchedule"] == "30 1 * * *"
        assert nightly["executionTimezone"] == "Asia/Ho_Chi_Minh"
        assert nightly["scheduleState"]["status"] == "RUNNING"
        sensors = {s["name"]: s for s in gql(SENSORS, {"sel": REPO_SELECTOR})["sensorsOrError"]["results"]}
        assert sensors["ntm_raw_files"]["sensorState"]["status"] == "RUNNING"

        # a materialization of every period (one run) launched through GraphQL
        params = {
            "selector": {**REPO_SELECTOR, "jobName": JOB},
            "runConfigData": {},
            "executionMetadata": {"tags": [{"key": "ntm/trigger", "value": "e2e"}]},
        }
        # the webserver asks the code server for the execution plan: tens of seconds on a busy machine
        launched = gql(LAUNCH, {"params": params}, timeout=240)["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        first = launched["run"]["runId"]
        assert _wait_run(gql, first, timeout=360) == "SUCCESS", (tmp_path / "dagster_dev.log").read_text()[
            -5000:
        ]
        # the queued run could start because the daemon's run monitoring failed the killed run
        assert gql(RUN, {"id": orphan})["runOrError"]["status"] == "FAILURE"
        with dg.DagsterInstance.from_config(str(home)) as instance:
            failure = instance.get_records_for_run(orphan, of_type=dg.DagsterEventType.RUN_FAILURE).records
        assert failure and "is gone" in failure[0].event_log_entry.dagster_event.message
        latest = Path(env["NTM_OPEN_DATA_DIR"]) / "latest"
        first_release = latest.resolve().name

        # a new file lands: the sensor starts a run for its source and period, which publishes
        shutil.copy(held_back, raw / DROPPED)

        def sensor_run():
            runs = gql(RUNS, {"filter": {"tags": [{"key": "dagster/sensor_name", "value": "ntm_raw_files"}]}})
            results = runs["runsOrError"]["results"]
            return results[0] if results else None

        run = wait_for(sensor_run, timeout=90, interval=2, what="a sensor-triggered run")
        tags = {t["key"]: t["value"] for t in run["tags"]}
        assert tags.get("ntm/period") == "2026-Q2", tags
        assert _wait_run(gql, run["runId"], timeout=300) == "SUCCESS"
        assert verify_release(latest) == []
        assert latest.resolve().name != first_release, "the new file did not reach the open data"
        # the same file never triggers twice: the next two sensor ticks after the run request nothing (waited
        # for, not slept: under load a fixed sleep may end before the sensor ticked at all)
        run_done = time.time()

        def ticks_after(n: int):
            sel = {**REPO_SELECTOR, "sensorName": "ntm_raw_files"}
            ticks = gql(SENSOR_TICKS, {"sel": sel})["sensorOrError"]["sensorState"]["ticks"]
            later = [t for t in ticks if t["status"] != "STARTED" and t["timestamp"] > run_done]
            return later if len(later) >= n else None

        later = wait_for(
            lambda: ticks_after(2), timeout=120, interval=1, what="two sensor ticks after the run"
        )
        assert all(t["runIds"] == [] for t in later), later
        runs = gql(RUNS, {"filter": {"tags": [{"key": "dagster/sensor_name", "value": "ntm_raw_files"}]}})
        assert len(runs["runsOrError"]["results"]) == 1
    finally:
        kill_group(proc, sig=15)
        kill_group(proc)

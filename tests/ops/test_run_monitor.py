"""Fast tests of pipeline.run_monitor on a real Dagster instance configured by the project's dagster.yaml:
a run whose process is gone is failed (by the run-monitoring health check and by the CLI at start); a live
one, a reused pid and a run of another host are told apart."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import dagster as dg
import psutil
import pytest
from dagster._core.events import EngineEventData
from dagster._core.launcher import WorkerStatus
from dagster._core.test_utils import create_run_for_test

from pipeline.run_monitor import (
    HOST_TAG,
    PID_TAG,
    NtmRunLauncher,
    fail_orphaned_runs,
    run_tags,
    worker_health,
    worker_pid,
)
from tests.ops._support import REPO


@pytest.fixture
def instance(tmp_path):
    shutil.copy(REPO / ".dagster" / "dagster.yaml", tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as inst:
        yield inst


def _dead_pid() -> int:
    proc = subprocess.Popen(["sleep", "30"])
    proc.kill()
    proc.wait()
    return proc.pid


def _started(instance, tags=None):
    return create_run_for_test(instance, status=dg.DagsterRunStatus.STARTED, tags=tags or {})


def test_dagster_yaml_turns_on_run_monitoring_with_a_launcher_that_checks_workers(instance):
    assert isinstance(instance.run_launcher, NtmRunLauncher)
    assert instance.run_launcher.supports_check_run_worker_health
    assert instance.run_monitoring_enabled
    assert instance.run_monitoring_max_resume_run_attempts == 0  # the default launcher cannot resume
    assert 0 < instance.run_monitoring_start_timeout_seconds <= 600
    assert 0 < instance.run_monitoring_cancel_timeout_seconds <= 600
    assert instance.run_monitoring_settings["poll_interval_seconds"] <= 60


def test_a_cli_run_whose_process_was_killed_is_failed_and_a_live_one_is_not(instance):
    dead = _started(instance, {PID_TAG: str(_dead_pid()), HOST_TAG: run_tags()[HOST_TAG]})
    alive = _started(instance, run_tags())  # this very process
    assert instance.run_launcher.check_run_worker_health(dead).status == WorkerStatus.FAILED
    assert instance.run_launcher.check_run_worker_health(alive).status == WorkerStatus.RUNNING
    failed = fail_orphaned_runs(instance)
    assert [run_id for run_id, _ in failed] == [dead.run_id]
    assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
    assert instance.get_run_by_id(alive.run_id).status == dg.DagsterRunStatus.STARTED
    failure = instance.get_records_for_run(dead.run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
    message = failure[0].event_log_entry.dagster_event.message
    assert "Tiến trình" in message and "is gone" in message and str(dead.tags[PID_TAG]) in message
    assert fail_orphaned_runs(instance) == []  # idempotent


def test_a_pid_reused_by_a_later_process_is_not_the_runs_process(instance):
    run = _started(instance, {HOST_TAG: run_tags()[HOST_TAG]})
    instance.add_run_tags(run.run_id, {PID_TAG: str(os.getpid())})
    _, recorded_at = worker_pid(instance, instance.get_run_by_id(run.run_id))
    # A process started after the run recorded its pid, as psutil dates it: psutil's start time is derived
    # from the whole-second boot time and the run record's time may be truncated, so a fixed sleep is not
    # enough on every machine (CI once saw RUNNING after 2.5 s); wait until the dates really say "later".
    deadline = time.monotonic() + 30
    while True:
        later = subprocess.Popen(["sleep", "30"])
        if psutil.Process(later.pid).create_time() > recorded_at + 2.0 + 0.5:  # beyond the 2 s clock slack
            break
        later.kill()
        later.wait()
        assert time.monotonic() < deadline, "no process dated after the run's record within 30 s"
        time.sleep(0.5)
    try:
        instance.add_run_tags(run.run_id, {PID_TAG: str(later.pid)})
        run = instance.get_run_by_id(run.run_id)
        assert worker_health(instance, run).status == WorkerStatus.FAILED
    finally:
        later.kill()
        later.wait()


def test_a_launched_run_is_found_by_its_executor_pid_event(instance):
    dead_run = _started(instance)
    instance.report_engine_event("Started process for run", dead_run, EngineEventData.in_process(_dead_pid()))
    live_run = _started(instance)
    instance.report_engine_event("Started process for run", live_run, EngineEventData.in_process(os.getpid()))
    assert worker_health(instance, dead_run).status == WorkerStatus.FAILED
    assert worker_health(instance, live_run).status == WorkerStatus.RUNNING
    # no pid recorded yet, or a run of another machine: not judged (left to the start timeout)
    assert worker_health(instance, _started(instance)).status == WorkerStatus.RUNNING
    other = _started(instance, {PID_TAG: str(_dead_pid()), HOST_TAG: "another-host"})
    assert worker_health(instance, other).status == WorkerStatus.RUNNING


def test_an_in_process_run_records_the_pid_the_health_check_reads(instance):
    @dg.op
    def noop():
        return 1

    @dg.job(executor_def=dg.in_process_executor)
    def tiny():
        noop()

    result = tiny.execute_in_process(instance=instance)
    run = instance.get_run_by_id(result.run_id)

    pid, _ = worker_pid(instance, run)
    assert pid == os.getpid()

"""Runs whose process is gone must not stay STARTED: one STARTED run fills the queue's single slot
(``max_concurrent_runs: 1`` in dagster.yaml) and every queued run (UI, sensor, schedule) would wait forever.

Dagster's run monitoring (daemon) asks the run launcher whether a run's worker is alive, but the
``DefaultRunLauncher`` cannot say (``supports_check_run_worker_health`` is False), and runs of
``python -m pipeline run`` have no launcher at all. ``NtmRunLauncher`` (configured in dagster.yaml) is the
default launcher that can: a run's worker is the process whose pid the run recorded (tag ``ntm/pid`` set by
the CLI, or the in-process executor's "pid" engine event), alive only if that pid exists, is not a zombie,
and was started before the run (so a reused pid is not taken for the run). ``python -m pipeline run`` also
fails such orphans at its start (:func:`fail_orphaned_runs`), so they are cleared without the daemon too.
Single machine (SQLite run storage): a run tagged with another host is left alone.
"""

from __future__ import annotations

import os
import socket

import psutil
from dagster import DagsterEventType, DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter
from dagster._core.launcher import CheckRunHealthResult, DefaultRunLauncher, WorkerStatus

PID_TAG = "ntm/pid"
HOST_TAG = "ntm/host"
# clock slack when comparing a process's start time with the time its run recorded the pid
_START_SLACK_S = 2.0
WATCHED = [DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]


def run_tags() -> dict[str, str]:
    """Tags a run started in this process carries so that its worker can be found again."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def worker_pid(instance: DagsterInstance, run: DagsterRun) -> tuple[int, float] | None:
    """The pid of the run's process and a time by which that process had started: the run's creation for
    the CLI's tag (the process created the run), else the time of the executor's pid event."""
    if run.tags.get(PID_TAG, "").isdigit():
        record = instance.get_run_record_by_id(run.run_id)
        return int(run.tags[PID_TAG]), record.create_timestamp.timestamp() if record else float("inf")
    for record in instance.get_records_for_run(
        run.run_id, of_type=DagsterEventType.ENGINE_EVENT, limit=50
    ).records:
        entry = record.event_log_entry
        data = entry.dagster_event.event_specific_data if entry.dagster_event else None
        pid = getattr(getattr(data, "metadata", {}).get("pid"), "value", None)
        if pid and str(pid).isdigit():
            return int(pid), entry.timestamp
    return None


def worker_health(instance: DagsterInstance, run: DagsterRun) -> CheckRunHealthResult:
    """RUNNING when the run's process is alive or cannot be judged from here, FAILED when it is gone."""
    if run.tags.get(HOST_TAG, socket.gethostname()) != socket.gethostname():
        return CheckRunHealthResult(
            WorkerStatus.RUNNING, f"run of host {run.tags[HOST_TAG]}: not judged here"
        )
    found = worker_pid(instance, run)
    if found is None:
        return CheckRunHealthResult(WorkerStatus.RUNNING, "no process id recorded yet")
    pid, started_by = found
    try:
        proc = psutil.Process(pid)
        # a process started after the run recorded its pid is another process that got the same pid
        alive = proc.status() != psutil.STATUS_ZOMBIE and proc.create_time() <= started_by + _START_SLACK_S
    except psutil.Error:  # NoSuchProcess, or gone while looking
        alive = False
    if alive:
        return CheckRunHealthResult(WorkerStatus.RUNNING, f"process {pid} is alive")
    return CheckRunHealthResult(
        WorkerStatus.FAILED,
        f"Tiến trình {pid} của lượt chạy đã mất (bị dừng đột ngột, ví dụ SIGKILL hoặc máy khởi động lại); "
        f"lượt chạy được đánh dấu thất bại để hàng đợi tiếp tục. / The run's process {pid} is gone (killed, "
        "e.g. SIGKILL, or the machine restarted); the run is marked failed so that queued runs can start.",
    )


def fail_orphaned_runs(instance: DagsterInstance) -> list[tuple[str, str]]:
    """Mark failed every STARTED/CANCELING run of this host whose process is gone. ``[(run id, why)]``."""
    failed = []
    for record in instance.get_run_records(filters=RunsFilter(statuses=WATCHED)):
        run = record.dagster_run
        health = worker_health(instance, run)
        if health.status != WorkerStatus.FAILED:
            continue
        fresh = instance.get_run_by_id(run.run_id)
        if fresh is None or fresh.is_finished:
            continue
        instance.report_run_failed(fresh, health.msg)
        failed.append((run.run_id, health.msg or ""))
    return failed


class NtmRunLauncher(DefaultRunLauncher):
    """The default launcher, plus a worker health check for Dagster's run monitoring."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        return worker_health(self._instance, run)

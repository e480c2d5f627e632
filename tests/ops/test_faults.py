"""Faults: two runs at once, a run SIGKILLed in the middle of dbt or of publishing. Each case runs the real
pipeline (`python -m pipeline run`, or the publish step alone through the Dagster CLI) in its own process
group on a temporary raw dir, warehouse, open-data dir and DAGSTER_HOME, and compares the marts (rows and a
checksum per table) with one uninterrupted run."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import dagster as dg
import psutil
import pytest

from pipeline.publish.release import verify_release
from tests import fault_hooks
from tests.ops._support import (
    PY,
    copy_state,
    kill_group,
    make_env,
    marts_fingerprint,
    pipeline_run,
    run_id_in_log,
    start,
    wait_for,
)

pytestmark = [
    pytest.mark.slow,
    # part of `make test` (CI); `make test-ops` runs these alone. Skip locally with NTM_SKIP_OPS_TESTS=1.
    pytest.mark.skipif(bool(os.environ.get("NTM_SKIP_OPS_TESTS")), reason="NTM_SKIP_OPS_TESTS is set"),
]


def _latest_ok(env: dict[str, str]) -> Path:
    latest = Path(env["NTM_OPEN_DATA_DIR"]) / "latest"
    assert latest.exists(), "open_data/latest missing"
    assert verify_release(latest) == [], verify_release(latest)
    return latest.resolve()


def test_two_runs_at_once_both_complete_and_the_warehouse_is_intact(reference, tmp_path):
    env = make_env(tmp_path)
    procs = [start([PY, "-m", "pipeline", "run", "-v"], env, tmp_path / f"run{i}.log") for i in range(2)]
    try:
        codes = [p.wait(timeout=1800) for p in procs]
    finally:
        for p in procs:
            kill_group(p)
    logs = [(tmp_path / f"run{i}.log").read_text(errors="replace") for i in range(2)]
    for code, log in zip(codes, logs, strict=True):
        assert code == 0, log[-4000:]
        assert "Could not set lock" not in log
    # one of them had to wait for the warehouse writer lock
    assert any("waiting for the lock" in log for log in logs)
    assert marts_fingerprint(Path(env["NTM_WAREHOUSE"])) == reference["marts"]
    _latest_ok(env)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _dbt_child(proc) -> bool:
    try:
        for child in psutil.Process(proc.pid).children(recursive=True):
            cmd = " ".join(child.cmdline())
            if "dbt" in cmd and " build" in cmd:
                return True
    except psutil.Error:
        return False
    return False


def test_kill_during_dbt_then_the_next_run_recovers(reference, tmp_path):
    env = copy_state(reference, tmp_path)
    release_before = _latest_ok(env)
    # the copied state is a finished build: nothing changed, so only --force starts a build to kill
    proc = start([PY, "-m", "pipeline", "run", "-v", "--force"], env, tmp_path / "killed.log")
    try:
        wait_for(lambda: _dbt_child(proc) or proc.poll() is not None, timeout=600, what="the dbt subprocess")
        assert proc.poll() is None, "the run finished before dbt could be killed"
        time.sleep(4)  # in the middle of the build
        assert proc.poll() is None
    finally:
        kill_group(proc)
    # nothing is left running in the group (dbt was a child of the run)
    wait_for(lambda: not _group_alive(proc.pid), timeout=30, what="the process group to end")
    # the open data is untouched: still the previous complete release
    assert _latest_ok(env) == release_before
    killed_run = run_id_in_log(tmp_path / "killed.log")
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        assert instance.get_run_by_id(killed_run).status == dg.DagsterRunStatus.STARTED  # nobody could tell
    # the killed build left its mark on the last-success record: the next run (no --force) is no no-op
    record = json.loads((Path(env["NTM_WAREHOUSE"]).parent / "last_success.json").read_text())
    assert killed_run in record["building"]
    rc = pipeline_run(env, tmp_path / "recover.log")
    assert rc == 0, (tmp_path / "recover.log").read_text()[-4000:]
    record = json.loads((Path(env["NTM_WAREHOUSE"]).parent / "last_success.json").read_text())
    assert "building" not in record and record["run_id"] != killed_run
    assert marts_fingerprint(Path(env["NTM_WAREHOUSE"])) == reference["marts"]
    _latest_ok(env)
    # the next run found the killed run's process gone and marked it failed: nothing is left STARTED
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        assert instance.get_run_by_id(killed_run).status == dg.DagsterRunStatus.FAILURE
        failure = instance.get_records_for_run(killed_run, of_type=dg.DagsterEventType.RUN_FAILURE).records
        assert "is gone" in failure[0].event_log_entry.dagster_event.message
        assert not instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))


def test_kill_during_publish_then_the_next_run_recovers(reference, tmp_path):
    env = copy_state(reference, tmp_path)
    # an empty open-data dir: the publish step has a new release to write, and is killed after 3 files
    shutil.rmtree(env["NTM_OPEN_DATA_DIR"])
    crash_env = {**env, **fault_hooks.env("kill_after_3_files")}
    proc = start(
        [
            PY,
            "-m",
            "dagster",
            "asset",
            "materialize",
            "-m",
            "pipeline.definitions",
            "--select",
            "publish/open_data_release",
        ],
        crash_env,
        tmp_path / "killed.log",
    )
    try:
        code = proc.wait(timeout=600)
    finally:
        kill_group(proc)
    assert code != 0, (tmp_path / "killed.log").read_text()[-3000:]
    open_data = Path(env["NTM_OPEN_DATA_DIR"])
    # never a half release: no latest at all (there was none before), no complete-looking partial release
    assert not (open_data / "latest").exists()
    staged = list(open_data.rglob("*.parquet"))
    assert staged, "the crash happened before any file was written"
    rc = pipeline_run(env, tmp_path / "recover.log")
    assert rc == 0, (tmp_path / "recover.log").read_text()[-4000:]
    assert marts_fingerprint(Path(env["NTM_WAREHOUSE"])) == reference["marts"]
    _latest_ok(env)
    # the recovered release has the same content as the uninterrupted one
    ref_latest = (Path(reference["env"]["NTM_OPEN_DATA_DIR"]) / "latest").resolve()
    assert (open_data / "latest").resolve().name == ref_latest.name

"""Fast tests of the operations logic: period names, dbt vars of a period-scoped run, the landing-zone sensor's
settling and cursor, and the nightly schedule's no-op."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import dagster as dg
import pytest

from pipeline.partitions import QUARTER_KEYS, dbt_period_vars, period_for_files, period_from_name
from pipeline.sensors import baseline_cursor, plan_run, scan
from pipeline.state import code_fingerprint, raw_fingerprint


def test_quarters_from_2025_q1():
    assert QUARTER_KEYS[0] == "2025-Q1"
    assert "2026-Q2" in QUARTER_KEYS
    assert len(QUARTER_KEYS) == 24


@pytest.mark.parametrize(
    ("name", "period"),
    [
        ("18484-KT_2026-Q3.csv", "2026-Q3"),
        ("18484-VHXH_2025.xlsx", "2025"),
        ("khao_sat_hai_long_2026.jsonl", "2026"),
        ("18484-T03_2026-Q2 (1).csv", "2026-Q2"),
        ("ocop_18484.xlsx", None),
    ],
)
def test_period_from_file_name(name, period):
    assert period_from_name(name) == period


def test_dbt_vars_of_a_run():
    assert dbt_period_vars(None) == {}  # every period: one full rebuild
    assert dbt_period_vars("") == {}
    assert dbt_period_vars("2026-Q2") == {"period_code": "2026-Q2"}
    assert dbt_period_vars("2026") == {"period_code": "2026"}
    with pytest.raises(ValueError, match="invalid period"):
        dbt_period_vars("2026-Q5")
    with pytest.raises(ValueError, match="invalid period"):
        dbt_period_vars("2040")


def test_period_for_files():
    assert period_for_files(["2026-Q2", "2026-Q2"]) == "2026-Q2"
    assert period_for_files(["2026-Q1", "2026-Q2"]) == "2026"
    assert period_for_files(["2026-Q4", "2026"]) == "2026"
    assert period_for_files(["2025-Q4", "2026-Q1"]) is None
    assert period_for_files(["2026-Q1", None]) is None
    assert period_for_files([]) is None


def _write(path: Path, text: str, age_s: float = 60) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    t = time.time() - age_s
    os.utime(path, (t, t))


def test_sensor_waits_for_a_settled_file_and_never_triggers_twice(tmp_path):
    raw = tmp_path / "raw"
    _write(raw / "templates" / "bao_cao.csv", "template")
    _write(raw / "README.md", "readme")
    f = raw / "submissions" / "2026" / "18484-KT_2026-Q2.csv"
    _write(f, "a,b\n1,2\n", age_s=0)
    now = time.time()
    # first sight: not settled yet (unknown size/mtime, and too young)
    new, cur = scan(raw, {}, now, settle_s=5)
    assert new == []
    # still being written: the size changes between evaluations
    with open(f, "a") as fh:
        fh.write("3,4\n")
    new, cur = scan(raw, cur, now + 1, settle_s=5)
    assert new == []
    # unchanged across two evaluations but younger than the settle time
    new, cur = scan(raw, cur, now + 2, settle_s=5)
    assert new == []
    # settled
    new, cur = scan(raw, json.loads(json.dumps(cur)), now + 10, settle_s=5)  # the cursor survives JSON
    assert [r for r, _ in new] == ["submissions/2026/18484-KT_2026-Q2.csv"]
    # never twice, even with a touched mtime and the same content
    new, cur = scan(raw, cur, now + 20, settle_s=5)
    assert new == []
    t = time.time() - 100
    os.utime(f, (t, t))
    new, cur = scan(raw, cur, now + 30, settle_s=5)
    new, cur = scan(raw, cur, now + 40, settle_s=5)
    assert new == []
    # changed content triggers again
    _write(f, "a,b\n9,9\n", age_s=100)
    new, cur = scan(raw, cur, now + 50, settle_s=5)
    new, cur = scan(raw, cur, now + 60, settle_s=5)
    assert [r for r, _ in new] == ["submissions/2026/18484-KT_2026-Q2.csv"]
    # a removed file triggers nothing and is forgotten
    f.unlink()
    new, cur = scan(raw, cur, now + 70, settle_s=5)
    assert new == [] and cur["done"] == {}


def test_sensor_baseline_records_existing_files(tmp_path):
    raw = tmp_path / "raw"
    _write(raw / "ocop" / "ocop_18484.xlsx", "x")
    cur = baseline_cursor(raw)
    new, cur = scan(raw, cur, time.time() + 100, settle_s=0)
    assert new == []


def test_sensor_plans_source_and_period():
    assert plan_run([("submissions/2026/18484-KT_2026-Q2.csv", "h")]) == ({"submissions"}, "2026-Q2")
    assert plan_run([("submissions/2025/18484-T01_2025.csv", "h")]) == ({"submissions"}, "2025")
    assert plan_run([("submissions/2026/a_2026-Q2.csv", "h"), ("submissions/2026/b_2026-Q2.xlsx", "h2")]) == (
        {"submissions"},
        "2026-Q2",
    )
    # two quarters of one year: that year; two years, or another source: every period
    assert (
        plan_run([("submissions/2026/a_2026-Q1.csv", "h"), ("submissions/2026/b_2026-Q2.csv", "h")])[1]
        == "2026"
    )
    assert (
        plan_run([("submissions/2025/a_2025-Q4.csv", "h"), ("submissions/2026/b_2026-Q1.csv", "h")])[1]
        is None
    )
    assert plan_run([("surveys/khao_sat_hai_long_2026.jsonl", "h")]) == ({"surveys"}, None)


def test_sensor_and_schedule_are_registered_and_running_by_default():
    from pipeline.definitions import defs

    repo = defs.get_repository_def()
    sensor = repo.get_sensor_def("ntm_raw_files")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    schedule = repo.get_schedule_def("ntm_nightly")
    assert schedule.cron_schedule == "30 1 * * *"
    assert schedule.execution_timezone == "Asia/Ho_Chi_Minh"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    job = repo.get_job("ntm_full_refresh")
    assert job.partitions_def is None  # periods are run tags (ntm/period), see pipeline.partitions
    node = repo.asset_graph.get(dg.AssetKey(["marts", "mart_commune_indicator"]))
    assert node.freshness_policy is not None


def test_nightly_skips_when_nothing_changed(tmp_path, monkeypatch):
    from pipeline.jobs import FINGERPRINT_TAG, ntm_nightly

    raw = tmp_path / "raw"
    _write(raw / "submissions" / "2026" / "x_2026-Q1.csv", "a")
    # pre-flight (pipeline.preflight) skips the tick when the registries of reference/ are missing
    shutil.copytree(Path(__file__).resolve().parents[2] / "raw" / "reference", raw / "reference")
    monkeypatch.setenv("NTM_RAW_DIR", str(raw))
    with dg.instance_for_test() as instance:
        request = ntm_nightly(dg.build_schedule_context(instance=instance))
        assert isinstance(request, dg.RunRequest)
        fp = request.tags[FINGERPRINT_TAG]
        assert fp == f"{raw_fingerprint(raw)}-{code_fingerprint()}"
        # a successful run with that fingerprint → the next night is a no-op
        from pipeline.definitions import defs

        job = defs.resolve_job_def("ntm_full_refresh")
        run = instance.create_run_for_job(job_def=job, tags=request.tags)
        instance.report_run_canceled(run)  # not a success: still runs
        assert isinstance(ntm_nightly(dg.build_schedule_context(instance=instance)), dg.RunRequest)
        run = instance.create_run_for_job(job_def=job, tags=request.tags)
        instance.handle_new_event(
            dg.EventLogEntry(
                error_info=None,
                level="debug",
                user_message="",
                run_id=run.run_id,
                timestamp=time.time(),
                dagster_event=dg.DagsterEvent(
                    event_type_value=dg.DagsterEventType.RUN_SUCCESS.value, job_name=job.name
                ),
            )
        )
        assert isinstance(ntm_nightly(dg.build_schedule_context(instance=instance)), dg.SkipReason)
        # a new file → runs again
        _write(raw / "submissions" / "2026" / "y_2026-Q2.csv", "b")
        assert isinstance(ntm_nightly(dg.build_schedule_context(instance=instance)), dg.RunRequest)

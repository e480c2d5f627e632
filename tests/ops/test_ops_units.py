"""Fast tests of the operations logic: period names, dbt vars of a period-scoped run, the landing-zone sensor's
settling, and the nightly schedule's no-op."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import dagster as dg
import pytest

from pipeline import changes
from pipeline.partitions import QUARTER_KEYS, dbt_period_vars, period_for_files, period_from_name
from pipeline.sensors import plan_run, settled


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


def test_sensor_waits_for_a_settled_file(tmp_path):
    """A changed file triggers only once its size and mtime held across two evaluations and it is older than
    the settle time (pipeline.sensors.settled); a removal never triggers. Which files changed is
    pipeline.changes' answer (tests/test_changes.py); never twice: tests/ops/test_sensor_seed.py."""
    raw = tmp_path / "raw"
    rel = "submissions/2026/18484-KT_2026-Q2.csv"
    f = raw / rel
    _write(f, "a,b\n1,2\n", age_s=0)
    now = time.time()
    new_file = [changes.FileChange(rel, "new", "h"), changes.FileChange("ocop/gone.xlsx", "removed", None)]
    # first sight with a cursor: not settled yet (unknown size/mtime)
    new, seen = settled(new_file, raw, {}, now, settle_s=5)
    assert new == [] and set(seen) == {rel}
    # still being written: the size changes between evaluations
    with open(f, "a") as fh:
        fh.write("3,4\n")
    new, seen = settled(new_file, raw, seen, now + 1, settle_s=5)
    assert new == []
    # unchanged across two evaluations but younger than the settle time
    new, seen = settled(new_file, raw, seen, now + 2, settle_s=5)
    assert new == []
    # settled (the cursor survives JSON)
    new, seen = settled(new_file, raw, json.loads(json.dumps(seen)), now + 10, settle_s=5)
    assert new == [(rel, "h")]
    # the first evaluation (no cursor) takes every file as seen: an old enough file triggers at once
    t = time.time() - 100
    os.utime(f, (t, t))
    assert settled(new_file, raw, None, time.time(), settle_s=5)[0] == [(rel, "h")]


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
    """The nightly schedule asks pipeline.changes: it skips only when the last successful build recorded the
    landing zone as it is and its release is still in place; a failed run records nothing."""
    from pipeline.config import get_settings
    from pipeline.jobs import ntm_nightly

    raw = tmp_path / "raw"
    _write(raw / "submissions" / "2026" / "x_2026-Q1.csv", "a")
    # pre-flight (pipeline.preflight) skips the tick when the registries of reference/ are missing
    shutil.copytree(Path(__file__).resolve().parents[2] / "raw" / "reference", raw / "reference")
    monkeypatch.setenv("NTM_RAW_DIR", str(raw))
    monkeypatch.setenv("NTM_WAREHOUSE", str(tmp_path / "wh" / "ntm.duckdb"))
    monkeypatch.setenv("NTM_OPEN_DATA_DIR", str(tmp_path / "od"))
    monkeypatch.setenv("NTM_PII_SALT", "s")
    monkeypatch.delenv("NTM_NIGHTLY_FORCE", raising=False)
    settings = get_settings()
    with dg.instance_for_test() as instance:
        request = ntm_nightly(dg.build_schedule_context(instance=instance))
        assert isinstance(request, dg.RunRequest)
        assert request.tags["ntm/changes"] == "no successful build recorded"
        # a successful build (its publish step records it) with its release in place → the next night skips
        settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
        settings.warehouse.write_bytes(b"")
        (settings.open_data_dir / "releases" / "r1").mkdir(parents=True)
        (settings.open_data_dir / "releases" / "r1" / "datapackage.json").write_text("{}")
        os.symlink(Path("releases") / "r1", settings.open_data_dir / "latest")
        accounted = {sha for sha, _ in changes.snapshot(raw).values()}
        changes.record_success(settings, run_id="run-1", release_id="r1", accounted=accounted)
        skip = ntm_nightly(dg.build_schedule_context(instance=instance))
        assert isinstance(skip, dg.SkipReason) and "run-1" in skip.skip_message
        monkeypatch.setenv("NTM_NIGHTLY_FORCE", "1")
        assert isinstance(ntm_nightly(dg.build_schedule_context(instance=instance)), dg.RunRequest)
        monkeypatch.delenv("NTM_NIGHTLY_FORCE")
        # a new file → runs again
        _write(raw / "submissions" / "2026" / "y_2026-Q2.csv", "b")
        request = ntm_nightly(dg.build_schedule_context(instance=instance))
        assert isinstance(request, dg.RunRequest) and "1 new file(s)" in request.tags["ntm/changes"]
        # the release gone → runs again even with nothing new
        (raw / "submissions" / "2026" / "y_2026-Q2.csv").unlink()
        (settings.open_data_dir / "latest").unlink()
        assert isinstance(ntm_nightly(dg.build_schedule_context(instance=instance)), dg.RunRequest)

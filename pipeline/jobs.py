"""Jobs and the nightly schedule.

``ntm_full_refresh`` selects every asset. Without tags it rebuilds every period in one run (``make run``,
``make backfill``, the nightly schedule); with the run tag ``ntm/period`` (``make period PERIOD=2026-Q2``,
the sensor) dbt replaces only that period (pipeline.partitions). One run, one dbt invocation, one writer.

The nightly schedule (01:30 Asia/Ho_Chi_Minh) fingerprints the landing zone (path, size, mtime of every
file) and the code (pipeline.state). When the last successful nightly run saw the same fingerprint it skips with a reason (finishes in
a second, publishes nothing). Otherwise it runs the full refresh: ingest skips files whose content hash is
already known, dbt rebuilds, the quality gate checks, and publishing identical content is a no-op.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from pipeline.config import nightly_force
from pipeline.state import code_fingerprint, raw_fingerprint

JOB_NAME = "ntm_full_refresh"
FINGERPRINT_TAG = "ntm/raw_fingerprint"
ntm_full_refresh = dg.define_asset_job(
    name=JOB_NAME,
    selection=dg.AssetSelection.all(),
    description=(
        "Nạp dữ liệu mới, dựng kho, kiểm tra và công bố dữ liệu mở; có thể giới hạn một kỳ (tag ntm/period). / "
        "Ingest what is new, build the warehouse, run the checks and publish the open data; optionally for "
        "one period (run tag ntm/period)."
    ),
)


def _raw_dir() -> Path:
    from pipeline.config import get_settings

    return get_settings().raw_dir


@dg.schedule(
    name="ntm_nightly",
    job=ntm_full_refresh,
    cron_schedule="30 1 * * *",
    execution_timezone="Asia/Ho_Chi_Minh",
    description=(
        "Hằng đêm 01:30: nạp tệp mới, dựng lại, kiểm tra, công bố nếu đạt; bỏ qua khi không có gì thay đổi. / "
        "Nightly at 01:30 Asia/Ho_Chi_Minh: ingest what is new, rebuild, check, publish if the checks pass; "
        "skipped when the landing zone has not changed since the last successful nightly run."
    ),
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def ntm_nightly(context: dg.ScheduleEvaluationContext):
    from pipeline import preflight

    if problems := preflight.check():  # settings, paths, disk, manifest: no run that would fail on them
        return dg.SkipReason(preflight.one_line(problems))
    fingerprint = f"{raw_fingerprint(_raw_dir())}-{code_fingerprint()}"
    done = context.instance.get_run_records(
        filters=dg.RunsFilter(
            job_name=JOB_NAME,
            tags={FINGERPRINT_TAG: fingerprint},
            statuses=[dg.DagsterRunStatus.SUCCESS],
        ),
        limit=1,
    )
    if done and not nightly_force():
        return dg.SkipReason(
            f"Không có gì thay đổi / nothing changed in the landing zone since run {done[0].dagster_run.run_id}"
        )
    return dg.RunRequest(tags={FINGERPRINT_TAG: fingerprint, "ntm/trigger": "nightly"})


defs = dg.Definitions(jobs=[ntm_full_refresh], schedules=[ntm_nightly])

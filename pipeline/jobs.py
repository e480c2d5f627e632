"""Jobs and the nightly schedule.

``ntm_full_refresh`` selects every asset. Without tags it rebuilds every period in one run (``make run``,
``make backfill``, the nightly schedule); with the run tag ``ntm/period`` (``make period PERIOD=2026-Q2``,
the sensor) dbt replaces only that period (pipeline.partitions). One run, one dbt invocation, one writer.

The nightly schedule (01:30 Asia/Ho_Chi_Minh) asks pipeline.changes what changed since the last successful
build (whatever launched it: CLI, UI, schedule, sensor). When no landed file, no code and no output-changing
setting changed and that build's release is still in place, it skips with the reason (finishes in a second or
two, publishes nothing; ``NTM_NIGHTLY_FORCE=1`` runs anyway). Otherwise it runs the full refresh: ingest skips
files whose content is already loaded, dbt rebuilds what changed (pipeline.transform.assets), the quality gate
checks, and publishing identical content is a no-op.
"""

from __future__ import annotations

import dagster as dg

from pipeline import changes
from pipeline.config import nightly_force

JOB_NAME = "ntm_full_refresh"
ntm_full_refresh = dg.define_asset_job(
    name=JOB_NAME,
    selection=dg.AssetSelection.all(),
    description=(
        "Nạp dữ liệu mới, dựng kho, kiểm tra và công bố dữ liệu mở; có thể giới hạn một kỳ (tag ntm/period). / "
        "Ingest what is new, build the warehouse, run the checks and publish the open data; optionally for "
        "one period (run tag ntm/period)."
    ),
)


@dg.schedule(
    name="ntm_nightly",
    job=ntm_full_refresh,
    cron_schedule="30 1 * * *",
    execution_timezone="Asia/Ho_Chi_Minh",
    description=(
        "Hằng đêm 01:30: nạp tệp mới, dựng lại, kiểm tra, công bố nếu đạt; bỏ qua khi không có gì thay đổi. / "
        "Nightly at 01:30 Asia/Ho_Chi_Minh: ingest what is new, rebuild, check, publish if the checks pass; "
        "skipped when nothing changed since the last successful build (pipeline.changes)."
    ),
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def ntm_nightly(context: dg.ScheduleEvaluationContext):
    from pipeline import preflight

    if problems := preflight.check():  # settings, paths, disk, manifest: no run that would fail on them
        return dg.SkipReason(preflight.one_line(problems))
    from pipeline.config import get_settings

    settings = get_settings()
    found = changes.changes_since_last_success(settings)
    if found.nothing and changes.release_in_place(settings, found.last) and not nightly_force():
        return dg.SkipReason(
            f"Không có gì thay đổi / nothing changed since the last successful build, run {found.last['run_id']} "
            f"(release {found.last['release_id']})"
        )
    return dg.RunRequest(tags={"ntm/trigger": "nightly", "ntm/changes": found.summary()[:200]})


defs = dg.Definitions(jobs=[ntm_full_refresh], schedules=[ntm_nightly])

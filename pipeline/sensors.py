"""Sensor on the landing zone: a new or changed file in the raw dir starts a run for its source and period.

- Every evaluation asks pipeline.changes what changed in the landing zone since the last successful build
  (one record, ``<warehouse dir>/last_success.json``, written by the publish step of every successful run,
  whatever launched it: `make run`, the UI, the schedule, this sensor). So the first evaluation after
  `make run` launches nothing, and a file that run processed never triggers another.
- A new or changed file (by content, sha256) triggers once it is *settled*: its size and mtime are the same
  as at the previous evaluation (or it is the first evaluation) and it is older than ``NTM_SENSOR_SETTLE_S``
  seconds (default 10): a file still being written is not picked up. A removed file triggers nothing (the
  ingest manifest records it as missing and keeps its rows; the next build's scope sees it).
- The run: the ingest assets of the affected sources and everything downstream (dbt, quality gate,
  publish), in job ``ntm_full_refresh``. When every new file is a submission of one period, the run is
  tagged ``ntm/period`` with it (dbt rebuilds only that quarter and its year); submissions of several
  periods of one year rebuild that year; anything else rebuilds every period. The run key is a hash of the
  last success and the changed files: the same changes are requested once (a run that fails is not retried
  by the sensor; the next change, or `make run`, takes them again).
- While a run is queued or in progress the sensor waits (the run's success moves the record).
- The cursor (JSON, kept by Dagster in DAGSTER_HOME) holds only the size and mtime of each changed file at the
  previous evaluation (settling) and the last request's key: no record of what was processed.
- ``NTM_SENSOR_INTERVAL_S`` (default 30) sets the minimum interval between evaluations.
- With ``NTM_SENSOR_BASELINE=1`` the first evaluation instead takes every change present as handled, and
  only reacts to files that arrive or change later.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import dagster as dg

from pipeline import changes
from pipeline.config import sensor_baseline, sensor_interval_s, sensor_settle_s
from pipeline.ingest.sources.ocop.assets import ocop_assets
from pipeline.ingest.sources.reference.assets import reference_registry
from pipeline.ingest.sources.submissions.assets import submissions_assets
from pipeline.ingest.sources.surveys.assets import surveys_assets
from pipeline.jobs import ntm_full_refresh
from pipeline.partitions import PERIOD_TAG, period_for_files, period_from_name

SENSOR_NAME = "ntm_raw_files"
SOURCE_ASSETS = {
    "submissions": submissions_assets,
    "surveys": surveys_assets,
    "ocop": ocop_assets,
    "reference": reference_registry,
}


IN_PROGRESS = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def settled(
    changed: list[changes.FileChange], raw_dir: Path, seen_before: dict | None, now: float, settle_s: float
) -> tuple[list[tuple[str, str]], dict]:
    """(the changed files, new or changed, that are settled, as (path, sha256); the size and mtime of each
    changed file now, for the next evaluation). ``seen_before`` None: the first evaluation, every file counts as seen."""
    seen: dict = {}
    out: list[tuple[str, str]] = []
    for f in changed:
        if f.sha256 is None:
            continue  # removed: triggers nothing
        try:
            st = os.stat(raw_dir / f.path)
        except OSError:
            continue
        stat = [st.st_size, st.st_mtime_ns]
        seen[f.path] = stat
        before = stat if seen_before is None else seen_before.get(f.path)
        if before == stat and now - st.st_mtime >= settle_s:
            out.append((f.path, f.sha256))
    return out, seen


def plan_run(new: list[tuple[str, str]]) -> tuple[set[str], str | None]:
    """(affected sources, the period to rebuild or None for every period). Only submissions carry a period
    (in the file name); surveys, OCOP and reference files rebuild every period."""
    sources = {rel.split("/", 1)[0] for rel, _ in new}
    sources &= set(SOURCE_ASSETS)
    if sources != {"submissions"}:
        return sources, None
    return sources, period_for_files([period_from_name(Path(rel).name) for rel, _ in new])


@dg.sensor(
    name=SENSOR_NAME,
    job=ntm_full_refresh,
    minimum_interval_seconds=sensor_interval_s(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Tệp mới hoặc thay đổi trong vùng tiếp nhận (raw) khởi động một lượt chạy cho nguồn và kỳ liên quan. / "
        "A new or changed file in the landing zone (raw dir) starts a run for its source and period."
    ),
)
def ntm_raw_files(context: dg.SensorEvaluationContext):
    from pipeline import preflight
    from pipeline.config import get_settings

    if problems := preflight.check():  # cursor left as is: the files trigger once the problem is fixed
        return dg.SkipReason(preflight.one_line(problems))
    settings = get_settings()
    raw_dir = settings.raw_dir
    cursor = json.loads(context.cursor) if context.cursor else None
    if cursor is None and sensor_baseline():
        # the very first evaluation, busy or not: the files present now are the ones a run in progress (or
        # the one about to be launched) handles; waiting for a quiet tick would take in files landing later
        pending = [f for f in changes.changes_since_last_success(settings).files if f.sha256 is not None]
        baseline = {f.path: f.sha256 for f in pending}
        _, seen = settled(pending, raw_dir, None, time.time(), 0)
        context.update_cursor(json.dumps({"seen": seen, "baseline": baseline}, sort_keys=True))
        return dg.SkipReason(
            f"baseline: {len(baseline)} changed file(s) already in {raw_dir} recorded as handled"
        )
    busy = context.instance.get_run_records(filters=dg.RunsFilter(statuses=IN_PROGRESS), limit=1)
    if busy:
        run = busy[0].dagster_run
        return dg.SkipReason(
            f"lượt chạy {run.run_id} đang {run.status.value}: chờ nó xong / "
            f"run {run.run_id} is {run.status.value}: waiting for it to end"
        )
    found = changes.changes_since_last_success(settings)
    pending = [f for f in found.files if f.sha256 is not None]
    baseline = (cursor or {}).get("baseline", {})
    pending = [f for f in pending if baseline.get(f.path) != f.sha256]
    new, seen = settled(
        pending, raw_dir, None if cursor is None else cursor.get("seen", {}), time.time(), sensor_settle_s()
    )
    last = found.last
    total = len(found.current)
    if last:
        where = (
            f"từ lượt chạy thành công {last['run_id']}: {total - len(pending)}/{total} tệp đã xử lý / "
            f"since successful run {last['run_id']}: {total - len(pending)} of {total} file(s) already processed"
        )
    else:
        where = (
            "chưa có lượt chạy thành công: mọi tệp đều mới / no successful build recorded: every file is new"
        )
    next_cursor = {"seen": seen, "baseline": {k: v for k, v in baseline.items() if k in found.current}}
    if not new:
        next_cursor["requested"] = (cursor or {}).get("requested")
        context.update_cursor(json.dumps(next_cursor, sort_keys=True))
        return dg.SkipReason(f"{where}; no new settled file in {raw_dir}")
    run_key = hashlib.sha256(
        "\n".join([str((last or {}).get("run_id")), *(f"{r}:{d}" for r, d in sorted(new))]).encode()
    ).hexdigest()[:24]
    next_cursor["requested"] = run_key
    context.update_cursor(json.dumps(next_cursor, sort_keys=True))
    if (cursor or {}).get("requested") == run_key:
        return dg.SkipReason(f"{where}; a run for these {len(new)} file(s) was already requested")
    sources, period = plan_run(new)
    tags = {"ntm/trigger": "sensor", "ntm/files": str(len(new)), "ntm/sources": ",".join(sorted(sources))}
    files_preview = ", ".join(r for r, _ in new[:5]) + (" …" if len(new) > 5 else "")
    context.log.info(
        f"{where}; {len(new)} new file(s): {files_preview} → sources {sorted(sources)}, period {period or 'all'}"
    )
    asset_selection = None
    if sources:
        selection = dg.AssetSelection.assets(
            *[k for s in sources for k in SOURCE_ASSETS[s].keys]
        ).downstream()
        asset_selection = sorted(selection.resolve(context.repository_def.asset_graph), key=str)
    if period:
        tags[PERIOD_TAG] = period
    return dg.RunRequest(run_key=run_key, asset_selection=asset_selection, tags=tags)


defs = dg.Definitions(sensors=[ntm_raw_files])

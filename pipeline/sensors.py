"""Sensor on the landing zone: a new or changed file in the raw dir starts a run for its source and period.

- Every evaluation lists the files of the raw dir (templates, READMEs, hidden and partial files left out)
  with their size and mtime. A file is *settled* when its size and mtime are the same as at the previous
  evaluation and it is older than ``NTM_SENSOR_SETTLE_S`` seconds (default 10): a file still being written
  is not picked up.
- A settled file whose content hash (sha256) differs from the one already triggered for that path is new.
  The cursor (JSON, kept by Dagster in DAGSTER_HOME, so it survives restarts) records ``path → sha256``
  of every file already triggered: the same file never triggers twice; a removed file triggers nothing
  (the ingest manifest records it as missing and keeps its rows).
- The run: the ingest assets of the affected sources and everything downstream (dbt, quality gate,
  publish), in job ``ntm_full_refresh``. When every new file is a submission of one period, the run
  is tagged ``ntm/period`` with it (dbt rebuilds only that quarter and its year); submissions of several
  periods of one year rebuild that year; anything else rebuilds every period. The run key is a hash
  of the new files, so a request is never duplicated.
- ``NTM_SENSOR_INTERVAL_S`` (default 30) sets the minimum interval between evaluations.
- On its very first evaluation (no cursor yet) the sensor triggers for every file already in the landing
  zone (ingest skips what is already loaded). With ``NTM_SENSOR_BASELINE=1`` it instead records the files
  present as already handled and only reacts to files that arrive later (e.g. after a `make run`).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import dagster as dg

from pipeline.jobs import ntm_full_refresh
from pipeline.lib.hashing import sha256_file
from pipeline.ocop.assets import ocop_assets
from pipeline.partitions import PERIOD_TAG, period_for_files, period_from_name
from pipeline.reference.assets import reference_registry
from pipeline.state import landing_files
from pipeline.submissions.assets import submissions_assets
from pipeline.surveys.assets import surveys_assets

SENSOR_NAME = "ntm_raw_files"
SOURCE_ASSETS = {
    "submissions": submissions_assets,
    "surveys": surveys_assets,
    "ocop": ocop_assets,
    "reference": reference_registry,
}


def _interval_s() -> int:
    return int(os.environ.get("NTM_SENSOR_INTERVAL_S", "30"))


def _settle_s() -> float:
    return float(os.environ.get("NTM_SENSOR_SETTLE_S", "10"))


def scan(raw_dir: Path, cursor: dict, now: float, settle_s: float) -> tuple[list[tuple[str, str]], dict]:
    """One evaluation: (new settled files as (relative path, sha256), the new cursor).

    cursor = {"seen": {path: [size, mtime_ns]}, "done": {path: [sha256, size, mtime_ns]}}
    """
    seen_before: dict = cursor.get("seen", {})
    done: dict = dict(cursor.get("done", {}))
    seen: dict = {}
    new: list[tuple[str, str]] = []
    for p in landing_files(raw_dir):
        try:
            st = p.stat()
        except FileNotFoundError:
            continue
        rel = p.relative_to(raw_dir).as_posix()
        stat = [st.st_size, st.st_mtime_ns]
        seen[rel] = stat
        if seen_before.get(rel) != stat or now - st.st_mtime < settle_s:
            continue  # new, or still being written: wait for the next evaluation
        previous = done.get(rel)
        if previous and previous[1:] == stat:
            continue  # already triggered, unchanged
        try:
            digest = sha256_file(p)
        except FileNotFoundError:
            continue
        if not previous or previous[0] != digest:
            new.append((rel, digest))
        done[rel] = [digest, *stat]
    # files removed from the landing zone are forgotten (the ingest manifest keeps their rows)
    done = {k: v for k, v in done.items() if k in seen}
    return new, {"seen": seen, "done": done}


def baseline_cursor(raw_dir: Path) -> dict:
    """A cursor that treats every file present now as already triggered."""
    seen, done = {}, {}
    for p in landing_files(raw_dir):
        st = p.stat()
        rel = p.relative_to(raw_dir).as_posix()
        seen[rel] = [st.st_size, st.st_mtime_ns]
        done[rel] = [sha256_file(p), st.st_size, st.st_mtime_ns]
    return {"seen": seen, "done": done}


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
    minimum_interval_seconds=_interval_s(),
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

    raw_dir = get_settings().raw_dir
    if not context.cursor and os.environ.get("NTM_SENSOR_BASELINE") == "1":
        baseline = baseline_cursor(raw_dir)
        context.update_cursor(json.dumps(baseline, sort_keys=True))
        return dg.SkipReason(f"baseline: {len(baseline['done'])} file(s) already in {raw_dir} recorded")
    cursor = json.loads(context.cursor) if context.cursor else {}
    new, next_cursor = scan(raw_dir, cursor, time.time(), _settle_s())
    if not new:
        context.update_cursor(json.dumps(next_cursor, sort_keys=True))
        return dg.SkipReason(f"no new settled file in {raw_dir}")
    sources, period = plan_run(new)
    run_key = hashlib.sha256("\n".join(f"{r}:{d}" for r, d in sorted(new)).encode()).hexdigest()[:24]
    tags = {"ntm/trigger": "sensor", "ntm/files": str(len(new)), "ntm/sources": ",".join(sorted(sources))}
    files_preview = ", ".join(r for r, _ in new[:5]) + (" …" if len(new) > 5 else "")
    context.log.info(
        f"{len(new)} new file(s): {files_preview} → sources {sorted(sources)}, period {period or 'all'}"
    )
    asset_selection = None
    if sources:
        selection = dg.AssetSelection.assets(
            *[k for s in sources for k in SOURCE_ASSETS[s].keys]
        ).downstream()
        asset_selection = sorted(selection.resolve(context.repository_def.asset_graph), key=str)
    if period:
        tags[PERIOD_TAG] = period
    context.update_cursor(json.dumps(next_cursor, sort_keys=True))
    return dg.RunRequest(run_key=run_key, asset_selection=asset_selection, tags=tags)


defs = dg.Definitions(sensors=[ntm_raw_files])

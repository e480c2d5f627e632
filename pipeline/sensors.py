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
- **First evaluation (no cursor yet, e.g. the first `make ui` after `make run`): the cursor starts from the
  last successful run**, so the files that run processed are not processed again. The last successful run
  is the newest run with status SUCCESS in the Dagster instance of DAGSTER_HOME (job ``ntm_full_refresh``,
  or assets materialized from the UI, whose job is Dagster's implicit asset job): runs launched from the
  UI, the schedule, the sensor and `python -m pipeline run` (which runs in that instance) are all recorded
  there. What it processed is read from the warehouse, which every run writes the same way
  whatever launched it: ``audit.ingest_files`` holds the sha256 of every file content the ingest has
  accounted for (loaded, quarantined, rejected or not read by any source) and when. A file of the landing
  zone is *handled* when its content (sha256; taken from ``audit.file_stats`` when path, size, mtime, ctime
  and inode are unchanged, otherwise read) was accounted for no later than that run ended (both clocks are
  this machine's local time). Every other file (new, changed since, or only ingested by a run that failed
  afterwards) triggers a run as above, in this first evaluation already. No successful run, or no
  warehouse: nothing is handled, every file triggers (ingest skips what is already loaded).
  While a run is queued or in progress, or the warehouse is held by a writer, the first
  evaluation skips without a cursor and seeds at a later one. (``last_success.json`` of
  `python -m pipeline run` is not used: only the CLI writes it, and it holds one fingerprint of the whole
  landing zone, not one per file.)
- With ``NTM_SENSOR_BASELINE=1`` the first evaluation instead records every file present as handled,
  whatever ran before, and only reacts to files that arrive later.
- Idempotent: the seed is derived from the run history and the warehouse only; once a cursor is stored
  (after the first evaluation that does not skip) it is never seeded again, so restarting `make ui` keeps
  the cursor, and a file that the seed or a triggered run recorded never triggers twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from pathlib import Path

import dagster as dg
import duckdb

from pipeline.config import sensor_baseline, sensor_interval_s, sensor_settle_s
from pipeline.ingest.sources.ocop.assets import ocop_assets
from pipeline.ingest.sources.reference.assets import reference_registry
from pipeline.ingest.sources.submissions.assets import submissions_assets
from pipeline.ingest.sources.surveys.assets import surveys_assets
from pipeline.jobs import ntm_full_refresh
from pipeline.lib.hashing import sha256_file
from pipeline.partitions import PERIOD_TAG, period_for_files, period_from_name
from pipeline.state import landing_files

SENSOR_NAME = "ntm_raw_files"
SOURCE_ASSETS = {
    "submissions": submissions_assets,
    "surveys": surveys_assets,
    "ocop": ocop_assets,
    "reference": reference_registry,
}


def _interval_s() -> int:
    return sensor_interval_s()


def _settle_s() -> float:
    return sensor_settle_s()


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


IN_PROGRESS = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


class NotYet(Exception):
    """The seed cannot be taken now (a run in progress, the warehouse held by a writer): try again later."""


def _accounted(warehouse: Path, until: dt.datetime) -> tuple[set[str], dict[str, tuple]]:
    """(sha256 of every file content the ingest accounted for no later than ``until``, the stat cache
    path -> (sha256, size, mtime_ns, ctime_ns, inode)) from the warehouse; empty without a warehouse."""
    if not warehouse.exists():
        return set(), {}
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as exc:  # a run is writing (DuckDB's single-writer lock)
        raise NotYet(f"kho dữ liệu đang bận / warehouse busy: {str(exc).splitlines()[0]}") from exc
    try:
        tables = {
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'audit'"
            ).fetchall()
        }
        if "ingest_files" not in tables:
            return set(), {}
        shas = {
            r[0]
            for r in con.execute(
                "select file_sha256 from audit.ingest_files where ingested_at <= ?", [until]
            ).fetchall()
        }
        stats = {}
        if "file_stats" in tables:
            for path, sha, size, mtime_ns, ctime_ns, inode in con.execute(
                "select path, file_sha256, bytes, mtime_ns, ctime_ns, inode from audit.file_stats"
            ).fetchall():
                stats[path] = (sha, size, mtime_ns, ctime_ns, inode)
        return shas, stats
    finally:
        con.close()


def seed_cursor(raw_dir: Path, warehouse: Path, instance: dg.DagsterInstance) -> tuple[dict, str]:
    """The first cursor: every landing file whose content the last successful run had processed is
    handled (see the module docstring), with the reason in one bilingual line. Raises :class:`NotYet`."""
    busy = instance.get_run_records(filters=dg.RunsFilter(statuses=IN_PROGRESS), limit=1)
    if busy:
        run = busy[0].dagster_run
        raise NotYet(
            f"lượt chạy {run.run_id} đang {run.status.value}: chờ nó xong / "
            f"run {run.run_id} is {run.status.value}: waiting for it to end"
        )
    last = instance.get_run_records(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.SUCCESS]), limit=1)
    record = last[0] if last else None
    shas: set[str] = set()
    stats: dict[str, tuple] = {}
    if record is not None and record.end_time:
        shas, stats = _accounted(warehouse, dt.datetime.fromtimestamp(record.end_time))
    seen, done = {}, {}
    for p in landing_files(raw_dir):
        try:
            st = p.stat()
        except FileNotFoundError:
            continue
        rel = p.relative_to(raw_dir).as_posix()
        seen[rel] = [st.st_size, st.st_mtime_ns]
        cached = stats.get(rel)
        if cached and cached[1:] == (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino):
            digest = cached[0]
        else:
            try:
                digest = sha256_file(p)
            except FileNotFoundError:
                continue
        if digest in shas:
            done[rel] = [digest, st.st_size, st.st_mtime_ns]
    if record is None:
        why = "chưa có lượt chạy thành công: mọi tệp đều mới / no successful run yet: every file is new"
    else:
        run_id = record.dagster_run.run_id
        why = (
            f"khởi đầu từ lượt chạy thành công {run_id}: {len(done)}/{len(seen)} tệp đã xử lý / "
            f"seeded from successful run {run_id}: {len(done)} of {len(seen)} file(s) already processed"
        )
    return {"seen": seen, "done": done}, why


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
    if not context.cursor and sensor_baseline():
        baseline = baseline_cursor(raw_dir)
        context.update_cursor(json.dumps(baseline, sort_keys=True))
        return dg.SkipReason(f"baseline: {len(baseline['done'])} file(s) already in {raw_dir} recorded")
    seeded = ""
    if context.cursor:
        cursor = json.loads(context.cursor)
    else:
        try:
            cursor, seeded = seed_cursor(raw_dir, get_settings().warehouse, context.instance)
        except NotYet as exc:  # no cursor stored: the next evaluation seeds again
            return dg.SkipReason(f"chưa khởi đầu con trỏ / cursor not seeded yet: {exc}")
        context.log.info(seeded)
        seeded += "; "
    new, next_cursor = scan(raw_dir, cursor, time.time(), _settle_s())
    if not new:
        context.update_cursor(json.dumps(next_cursor, sort_keys=True))
        return dg.SkipReason(f"{seeded}no new settled file in {raw_dir}")
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

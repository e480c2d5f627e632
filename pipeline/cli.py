"""Command line: `python -m pipeline run` (what `make run` calls).

Runs the whole asset graph in this process against the Dagster instance in DAGSTER_HOME (so the run shows
in the UI's run history), then prints a short summary: rows per published table, checks passed and failed,
and the release path. Exits 1 when the run failed or a blocking check stopped publishing, naming the check
and why.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console(highlight=False)


def _meta_value(v: Any) -> Any:
    return getattr(v, "value", getattr(v, "data", getattr(v, "text", v)))


def _short(value: Any, limit: int = 300) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _dbt_failures(test_name: str, limit: int = 5) -> str:
    """The first failing rows of a dbt test (stored as a view in schema dbt_test__audit)."""
    import duckdb

    from pipeline.config import get_settings

    try:
        con = duckdb.connect(str(get_settings().warehouse), read_only=True)
    except duckdb.Error:
        return ""
    try:
        views = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'dbt_test__audit'"
            ).fetchall()
        ]
        # dbt names the view after the test, or <truncated name>_<md5> when the name is long
        matches = [v for v in views if v == test_name or (len(v) > 40 and test_name.startswith(v[:-33]))]
        for view in matches:
            df = con.execute(f'select * from dbt_test__audit."{view}" limit {int(limit)}').df()
            if len(df):
                return df.to_string(index=False, max_colwidth=60)
        return ""
    except duckdb.Error:
        return ""
    finally:
        con.close()


@contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def run(args: argparse.Namespace) -> int:
    from pipeline import preflight, state
    from pipeline.config import get_settings
    from pipeline.exit_codes import ExitCode

    if problems := preflight.check():  # settings, paths, disk, manifest: before any Dagster import
        preflight.print_report(problems, console)
        return ExitCode.PREFLIGHT
    settings = get_settings()
    started = time.monotonic()
    fingerprints = state.current(settings)
    last = None if args.force else state.unchanged_since_last_success(settings, fingerprints)
    if last:
        # the nightly refresh when nothing changed: no Dagster run, nothing rebuilt, nothing published
        console.print(
            f"Không có gì thay đổi / nothing changed since run {last['run_id']} ({last['finished_at']}): "
            f"landing zone, code and settings are the same; release [bold]{last['release_id']}[/bold] "
            f"is current → {settings.open_data_dir / 'latest'}. Chạy lại toàn bộ / rebuild anyway: --force"
        )
        console.print(f"Thời gian / wall time: {time.monotonic() - started:.1f} s")
        return 0

    import dagster as dg

    from pipeline.definitions import defs
    from pipeline.partitions import FULL_REBUILD_TAG

    os.environ.setdefault("DAGSTER_HOME", str(settings.warehouse_dir.parent / ".dagster"))
    os.makedirs(os.environ["DAGSTER_HOME"], exist_ok=True)
    console.print(
        f"[bold]NTM pipeline[/bold] · raw: {settings.raw_dir} · warehouse: {settings.warehouse} · "
        f"open data: {settings.open_data_dir}"
    )
    from pipeline.run_monitor import fail_orphaned_runs, run_tags

    job = defs.resolve_job_def(args.job)
    tags = {"ntm/trigger": "cli", **run_tags()}
    if args.force:
        tags[FULL_REBUILD_TAG] = "true"
    # Two runs started at once on a fresh DAGSTER_HOME would race to create the SQLite run storage: create it
    # under a file lock, then run (the warehouse lock serialises the writing steps of the two runs).
    with _locked(Path(os.environ["DAGSTER_HOME"]) / ".instance-init.lock"):
        instance = dg.DagsterInstance.get()
        instance.get_runs(limit=1)
        # runs killed earlier (SIGKILL) would stay STARTED and hold the run queue's single slot
        for run_id, why in fail_orphaned_runs(instance):
            console.print(f"[yellow]Lượt chạy cũ / stale run[/yellow] {run_id} → FAILURE: {why}")
    with instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False, tags=tags)
    elapsed = time.monotonic() - started
    rc = summarise(result, elapsed)
    release_id = _release(result).get("release_id")
    if rc == 0 and release_id:
        state.write_last_success(settings, fingerprints, result.run_id, str(release_id))
    return rc


def _release(result) -> dict[str, Any]:
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        if mat and mat.asset_key.path[-1] == "open_data_release":
            return {k: _meta_value(v) for k, v in mat.metadata.items()}
    return {}


def _landing_summary(result) -> None:
    """Files under raw/ that no source reads (recorded by the reference_registry step): counted by
    reason; the ones a person should look at (unknown folder, raw/ itself, hidden) listed in yellow."""
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        if not mat or "files_outside_sources" not in mat.metadata:
            continue
        by_reason = _meta_value(mat.metadata["files_outside_sources_by_reason"]) or {}
        counts = ", ".join(f"{k}: {v}" for k, v in by_reason.items()) or "0"
        console.print(f"Tệp ngoài các nguồn / files outside the sources: {counts}")
        n = int(_meta_value(mat.metadata["files_not_ingested"]))
        if n:
            console.print(
                f"  [yellow]{n} tệp không được nạp (ẩn hoặc sai thư mục) / file(s) not loaded "
                f"(hidden or in no source folder)[/yellow] — audit.ingest_files status = 'not_ingested':"
            )
            console.print(f"{_short(_meta_value(mat.metadata['files_not_ingested_list']), 1200)}")
        return


def summarise(result, elapsed: float) -> int:
    checks = result.get_asset_check_evaluations()
    failed_blocking, failed_warn, passed = [], [], 0
    for ev in checks:
        if ev.passed:
            passed += 1
        elif getattr(ev.severity, "value", str(ev.severity)) == "ERROR":
            failed_blocking.append(ev)
        else:
            failed_warn.append(ev)

    release = _release(result)

    if release.get("tables"):
        table = Table(title="Dữ liệu mở đã công bố / Published open data")
        table.add_column("bảng / table")
        table.add_column("số dòng / rows", justify="right")
        tables = release["tables"]
        if isinstance(tables, str):
            tables = json.loads(tables)
        for name, rows in tables.items():
            table.add_row(name, f"{int(rows):,}")
        console.print(table)

    _landing_summary(result)

    docs = next(
        (_meta_value(ev.metadata["data_docs"]) for ev in checks if "data_docs" in ev.metadata),
        None,
    )
    if docs:
        console.print(f"GX Data Docs: {docs}")
    console.print(
        f"Kiểm tra / checks: [green]{passed} đạt / passed[/green], "
        f"[red]{len(failed_blocking)} lỗi chặn / blocking failures[/red], "
        f"[yellow]{len(failed_warn)} cảnh báo / warnings[/yellow]"
    )
    for ev in failed_warn:
        console.print(f"  [yellow]WARN[/yellow] {ev.asset_key.to_user_string()} · {ev.check_name}")
    for ev in failed_blocking:
        console.print(f"  [red]ERROR[/red] {ev.asset_key.to_user_string()} · {ev.check_name}")
        for key in ("message", "failed_expectations", "unexpected_count", "sample_rows"):
            if key in ev.metadata:
                console.print(f"      {key}: {_short(_meta_value(ev.metadata[key]), 1200)}")
        if "sample_rows" not in ev.metadata:
            rows = _dbt_failures(ev.check_name)
            if rows:
                console.print(f"      sample_rows:\n{rows}")

    step_failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    for e in step_failures:
        err = e.event_specific_data.error if e.event_specific_data else None
        message = err.message if err else ""
        failed_tests = list(dict.fromkeys(re.findall(r"Failure in test (\S+)", message)))
        if failed_tests:
            console.print(f"  [red]FAILED step[/red] {e.step_key}: {len(failed_tests)} dbt test(s) failed")
            for test in failed_tests:
                console.print(f"  [red]ERROR[/red] dbt test {test}")
                rows = _dbt_failures(test)
                if rows:
                    console.print(f"      sample_rows:\n{rows}")
        else:
            # the user's error (e.g. "the warehouse is held open by PID …"), not Dagster's wrapper around it
            cause = err.cause if err is not None and err.cause is not None else None
            detail = cause.message.strip() if cause is not None else message
            console.print(f"  [red]FAILED step[/red] {e.step_key}: {_short(detail, 1500)}")

    if release:
        if release.get("changed") in (False, "False"):
            console.print(f"Không có gì mới / nothing new: release {release.get('release_id')} unchanged")
        console.print(
            f"Bản phát hành / release: [bold]{release.get('release_id')}[/bold] → {release.get('path')}"
        )
        site = Path(str(release.get("path"))) / "site" / "index.html"
        if site.is_file():
            console.print(
                f"Bản đồ số và bảng điểm / map and scorecard: {site} (mở trong trình duyệt / open in a "
                "browser, hoặc / or: make serve)"
            )
    else:
        console.print(
            "[red]Không công bố / nothing published[/red]: the previous release (if any) stays in place."
        )

    console.print(f"Thời gian / wall time: {elapsed:.1f} s · run id {result.run_id}")
    ok = result.success and not failed_blocking and bool(release)
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="materialize every asset, check and publish")
    p_run.add_argument("--job", default="ntm_full_refresh")
    p_run.add_argument(
        "--force",
        action="store_true",
        help="run even when nothing changed since the last successful run, and rebuild every period",
    )
    sub.add_parser("check", help="pre-flight only: settings, paths, disk, dbt manifest (exit 4 on a problem)")
    from pipeline.exchange import verify as exchange

    exchange.add_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "exchange":
        return exchange.main(args)
    if args.command == "run":
        return run(args)
    if args.command == "check":
        from pipeline import preflight

        return preflight.main(console)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())

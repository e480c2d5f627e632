"""Command line: `python -m pipeline run` (what `make run` calls).

Runs the whole asset graph in this process against the Dagster instance in DAGSTER_HOME (so the run shows
in the UI's run history). The full Dagster/dbt log goes to runs/<run_id>/pipeline.log (-v: also live); the
screen shows one line per step, then a one-screen summary (pipeline.run_summary): per source the files and
rows, the first rejected files and quarantined rows (all of them in runs/<run_id>/quarantine.csv), the checks
with every failed expectation named, the release, and when nothing was published the cause in one sentence.
The exit code (pipeline.exit_codes) says which.
"""

from __future__ import annotations

import argparse
import fcntl
import gc
import sys
import time
import uuid
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.text import Text

from pipeline import config, run_report, run_summary
from pipeline.exit_codes import ExitCode

EPILOG = """exit codes / mã thoát:
  0  OK          published a new release, or it is unchanged, or nothing changed / đã công bố hoặc không đổi
  1  RUN_FAILED  a step failed with an error: nothing new published / một bước bị lỗi, không công bố
  2  USAGE       the command line is wrong / sai cú pháp lệnh
  3  BLOCKED     a blocking quality check failed: nothing published / kiểm tra chặn không đạt, không công bố
  4  PREFLIGHT   pre-flight found a problem, no run started / kiểm tra trước khi chạy phát hiện lỗi
files of a run / tệp của lượt chạy: <warehouse dir>/runs/<run_id>/ pipeline.log, quarantine.csv, summary.txt
(the newest NTM_KEEP_RUNS runs are kept / giữ NTM_KEEP_RUNS lượt mới nhất)"""

console = Console(highlight=False, soft_wrap=True)

#: Set by ``python -m pipeline`` (pipeline/__main__.py), whose process ends after the command: the objects
#: imported before the run (Dagster, dbt, pandas, the definitions: about 500,000) are then frozen out of the
#: garbage collector's generations, so its full collections during the run walk only what the run creates.
#: Left off when ``main`` is called inside a longer-lived process (tests), where frozen objects that later
#: became garbage would never be freed.
EXITS_AFTER_COMMAND = False


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
    from pipeline import changes, preflight
    from pipeline.config import get_settings
    from pipeline.exit_codes import ExitCode

    if problems := preflight.check():  # settings, paths, disk, manifest: before any Dagster import
        preflight.print_report(problems, console)
        return ExitCode.PREFLIGHT
    settings = get_settings()
    started = time.monotonic()
    found = None if args.force else changes.changes_since_last_success(settings)
    if found is not None and found.nothing and changes.release_in_place(settings, found.last):
        # the nightly refresh when nothing changed: no Dagster run, nothing rebuilt, nothing published
        last = found.last
        console.print(
            f"Không có gì thay đổi / nothing changed since run {last['run_id']} ({last['finished_at']}): "
            f"landing zone, code and settings are the same; release [bold]{last['release_id']}[/bold] "
            f"is current → {settings.open_data_dir / 'latest'}. Chạy lại toàn bộ / rebuild anyway: --force"
        )
        console.print(f"Thời gian / wall time: {time.monotonic() - started:.1f} s")
        return int(ExitCode.OK)

    import dagster as dg

    from pipeline.definitions import defs
    from pipeline.event_log import keep_connections
    from pipeline.partitions import FULL_REBUILD_TAG
    from pipeline.run_monitor import fail_orphaned_runs, run_tags
    from pipeline.run_output import CapturedOutput, StepProgress, step_totals

    if EXITS_AFTER_COMMAND:
        gc.freeze()
    # Dagster's instance reads DAGSTER_HOME: set it explicitly (as given, or the default beside the warehouse)
    dagster_home = config.dagster_home(settings.warehouse_dir)
    config.export_dagster_home(dagster_home)
    dagster_home.mkdir(parents=True, exist_ok=True)
    run_id = make_new_run_id()
    run_dir = settings.runs_dir / run_id
    log_path = run_dir / "pipeline.log"
    console.print(
        f"[bold]NTM pipeline[/bold] · raw: {settings.raw_dir} · warehouse: {settings.warehouse} · "
        f"open data: {settings.open_data_dir}"
    )
    console.print(f"Nhật ký đầy đủ / full log: {log_path}" + ("" if args.verbose else " (-v: live)"))

    job = defs.resolve_job_def(args.job)
    tags = {"ntm/trigger": "cli", **run_tags()}
    if args.force:
        tags[FULL_REBUILD_TAG] = "true"
    # Two runs started at once on a fresh DAGSTER_HOME would race to create the SQLite run storage: create it
    # under a file lock, then run (the warehouse lock serialises the writing steps of the two runs).
    with _locked(dagster_home / ".instance-init.lock"):
        instance = dg.DagsterInstance.get()
        # about 1,400 events per run: write them over kept connections, not a file open/fsync/close each
        keep_connections(instance)
        instance.get_runs(limit=1)
        # runs killed earlier (SIGKILL) would stay STARTED and hold the run queue's single slot
        for stale_id, why in fail_orphaned_runs(instance):
            console.print(f"[yellow]Lượt chạy cũ / stale run[/yellow] {stale_id} → FAILURE: {why}")
    started_at = datetime.now()
    with CapturedOutput(log_path, verbose=args.verbose) as captured, instance:
        screen = Console(file=captured.screen, highlight=False, soft_wrap=True)
        with StepProgress(screen, {} if args.verbose else step_totals(defs), quiet=args.verbose) as progress:
            instance.add_event_listener(run_id, progress)
            result = job.execute_in_process(instance=instance, raise_on_error=False, tags=tags, run_id=run_id)
    code = summarise(result, time.monotonic() - started, started_at=started_at, log_path=log_path)
    # the publish step recorded the last success (pipeline.changes) once the release was in place
    run_report.prune_runs(settings.runs_dir, settings.keep_runs, current=run_id)
    return int(code)


def make_new_run_id() -> str:
    """The run id, chosen before the run so that its log file can be opened first."""
    return str(uuid.uuid4())


def summarise(
    result, elapsed: float, started_at: datetime | None = None, log_path: Path | None = None
) -> ExitCode:
    """Print the run summary (one screen, both languages), write ``runs/<run_id>/quarantine.csv`` and
    ``summary.txt`` beside the log, and return the exit code."""
    from pipeline.config import get_settings

    settings = get_settings()
    run_dir = settings.runs_dir / result.run_id
    summary = run_summary.collect(result, settings.warehouse, elapsed, started_at)
    run_report.write_quarantine_csv(summary, run_dir / "quarantine.csv")
    lines = run_report.render(summary, run_dir, log_path)
    for line in lines:
        console.print(line, highlight=False)
    (run_dir / "summary.txt").write_text(
        "\n".join(Text.from_markup(line).plain for line in lines) + "\n", encoding="utf-8"
    )
    return summary.exit_code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline",
        description=__doc__.splitlines()[0],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser(
        "run",
        help="materialize every asset, check and publish",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p_run.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show the full Dagster/dbt log live (it always goes to runs/<run_id>/pipeline.log)",
    )
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
    return int(ExitCode.USAGE)


if __name__ == "__main__":
    sys.exit(main())

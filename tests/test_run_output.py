"""Where a run's output goes (pipeline.run_output): everything written to fds 1 and 2 - Dagster's logger,
dbt, subprocesses - lands in the log file; the screen gets one line per finished step."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from types import SimpleNamespace

from rich.console import Console

from pipeline.run_output import CapturedOutput, StepProgress


def test_fds_go_to_the_log_and_the_screen_stays_clean(tmp_path, capfd):
    log = tmp_path / "run" / "pipeline.log"
    with CapturedOutput(log) as captured:
        os.write(1, b"dagster says\n")
        print("python print", flush=True)
        print("a warning", file=sys.stderr, flush=True)
        subprocess.run(["echo", "dbt says"], check=True)
        captured.screen.write("progress line\n")
    print("after", flush=True)
    text = log.read_text(encoding="utf-8")
    assert all(s in text for s in ("dagster says", "python print", "a warning", "dbt says"))
    out, err = capfd.readouterr()
    assert out == "progress line\nafter\n" and err == ""


def test_verbose_copies_the_log_to_the_screen(tmp_path, capfd):
    log = tmp_path / "pipeline.log"
    with CapturedOutput(log, verbose=True):
        subprocess.run(["echo", "dbt says"], check=True)
    assert "dbt says" in log.read_text(encoding="utf-8")
    out, err = capfd.readouterr()
    assert "dbt says" in out + err


def _entry(step: str, kind: str):
    return SimpleNamespace(dagster_event=SimpleNamespace(step_key=step, event_type_value=kind))


def test_one_line_per_finished_step_when_not_a_terminal():
    buf = io.StringIO()
    console = Console(file=buf, width=200, highlight=False)
    with StepProgress(console, {"ntm_dbt": 3}) as progress:
        for kind in ("STEP_START", "ASSET_MATERIALIZATION", "ASSET_CHECK_EVALUATION", "STEP_SUCCESS"):
            progress(_entry("ntm_dbt", kind))
        progress(_entry("quality_gate", "STEP_START"))
        progress(_entry("quality_gate", "STEP_FAILURE"))
        progress(_entry("publish__open_data_release", "STEP_SKIPPED"))
        progress(SimpleNamespace(dagster_event=None))  # a plain log line: ignored
    lines = buf.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("✓ ntm_dbt (") and "2 kết quả / results" in lines[0]
    assert lines[1].startswith("✗ quality_gate (")
    assert lines[2] == "– publish/open_data_release (bỏ qua / skipped)"


def test_a_bar_on_a_terminal_never_breaks_the_run():
    buf = io.StringIO()
    console = Console(file=buf, width=120, force_terminal=True)
    with StepProgress(console, {"ntm_dbt": 300}) as progress:
        assert progress.live
        progress(_entry("ntm_dbt", "STEP_START"))
        assert progress.progress.tasks[0].total == 300
        for _ in range(10):
            progress(_entry("ntm_dbt", "ASSET_MATERIALIZATION"))
        assert progress.progress.tasks[0].completed == 10
        progress(_entry("ntm_dbt", "STEP_SUCCESS"))
        progress("not an event")
    assert "✓ ntm_dbt" in buf.getvalue()


def test_a_step_reporting_its_files_moves_its_bar():
    from pipeline import progress as step_progress

    console = Console(file=io.StringIO(), width=120, force_terminal=True)
    with StepProgress(console, {"ingest_submissions": 3}) as progress:
        progress(_entry("ingest_submissions", "STEP_START"))
        for i in range(1, 8):
            step_progress.advance(i, 250, "files")
        progress(_entry("ingest_submissions", "ASSET_MATERIALIZATION"))  # not a file: not counted
        task = progress.progress.tasks[0]
        assert (task.total, task.completed) == (250, 7)
    # removed after the run
    assert not [h for h in step_progress.LOGGER.handlers if type(h).__name__ == "_UnitsHandler"]
    step_progress.advance(1, 2)  # nobody listens: nothing happens

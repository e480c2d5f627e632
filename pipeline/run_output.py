"""Where the output of a run goes: the full Dagster/dbt log to ``runs/<run_id>/pipeline.log``, one line (or a
progress bar on a terminal) per step to the screen.

:class:`CapturedOutput` redirects file descriptors 1 and 2 (Dagster's console logger, dbt, warnings, any
subprocess) to the log file for the duration of the run; with ``verbose`` it copies them to the screen
too (as before: everything live). The screen is written through a duplicate of the original stdout.
:class:`StepProgress` is a Dagster event listener (``instance.add_event_listener``): it is called in the
run's own thread as each event is stored, and shows a bar for steps with many outputs (dbt nodes, GX
suites) and a spinner for the others; when stdout is not a terminal it prints one line per finished step.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import IO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

#: events that count as one unit of a step's progress
UNIT_EVENTS = ("ASSET_MATERIALIZATION", "ASSET_CHECK_EVALUATION")
#: a step gets a bar (instead of a spinner) from this many expected units on
BAR_FROM = 4


class CapturedOutput:
    """Redirect fds 1 and 2 to ``log_path`` (and with ``verbose`` also to the original stderr)."""

    def __init__(self, log_path: Path, verbose: bool = False):
        self.log_path = log_path
        self.verbose = verbose
        self._saved: dict[int, int] = {}
        self._thread: threading.Thread | None = None
        self._pipe_w: int | None = None
        self.screen: IO[str] | None = None
        self._streams: tuple = ()

    def __enter__(self) -> CapturedOutput:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        sys.stdout.flush()
        sys.stderr.flush()
        self._saved = {1: os.dup(1), 2: os.dup(2)}
        self.screen = os.fdopen(os.dup(self._saved[1]), "w", encoding="utf-8", buffering=1)
        log = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        if self.verbose:
            r, w = os.pipe()
            self._pipe_w = w
            self._thread = threading.Thread(target=self._tee, args=(r, log, self._saved[2]), daemon=True)
            self._thread.start()
            target = w
        else:
            target = log
        os.dup2(target, 1)
        os.dup2(target, 2)
        if not self.verbose:
            os.close(log)
        # Python-level writers too (sys.stdout may be another object than fd 1, e.g. under pytest)
        self._streams = (sys.stdout, sys.stderr)
        sys.stdout = open(1, "w", encoding="utf-8", errors="replace", buffering=1, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", errors="replace", buffering=1, closefd=False)  # noqa: SIM115
        return self

    @staticmethod
    def _tee(r: int, log: int, screen: int) -> None:
        try:
            while chunk := os.read(r, 65536):
                os.write(log, chunk)
                with contextlib.suppress(OSError):
                    os.write(screen, chunk)
        finally:
            os.close(r)
            os.close(log)

    def __exit__(self, *exc) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        if self._streams:
            sys.stdout, sys.stderr = self._streams
        for fd, saved in self._saved.items():
            os.dup2(saved, fd)
        if self._pipe_w is not None:
            os.close(self._pipe_w)
            if self._thread is not None:
                self._thread.join(timeout=10)
        for saved in self._saved.values():
            os.close(saved)
        if self.screen is not None:
            self.screen.flush()


def step_totals(defs) -> dict[str, int]:
    """Expected units (assets + checks) per step (= op name) of the code location."""
    totals: dict[str, int] = {}
    try:
        for ad in defs.resolve_asset_graph().assets_defs:
            if not ad.is_executable:
                continue
            name = ad.node_def.name
            totals[name] = max(totals.get(name, 0), len(ad.keys) + len(ad.check_keys))
    except Exception:  # noqa: BLE001 - a missing total only turns a bar into a spinner
        return totals
    return totals


class _CountColumn(MofNCompleteColumn):
    """done/total, or nothing for a step without a known total (its spinner and time say enough)."""

    def render(self, task):
        return super().render(task) if task.total is not None else ""


class _UnitsHandler(logging.Handler):
    def __init__(self, progress: StepProgress):
        super().__init__()
        self.target = progress

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):
            self.target.units_done(record.ntm_done, record.ntm_total, record.getMessage())


def _label(step: str) -> str:
    return step.replace("__", "/")


class StepProgress:
    """Dagster event listener showing each step's progress (see the module docstring)."""

    def __init__(self, console: Console, totals: dict[str, int], quiet: bool = False):
        self.console = console
        self.totals = totals
        self.quiet = quiet  # -v: the log is on screen, no progress lines
        self.live = console.is_terminal and not quiet
        self.progress: Progress | None = None
        self.tasks: dict[str, int] = {}
        self.started: dict[str, float] = {}
        self.units: dict[str, int] = {}
        self.finished: list[tuple[str, str]] = []
        self.reported: set[str] = set()
        if self.live:
            self.progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                _CountColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
            )

    def __enter__(self) -> StepProgress:
        from pipeline.progress import LOGGER

        if self.progress is not None:
            self.progress.start()
            self._handler = _UnitsHandler(self)
            LOGGER.addHandler(self._handler)
        return self

    def __exit__(self, *exc) -> None:
        from pipeline.progress import LOGGER

        if self.progress is not None:
            LOGGER.removeHandler(self._handler)
            self.progress.stop()

    def units_done(self, done: int, total: int, unit: str) -> None:
        """A step reported ``done`` of ``total`` files/tables (pipeline.progress): move its bar."""
        running = [s for s in self.tasks if s in self.started]
        if self.progress is None or not running or total < BAR_FROM:
            return
        self.reported.add(running[-1])  # its bar counts files/tables now, not outputs
        self.progress.update(self.tasks[running[-1]], total=total, completed=done)

    def __call__(self, entry) -> None:
        with contextlib.suppress(Exception):  # the display never breaks a run
            self._handle(entry)

    def _handle(self, entry) -> None:
        event = getattr(entry, "dagster_event", None)
        if event is None or not event.step_key:
            return
        step, kind = event.step_key, event.event_type_value
        if kind == "STEP_START":
            self.started[step] = time.monotonic()
            self.units[step] = 0
            total = self.totals.get(step.split("[")[0], 0)
            if self.progress is not None:
                self.tasks[step] = self.progress.add_task(
                    _label(step), total=total if total >= BAR_FROM else None
                )
        elif kind in UNIT_EVENTS:
            self.units[step] = self.units.get(step, 0) + 1
            if self.progress is not None and step in self.tasks and step not in self.reported:
                self.progress.advance(self.tasks[step])
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED", "STEP_UP_FOR_RETRY"):
            mark = {"STEP_SUCCESS": "✓", "STEP_FAILURE": "✗", "STEP_SKIPPED": "–"}.get(kind, "↻")
            seconds = time.monotonic() - self.started.get(step, time.monotonic())
            units = self.units.get(step, 0)
            line = f"{mark} {_label(step)} ({seconds:.1f} s{f', {units} kết quả / results' if units else ''})"
            if kind == "STEP_SKIPPED":
                line = f"{mark} {_label(step)} (bỏ qua / skipped)"
            self.finished.append((step, kind))
            if self.progress is not None and step in self.tasks:
                self.progress.remove_task(self.tasks.pop(step))
            if not self.quiet:
                self.console.print(line, highlight=False)

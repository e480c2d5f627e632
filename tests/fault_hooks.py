"""The fault hooks the tests install (pipeline.lib.faults): in-process with ``faults.installed(hook)``, in a
subprocess with ``NTM_FAULT_HOOK=tests.fault_hooks:<name>`` (see :data:`pipeline.lib.faults.POINTS`).
Importable from a subprocess whose path holds the repository root: no pytest imports."""

from __future__ import annotations

import os
import signal


def _kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


_files_written = 0


def kill_after_3_files(point: str) -> None:
    """SIGKILL the process when the publish has written its third data file."""
    global _files_written
    if point == "publish.file_written":
        _files_written += 1
        if _files_written >= 3:
            _kill()


def kill_before_swap(point: str) -> None:
    """SIGKILL the process when the staged release is complete, before it becomes ``latest``."""
    if point == "publish.before_swap":
        _kill()


def kill_after_swap(point: str) -> None:
    """SIGKILL the process right after ``latest`` was swapped, before the root CHANGELOG.md is copied."""
    if point == "publish.after_swap":
        _kill()


def env(hook: str) -> dict[str, str]:
    """The environment entry that installs ``hook`` (a name of this module) in a subprocess."""
    return {"NTM_FAULT_HOOK": f"tests.fault_hooks:{hook}"}


RECORDED: list[str] = []


def record(point: str) -> None:
    """Remember every point reached (the unit tests of pipeline.lib.faults read :data:`RECORDED`)."""
    RECORDED.append(point)

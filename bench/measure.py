"""Measuring one command: wall time and peak RSS of its process tree (``measure``), and where a pipeline run
spent its time (``steps``: the Dagster step durations from the run's own log)."""

from __future__ import annotations

import contextlib
import re
import subprocess
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]


_STEP_RE = re.compile(r'Finished execution of step "([^"]+)" in ([0-9.]+)(ms|s|m)')
_STEP_RE_MIN = re.compile(r'Finished execution of step "([^"]+)" in (\d+)m(\d+)s')


def measure(cmd: list[str], env: dict, log: Path, timeout: float | None = None) -> dict:
    """Run ``cmd``; wall time, peak RSS of the process tree (100 ms samples), exit code."""
    log.parent.mkdir(parents=True, exist_ok=True)
    peak = 0
    done = threading.Event()
    with open(log, "w", encoding="utf-8") as fh:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
        ps = psutil.Process(proc.pid)

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                try:
                    procs = [ps, *ps.children(recursive=True)]
                    total = 0
                    for p in procs:
                        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                            total += p.memory_info().rss
                    peak = max(peak, total)
                except psutil.NoSuchProcess:
                    pass
                done.wait(0.1)

        th = threading.Thread(target=sample, daemon=True)
        th.start()
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        wall = time.perf_counter() - t0
        done.set()
        th.join()
    return {"wall_s": round(wall, 2), "peak_rss_mb": round(peak / 2**20, 1), "rc": rc, "log": rel(log)}


def rel(p: Path) -> str:
    try:
        return p.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return str(p)


_FULL_LOG_RE = re.compile(r"full log: (\S+pipeline\.log)")
_CLI_STEP_RE = re.compile(r"^[✓✗] (\S+) \(([0-9.]+) s", re.M)


def steps(log: Path) -> dict[str, float]:
    """Dagster step durations (s) of a run: the cheap profile of where a run spends its time.

    ``log`` is the command's output. The CLI prints the path of the run's full log (``full log: ...``),
    whose Dagster lines give each step to the millisecond; without it (an older run, a deleted warehouse)
    the CLI's own step lines (``✓ ingest_submissions (19.9 s, ...)``) give them to the tenth."""
    out: dict[str, float] = {}
    text = log.read_text(encoding="utf-8", errors="replace")
    m = _FULL_LOG_RE.search(text)
    full = Path(m.group(1)) if m else None
    if full is not None and full.is_file():
        detail = full.read_text(encoding="utf-8", errors="replace")
        for m in _STEP_RE_MIN.finditer(detail):
            out[m.group(1)] = int(m.group(2)) * 60 + int(m.group(3))
        for m in _STEP_RE.finditer(detail):
            if m.group(1) in out:
                continue
            v = float(m.group(2))
            out[m.group(1)] = v / 1000 if m.group(3) == "ms" else v
    if not out:
        for m in _CLI_STEP_RE.finditer(text):
            out[m.group(1).replace("/", "__")] = float(m.group(2))
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))

"""The Makefile's set-up: which Python it picks, what `make run` installs, how --force reaches the CLI and
what `make help` prints. Each test runs GNU make on a copy of the Makefile (with pyproject.toml and uv.lock)
in an empty folder, so no stamp of the real .venv decides what make would do, and `-n` only prints."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEV_TOOLS = ("pytest", "ruff", "sqlfluff", "polars", "playwright", "hypothesis")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("Makefile", "pyproject.toml", "uv.lock"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def make(
    project: Path, *args: str, path: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHON", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    if path is not None:
        env["PATH"] = path
    # UV=/bin/true: an existing file, so make never plans the pip bootstrap of uv in these tests.
    done = subprocess.run(
        ["make", "--no-print-directory", "-C", str(project), "UV=/bin/true", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    if check:
        assert done.returncode == 0, done.stderr
    return done


def pipeline_command(out: str) -> str:
    (line,) = [ln for ln in out.splitlines() if "-m pipeline run" in ln]
    return line


def sync_commands(out: str) -> list[str]:
    return [ln for ln in out.splitlines() if " sync " in ln]


@pytest.mark.parametrize("args", [["FORCE=1"], ["ARGS=--force"], ["FORCE=yes"]])
def test_make_run_passes_force_to_the_cli(project, args):
    cmd = pipeline_command(make(project, "-n", "run", *args).stdout)
    assert cmd.split()[-1] == "--force", cmd


def test_make_run_passes_any_args_and_no_force_by_default(project):
    assert "--force" not in pipeline_command(make(project, "-n", "run").stdout)
    assert "--force" not in pipeline_command(make(project, "-n", "run", "FORCE=0").stdout)
    cmd = pipeline_command(make(project, "-n", "run", "ARGS=--job ntm_full_refresh").stdout)
    assert cmd.endswith("-m pipeline run  --job ntm_full_refresh"), cmd


def test_make_run_installs_runtime_only_and_keeps_dev_tools(project):
    (sync,) = sync_commands(make(project, "-n", "run").stdout)
    # --no-dev: no pytest, ruff, sqlfluff, polars, playwright, hypothesis; --inexact: a `make run` after
    # `make test` does not uninstall them (uv sync removes what is not asked for by default).
    assert "--frozen" in sync and "--no-dev" in sync and "--inexact" in sync, sync
    # the dbt manifest (needed by run) waits for the runtime install only
    assert "--no-dev" in " ".join(sync_commands(make(project, "-n", "manifest").stdout))


def test_make_test_and_lint_install_the_dev_group(project):
    for target in ("test", "lint"):
        syncs = sync_commands(make(project, "-n", target).stdout)
        assert any("--no-dev" not in s and "--frozen" in s for s in syncs), (target, syncs)


def test_dev_tools_are_a_dependency_group_not_runtime():
    import tomllib

    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    runtime = " ".join(meta["project"]["dependencies"]).lower()
    dev = " ".join(meta["dependency-groups"]["dev"]).lower()
    for tool in DEV_TOOLS:
        assert tool not in runtime and tool in dev, tool


def test_make_help_prints_values_not_variables(project):
    out = make(project, "help", "UI_PORT=3999").stdout
    assert "$(" not in out, out
    (ui,) = [ln for ln in out.splitlines() if ln.strip().startswith("make ui ")]
    assert "http://127.0.0.1:3999" in ui, ui
    assert "FORCE=1" in out and "ARGS=" in out


def fake_bin(tmp_path: Path) -> Path:
    """python3.13: a pyenv shim of a version that is not active (on PATH, fails when run);
    python3.12: a working interpreter (this one, 3.11+)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "python3.13"
    shim.write_text('#!/bin/sh\necho "pyenv: python3.13: command not found" >&2\nexit 127\n')
    works = bin_dir / "python3.12"
    works.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    for f in (shim, works):
        f.chmod(0o755)
    return bin_dir


def test_make_picks_the_newest_python_that_runs(project, tmp_path):
    path = f"{fake_bin(tmp_path)}:{os.environ['PATH']}"
    (sync,) = sync_commands(make(project, "-n", "install", path=path).stdout)
    assert sync.endswith("--python python3.12"), sync
    # PYTHON= overrides the pick
    (sync,) = sync_commands(make(project, "-n", "install", f"PYTHON={sys.executable}", path=path).stdout)
    assert sync.endswith(f"--python {sys.executable}"), sync


def test_make_stops_with_a_bilingual_message_when_no_python_fits(project):
    done = make(project, "install", "PYTHON_CANDIDATES=python3.99", check=False)
    assert done.returncode != 0
    assert "Không tìm thấy Python 3.11, 3.12 hoặc 3.13" in done.stderr, done.stderr
    assert "No working Python 3.11, 3.12 or 3.13 found (tried: python3.99)" in done.stderr
    assert not (project / ".venv").exists()
    # a named interpreter outside 3.11-3.13 is refused the same way, before uv runs
    done = make(project, "install", "PYTHON=/bin/false", check=False)
    assert done.returncode != 0 and "tried: /bin/false" in done.stderr, done.stderr


def test_dev_install_marks_the_runtime_install_done_without_touching_it(project):
    """`make install-dev` also installs the runtime set: it creates the runtime stamp when missing, and leaves
    an existing one's time alone, so the dbt manifest (which depends on it) is not parsed again."""
    (project / ".venv").mkdir()
    make(project, "install-dev")  # UV=/bin/true: the sync "succeeds" without installing anything
    runtime, dev = project / ".venv" / ".installed", project / ".venv" / ".installed-dev"
    assert runtime.exists() and dev.exists()
    os.utime(runtime, (runtime.stat().st_atime, runtime.stat().st_mtime + 100))
    before = runtime.stat().st_mtime
    dev.unlink()
    make(project, "install-dev")
    assert dev.exists() and runtime.stat().st_mtime == before
    # and a runtime install after it has nothing to do
    assert "sync" not in make(project, "-n", "install").stdout

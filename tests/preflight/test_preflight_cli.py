"""`python -m pipeline run` stops at pre-flight: exit code 4 in under 5 s, a bilingual line naming what to fix,
Dagster never imported and no run created (the temporary DAGSTER_HOME stays empty)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.config import REPO_ROOT
from pipeline.exit_codes import ExitCode

SAMPLE_RAW = REPO_ROOT / "raw"
BUDGET_S = 5.0  # the bound; pre-flight itself takes a few hundredths of a second
#: uid 0 without the capabilities that override file modes: chmod bites as it does for any user
NO_DAC = ["--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-dac_override,-dac_read_search"]


def _chmod_bites(folder: Path) -> bool:
    probe = folder / "chmod_probe"
    probe.mkdir(mode=0o500)
    try:
        (probe / "x").write_text("x")
        return False
    except PermissionError:
        return True
    finally:
        probe.chmod(0o700)
        shutil.rmtree(probe)


def _wrapper(tmp_path: Path) -> list[str]:
    """How to start a process that a chmod 0o555 folder stops: as is, or as root without DAC override."""
    if _chmod_bites(tmp_path):
        return []
    setpriv = shutil.which("setpriv")
    if setpriv and subprocess.run([setpriv, *NO_DAC, "true"], capture_output=True).returncode == 0:
        return [setpriv, *NO_DAC]
    pytest.skip("running as root and setpriv cannot drop CAP_DAC_OVERRIDE: chmod does not bite")


class Cli:
    def __init__(self, tmp_path: Path):
        self.tmp = tmp_path
        self.dagster_home = tmp_path / "dagster_home"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("NTM_", "DAGSTER_", "PYTHON"))}
        self.env.update(
            NTM_RAW_DIR=str(SAMPLE_RAW),
            NTM_WAREHOUSE=str(tmp_path / "wh" / "ntm.duckdb"),
            NTM_OPEN_DATA_DIR=str(tmp_path / "od"),
            DAGSTER_HOME=str(self.dagster_home),
            COLUMNS="80",  # a narrow terminal: still one line per problem
        )
        self.cwd = REPO_ROOT
        self.prefix: list[str] = []

    def run(self, *args: str, code: str | None = None) -> tuple[int, str, float]:
        cmd = [sys.executable, "-m", "pipeline", *args] if code is None else [sys.executable, "-c", code]
        started = time.perf_counter()
        proc = subprocess.run(
            [*self.prefix, *cmd], cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=120
        )
        return proc.returncode, proc.stdout + proc.stderr, time.perf_counter() - started

    def assert_stopped(self, *names: str) -> str:
        rc, out, elapsed = self.run("run")
        assert rc == ExitCode.PREFLIGHT, out
        assert elapsed < BUDGET_S, (elapsed, out)
        assert "pre-flight" in out and "Kiểm tra trước khi chạy" in out, out
        problem = [line for line in out.splitlines() if line.lstrip().startswith("✗")]
        assert problem, out
        vi, _, en = problem[0].partition(" / ")
        for name in names:
            assert name in vi and name in en, (name, problem[0])
        assert "Cách sửa / fix:" in out
        # nothing of a run: no Dagster storage, no warehouse file, no run folder
        assert not self.dagster_home.exists() or list(self.dagster_home.iterdir()) == [], out
        assert not (self.tmp / "wh" / "ntm.duckdb").exists()
        assert not (self.tmp / "wh" / "runs").exists()
        return out


@pytest.fixture
def cli(tmp_path):
    return Cli(tmp_path)


def test_missing_raw_dir(cli, tmp_path):
    cli.env["NTM_RAW_DIR"] = str(tmp_path / "nowhere")
    cli.assert_stopped("NTM_RAW_DIR", str(tmp_path / "nowhere"))


def test_empty_raw_dir(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    cli.env["NTM_RAW_DIR"] = str(tmp_path / "empty")
    out = cli.assert_stopped(str(tmp_path / "empty"), "submissions/")
    assert "hamlets.csv" in out


def test_raw_dir_that_is_a_file(cli, tmp_path):
    (tmp_path / "raw.csv").write_text("x\n")
    cli.env["NTM_RAW_DIR"] = str(tmp_path / "raw.csv")
    cli.assert_stopped("NTM_RAW_DIR", str(tmp_path / "raw.csv"))


def test_missing_reference_file(cli, tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(SAMPLE_RAW, raw)
    (raw / "reference" / "reporting_units.csv").unlink()
    cli.env["NTM_RAW_DIR"] = str(raw)
    cli.assert_stopped("reporting_units.csv", str(raw / "reference"))


@pytest.mark.parametrize(
    ("var", "value", "shown"),
    [("NTM_KEEP_RELEASES", "abc", "'abc'"), ("NTM_TODAY", "2026-13-01", "'2026-13-01'")],
)
def test_bad_env_var(cli, var, value, shown):
    cli.env[var] = value
    cli.assert_stopped(var, shown)


def test_low_disk(cli, tmp_path):
    cli.env["NTM_MIN_FREE_MB"] = str(10**12)
    cli.assert_stopped("NTM_MIN_FREE_MB", str(tmp_path / "wh"))


@pytest.mark.parametrize("var", ["NTM_WAREHOUSE", "NTM_OPEN_DATA_DIR"])
def test_unwritable_dir(cli, tmp_path, var):
    cli.prefix = _wrapper(tmp_path)
    folder = tmp_path / "read_only"
    folder.mkdir(mode=0o555)
    try:
        cli.env[var] = str(folder / "ntm.duckdb") if var == "NTM_WAREHOUSE" else str(folder)
        cli.assert_stopped(var, str(folder))
    finally:
        folder.chmod(0o755)


def test_read_only_warehouse_file(cli, tmp_path):
    cli.prefix = _wrapper(tmp_path)
    warehouse = tmp_path / "wh" / "ntm.duckdb"
    warehouse.parent.mkdir()
    warehouse.write_bytes(b"")
    warehouse.chmod(0o444)
    rc, out, elapsed = cli.run("run")
    assert rc == ExitCode.PREFLIGHT and elapsed < BUDGET_S, out
    line = next(line for line in out.splitlines() if line.lstrip().startswith("✗"))
    assert line.count("NTM_WAREHOUSE") == 2 and line.count(str(warehouse)) == 2, line
    assert warehouse.stat().st_size == 0 and list(cli.dagster_home.iterdir()) == []


def test_unreadable_raw_dir(cli, tmp_path):
    cli.prefix = _wrapper(tmp_path)
    raw = tmp_path / "raw"
    shutil.copytree(SAMPLE_RAW, raw)
    raw.chmod(0o000)
    try:
        cli.env["NTM_RAW_DIR"] = str(raw)
        cli.assert_stopped("NTM_RAW_DIR", str(raw))
    finally:
        raw.chmod(0o755)


@pytest.fixture
def repo_copy(tmp_path):
    """The pipeline package and the dbt project copied (no target/): `-m pipeline` run from there checks
    that copy's manifest, so the repository's own manifest is never touched."""
    repo = tmp_path / "repo"
    shutil.copytree(REPO_ROOT / "pipeline", repo / "pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(
        REPO_ROOT / "dbt_project",
        repo / "dbt_project",
        ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"),
    )
    return repo


def test_missing_manifest(cli, repo_copy):
    cli.cwd = repo_copy
    out = cli.assert_stopped(str(repo_copy / "dbt_project" / "target" / "manifest.json"))
    assert "make manifest" in out


def test_stale_manifest(cli, repo_copy):
    target = repo_copy / "dbt_project" / "target"
    target.mkdir()
    shutil.copy2(REPO_ROOT / "dbt_project" / "target" / "manifest.json", target / "manifest.json")
    os.utime(target / "manifest.json")
    cli.cwd = repo_copy
    rc, out, _ = cli.run("check")
    assert rc == 0, out  # the copy with its fresh manifest passes
    model = next((repo_copy / "dbt_project" / "models").rglob("*.sql"))
    later = time.time() + 5
    os.utime(model, (later, later))
    out = cli.assert_stopped(str(target / "manifest.json"), model.name)
    assert "make manifest" in out


def test_dagster_is_not_imported_when_preflight_stops(cli, tmp_path):
    cli.env["NTM_RAW_DIR"] = str(tmp_path / "nowhere")
    code = (
        "import sys; from pipeline.cli import main; rc = main(['run']); "
        "print('dagster imported:', any(m == 'dagster' or m.startswith('dagster.') for m in sys.modules)); "
        "sys.exit(rc)"
    )
    rc, out, _ = cli.run(code=code)
    assert rc == ExitCode.PREFLIGHT and "dagster imported: False" in out, out


def test_check_subcommand_ok_on_the_bundled_sample(cli):
    rc, out, elapsed = cli.run("check")
    assert rc == 0 and "pre-flight: OK" in out, out
    assert elapsed < BUDGET_S
    assert list(cli.dagster_home.iterdir()) == []


def test_check_subcommand_reports_problems(cli, tmp_path):
    cli.env["NTM_RAW_DIR"] = str(tmp_path / "nowhere")
    cli.env["NTM_KEEP_RUNS"] = "0"
    rc, out, _ = cli.run("check")
    assert rc == ExitCode.PREFLIGHT, out
    assert "2 problem(s)" in out and "NTM_KEEP_RUNS='0'" in out and str(tmp_path / "nowhere") in out


def test_run_report_is_short_and_has_no_traceback(cli, tmp_path):
    """One line per problem and one for its fix, under a one-line heading; no traceback."""
    cli.env["NTM_RAW_DIR"] = str(tmp_path / "nowhere")
    out = cli.assert_stopped("NTM_RAW_DIR")
    assert len(out.strip().splitlines()) == 3 and "Traceback" not in out

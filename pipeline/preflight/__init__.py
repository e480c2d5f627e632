"""Pre-flight: what must hold before a run starts (settings, paths, write access, free disk, dbt manifest).

:func:`check` returns the problems, each naming the environment variable, path or value to fix, in
Vietnamese and English; ``python -m pipeline run`` stops on them with exit code 4 before Dagster is imported
(``python -m pipeline check`` runs only this). It must stay fast: no Dagster, dbt, GX, pandas or DuckDB
import here (the layout constants below are held equal to the ingest's own by tests/preflight/test_preflight.py).
"""

from __future__ import annotations

from pathlib import Path

from pipeline import config
from pipeline.config import configured_paths, instance_level, min_free_mb
from pipeline.preflight.manifest import MANIFEST, check_manifest, newest_dbt_source
from pipeline.preflight.paths import (
    OPTIONAL_REFERENCE_FILES,
    PACKAGE_SOURCE,
    REQUIRED_REFERENCE_FILES,
    SEED_FILES,
    SOURCES,
    check_disk,
    check_raw_dir,
    check_seeds,
    check_warehouse_file,
    check_writable,
)
from pipeline.preflight.problem import Problem
from pipeline.preflight.settings import MIN_FREE_MB_DEFAULT, SETTINGS, check_settings

__all__ = [
    "MANIFEST",
    "OPTIONAL_REFERENCE_FILES",
    "PACKAGE_SOURCE",
    "REQUIRED_REFERENCE_FILES",
    "SEED_FILES",
    "SETTINGS",
    "SOURCES",
    "Problem",
    "check",
    "check_disk",
    "check_manifest",
    "check_raw_dir",
    "check_seeds",
    "check_settings",
    "check_warehouse_file",
    "check_writable",
    "main",
    "newest_dbt_source",
    "one_line",
    "print_report",
]


def dagster_home(warehouse_dir: Path) -> Path:
    """DAGSTER_HOME, or the default ``python -m pipeline run`` uses (beside the warehouse folder)."""
    return config.dagster_home(warehouse_dir)


def check() -> list[Problem]:
    """Every pre-flight problem, settings first (an empty list: ready to run). Creates the warehouse,
    open-data and DAGSTER_HOME folders when missing (as a run would); writes nothing else."""
    problems = check_settings()
    raw, warehouse, open_data = configured_paths()
    try:
        level = instance_level()[0]
    except ValueError:  # reported by check_settings
        level = "commune"
    problems += check_raw_dir(raw, level)
    problems += check_seeds()
    folders = [
        (warehouse.parent, "NTM_WAREHOUSE", "thư mục kho dữ liệu", "warehouse folder"),
        (open_data, "NTM_OPEN_DATA_DIR", "thư mục dữ liệu mở", "open-data folder"),
        (dagster_home(warehouse.parent), "DAGSTER_HOME", "thư mục Dagster", "Dagster home"),
    ]
    writable = []
    for folder, var, what_vi, what_en in folders:
        found = check_writable(folder, var, what_vi, what_en)
        problems += found
        if not found:
            writable.append((folder, var))
    problems += check_warehouse_file(warehouse)
    try:
        min_mb = min_free_mb()
    except ValueError:  # reported by check_settings
        min_mb = MIN_FREE_MB_DEFAULT
    problems += check_disk(writable[:2], min_mb)
    problems += check_manifest()
    return problems


def print_report(problems: list[Problem], console) -> None:
    """One line per problem and the fix under it (rich console; long lines are not cut or wrapped)."""
    from rich.markup import escape

    console.print(
        f"[red]Kiểm tra trước khi chạy: {len(problems)} vấn đề, chưa chạy gì / "
        f"pre-flight: {len(problems)} problem(s), nothing was run[/red]",
        soft_wrap=True,
    )
    for p in problems:
        console.print(f"  [red]✗[/red] {escape(p.message)}", soft_wrap=True)
        console.print(f"    [bold]→ Cách sửa / fix:[/bold] {escape(p.fix)}", soft_wrap=True)


def one_line(problems: list[Problem]) -> str:
    """For a sensor's or schedule's skip reason."""
    head = f"Kiểm tra trước khi chạy / pre-flight: {problems[0].message} → {problems[0].fix}"
    return head + (f" (+{len(problems) - 1})" if len(problems) > 1 else "")


def main(console) -> int:
    """``python -m pipeline check``: 0 and OK, or the problems and 4 (ExitCode.PREFLIGHT)."""
    from pipeline.exit_codes import ExitCode

    problems = check()
    if problems:
        print_report(problems, console)
        return ExitCode.PREFLIGHT
    console.print("[green]Kiểm tra trước khi chạy: đạt / pre-flight: OK[/green]")
    return ExitCode.OK

"""Pre-flight of the dbt manifest: present, readable, not older than the dbt sources (`make manifest`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pipeline.config import DBT_PROJECT_DIR
from pipeline.preflight.problem import Problem

MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"
#: what `make manifest` depends on (Makefile DBT_SOURCES)
DBT_SOURCE_SUFFIXES = (".sql", ".yml", ".csv")
DBT_SKIP_DIRS = ("target", "logs", "dbt_packages")


def newest_dbt_source(project_dir: Path = DBT_PROJECT_DIR) -> tuple[Path, float] | None:
    newest: tuple[Path, float] | None = None
    for root, dirs, names in os.walk(project_dir):
        if Path(root) == project_dir:
            dirs[:] = [d for d in dirs if d not in DBT_SKIP_DIRS]
        for n in names:
            if n.endswith(DBT_SOURCE_SUFFIXES):
                p = Path(root) / n
                mtime = p.stat().st_mtime
                if newest is None or mtime > newest[1]:
                    newest = (p, mtime)
    return newest


def check_manifest(manifest: Path = MANIFEST, project_dir: Path = DBT_PROJECT_DIR) -> list[Problem]:
    fix_vi, fix_en = "chạy `make manifest` (dbt parse)", "run `make manifest` (dbt parse)"
    if not manifest.is_file():
        return [
            Problem(
                "manifest_missing",
                str(manifest),
                f"chưa có manifest dbt {manifest}",
                f"the dbt manifest {manifest} does not exist",
                fix_vi,
                fix_en,
            )
        ]
    try:
        with open(manifest, "rb") as fh:
            data = json.load(fh)
        if not isinstance(data, dict) or not isinstance(data.get("nodes"), dict):
            raise ValueError("no 'nodes' object")
    except (OSError, ValueError) as exc:
        return [
            Problem(
                "manifest_unreadable",
                str(manifest),
                f"manifest dbt {manifest} không đọc được: {exc}",
                f"the dbt manifest {manifest} cannot be read: {exc}",
                fix_vi,
                fix_en,
            )
        ]
    newest = newest_dbt_source(project_dir)
    if newest and newest[1] > manifest.stat().st_mtime:
        rel = (
            newest[0].relative_to(project_dir.parent)
            if newest[0].is_relative_to(project_dir.parent)
            else newest[0]
        )
        return [
            Problem(
                "manifest_stale",
                str(manifest),
                f"manifest dbt {manifest} cũ hơn mã dbt ({rel} đã sửa sau đó)",
                f"the dbt manifest {manifest} is older than the dbt project ({rel} changed after it)",
                fix_vi,
                fix_en,
            )
        ]
    return []

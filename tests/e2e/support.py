"""Helpers of the end-to-end tests (`from tests.e2e.support import ...`): a temporary landing zone, warehouse and open-data dir."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from tests import dbt_parse_cache

REPO = Path(__file__).resolve().parents[2]


def tree_digest(root: Path) -> str:
    """sha256 over every file (path + bytes) below root, following the `latest` symlink."""
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def pipeline_env(base: Path, raw: Path | None = None, **extra: str) -> dict[str, str]:
    """The environment of a pipeline run in ``base``: its own warehouse, open data and Dagster home; the
    landing zone ``raw`` (default: a copy of the bundled sample in ``base/raw``), plus ``extra`` settings."""
    if raw is None:
        raw = base / "raw"
        if not raw.exists():
            shutil.copytree(REPO / "raw", raw, ignore=shutil.ignore_patterns("templates"))
    (base / "dagster_home").mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / ".dagster" / "dagster.yaml", base / "dagster_home" / "dagster.yaml")
    # dbt's partial-parse state for this warehouse path (`make manifest`'s, re-hashed): no full dbt parse
    dbt_parse_cache.seed(base / "warehouse" / "ntm.duckdb")
    return {
        "NTM_RAW_DIR": str(raw),
        "NTM_WAREHOUSE": str(base / "warehouse" / "ntm.duckdb"),
        "NTM_OPEN_DATA_DIR": str(base / "open_data"),
        "DAGSTER_HOME": str(base / "dagster_home"),
        "NTM_PII_SALT": "test-salt",
        "NTM_TODAY": "2026-11-29",
        **extra,
    }

"""What the last good build saw, so that work is in proportion to what changed.

Two records, both written only after success (a crash leaves the previous record, so the next run does
the full work again, never less):

* ``<warehouse dir>/last_success.json`` (written by ``python -m pipeline run`` when a run ended with a
  release): the fingerprint of the landing zone (path, size and mtime of every data file) and of the code
  (dbt project, expectation suites, pipeline package). When both are unchanged and the release is still
  in place, the next ``python -m pipeline run`` says so and stops within a second or two: that is the nightly
  refresh when nothing changed (the nightly schedule uses the same fingerprint and skips its tick).
  ``--force`` runs anyway.
* ``audit.dbt_built_files`` in the warehouse (written by the dbt step after a successful ``dbt build``):
  the ingested files the marts were built from, with the code fingerprint in ``audit.dbt_builds``. When the
  only new files of a run are submissions of one quarter (or of one year), and the code is unchanged, dbt
  is scoped to that period (pipeline.partitions): its incremental facts replace that period only.

This module imports neither Dagster nor dbt: the no-op check must stay fast.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from pipeline.config import COMMUNE_CODE, DBT_PROJECT_DIR, REPO_ROOT, home_commune, pii_salt_setting

STATE_FILE = "last_success.json"
IGNORED_DIRS = {"templates"}
IGNORED_SUFFIXES = (".tmp", ".part", ".crdownload", "~", ".swp")
CODE_GLOBS = (
    (DBT_PROJECT_DIR, ("models/**/*", "macros/**/*", "seeds/**/*", "tests/**/*", "dbt_project.yml")),
    (REPO_ROOT / "expectations", ("*.json",)),
    (REPO_ROOT / "pipeline", ("**/*.py",)),
)


def landing_files(raw_dir: Path) -> list[Path]:
    """The data files of the landing zone (templates, READMEs, hidden and partial files left out)."""
    if not raw_dir.exists():
        return []
    out = []
    for p in sorted(raw_dir.rglob("*")):
        if not p.is_file():
            continue
        rel = p.relative_to(raw_dir)
        if rel.parts[0] in IGNORED_DIRS or any(part.startswith(".") for part in rel.parts):
            continue
        if p.name.lower().startswith("readme") or p.name.endswith(IGNORED_SUFFIXES):
            continue
        out.append(p)
    return out


def raw_fingerprint(raw_dir: Path) -> str:
    """Path, size and mtime of every data file of the landing zone (no file is read)."""
    h = hashlib.sha256()
    for p in landing_files(raw_dir):
        st = p.stat()
        h.update(f"{p.relative_to(raw_dir)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def code_fingerprint() -> str:
    """Content of the dbt project, the expectation suites and the pipeline package."""
    h = hashlib.sha256()
    for base, globs in CODE_GLOBS:
        files = sorted(
            {p for g in globs for p in base.glob(g) if p.is_file() and "__pycache__" not in p.parts}
        )
        for p in files:
            h.update(str(p.relative_to(REPO_ROOT)).encode() + b"\0" + p.read_bytes() + b"\n")
    return h.hexdigest()[:16]


def settings_fingerprint(settings) -> str:
    """The settings that change what a run produces."""
    parts = [str(settings.raw_dir), str(settings.warehouse), str(settings.open_data_dir)]
    parts.append(hashlib.sha256(pii_salt_setting().encode()).hexdigest()[:8])
    home = home_commune()
    if home != COMMUNE_CODE:  # another commune's instance (the default leaves the fingerprint as it was)
        parts.append(f"home_commune={home}")
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def current(settings) -> dict[str, str]:
    return {
        "raw_fingerprint": raw_fingerprint(settings.raw_dir),
        "code_fingerprint": code_fingerprint(),
        "settings_fingerprint": settings_fingerprint(settings),
    }


def read_last_success(settings) -> dict[str, Any] | None:
    path = settings.warehouse_dir / STATE_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_last_success(settings, fingerprints: dict[str, str], run_id: str, release_id: str) -> None:
    """Atomically (temp file + rename) record a successful run that ended with ``release_id``."""
    record = {
        **fingerprints,
        "run_id": run_id,
        "release_id": release_id,
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    path = settings.warehouse_dir / STATE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def unchanged_since_last_success(settings, fingerprints: dict[str, str]) -> dict[str, Any] | None:
    """The last success record when nothing changed since it and its release is still the latest one."""
    last = read_last_success(settings)
    if not last or any(last.get(k) != v for k, v in fingerprints.items()):
        return None
    if not settings.warehouse.exists():
        return None
    latest = settings.open_data_dir / "latest"
    try:
        if latest.resolve().name != last.get("release_id") or not (latest / "datapackage.json").exists():
            return None
    except OSError:
        return None
    return last

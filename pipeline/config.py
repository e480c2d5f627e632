"""Settings from environment variables, with safe local defaults relative to the repository root.

| variable                 | default                | meaning                                             |
| ------------------------ | ---------------------- | --------------------------------------------------- |
| NTM_RAW_DIR              | raw                    | landing zone (the bundled sample by default)        |
| NTM_WAREHOUSE            | warehouse/ntm.duckdb   | the embedded DuckDB warehouse file                  |
| NTM_OPEN_DATA_DIR        | open_data              | releases/<release_id>/ and the `latest` link        |
| NTM_KEEP_RELEASES        | 5                      | how many releases to keep                           |
| NTM_PII_SALT             | (per-warehouse random) | salt of the respondent hash; set it in production   |
| NTM_DUCKDB_MEMORY_LIMIT  | 4GB                    | DuckDB memory limit (pipeline and dbt)              |
| NTM_DUCKDB_THREADS       | 2                      | DuckDB threads                                      |
| NTM_LOCK_TIMEOUT_S       | 1800                   | how long a run waits for the warehouse writer lock  |
| NTM_TODAY                | (today)                | the date used to reject future periods (tests)      |
| NTM_SUPPRESSION_MIN_COUNT| 5                      | survey cells with fewer respondents are suppressed (>= 3) |
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import date
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
EXPECTATIONS_DIR = REPO_ROOT / "expectations"
COMMUNE_CODE = "18484"
PROVINCE_CODE = "42"


def _path(var: str, default: str) -> Path:
    value = os.environ.get(var) or default
    p = Path(value).expanduser()
    return p if p.is_absolute() else (REPO_ROOT / p)


@dataclass(frozen=True)
class Settings:
    raw_dir: Path
    warehouse: Path
    open_data_dir: Path
    keep_releases: int
    duckdb_memory_limit: str
    duckdb_threads: int
    lock_timeout_s: float
    today: date
    suppression_min_count: int = 5

    @property
    def warehouse_dir(self) -> Path:
        return self.warehouse.parent

    @property
    def data_docs_dir(self) -> Path:
        return self.warehouse_dir / "data_docs"

    def pii_salt(self) -> str:
        """NTM_PII_SALT, or a random salt created once and kept beside the warehouse (never published)."""
        env = os.environ.get("NTM_PII_SALT")
        if env:
            return env
        salt_file = self.warehouse_dir / ".pii_salt"
        if not salt_file.exists():
            salt_file.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(salt_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(16))
        return salt_file.read_text().strip()


def get_settings() -> Settings:
    today = os.environ.get("NTM_TODAY")
    return Settings(
        raw_dir=_path("NTM_RAW_DIR", "raw"),
        warehouse=_path("NTM_WAREHOUSE", "warehouse/ntm.duckdb"),
        open_data_dir=_path("NTM_OPEN_DATA_DIR", "open_data"),
        keep_releases=int(os.environ.get("NTM_KEEP_RELEASES", "5")),
        duckdb_memory_limit=os.environ.get("NTM_DUCKDB_MEMORY_LIMIT", "4GB"),
        duckdb_threads=int(os.environ.get("NTM_DUCKDB_THREADS", "2")),
        lock_timeout_s=float(os.environ.get("NTM_LOCK_TIMEOUT_S", "1800")),
        today=date.fromisoformat(today) if today else date.today(),
        suppression_min_count=_min_count(os.environ.get("NTM_SUPPRESSION_MIN_COUNT", "5")),
    )


def _min_count(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 3:
        raise ValueError(
            f"NTM_SUPPRESSION_MIN_COUNT phải là số nguyên >= 3, nhận {value!r}. / "
            f"NTM_SUPPRESSION_MIN_COUNT must be an integer >= 3 (with 1 or 2 the marker alone gives n), got {value!r}."
        )
    return n

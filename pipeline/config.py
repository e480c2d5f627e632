"""Settings from environment variables, with safe local defaults relative to the repository root.

| variable                 | default                | meaning                                             |
| ------------------------ | ---------------------- | --------------------------------------------------- |
| NTM_RAW_DIR              | raw                    | landing zone (the bundled sample by default)        |
| NTM_WAREHOUSE            | warehouse/ntm.duckdb   | the embedded DuckDB warehouse file                  |
| NTM_OPEN_DATA_DIR        | open_data              | releases/<release_id>/ and the `latest` link        |
| NTM_KEEP_RELEASES        | 5                      | how many releases to keep                           |
| NTM_KEEP_RUNS            | 10                     | how many runs' reports (warehouse/runs/<run_id>/:   |
|                          |                        | log, quarantine.csv) and quality reports to keep    |
| NTM_PII_SALT             | (per-warehouse random) | salt of the respondent hash; set it in production   |
| NTM_DUCKDB_MEMORY_LIMIT  | 4GB                    | DuckDB memory limit (pipeline and dbt)              |
| NTM_DUCKDB_THREADS       | 2                      | DuckDB threads                                      |
| NTM_LOCK_TIMEOUT_S       | 1800                   | how long a run waits for the warehouse writer lock  |
| NTM_READER_WAIT_S        | 120                    | how long a run waits for a reader to let go of the  |
|                          |                        | warehouse file (DuckDB CLI, DBeaver, a notebook)    |
| NTM_TODAY                | (today)                | the date used to reject future periods (tests)      |
| NTM_HOME_COMMUNE         | 18484                  | the commune this instance serves (5-digit code of   |
|                          |                        | the admin registry): dbt var home_commune_code, the |
|                          |                        | release's titles, the report package's sender       |
| NTM_SUPPRESSION_MIN_COUNT| 5                      | survey cells with fewer respondents are suppressed (>= 3) |
| NTM_MAX_FILE_BYTES       | 134217728 (128 MiB)    | a landed file larger than this is not read          |
| NTM_MAX_ROWS_PER_FILE    | 250000                 | data rows (lines) per CSV/JSON file or XLSX workbook|
| NTM_XLSX_MAX_PART_BYTES  | 67108864 (64 MiB)      | uncompressed size of any one part of an XLSX zip    |
| NTM_MAX_CELL_CHARS       | 32767                  | characters in one cell (Excel's own cell limit)     |
| NTM_MIN_FREE_MB          | 500                    | pre-flight: free MB needed on the disks of the      |
|                          |                        | warehouse and open-data dirs before a run starts    |
| NTM_SENDER_NAME          | UBND <commune name>    | who sends the report package upward (a unit, not a  |
|                          |                        | person: e.g. "Phòng Kinh tế, UBND xã Đồng Lộc")     |
| NTM_SENDER_EMAIL         | (none)                 | the sending unit's e-mail in the report package     |
| NTM_LEVEL                | commune                | the level the instance runs at: commune | province  |
|                          |                        | (province: ingests raw/communes/<code>/ packages)   |
| NTM_HOME_PROVINCE        | 42                     | the province a province-level instance reports for  |
| NTM_INGEST_REHASH        | (unset)                | 1: read and hash every landed file, ignoring the    |
|                          |                        | stat cache audit.file_stats                         |
| NTM_INGEST_FASTPATH      | 1                      | batch plain UTF-8 template CSVs (0: every file      |
|                          |                        | through the general reader)                         |
| NTM_GX_PREWARM           | 1                      | import GX in a thread while dbt runs (0: off)       |
| NTM_PUBLISH_REUSE        | 1                      | link an unchanged table's Parquet and CSV files from|
|                          |                        | the previous release (0: rewrite every file)        |
| NTM_GX_SQL_ABOVE_ROWS    | 5000000                | a mart with more rows has its suite decided in      |
|                          |                        | DuckDB (pipeline/quality/gx_sql.py)                 |
| NTM_GATE_REUSE           | 1                      | the quality gate reuses an earlier passed result of |
|                          |                        | an unchanged table (0: validate every table)        |
| NTM_NIGHTLY_FORCE        | (unset)                | any value: the nightly schedule runs even when      |
|                          |                        | nothing changed                                     |
| NTM_SENSOR_INTERVAL_S    | 30                     | seconds between two evaluations of the raw sensor   |
| NTM_SENSOR_SETTLE_S      | 10                     | a landed file must be this old (and stable) before  |
|                          |                        | the sensor triggers on it                           |
| NTM_SENSOR_BASELINE      | (unset)                | 1: the sensor's first start records every file      |
|                          |                        | present as handled                                  |
| NTM_FAULT_HOOK           | (unset)                | tests only: ``module:callable`` installed as the    |
|                          |                        | fault hook (:mod:`pipeline.lib.faults`)             |
| DAGSTER_HOME             | <warehouse>/../.dagster| Dagster's instance folder (runs, schedules, sensors)|

Set by the pipeline for the dbt subprocess (not to be set by hand; :func:`export_for_dbt`):

| variable                 | value                  | meaning                                             |
| ------------------------ | ---------------------- | --------------------------------------------------- |
| NTM_WAREHOUSE_PATH       | NTM_WAREHOUSE, absolute| the warehouse file dbt opens (profiles.yml)         |
| NTM_DBT_CONNECT_ATTEMPTS | from NTM_READER_WAIT_S | dbt-duckdb's connect retries (profiles.yml)         |
| NTM_DBT_PERIOD_CODE      | the run's period or "" | the period the incremental facts rebuild            |
|                          |                        | (macros/periods.sql; "" every period)               |
| NTM_DBT_TEST_PERIOD_CODE | the period or ""       | the period whose rows the period-scoped dbt tests   |
|                          |                        | check (macros/set_tests.sql; "" every row)          |

This module is the only one that reads the environment (``tests/test_settings_single_source.py`` holds it):
every other module asks one of the functions below.

Every value is checked before a run starts by :mod:`pipeline.preflight` (``python -m pipeline check``).
The four ingest limits (:func:`ingest_limits`) reject a file (``file_too_large``) or quarantine a row
(``cell_too_long``) before anything is expanded; see ``raw/README.md`` for the reasons and the defaults.
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


def _env(var: str, default: str = "") -> str:
    """The raw value of one variable (``default`` when unset): the one place the environment is read."""
    return os.environ.get(var, default)


def _flag(var: str, default: bool) -> bool:
    """A boolean switch; unset or empty gives ``default``. A switch on by default is turned off only by
    0/false/no/off, one off by default turned on only by 1/true/yes/on."""
    value = _env(var).strip().lower()
    if not value:
        return default
    return value not in ("0", "false", "no", "off") if default else value in ("1", "true", "yes", "on")


def _path(var: str, default: str) -> Path:
    value = _env(var) or default
    p = Path(value).expanduser()
    return p if p.is_absolute() else (REPO_ROOT / p)


def read_snapshot_path(warehouse: Path) -> Path:
    """The read-only copy of the warehouse for people and tools: ``ntm_read.duckdb`` beside ``ntm.duckdb``."""
    return warehouse.with_name(f"{warehouse.stem}_read{warehouse.suffix}")


@dataclass(frozen=True)
class Settings:
    raw_dir: Path
    warehouse: Path
    open_data_dir: Path
    keep_releases: int
    duckdb_memory_limit: str
    duckdb_threads: int
    lock_timeout_s: float
    reader_wait_s: float
    today: date
    suppression_min_count: int = 5
    keep_runs: int = 10

    @property
    def warehouse_dir(self) -> Path:
        return self.warehouse.parent

    @property
    def runs_dir(self) -> Path:
        """One folder per run, ``runs/<run_id>/``: the run's log file and its reports (quarantine.csv)."""
        return self.warehouse_dir / "runs"

    @property
    def read_snapshot(self) -> Path:
        return read_snapshot_path(self.warehouse)

    @property
    def data_docs_dir(self) -> Path:
        return self.warehouse_dir / "data_docs"

    def pii_salt(self) -> str:
        """NTM_PII_SALT, or a random salt created once and kept beside the warehouse (never published)."""
        env = pii_salt_setting()
        if env:
            return env
        salt_file = self.warehouse_dir / ".pii_salt"
        if not salt_file.exists():
            salt_file.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(salt_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(16))
        return salt_file.read_text().strip()


@dataclass(frozen=True)
class IngestLimits:
    """Bounds of what the ingest reads (defaults: 10x the largest file the pipeline is built for — one
    province's quarterly export at national scale, ~25,000 rows, ~3 MB; a commune's files are < 1,000
    rows, < 1 MB; a commune XLSX sheet part is < 1 MB)."""

    max_file_bytes: int = 128 * 1024 * 1024
    max_rows_per_file: int = 250_000
    xlsx_max_part_bytes: int = 64 * 1024 * 1024
    max_cell_chars: int = 32_767


def _int_env(var: str, default: int) -> int:
    value = _env(var).strip().replace("_", "")
    if not value:
        return default
    n = int(value)
    if n <= 0:
        raise ValueError(f"{var} must be a positive integer, got {value!r}")
    return n


def ingest_limits() -> IngestLimits:
    """The ingest limits from the environment (read on each call: tests and runs may set them)."""
    d = IngestLimits()
    return IngestLimits(
        max_file_bytes=_int_env("NTM_MAX_FILE_BYTES", d.max_file_bytes),
        max_rows_per_file=_int_env("NTM_MAX_ROWS_PER_FILE", d.max_rows_per_file),
        xlsx_max_part_bytes=_int_env("NTM_XLSX_MAX_PART_BYTES", d.xlsx_max_part_bytes),
        max_cell_chars=_int_env("NTM_MAX_CELL_CHARS", d.max_cell_chars),
    )


def min_free_mb() -> int:
    """NTM_MIN_FREE_MB: free space (MB) pre-flight requires on the warehouse and open-data disks."""
    return _int_env("NTM_MIN_FREE_MB", 500)


def exchange_sender() -> tuple[str | None, str | None]:
    """(NTM_SENDER_NAME, NTM_SENDER_EMAIL) for the report package's sender block; None when unset."""
    return _env("NTM_SENDER_NAME").strip() or None, _env("NTM_SENDER_EMAIL").strip() or None


LEVELS = ("commune", "province")


def instance_level() -> tuple[str, str]:
    """(NTM_LEVEL, NTM_HOME_PROVINCE): the level the instance runs at (``commune``, the default, or
    ``province``: it ingests the commune report packages of ``raw/communes/``) and the province a
    province-level instance reports for (2 digits, default ``42``). Raises ValueError (bilingual)."""
    level = (_env("NTM_LEVEL") or "commune").strip().lower()
    province = (_env("NTM_HOME_PROVINCE") or PROVINCE_CODE).strip()
    if level not in LEVELS:
        raise ValueError(
            f"NTM_LEVEL phải là commune hoặc province, nhận {level!r}. / "
            f"NTM_LEVEL must be commune or province, got {level!r}."
        )
    if not (province.isdigit() and len(province) == 2):
        raise ValueError(
            f"NTM_HOME_PROVINCE phải là mã tỉnh 2 chữ số (ví dụ 42), nhận {province!r}. / "
            f"NTM_HOME_PROVINCE must be a 2-digit province code (e.g. 42), got {province!r}."
        )
    return level, province


def configured_paths() -> tuple[Path, Path, Path]:
    """(raw dir, warehouse file, open-data dir) from the environment, without parsing the other settings."""
    return (
        _path("NTM_RAW_DIR", "raw"),
        _path("NTM_WAREHOUSE", "warehouse/ntm.duckdb"),
        _path("NTM_OPEN_DATA_DIR", "open_data"),
    )


def home_commune() -> str:
    """NTM_HOME_COMMUNE: the 5-digit code of the commune this instance serves (default :data:`COMMUNE_CODE`).

    dbt reads the same variable (``dbt_project.yml``: var ``home_commune_code``); pre-flight checks that it is
    5 digits and a commune of the admin registry (:mod:`pipeline.preflight.settings`)."""
    return _env("NTM_HOME_COMMUNE").strip() or COMMUNE_CODE


def get_settings() -> Settings:
    today = _env("NTM_TODAY")
    raw_dir, warehouse, open_data_dir = configured_paths()
    return Settings(
        raw_dir=raw_dir,
        warehouse=warehouse,
        open_data_dir=open_data_dir,
        keep_releases=int(_env("NTM_KEEP_RELEASES", "5")),
        duckdb_memory_limit=_env("NTM_DUCKDB_MEMORY_LIMIT", "4GB"),
        duckdb_threads=int(_env("NTM_DUCKDB_THREADS", "2")),
        lock_timeout_s=float(_env("NTM_LOCK_TIMEOUT_S", "1800")),
        reader_wait_s=float(_env("NTM_READER_WAIT_S", "120")),
        today=date.fromisoformat(today) if today else date.today(),
        suppression_min_count=_min_count(_env("NTM_SUPPRESSION_MIN_COUNT", "5")),
        keep_runs=_int_env("NTM_KEEP_RUNS", 10),
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


# ---------------------------------------------------------------------------------------------------------
# Switches read on each call (a test or a run may set them): ingest, quality, schedule, sensor, tests
# ---------------------------------------------------------------------------------------------------------

GX_SQL_ABOVE_ROWS_DEFAULT = 5_000_000


def pii_salt_setting() -> str:
    """NTM_PII_SALT as set ("" when unset; :meth:`Settings.pii_salt` then falls back to the warehouse's salt)."""
    return _env("NTM_PII_SALT")


def publish_reuse() -> bool:
    """NTM_PUBLISH_REUSE: the publisher links unchanged tables' files from the previous release (default on;
    0/false/no/off rewrites every file)."""
    return _flag("NTM_PUBLISH_REUSE", True)


def ingest_rehash() -> bool:
    """NTM_INGEST_REHASH: read and hash every landed file, ignoring the stat cache (default off)."""
    return _flag("NTM_INGEST_REHASH", False)


def ingest_fastpath() -> bool:
    """NTM_INGEST_FASTPATH: batch plain UTF-8 template CSVs (default on; 0/false/no/off turns it off)."""
    return _flag("NTM_INGEST_FASTPATH", True)


def gx_prewarm() -> bool:
    """NTM_GX_PREWARM: import Great Expectations in a thread while dbt runs (default on; ``0``: off)."""
    return _env("NTM_GX_PREWARM", "1") != "0"


def gx_sql_above_rows() -> int:
    """NTM_GX_SQL_ABOVE_ROWS: above this many rows a mart's suite is decided in DuckDB (default 5,000,000)."""
    raw = _env("NTM_GX_SQL_ABOVE_ROWS").strip()
    return int(raw) if raw else GX_SQL_ABOVE_ROWS_DEFAULT


def gate_reuse() -> bool:
    """NTM_GATE_REUSE: the quality gate reuses an earlier passed result of a table whose content, suite,
    code and inputs are unchanged (default on; 0/false/no/off: every table is validated again)."""
    return _flag("NTM_GATE_REUSE", True)


def nightly_force() -> bool:
    """NTM_NIGHTLY_FORCE: any non-empty value makes the nightly schedule run even when nothing changed."""
    return bool(_env("NTM_NIGHTLY_FORCE"))


def sensor_interval_s() -> int:
    """NTM_SENSOR_INTERVAL_S: seconds between two evaluations of the raw-file sensor (default 30)."""
    return int(_env("NTM_SENSOR_INTERVAL_S", "30"))


def sensor_settle_s() -> float:
    """NTM_SENSOR_SETTLE_S: a landed file must be this many seconds old before it triggers (default 10)."""
    return float(_env("NTM_SENSOR_SETTLE_S", "10"))


def sensor_baseline() -> bool:
    """NTM_SENSOR_BASELINE=1: the sensor's first evaluation records every file present as handled."""
    return _env("NTM_SENSOR_BASELINE") == "1"


def fault_hook_spec() -> str | None:
    """NTM_FAULT_HOOK (tests only): ``module:callable`` that :mod:`pipeline.lib.faults` installs in a
    subprocess; unset in production, where every fault point is a no-op."""
    return _env("NTM_FAULT_HOOK").strip() or None


def dagster_home(warehouse_dir: Path) -> Path:
    """DAGSTER_HOME, or the default ``python -m pipeline run`` uses: ``.dagster`` beside the warehouse folder."""
    return Path(_env("DAGSTER_HOME") or warehouse_dir.parent / ".dagster")


def ntm_environment() -> dict[str, str]:
    """Every NTM_* variable as set, unparsed: what the pre-flight validator checks the shape of."""
    return {k: v for k, v in os.environ.items() if k.startswith("NTM_")}


def export_for_dbt(
    warehouse: Path,
    connect_attempts: int | None = None,
    period: str | None | bool = False,
    test_period: str | None | bool = False,
) -> None:
    """Pass values to the dbt subprocess, which reads them in ``dbt_project/profiles.yml`` (``env_var``):
    NTM_WAREHOUSE_PATH (the absolute warehouse file) and NTM_DBT_CONNECT_ATTEMPTS; in
    ``macros/periods.sql``, NTM_DBT_PERIOD_CODE (the period a run rebuilds, "" for every period); and in
    ``macros/set_tests.sql``, NTM_DBT_TEST_PERIOD_CODE (the period whose rows the period-scoped tests check, ""
    for every row). ``period`` or ``test_period`` False leaves the variable as it is. The only writes of the
    environment besides DAGSTER_HOME (:func:`export_dagster_home`)."""
    os.environ["NTM_WAREHOUSE_PATH"] = str(warehouse)
    if connect_attempts is not None:
        os.environ["NTM_DBT_CONNECT_ATTEMPTS"] = str(connect_attempts)
    if period is not False:
        os.environ["NTM_DBT_PERIOD_CODE"] = str(period or "")
    if test_period is not False:
        os.environ["NTM_DBT_TEST_PERIOD_CODE"] = str(test_period or "")


def export_dagster_home(home: Path) -> None:
    """Set DAGSTER_HOME for ``dagster.DagsterInstance.get()`` in this process (the CLI's run)."""
    os.environ["DAGSTER_HOME"] = str(home)

"""Pre-flight: what must hold before a run starts (settings, paths, write access, free disk, dbt manifest).

:func:`check` returns the problems, each naming the environment variable, path or value to fix, in
Vietnamese and English; ``python -m pipeline run`` stops on them with exit code 4 before Dagster is imported
(``python -m pipeline check`` runs only this). It must stay fast: no Dagster, dbt, GX, pandas or DuckDB
import here (the layout constants below are held equal to the ingest's own by tests/unit/test_preflight.py).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from pipeline.config import DBT_PROJECT_DIR, configured_paths, min_free_mb

#: source folders the ingest reads (pipeline.ingest.files.SOURCES)
SOURCES = ("submissions", "surveys", "ocop", "dhis2")
#: registry files of raw/reference/ the reference ingest requires (pipeline.ingest.reference.REGISTRY)
REQUIRED_REFERENCE_FILES = (
    "hamlets.csv",
    "hamlet_population.csv",
    "hamlet_crosswalk.csv",
    "reporting_units.csv",
)
#: optional: pipeline.ingest.boundaries.BOUNDARY_FILE (no file: no map layer, not an error) and
#: pipeline.exchange.dhis2.MAPPING_FILE (no file: no DHIS2 export in the release, not an error)
OPTIONAL_REFERENCE_FILES = ("hamlet_boundaries.geojson", "dhis2_mapping.csv")
#: the catalogs (dbt seeds) the validators read (pipeline.ingest.reference.ReferenceData._build)
SEED_FILES = ("indicators.csv", "plan_tasks.csv", "survey_questions.csv")
MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"
#: what `make manifest` depends on (Makefile DBT_SOURCES)
DBT_SOURCE_SUFFIXES = (".sql", ".yml", ".csv")
DBT_SKIP_DIRS = ("target", "logs", "dbt_packages")
MIN_FREE_MB_DEFAULT = 500
MEMORY_FLOOR_MB = 64
NOT_DATA = (".tmp", ".part", ".crdownload", "~", ".swp")


@dataclass(frozen=True)
class Problem:
    """One thing to fix before a run: ``subject`` is the variable or path, ``fix`` what to do."""

    code: str
    subject: str
    vi: str
    en: str
    fix_vi: str
    fix_en: str

    @property
    def message(self) -> str:
        return f"{self.vi} / {self.en}"

    @property
    def fix(self) -> str:
        return f"{self.fix_vi} / {self.fix_en}"


# --- settings -------------------------------------------------------------------------------------------


def _positive_int(raw: str) -> int | None:
    try:
        n = int(raw.strip().replace("_", ""))
    except ValueError:
        return None
    return n if n > 0 else None


def _seconds(raw: str) -> float | None:
    try:
        x = float(raw.strip())
    except ValueError:
        return None
    return x if math.isfinite(x) and x >= 0 else None


def _iso_date(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


def _min_count(raw: str) -> int | None:
    try:
        n = int(raw.strip())
    except ValueError:
        return None
    return n if n >= 3 else None


_UNITS = {
    "b": 1, "byte": 1, "bytes": 1,
    "k": 1e3, "kb": 1e3, "kilobyte": 1e3, "kilobytes": 1e3, "kib": 2**10,
    "m": 1e6, "mb": 1e6, "megabyte": 1e6, "megabytes": 1e6, "mib": 2**20,
    "g": 1e9, "gb": 1e9, "gigabyte": 1e9, "gigabytes": 1e9, "gib": 2**30,
    "t": 1e12, "tb": 1e12, "terabyte": 1e12, "terabytes": 1e12, "tib": 2**40,
}  # fmt: skip
_MEMORY = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]+|%)\s*$", re.IGNORECASE)


def _memory(raw: str) -> str | None:
    """A DuckDB memory limit ('4GB', '512 MB', '4GiB', '80%') of at least MEMORY_FLOOR_MB."""
    m = _MEMORY.match(raw)
    if not m:
        return None
    number, unit = float(m.group(1)), m.group(2).lower()
    if unit == "%":
        return raw if 0 < number <= 100 else None
    if unit not in _UNITS or number * _UNITS[unit] < MEMORY_FLOOR_MB * 1e6:
        return None
    return raw


@dataclass(frozen=True)
class _Spec:
    var: str
    default: str | None  # None: unset means a computed default (today)
    parse: Callable[[str], object]
    rule_vi: str
    rule_en: str
    empty_is_default: bool = True


_INT_VI, _INT_EN = "số nguyên dương (≥ 1)", "a positive integer (≥ 1)"
_SEC_VI, _SEC_EN = "số giây không âm (ví dụ 120)", "a number of seconds ≥ 0 (e.g. 120)"

#: every NTM_* setting of pipeline/config.py that has a shape (paths are checked below as paths)
SETTINGS: tuple[_Spec, ...] = (
    _Spec("NTM_KEEP_RELEASES", "5", _positive_int, _INT_VI, _INT_EN, empty_is_default=False),
    _Spec("NTM_KEEP_RUNS", "10", _positive_int, _INT_VI, _INT_EN),
    _Spec(
        "NTM_DUCKDB_MEMORY_LIMIT",
        "4GB",
        _memory,
        f"dung lượng có đơn vị, ≥ {MEMORY_FLOOR_MB} MB (ví dụ 4GB, 512MB, 4GiB) hoặc phần trăm (80%)",
        f"a size with a unit, ≥ {MEMORY_FLOOR_MB} MB (e.g. 4GB, 512MB, 4GiB) or a percentage (80%)",
        empty_is_default=False,
    ),
    _Spec("NTM_DUCKDB_THREADS", "2", _positive_int, _INT_VI, _INT_EN, empty_is_default=False),
    _Spec("NTM_LOCK_TIMEOUT_S", "1800", _seconds, _SEC_VI, _SEC_EN, empty_is_default=False),
    _Spec("NTM_READER_WAIT_S", "120", _seconds, _SEC_VI, _SEC_EN, empty_is_default=False),
    _Spec(
        "NTM_TODAY",
        None,
        _iso_date,
        "một ngày có thật dạng ISO YYYY-MM-DD (ví dụ 2026-11-30)",
        "a real date in ISO form YYYY-MM-DD (e.g. 2026-11-30)",
    ),
    _Spec(
        "NTM_SUPPRESSION_MIN_COUNT",
        "5",
        _min_count,
        "số nguyên ≥ 3 (với 1 hoặc 2, dấu ẩn tự nó làm lộ n)",
        "an integer ≥ 3 (with 1 or 2 the suppression marker alone gives n away)",
        empty_is_default=False,
    ),
    _Spec("NTM_MAX_FILE_BYTES", "134217728", _positive_int, _INT_VI, _INT_EN),
    _Spec("NTM_MAX_ROWS_PER_FILE", "250000", _positive_int, _INT_VI, _INT_EN),
    _Spec("NTM_XLSX_MAX_PART_BYTES", "67108864", _positive_int, _INT_VI, _INT_EN),
    _Spec("NTM_MAX_CELL_CHARS", "32767", _positive_int, _INT_VI, _INT_EN),
    _Spec("NTM_MIN_FREE_MB", str(MIN_FREE_MB_DEFAULT), _positive_int, _INT_VI, _INT_EN),
)


def check_settings(env: dict[str, str] | None = None) -> list[Problem]:
    """Each NTM_* value that pipeline.config would refuse (or that makes no sense), one problem each."""
    env = dict(os.environ if env is None else env)
    problems = []
    for spec in SETTINGS:
        if spec.var not in env:
            continue
        raw = env[spec.var]
        if raw == "" and spec.empty_is_default:
            continue
        if spec.parse(raw) is None:
            default_vi, default_en = (spec.default, spec.default) if spec.default else ("hôm nay", "today")
            problems.append(
                Problem(
                    "bad_setting",
                    spec.var,
                    f"biến môi trường {spec.var}={raw!r} không hợp lệ: cần {spec.rule_vi}",
                    f"environment variable {spec.var}={raw!r} is invalid: expected {spec.rule_en}",
                    f"sửa {spec.var} hoặc bỏ đặt biến (mặc định {default_vi})",
                    f"fix {spec.var} or unset it (default {default_en})",
                )
            )
    if not problems and env is None:
        # what config itself refuses, should a rule above have missed it: never OK while get_settings fails
        from pipeline.config import get_settings, ingest_limits

        try:
            get_settings()
            ingest_limits()
            min_free_mb()
        except (ValueError, OSError) as exc:
            problems.append(
                Problem(
                    "bad_setting",
                    "NTM_*",
                    f"cấu hình không đọc được: {exc}",
                    f"the settings cannot be read: {exc}",
                    "sửa biến môi trường được nêu",
                    "fix the environment variable named",
                )
            )
    return problems


# --- paths ----------------------------------------------------------------------------------------------


def _has_data_file(folder: Path) -> bool:
    """At least one file a source could read (hidden, README and unfinished downloads left out)."""
    for _root, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for n in names:
            if n.startswith((".", "~$")) or n.upper().startswith("README") or n.lower().endswith(".md"):
                continue
            if not n.endswith(NOT_DATA):
                return True
    return False


def _raw_layout_hint(raw: Path) -> str:
    """'did you mean' a child folder that holds the layout (NTM_RAW_DIR pointed one level too high)."""
    try:
        children = sorted(p for p in raw.iterdir() if p.is_dir() and (p / "reference").is_dir())
    except OSError:
        return ""
    return f" — NTM_RAW_DIR={children[0]} ?" if children else ""


def check_raw_dir(raw: Path) -> list[Problem]:
    layout_vi = "thư mục chứa submissions/, surveys/, ocop/ và reference/ (mẫu: raw/ của kho mã)"
    layout_en = (
        "a folder holding submissions/, surveys/, ocop/ and reference/ (sample: the repository's raw/)"
    )
    if not raw.exists():
        return [
            Problem(
                "raw_dir_missing",
                "NTM_RAW_DIR",
                f"thư mục tiếp nhận NTM_RAW_DIR không tồn tại: {raw}",
                f"the landing zone NTM_RAW_DIR does not exist: {raw}",
                f"đặt NTM_RAW_DIR đến {layout_vi}",
                f"set NTM_RAW_DIR to {layout_en}",
            )
        ]
    if not raw.is_dir():
        return [
            Problem(
                "raw_dir_not_dir",
                "NTM_RAW_DIR",
                f"NTM_RAW_DIR là một tệp, không phải thư mục: {raw}",
                f"NTM_RAW_DIR is a file, not a folder: {raw}",
                f"đặt NTM_RAW_DIR đến {layout_vi}",
                f"set NTM_RAW_DIR to {layout_en}",
            )
        ]
    if not os.access(raw, os.R_OK | os.X_OK):
        return [
            Problem(
                "raw_dir_unreadable",
                "NTM_RAW_DIR",
                f"không có quyền đọc thư mục tiếp nhận NTM_RAW_DIR: {raw}",
                f"the landing zone NTM_RAW_DIR is not readable: {raw}",
                f"cấp quyền đọc (chmod u+rx {raw}) hoặc chạy bằng người dùng sở hữu thư mục",
                f"grant read access (chmod u+rx {raw}) or run as the folder's owner",
            )
        ]
    problems = []
    if not any(_has_data_file(raw / s) for s in SOURCES):
        hint = _raw_layout_hint(raw)
        problems.append(
            Problem(
                "raw_dir_empty",
                "NTM_RAW_DIR",
                f"thư mục tiếp nhận {raw} không có tệp dữ liệu nào trong {', '.join(s + '/' for s in SOURCES)}"
                f"{hint}",
                f"the landing zone {raw} holds no data file in {', '.join(s + '/' for s in SOURCES)}{hint}",
                f"đặt NTM_RAW_DIR đến {layout_vi}, hoặc đặt tệp báo cáo vào {raw / SOURCES[0]}/",
                f"set NTM_RAW_DIR to {layout_en}, or put the reports in {raw / SOURCES[0]}/",
            )
        )
    ref = raw / "reference"
    missing = [n for n in REQUIRED_REFERENCE_FILES if not (ref / n).is_file()]
    if missing:
        names = ", ".join(missing)
        problems.append(
            Problem(
                "reference_missing",
                str(ref / missing[0]) if len(missing) == 1 else str(ref),
                f"thiếu tệp danh mục bắt buộc trong {ref}/: {names}",
                f"required reference file(s) missing in {ref}/: {names}",
                f"đặt {names} vào {ref}/ (cột: raw/README.md; mẫu: raw/reference/)",
                f"put {names} in {ref}/ (columns: raw/README.md; samples: raw/reference/)",
            )
        )
    for name in REQUIRED_REFERENCE_FILES:
        path = ref / name
        if name not in missing and not os.access(path, os.R_OK):
            problems.append(
                Problem(
                    "reference_unreadable",
                    str(path),
                    f"không có quyền đọc tệp danh mục {path}",
                    f"reference file not readable: {path}",
                    f"cấp quyền đọc (chmod u+r {path})",
                    f"grant read access (chmod u+r {path})",
                )
            )
    return problems


def check_seeds(seeds_dir: Path = DBT_PROJECT_DIR / "seeds") -> list[Problem]:
    return [
        Problem(
            "catalog_missing",
            str(seeds_dir / name),
            f"thiếu danh mục chỉ tiêu/nhiệm vụ/câu hỏi {seeds_dir / name}",
            f"catalog missing (dbt seed): {seeds_dir / name}",
            "khôi phục tệp từ kho mã (git checkout -- dbt_project/seeds/)",
            "restore it from the repository (git checkout -- dbt_project/seeds/)",
        )
        for name in SEED_FILES
        if not (seeds_dir / name).is_file()
    ]


def check_writable(folder: Path, var: str, what_vi: str, what_en: str) -> list[Problem]:
    """The folder exists (created if missing) and a file can be written in it (a temp file, removed)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".preflight-")
        try:
            os.write(fd, b"ok")
        finally:
            os.close(fd)
            os.unlink(tmp)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return [
            Problem(
                "not_writable",
                var,
                f"không ghi được vào {what_vi} {folder} ({var}): {reason}",
                f"cannot write to the {what_en} {folder} ({var}): {reason}",
                f"cấp quyền ghi (chmod u+rwx {folder}) hoặc đặt {var} đến thư mục ghi được",
                f"grant write access (chmod u+rwx {folder}) or set {var} to a writable folder",
            )
        ]
    return []


def check_warehouse_file(warehouse: Path) -> list[Problem]:
    if warehouse.is_dir():
        return [
            Problem(
                "warehouse_is_dir",
                "NTM_WAREHOUSE",
                f"NTM_WAREHOUSE là thư mục, cần đường dẫn tệp .duckdb: {warehouse}",
                f"NTM_WAREHOUSE is a folder; it must be the path of a .duckdb file: {warehouse}",
                f"đặt NTM_WAREHOUSE={warehouse / 'ntm.duckdb'}",
                f"set NTM_WAREHOUSE={warehouse / 'ntm.duckdb'}",
            )
        ]
    if warehouse.exists() and not os.access(warehouse, os.R_OK | os.W_OK):
        return [
            Problem(
                "not_writable",
                "NTM_WAREHOUSE",
                f"không ghi được vào kho dữ liệu {warehouse} (NTM_WAREHOUSE)",
                f"the warehouse file {warehouse} (NTM_WAREHOUSE) is not writable",
                f"cấp quyền ghi (chmod u+rw {warehouse})",
                f"grant write access (chmod u+rw {warehouse})",
            )
        ]
    return []


def check_disk(folders: list[tuple[Path, str]], min_mb: int) -> list[Problem]:
    problems, seen = [], set()
    for folder, var in folders:
        try:
            dev = folder.stat().st_dev
            if dev in seen:
                continue
            seen.add(dev)
            free_mb = shutil.disk_usage(folder).free // 2**20
        except OSError:
            continue  # the folder itself was reported by check_writable
        if free_mb < min_mb:
            problems.append(
                Problem(
                    "low_disk",
                    var,
                    f"ổ đĩa chứa {folder} ({var}) chỉ còn {free_mb:,} MB trống, cần ≥ {min_mb:,} MB (NTM_MIN_FREE_MB)",
                    f"only {free_mb:,} MB free on the disk of {folder} ({var}); at least {min_mb:,} MB needed "
                    "(NTM_MIN_FREE_MB)",
                    f"giải phóng dung lượng hoặc đặt {var} sang ổ khác (hạ NTM_MIN_FREE_MB nếu chắc chắn đủ)",
                    f"free some space or set {var} to another disk (lower NTM_MIN_FREE_MB if you are sure)",
                )
            )
    return problems


# --- dbt manifest ---------------------------------------------------------------------------------------


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


# --- all ------------------------------------------------------------------------------------------------


def dagster_home(warehouse_dir: Path) -> Path:
    """DAGSTER_HOME, or the default ``python -m pipeline run`` uses (beside the warehouse folder)."""
    return Path(os.environ.get("DAGSTER_HOME") or warehouse_dir.parent / ".dagster")


def check() -> list[Problem]:
    """Every pre-flight problem, settings first (an empty list: ready to run). Creates the warehouse,
    open-data and DAGSTER_HOME folders when missing (as a run would); writes nothing else."""
    problems = check_settings()
    raw, warehouse, open_data = configured_paths()
    problems += check_raw_dir(raw)
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

"""Pre-flight of the folders: the landing zone's layout and reference files, write access, free disk."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from pipeline.config import DBT_PROJECT_DIR
from pipeline.preflight.problem import Problem

#: source folders the ingest reads (pipeline.ingest.files.SOURCES)
SOURCES = ("submissions", "surveys", "ocop", "dhis2")
#: the landing folder of the commune report packages a province-level instance reads
#: (pipeline.exchange.federation.SOURCE; NTM_LEVEL=province)
PACKAGE_SOURCE = "communes"
#: registry files of raw/reference/ the reference ingest requires (pipeline.ingest.reference.REGISTRY)
REQUIRED_REFERENCE_FILES = (
    "hamlets.csv",
    "hamlet_population.csv",
    "hamlet_crosswalk.csv",
    "reporting_units.csv",
)
#: optional: pipeline.ingest.files.BOUNDARY_FILE (no file: no map layer, not an error) and
#: pipeline.exchange.dhis2.MAPPING_FILE (no file: no DHIS2 export in the release, not an error)
OPTIONAL_REFERENCE_FILES = ("hamlet_boundaries.geojson", "dhis2_mapping.csv")
#: the catalogs (dbt seeds) the validators read (pipeline.ingest.reference.ReferenceData._build)
SEED_FILES = ("indicators.csv", "plan_tasks.csv", "survey_questions.csv")
NOT_DATA = (".tmp", ".part", ".crdownload", "~", ".swp")


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


def check_raw_dir(raw: Path, level: str = "commune") -> list[Problem]:
    """The landing zone. At level ``province`` (NTM_LEVEL) the commune report packages of
    ``communes/`` count as data too, so the submission/survey/OCOP/DHIS2 folders are optional."""
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
    sources = SOURCES + ((PACKAGE_SOURCE,) if level == "province" else ())
    if not any(_has_data_file(raw / s) for s in sources):
        hint = _raw_layout_hint(raw)
        problems.append(
            Problem(
                "raw_dir_empty",
                "NTM_RAW_DIR",
                f"thư mục tiếp nhận {raw} không có tệp dữ liệu nào trong {', '.join(s + '/' for s in sources)}"
                f"{hint}",
                f"the landing zone {raw} holds no data file in {', '.join(s + '/' for s in sources)}{hint}",
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

"""Pre-flight of the NTM_* settings: each value has the shape pipeline/config.py needs."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from pipeline.config import ntm_environment
from pipeline.preflight.problem import Problem

MIN_FREE_MB_DEFAULT = 500
MEMORY_FLOOR_MB = 64


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


def _int_at_least(raw: str, minimum: int) -> int | None:
    try:
        n = int(raw.strip())
    except ValueError:
        return None
    return n if n >= minimum else None


def _nonnegative_int(raw: str) -> int | None:
    return _int_at_least(raw, 0)


def _iso_date(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


def _min_count(raw: str) -> int | None:
    return _int_at_least(raw, 3)


def commune_code(raw: str) -> str | None:
    """A commune code of the admin registry (vietnam-provinces, QĐ 19/2025): exactly 5 digits ("18484")."""
    code = raw.strip()
    if len(code) != 5 or not code.isascii() or not code.isdigit():
        return None
    from vietnam_provinces import Ward  # a dict lookup; no pandas

    try:
        Ward.from_code(int(code))
    except ValueError:
        return None
    return code


_UNITS = {
    "b": 1, "byte": 1, "bytes": 1,
    "k": 1e3, "kb": 1e3, "kilobyte": 1e3, "kilobytes": 1e3, "kib": 2**10,
    "m": 1e6, "mb": 1e6, "megabyte": 1e6, "megabytes": 1e6, "mib": 2**20,
    "g": 1e9, "gb": 1e9, "gigabyte": 1e9, "gigabytes": 1e9, "gib": 2**30,
    "t": 1e12, "tb": 1e12, "terabyte": 1e12, "terabytes": 1e12, "tib": 2**40,
}  # fmt: skip
_MEMORY = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]+|%)\s*$", re.IGNORECASE)


def memory_limit(raw: str) -> str | None:
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


_SWITCH_WORDS = ("0", "1", "false", "true", "no", "yes", "off", "on")


def _switch(raw: str) -> str | None:
    """An on/off switch that is on by default (pipeline.config._flag): a word it reads as on or off; any other
    value would silently leave it on."""
    v = raw.strip().lower()
    return v if v in _SWITCH_WORDS else None


_SWITCH_VI = "1/true/yes/on (bật, mặc định) hoặc 0/false/no/off (tắt)"
_SWITCH_EN = "1/true/yes/on (on, the default) or 0/false/no/off (off)"


def _level(raw: str) -> str | None:
    from pipeline.config import LEVELS

    v = raw.strip().lower()
    return v if v in LEVELS else None


def _province(raw: str) -> str | None:
    """A 2-digit province code of the admin registry (vietnam-provinces, QĐ 19/2025)."""
    v = raw.strip()
    if not (v.isdigit() and len(v) == 2):
        return None
    from pipeline.ingest.sources.reference.admin_units import provinces_frame

    return v if v in set(provinces_frame()["province_code"]) else None


@dataclass(frozen=True)
class SettingSpec:
    var: str
    default: str | None  # None: unset means a computed default (today)
    parse: Callable[[str], object]
    rule_vi: str
    rule_en: str
    empty_is_default: bool = True


_INT_VI, _INT_EN = "số nguyên dương (≥ 1)", "a positive integer (≥ 1)"
_SEC_VI, _SEC_EN = "số giây không âm (ví dụ 120)", "a number of seconds ≥ 0 (e.g. 120)"

#: every NTM_* setting of pipeline/config.py that has a shape (paths are checked below as paths)
SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec("NTM_KEEP_RELEASES", "5", _positive_int, _INT_VI, _INT_EN, empty_is_default=False),
    SettingSpec("NTM_KEEP_RUNS", "10", _positive_int, _INT_VI, _INT_EN),
    SettingSpec(
        "NTM_DUCKDB_MEMORY_LIMIT",
        "4GB",
        memory_limit,
        f"dung lượng có đơn vị, ≥ {MEMORY_FLOOR_MB} MB (ví dụ 4GB, 512MB, 4GiB) hoặc phần trăm (80%)",
        f"a size with a unit, ≥ {MEMORY_FLOOR_MB} MB (e.g. 4GB, 512MB, 4GiB) or a percentage (80%)",
        empty_is_default=False,
    ),
    SettingSpec("NTM_DUCKDB_THREADS", "2", _positive_int, _INT_VI, _INT_EN, empty_is_default=False),
    SettingSpec("NTM_LOCK_TIMEOUT_S", "1800", _seconds, _SEC_VI, _SEC_EN, empty_is_default=False),
    SettingSpec("NTM_READER_WAIT_S", "120", _seconds, _SEC_VI, _SEC_EN, empty_is_default=False),
    SettingSpec(
        "NTM_TODAY",
        None,
        _iso_date,
        "một ngày có thật dạng ISO YYYY-MM-DD (ví dụ 2026-11-30)",
        "a real date in ISO form YYYY-MM-DD (e.g. 2026-11-30)",
    ),
    SettingSpec(
        "NTM_SUPPRESSION_MIN_COUNT",
        "5",
        _min_count,
        "số nguyên ≥ 3 (với 1 hoặc 2, dấu ẩn tự nó làm lộ n)",
        "an integer ≥ 3 (with 1 or 2 the suppression marker alone gives n away)",
        empty_is_default=False,
    ),
    SettingSpec(
        "NTM_HOME_COMMUNE",
        "18484",
        commune_code,
        "mã xã/phường 5 chữ số có trong danh mục đơn vị hành chính (vietnam-provinces, QĐ 19/2025), ví dụ 18484",
        "a 5-digit commune code of the admin registry (vietnam-provinces, QĐ 19/2025), e.g. 18484",
    ),
    SettingSpec("NTM_MAX_FILE_BYTES", "134217728", _positive_int, _INT_VI, _INT_EN),
    SettingSpec("NTM_MAX_ROWS_PER_FILE", "250000", _positive_int, _INT_VI, _INT_EN),
    SettingSpec("NTM_XLSX_MAX_PART_BYTES", "67108864", _positive_int, _INT_VI, _INT_EN),
    SettingSpec("NTM_MAX_CELL_CHARS", "32767", _positive_int, _INT_VI, _INT_EN),
    SettingSpec("NTM_MIN_FREE_MB", str(MIN_FREE_MB_DEFAULT), _positive_int, _INT_VI, _INT_EN),
    SettingSpec(
        "NTM_GX_SQL_ABOVE_ROWS",
        "5000000",
        _nonnegative_int,
        "số nguyên không âm (≥ 0; 0: mọi bảng kiểm tra trong DuckDB)",
        "an integer ≥ 0 (0: every table checked in DuckDB)",
    ),
    SettingSpec("NTM_PUBLISH_REUSE", "1", _switch, _SWITCH_VI, _SWITCH_EN),
    SettingSpec("NTM_GATE_REUSE", "1", _switch, _SWITCH_VI, _SWITCH_EN),
    SettingSpec("NTM_SENSOR_INTERVAL_S", "30", _positive_int, _INT_VI, _INT_EN, empty_is_default=False),
    SettingSpec("NTM_SENSOR_SETTLE_S", "10", _seconds, _SEC_VI, _SEC_EN, empty_is_default=False),
    SettingSpec(
        "NTM_LEVEL",
        "commune",
        _level,
        "commune (xã, mặc định) hoặc province (tỉnh: nạp gói báo cáo của các xã trong raw/communes/)",
        "commune (the default) or province (ingests the communes' report packages in raw/communes/)",
    ),
    SettingSpec(
        "NTM_HOME_PROVINCE",
        "42",
        _province,
        "mã tỉnh 2 chữ số có trong danh mục đơn vị hành chính (QĐ 19/2025), ví dụ 42",
        "a 2-digit province code of the admin registry (QĐ 19/2025), e.g. 42",
    ),
)


def check_settings(env: dict[str, str] | None = None) -> list[Problem]:
    """Each NTM_* value that pipeline.config would refuse (or that makes no sense), one problem each."""
    values = ntm_environment() if env is None else dict(env)
    problems = []
    for spec in SETTINGS:
        if spec.var not in values:
            continue
        raw = values[spec.var]
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
        from pipeline.config import get_settings, ingest_limits, instance_level, min_free_mb

        try:
            get_settings()
            ingest_limits()
            min_free_mb()
            instance_level()
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

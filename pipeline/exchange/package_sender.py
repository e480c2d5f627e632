"""The ``sender`` block of the report package's descriptor: who sends it (the configured sender, else the
commune's people's committee), when, for which commune, periods and criteria sets (raw/README.md 10.1)."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipeline.config import exchange_sender
from pipeline.lib.hashing import sha256_file

from .format import FORMAT_NAME, FORMAT_VERSION


def _criteria_sets(indicators: pa.Table, used: set[str]) -> list[dict[str, Any]]:
    rows = indicators.select(["indicator_code", "criteria_set", "legal_basis"]).to_pylist()
    sets: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["indicator_code"] in used:
            s = sets.setdefault(
                r["criteria_set"],
                {"criteria_set": r["criteria_set"], "legal_basis": r["legal_basis"], "indicators": 0},
            )
            s["indicators"] += 1
    return [sets[k] for k in sorted(sets)]


def sender_name_of(home: dict[str, Any], configured: str | None) -> str:
    """The sender's name: the configured one (NFC), else ``UBND <commune>`` (``UBND xã Đồng Lộc``)."""
    if configured:
        return unicodedata.normalize("NFC", configured.strip())
    name = home["commune_name"] or home["commune_code"]
    dtype = (home.get("division_type_vi") or "").strip()
    if dtype and name.lower().startswith(dtype.lower() + " "):
        name = dtype.lower() + name[len(dtype) :]  # "Xã Đồng Lộc" -> "xã Đồng Lộc"
    return f"UBND {name}"


def sender_block(
    home: dict[str, Any], tables: dict[str, pa.Table], dp: dict[str, Any], catalog: Path
) -> dict:
    """Who sends it, when, for which commune, periods and criteria sets (raw/README.md 10.1)."""
    values = tables["fact_indicator_value"]
    periods = tables["dim_period"].to_pylist()
    covered = set(values["period_code"].to_pylist()) | set(
        tables["mart_reporting_compliance"]["period_code"].to_pylist()
    )
    covered_rows = sorted((p for p in periods if p["period_code"] in covered), key=lambda p: p["sort_order"])
    sender_name, sender_email = exchange_sender()
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "level": "commune",
        "commune_code": home["commune_code"],
        "commune_name": home["commune_name"],
        "province_code": home["province_code"],
        "province_name": home["province_name"],
        "sender_name": sender_name_of(home, sender_name),
        "sender_email": sender_email,
        "sent_at": datetime.fromisoformat(dp["created"]).isoformat(timespec="seconds"),
        "timezone": "Asia/Ho_Chi_Minh",
        "release_id": dp.get("ntm:release_id") or dp["name"],
        "release_content_sha256": dp.get("ntm:content_sha256"),
        "release_version": dp.get("version"),
        "criteria_sets": _criteria_sets(tables["dim_indicator"], set(values["indicator_code"].to_pylist())),
        "criteria_catalog_sha256": sha256_file(catalog),
        "periods": {  # the periods the package has values or compliance rows for, in calendar order
            "codes": [p["period_code"] for p in covered_rows],
            "from_date": min(p["start_date"] for p in covered_rows).isoformat() if covered_rows else None,
            "to_date": max(p["end_date"] for p in covered_rows).isoformat() if covered_rows else None,
        },
    }

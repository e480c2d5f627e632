"""Spreadsheet downloads of a release: every published table as CSV (:mod:`.csv_export`) and the plan
scorecard as one XLSX workbook (:mod:`.scorecard_xlsx`), written into the site's ``downloads/`` folder from
the release's own Parquet files (never the warehouse)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from .csv_export import BOM, DownloadError, neutralise, neutralise_text, verify_csv, write_csv
from .scorecard_xlsx import (
    ON_TRACK_RULE,
    SCORECARD_FILE,
    SCORECARD_SHEET,
    STATUS_LABELS,
    plan_status,
    release_stamp,
    write_scorecard_xlsx,
)

__all__ = [
    "BOM",
    "DOWNLOADS_DIR",
    "ON_TRACK_RULE",
    "SCORECARD_FILE",
    "SCORECARD_SHEET",
    "STATUS_LABELS",
    "DownloadError",
    "neutralise",
    "neutralise_text",
    "plan_status",
    "release_stamp",
    "verify_csv",
    "write_csv",
    "write_downloads",
    "write_scorecard_xlsx",
]

DOWNLOADS_DIR = "downloads"


# ---------------------------------------------------------------------------------------------- release


def _resource_files(release_dir: Path, res: dict[str, Any]) -> list[Path]:
    if res.get("ntm:files"):
        rel = [f["path"] for f in res["ntm:files"]]
    else:
        rel = res["path"] if isinstance(res["path"], list) else [res["path"]]
    root = release_dir.resolve()
    files = []
    for p in rel:
        f = (release_dir / p).resolve()
        if not f.is_relative_to(root) or not f.is_file():
            raise DownloadError(
                f"{res.get('name')}: tệp {p!r} không có trong bản phát hành {release_dir}. / file {p!r} is not "
                f"inside the release {release_dir}."
            )
        files.append(f)
    return files


def write_downloads(release_dir: Path, site_dir: Path, release_id: str) -> list[dict]:
    """site_dir/downloads/<resource>.csv for every resource of release_dir/datapackage.json, and
    site_dir/downloads/scorecard.xlsx. Returns one entry per file: {name, path (relative to site_dir),
    format, rows, bytes, sha256, neutralised_cells}."""
    package = json.loads((release_dir / "datapackage.json").read_text(encoding="utf-8"))
    out_dir = site_dir / DOWNLOADS_DIR
    entries = []
    for res in package["resources"]:
        name = res["name"]
        if not re.fullmatch(r"[a-z0-9_.-]+", name):
            raise DownloadError(f"tên tài nguyên không hợp lệ / invalid resource name {name!r}")
        info = write_csv(_resource_files(release_dir, res), out_dir / f"{name}.csv")
        if "ntm:rows" in res and info["rows"] != res["ntm:rows"]:
            raise DownloadError(
                f"{name}.csv: {info['rows']} dòng, datapackage.json ghi {res['ntm:rows']}. / {info['rows']} rows, "
                f"datapackage.json says {res['ntm:rows']}."
            )
        entries.append(
            {
                "name": name,
                "path": f"{DOWNLOADS_DIR}/{name}.csv",
                "format": "csv",
                "rows": info["rows"],
                "bytes": info["bytes"],
                "sha256": info["sha256"],
                "neutralised_cells": info["neutralised_cells"],
            }
        )
    xlsx = write_scorecard_xlsx(
        release_dir / "data",
        out_dir / SCORECARD_FILE,
        release_id,
        is_synthetic=bool(package.get("ntm:is_synthetic")),
    )
    entries.append(
        {
            "name": "scorecard",
            "path": f"{DOWNLOADS_DIR}/{SCORECARD_FILE}",
            "format": "xlsx",
            "rows": xlsx["rows"],
            "bytes": xlsx["bytes"],
            "sha256": xlsx["sha256"],
            "neutralised_cells": xlsx["neutralised_cells"],
        }
    )
    return entries

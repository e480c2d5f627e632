"""Spreadsheet downloads of a release: every published table as CSV (:mod:`.csv_export`) and the plan
scorecard as one XLSX workbook (:mod:`.scorecard_xlsx`), written into the site's ``downloads/`` folder from
the release's own Parquet files (never the warehouse)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipeline.lib.reuse import code_digest, link_verified

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
SITE_MANIFEST = "site.json"  # pipeline.site.build.MANIFEST: lists the downloads with their keys
BUILD_FILE = "build.json"  # the publisher's record in a release (pipeline.publish.reuse.BUILD_FILE)
CSV_CODE = code_digest(Path(__file__).with_name("csv_export.py"))


# ---------------------------------------------------------------------------------------------- release

_ENTRY_KEYS = ("name", "path", "format", "rows", "bytes", "sha256", "neutralised_cells")


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


def csv_key(res: dict[str, Any]) -> str | None:
    """What a table's CSV download is made from: its Parquet files (path, sha256), the code of
    :mod:`.csv_export` and the pyarrow version. None when the release does not record every file's sha256."""
    files = res.get("ntm:files") or []
    if not files or any(not f.get("sha256") for f in files):
        return None
    blob = {"name": res["name"], "files": [[f["path"], f["sha256"]] for f in files], "code": CSV_CODE,
            "pyarrow": pa.__version__}  # fmt: skip
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()


def _previous_csvs(previous: Path | None) -> dict[str, dict[str, Any]]:
    """The CSV downloads the previous release's site recorded: {name: entry with key, bytes, sha256}."""
    if previous is None:
        return {}
    try:
        m = json.loads((previous / "site" / SITE_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {e["name"]: e for e in m.get("downloads", []) if e.get("format") == "csv" and e.get("key")}


def _previous_scorecard(previous: Path | None) -> tuple[Path, dict] | None:
    """The previous release's workbook and the record its publisher kept (build.json "site" "scorecard")."""
    if previous is None:
        return None
    try:
        record = json.loads((previous / BUILD_FILE).read_text(encoding="utf-8"))["site"]["scorecard"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(record, dict):
        return None
    return previous / "site" / DOWNLOADS_DIR / SCORECARD_FILE, record


def write_downloads(
    release_dir: Path, site_dir: Path, release_id: str, previous: Path | None = None
) -> list[dict]:
    """site_dir/downloads/<resource>.csv for every resource of release_dir/datapackage.json, and
    site_dir/downloads/scorecard.xlsx. Returns one entry per file: {name, path (relative to site_dir),
    format, rows, bytes, sha256, neutralised_cells, key (CSV)}. A CSV whose key (:func:`csv_key`) equals the
    one the ``previous`` release's site recorded is hard-linked from it when intact (``reused_from``)."""
    package = json.loads((release_dir / "datapackage.json").read_text(encoding="utf-8"))
    out_dir = site_dir / DOWNLOADS_DIR
    before = _previous_csvs(previous)
    previous_id = None
    if previous is not None and before:
        previous_id = json.loads((previous / "datapackage.json").read_text(encoding="utf-8")).get(
            "ntm:release_id"
        )
    entries = []
    for res in package["resources"]:
        name = res["name"]
        if not re.fullmatch(r"[a-z0-9_.-]+", name):
            raise DownloadError(f"tên tài nguyên không hợp lệ / invalid resource name {name!r}")
        key = csv_key(res)
        old = before.get(name)
        if (
            key is not None
            and old is not None
            and old["key"] == key
            and all(k in old for k in _ENTRY_KEYS)
            and old["path"] == f"{DOWNLOADS_DIR}/{name}.csv"
            and old.get("rows") == res.get("ntm:rows")
            and link_verified(
                previous / "site" / old["path"], out_dir / f"{name}.csv", old["bytes"], old["sha256"]
            )
        ):
            entries.append({**{k: old[k] for k in _ENTRY_KEYS}, "key": key, "reused_from": previous_id})
            continue
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
                "key": key,
                "reused_from": None,
            }
        )
    xlsx = write_scorecard_xlsx(
        release_dir / "data",
        out_dir / SCORECARD_FILE,
        release_id,
        is_synthetic=bool(package.get("ntm:is_synthetic")),
        previous=_previous_scorecard(previous),
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
            "reused_from": None,  # stamped with the release id: written every time
            # the publisher's record (build.json "site"), not listed in site.json: what the next release's
            # workbook may take (its commune sheet, when made from the same files)
            "record": xlsx["record"],
            "sheet_taken": xlsx["sheet_taken"],
        }
    )
    return entries

"""Reuse of the previous report package: the keys under which a table's resources validated
(:func:`validation_keys`) and under which its data files were made (:func:`table_keys`), the previous
release's record of them (build.json ``exchange``, :func:`previous_package`) and the data files taken from
its zip (:func:`taken_tables`)."""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipeline.lib.hashing import sha256_file
from pipeline.lib.reuse import code_digest

from .format import CSV_SUFFIX
from .package_files import EXCHANGE_DIR, MANIFEST, UPWARD_DIR
from .package_release import TABLES

# What decides a table's validation result besides its resources: the validating code and Frictionless
# (and the code that writes the package's files, which the data-file keys stand for).
_HERE = Path(__file__).parent
VALIDATION_CODE = code_digest(
    _HERE / "verify.py",
    _HERE / "format.py",
    _HERE / "package.py",
    _HERE / "package_files.py",
    _HERE / "package_release.py",
    _HERE / "package_sender.py",
    _HERE.parent / "site" / "csv_export.py",  # write_csv formats timestamps with it
    Path(__file__),
)
BUILD_FILE = "build.json"  # the publisher's record in a release (pipeline.publish.reuse.BUILD_FILE)


def references(res: dict[str, Any]) -> set[str]:
    """The resources ``res``'s foreign keys point at."""
    return {
        ref
        for fk in (res.get("schema") or {}).get("foreignKeys") or []
        if (ref := (fk.get("reference") or {}).get("resource"))
    }


def validation_keys(resources_out: list[dict[str, Any]]) -> dict[str, str]:
    """table -> the key of its validation: the sha256 of its Parquet and CSV resource descriptors (schema,
    ``hash`` = the file's sha256, bytes), the descriptors of the resources its foreign keys point at, the
    validating code (:data:`VALIDATION_CODE`) and the Frictionless and pyarrow versions."""
    by_name = {r["name"]: r for r in resources_out}
    keys = {}
    for t in TABLES:
        pq_res, csv_res = by_name[t.name], by_name[t.name + CSV_SUFFIX]
        refs = sorted((references(pq_res) | references(csv_res)) & set(by_name))
        blob = {"parquet": pq_res, "csv": csv_res, "refs": [by_name[r] for r in refs], "code": VALIDATION_CODE,
                "frictionless": version("frictionless"), "pyarrow": pa.__version__}  # fmt: skip
        keys[t.name] = hashlib.sha256(
            json.dumps(blob, sort_keys=True, ensure_ascii=False, default=str).encode()
        ).hexdigest()
    return keys


@dataclass(frozen=True)
class Previous:
    """What the previous release's package offers: the validation keys and data-file keys its publisher
    recorded (build.json "exchange") and its zip, verified against its manifest."""

    validated: frozenset[str]
    tables: dict[str, str]  # table -> key of its data files (table_keys)
    zip_path: Path | None
    package: str | None


def previous_package(previous: Path | None) -> Previous | None:
    """The ``previous`` release's package record (None: none, or unreadable)."""
    if previous is None:
        return None
    try:
        record = json.loads((Path(previous) / BUILD_FILE).read_text(encoding="utf-8")).get("exchange") or {}
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(record, dict):
        return None
    keys = record.get("validated")
    tables = record.get("tables")
    zip_path, package = None, None
    try:
        upward = Path(previous) / EXCHANGE_DIR / UPWARD_DIR
        manifest = json.loads((upward / MANIFEST).read_text(encoding="utf-8"))
        listed = {f["path"]: f for f in manifest["files"]}
        entry = listed[manifest["zip"]]
        path = upward / manifest["zip"]
        if path.stat().st_size == entry["bytes"] and sha256_file(path) == entry["sha256"]:
            zip_path, package = path, str(manifest["package"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return Previous(
        frozenset(k for k in keys if isinstance(k, str)) if isinstance(keys, list) else frozenset(),
        {str(n): str(k) for n, k in tables.items()} if isinstance(tables, dict) else {},
        zip_path,
        package,
    )


def validated_before(previous: Path | None) -> frozenset[str]:
    """The validation keys the ``previous`` release's build.json recorded (empty: none, or unreadable)."""
    prev = previous_package(previous)
    return prev.validated if prev is not None else frozenset()


def table_keys(resources: dict[str, dict], home: dict[str, Any]) -> dict[str, str]:
    """table -> the key of its package files (data/<table>.parquet and .csv): the release resource's files
    (path, sha256), which rows (the home commune's or province's code), this module's and the validating
    code (:data:`VALIDATION_CODE`) and the pyarrow version. The same key, the same two files."""
    keys = {}
    for t in TABLES:
        files = [[f.get("path"), f.get("sha256")] for f in resources[t.name].get("ntm:files") or []]
        if not files or any(not sha for _, sha in files):
            continue
        where = {"commune": home["commune_code"], "province": home["province_code"]}.get(t.rows)
        blob = {"table": t.name, "rows": t.rows, "where": where, "files": files,
                "primary_key": resources[t.name]["schema"].get("primaryKey") or [], "code": VALIDATION_CODE,
                "pyarrow": pa.__version__}  # fmt: skip
        keys[t.name] = hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()
    return keys


def taken_tables(previous: Previous | None, keys: dict[str, str]) -> dict[str, tuple[bytes, bytes]]:
    """table -> (Parquet bytes, CSV bytes) from the previous package's zip (verified by its manifest's
    sha256, each member by its CRC-32) for the tables whose key it recorded."""
    if previous is None or previous.zip_path is None:
        return {}
    want = [n for n, k in keys.items() if previous.tables.get(n) == k]
    if not want:
        return {}
    out = {}
    try:
        with zipfile.ZipFile(previous.zip_path) as zf:
            for n in want:
                out[n] = (
                    zf.read(f"{previous.package}/data/{n}.parquet"),
                    zf.read(f"{previous.package}/data/{n}.csv"),
                )
    except (OSError, KeyError, zipfile.BadZipFile):
        return {}
    return out

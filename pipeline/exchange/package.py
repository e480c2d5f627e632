"""The commune's report package for the level above (báo cáo lên cấp trên): a Frictionless data package
built into every release, in ``<release>/exchange/upward/``, from the staged release's own files only.

The one thing not to miss: it carries nothing that is not in the release (its rows are the release's rows
of the home commune, byte-for-byte values), and it is a pure function of the release and the sender
settings, so a re-run gives identical bytes and ``sent_at`` is the release's own ``created`` time (the
release id, a content hash, never depends on it). The contract is raw/README.md section 11.

This module builds the package and holds the publisher's hook; what it is built from sits beside it:
package_release.py (its tables, read from the release), package_files.py (its file writers and folder names),
package_sender.py (the descriptor's sender block) and package_reuse.py (what is taken from the previous
package). Their public names stay importable from here.
"""

from __future__ import annotations

import io
import json
import secrets
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.config import exchange_sender
from pipeline.lib.hashing import sha256_file
from pipeline.lib.swap import replace_dir

# `X as X`: not used here, kept importable from pipeline.exchange.package, where callers and tests import them
from .format import CSV_SUFFIX, FORMAT_NAME, FORMAT_VERSION, resource_schema
from .package_files import EXCHANGE_DIR, MANIFEST, UPWARD_DIR, file_entry, write_csv, write_parquet, write_zip
from .package_files import ZIP_DATE as ZIP_DATE
from .package_release import TABLES, PackageBuildError, home_commune, release_table
from .package_release import Table as Table
from .package_reuse import BUILD_FILE as BUILD_FILE
from .package_reuse import VALIDATION_CODE as VALIDATION_CODE
from .package_reuse import Previous, previous_package, references, table_keys, taken_tables, validation_keys
from .package_reuse import validated_before as validated_before
from .package_sender import sender_block, sender_name_of

# Bump when what the builder writes changes (layout, bytes): an unchanged release then gets its package rebuilt.
GENERATOR = "pipeline.exchange.package/2"


@dataclass
class PackageResult:
    path: Path  # exchange/upward/
    zip_path: Path  # exchange/upward/report_<commune>_<release>.zip
    commune_code: str
    release_id: str
    sent_at: str
    rows: dict[str, int]
    bytes_total: int
    # table -> the key its Parquet and CSV resources validated under (run now or taken from the previous release)
    validated: dict[str, str] = field(default_factory=dict)
    validation_taken: list[str] = field(default_factory=list)  # tables whose validation was taken
    data_keys: dict[str, str] = field(default_factory=dict)  # table -> key of its data files (table_keys)
    data_taken: list[str] = field(default_factory=list)  # tables whose files came from the previous package

    def record(self) -> dict[str, Any]:
        """What the publisher keeps in build.json for the next release (:func:`previous_package`)."""
        return {
            "validated": sorted(set(self.validated.values())),
            "tables": dict(sorted(self.data_keys.items())),
        }

    def metadata(self) -> dict[str, Any]:
        return {
            "package": self.zip_path.name,
            "commune_code": self.commune_code,
            "sent_at": self.sent_at,
            "rows": self.rows,
            "bytes_total": self.bytes_total,
            "validation_taken": self.validation_taken,
            "files_taken": self.data_taken,
        }


def package_name(commune_code: str, release_id: str) -> str:
    return f"report_{commune_code}_{release_id}"


def _write_resources(
    pkg: Path,
    tables: dict[str, pa.Table],
    resources: dict[str, dict],
    taken: dict[str, tuple[bytes, bytes]] | None = None,
) -> list[dict[str, Any]]:
    """Write data/<table>.parquet and .csv; their resource descriptors (Parquet ones first). Calls this
    module's ``write_csv`` (a test replaces it here to write a CSV that does not match its Parquet)."""
    keep = {t.name for t in TABLES}
    parquet_res, csv_res = [], []
    for t in TABLES:
        rel = resources[t.name]
        table = tables[t.name]
        p_path, c_path = pkg / "data" / f"{t.name}.parquet", pkg / "data" / f"{t.name}.csv"
        if t.name in (taken or {}):  # the previous package's files of the same rows (taken_tables)
            p_path.parent.mkdir(parents=True, exist_ok=True)
            p_path.write_bytes(taken[t.name][0])
            c_path.write_bytes(taken[t.name][1])
        else:
            write_parquet(table, p_path)
            write_csv(table, c_path)
        common = {
            "type": "table",
            "scheme": "file",
            "title": rel.get("title", t.name),
            "description": rel.get("description", ""),
            "ntm:title_vi": rel.get("ntm:title_vi", ""),
            "ntm:title_en": rel.get("ntm:title_en", ""),
            "ntm:table": t.name,
            "ntm:rows": table.num_rows,
        }
        p_sha, c_sha = sha256_file(p_path), sha256_file(c_path)
        parquet_res.append({
            "name": t.name, "path": f"data/{t.name}.parquet", "format": "parquet",
            "mediatype": "application/vnd.apache.parquet", **common,
            "hash": f"sha256:{p_sha}", "ntm:bytes": p_path.stat().st_size,
            "schema": resource_schema(rel["schema"], "", keep),
        })  # fmt: skip
        csv_res.append({
            "name": t.name + CSV_SUFFIX, "path": f"data/{t.name}.csv", "format": "csv", "mediatype": "text/csv",
            "encoding": "utf-8", **common,
            "dialect": {"delimiter": ",", "lineTerminator": "\r\n", "quoteChar": '"', "doubleQuote": True, "header": True},
            "hash": f"sha256:{c_sha}", "bytes": c_path.stat().st_size, "ntm:bytes": c_path.stat().st_size,
            "schema": resource_schema(rel["schema"], CSV_SUFFIX, keep),
        })  # fmt: skip

    return [*parquet_res, *csv_res]


def _write_package(
    pkg: Path,
    release_dir: Path,
    resources: dict[str, dict],
    dp: dict[str, Any],
    home: dict[str, Any],
    validated: frozenset[str] = frozenset(),
    previous: Previous | None = None,
) -> tuple[dict[str, int], dict[str, str], list[str], dict[str, str], list[str]]:
    """The package folder: data files, datapackage.json, validated. Returns rows per table, each table's
    validation key and the tables whose validation was taken from ``validated`` (keys that passed before)."""
    commune, province = home["commune_code"], home["province_code"]
    release_id = dp.get("ntm:release_id") or dp["name"]
    sent_at = datetime.fromisoformat(dp["created"]).isoformat(timespec="seconds")
    tables: dict[str, pa.Table] = {}
    data_keys = table_keys(resources, home)
    taken = taken_tables(previous, data_keys)
    for t in TABLES:
        if t.name in taken:
            tables[t.name] = pq.read_table(io.BytesIO(taken[t.name][0]))
            continue
        where = {"commune": ("commune_code", commune), "province": ("province_code", province)}.get(t.rows)
        rows = release_table(release_dir, resources[t.name], where)
        pk = resources[t.name]["schema"].get("primaryKey") or []
        tables[t.name] = rows.sort_by([(k, "ascending") for k in pk]).combine_chunks() if pk else rows

    resources_out = _write_resources(pkg, tables, resources, taken)
    sender = sender_block(home, tables, dp, pkg / "data" / "dim_indicator.parquet")
    commune_name, province_name = home["commune_name"], home["province_name"]
    title_vi = f"Báo cáo nông thôn mới của {commune_name} ({commune}) gửi tỉnh {province_name} ({province})"
    title_en = (
        f"New-rural (NTM) report of {commune_name} ({commune}) to {province_name} province ({province})"
    )
    descriptor = {
        "profile": "data-package",
        "name": f"ntm-report-{commune}",
        "id": f"ntm-report-{commune}/{release_id}",
        "title": f"{title_vi} / {title_en}",
        "description": (
            "Gói báo cáo của xã cho cấp trên, lấy từ bản phát hành dữ liệu mở "
            f"{release_id} (raw/README.md mục 11). / The commune's report package for the level above, taken "
            f"from open-data release {release_id} (raw/README.md section 11)."
        ),
        "version": f"{FORMAT_VERSION}+{release_id}",
        "created": sent_at,
        "licenses": dp.get("licenses", []),
        "language": ["vi", "en"],
        "ntm:is_synthetic": bool(dp.get("ntm:is_synthetic")),
        "sender": sender,
        "resources": resources_out,
    }
    (pkg / "datapackage.json").write_text(
        json.dumps(descriptor, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8"
    )
    from .verify import check_twin, validate_frictionless

    # the CSV resources hold the same rows as the Parquet ones (written from the same table) and validate ~10 x
    # faster: types, keys and foreign keys of the package are checked here, and each Parquet file against its
    # CSV twin as `exchange verify` checks it (a CSV that does not read back to the Parquet's values is caught
    # here, before the package is sent)
    # A table whose resources (file sha256, schema) and the resources its foreign keys point at are those a
    # previous package validated, with the same code, is not validated again: its result is the same.
    by_name = {r["name"]: r for r in resources_out}
    keys = validation_keys(resources_out)
    todo = [t.name for t in TABLES if keys[t.name] not in validated]
    # the CSV resources to validate, with those their foreign keys point at (Frictionless needs each one
    # present, and the foreign keys of those in turn)
    names: set[str] = set()
    stack = [n + CSV_SUFFIX for n in todo]
    while stack:
        n = stack.pop()
        if n not in names:
            names.add(n)
            stack += sorted(references(by_name[n]) & set(by_name))
    errors = validate_frictionless(pkg, formats=("csv",), names=names) if names else []
    errors += [p for n in todo for p in check_twin(pkg, by_name[n], by_name[n + CSV_SUFFIX])]
    if errors:
        raise PackageBuildError(
            "Gói báo cáo không hợp lệ (Frictionless): / The report package is not valid (Frictionless):\n  "
            + "\n  ".join(errors[:20])
        )
    valid_taken = [t.name for t in TABLES if t.name not in todo]
    rows = {t.name: tables[t.name].num_rows for t in TABLES}
    return rows, keys, valid_taken, data_keys, [t.name for t in TABLES if t.name in taken]


def build_package(release_dir: Path, out_dir: Path, previous: Path | None = None) -> PackageResult:
    """Write ``out_dir`` (created; must not exist): the package's zip and manifest.json, from the
    release in ``release_dir`` (its datapackage.json and the files it lists; nothing else is read).
    ``previous``: the release before it, whose build.json says which tables' resources validated
    (:func:`validation_keys`); those are not validated again."""
    release_dir, out_dir = Path(release_dir), Path(out_dir)
    dp = json.loads((release_dir / "datapackage.json").read_text(encoding="utf-8"))
    resources = {r["name"]: r for r in dp.get("resources", [])}
    missing = [t.name for t in TABLES if t.name not in resources]
    if missing:
        raise PackageBuildError(
            f"Bản phát hành thiếu bảng {missing}. / The release lacks the tables {missing}."
        )
    release_id = dp.get("ntm:release_id") or dp["name"]
    sent_at = datetime.fromisoformat(dp["created"]).isoformat(timespec="seconds")
    home = home_commune(release_dir, resources)
    commune = home["commune_code"]
    name = package_name(commune, release_id)
    out_dir.mkdir(parents=True)  # exchange/upward (the publisher names it; ensure_package uses the same)
    # the package folder is written and validated beside the zip, zipped, then removed: only the zip travels
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".build-") as work:
        pkg = Path(work) / name
        prev = previous_package(previous)
        result_rows, keys, taken, data_keys, data_taken = _write_package(
            pkg, release_dir, resources, dp, home, prev.validated if prev else frozenset(), prev
        )
        zip_path = out_dir / f"{name}.zip"
        write_zip(pkg, zip_path)

    files = [file_entry(out_dir, p) for p in sorted(out_dir.rglob("*")) if p.is_file()]
    manifest = {
        "generator": GENERATOR,
        "format": f"{FORMAT_NAME}/{FORMAT_VERSION}",
        "release_id": release_id,
        "package": name,
        "zip": zip_path.name,
        "files": files,
    }
    (out_dir / MANIFEST).write_text(
        json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    return PackageResult(
        out_dir, zip_path, commune, release_id, sent_at, result_rows, sum(f["bytes"] for f in files), keys, taken,
        data_keys, data_taken,
    )  # fmt: skip


# ----------------------------------------------------------------------------------------- the publisher's hook


def package_is_current(release_dir: Path) -> bool:
    """``exchange/upward`` was built by this generator for this release and sender, and every file of it is
    intact and listed (cheap: no rebuild; an unchanged release checks this on every run)."""
    release_dir = Path(release_dir)
    final = release_dir / EXCHANGE_DIR / UPWARD_DIR
    try:
        dp = json.loads((release_dir / "datapackage.json").read_text(encoding="utf-8"))
        manifest = json.loads((final / MANIFEST).read_text(encoding="utf-8"))
        with zipfile.ZipFile(final / manifest["zip"]) as zf:
            sender = json.loads(zf.read(f"{manifest['package']}/datapackage.json").decode("utf-8"))["sender"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return False
    if manifest.get("generator") != GENERATOR or manifest.get("release_id") != dp.get("ntm:release_id"):
        return False
    name, email = exchange_sender()
    home = home_commune(release_dir, {r["name"]: r for r in dp.get("resources", [])})
    if sender.get("sender_name") != sender_name_of(home, name) or sender.get("sender_email") != email:
        return False
    listed = {f["path"]: f for f in manifest.get("files", [])}
    present = {p.relative_to(final).as_posix() for p in final.rglob("*") if p.is_file()} - {MANIFEST}
    return present == set(listed) and all(
        (final / f["path"]).stat().st_size == f["bytes"] and sha256_file(final / f["path"]) == f["sha256"]
        for f in listed.values()
    )


def ensure_package(release_dir: Path, scratch_dir: Path) -> PackageResult | None:
    """Rebuild ``release_dir/exchange/upward`` when it is missing, stale (another generator version or
    sender) or damaged: built in ``scratch_dir``, then swapped in (the old folder renamed away first).
    Returns None when it was current."""
    release_dir = Path(release_dir)
    if package_is_current(release_dir):
        return None
    final = release_dir / EXCHANGE_DIR / UPWARD_DIR
    scratch_dir.mkdir(parents=True, exist_ok=True)
    tmp = scratch_dir / f"upward-{secrets.token_hex(4)}"
    try:
        result = build_package(release_dir, tmp)
        replace_dir(tmp, final, scratch_dir)
        result.path = final
        result.zip_path = final / result.zip_path.name
        return result
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


class _PackageBuilder:
    """The publisher's hook (``publish_release(exchange_builder=...)``, the protocol of its site builder)."""

    def __call__(self, release_dir: Path, out_dir: Path, previous: Path | None = None) -> PackageResult:
        return build_package(release_dir, out_dir, previous)

    def ensure(self, release_dir: Path, scratch_dir: Path) -> PackageResult | None:
        return ensure_package(release_dir, scratch_dir)


PACKAGE_BUILDER = _PackageBuilder()


def resign(zip_path: Path, out_zip: Path, edit=None, **sender: Any) -> Path:
    """A copy of the package ``zip_path`` at ``out_zip`` with its ``sender`` block updated (``sender``
    keys) and/or its unzipped folder changed by ``edit(pkg_dir)`` (then every resource's ``hash``,
    ``ntm:bytes`` and ``bytes`` are recomputed): a package the commune could have sent, e.g. the same data
    sent on another day. For tests and for re-sending after a correction; the result verifies."""
    with tempfile.TemporaryDirectory(prefix="ntm-resign-") as tmp:
        with zipfile.ZipFile(zip_path) as zf:
            zf.extractall(tmp)
        (pkg,) = [p for p in Path(tmp).iterdir() if p.is_dir()]
        if edit is not None:
            edit(pkg)
        dp_path = pkg / "datapackage.json"
        dp = json.loads(dp_path.read_text(encoding="utf-8"))
        dp["sender"].update(sender)
        for res in dp.get("resources", []):
            p = pkg / res["path"]
            if p.is_file():
                res["hash"] = f"sha256:{sha256_file(p)}"
                res["ntm:bytes"] = p.stat().st_size
                if "bytes" in res:
                    res["bytes"] = p.stat().st_size
        dp_path.write_text(json.dumps(dp, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
        out_zip = Path(out_zip)
        out_zip.parent.mkdir(parents=True, exist_ok=True)
        write_zip(pkg, out_zip)
    return out_zip

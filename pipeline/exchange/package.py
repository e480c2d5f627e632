"""The commune's report package for the level above (báo cáo lên cấp trên): a Frictionless data package
built into every release, in ``<release>/exchange/upward/``, from the staged release's own files only.

The one thing not to miss: it carries nothing that is not in the release (its rows are the release's rows
of the home commune, byte-for-byte values), and it is a pure function of the release and the sender
settings, so a re-run gives identical bytes and ``sent_at`` is the release's own ``created`` time (the
release id, a content hash, never depends on it). The contract is raw/README.md section 11.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import shutil
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from pipeline.config import exchange_sender
from pipeline.lib.hashing import sha256_file
from pipeline.lib.reuse import code_digest
from pipeline.lib.swap import replace_dir
from pipeline.site.csv_export import format_timestamps

from .format import CSV_SUFFIX, FORMAT_NAME, FORMAT_VERSION, resource_schema

EXCHANGE_DIR = "exchange"
UPWARD_DIR = "upward"  # exchange/upward/: this module's folder of the release (others may sit beside it)
MANIFEST = "manifest.json"  # exchange/upward/manifest.json: every file of the folder, bytes and sha256
# Bump when what the builder writes changes (layout, bytes): an unchanged release then gets its package rebuilt.
GENERATOR = "pipeline.exchange.package/2"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can hold; every entry has it: same input, same bytes
# What decides a table's validation result besides its resources: the validating code and Frictionless.
_HERE = Path(__file__).parent
VALIDATION_CODE = code_digest(_HERE / "verify.py", _HERE / "format.py", Path(__file__))
BUILD_FILE = "build.json"  # the publisher's record in a release (pipeline.publish.reuse.BUILD_FILE)


@dataclass(frozen=True)
class Table:
    name: str  # the release resource, and the package's Parquet resource
    rows: str  # which of the release's rows: "commune" (commune_code = home), "province", "all"


# What the package carries, in descriptor order (dimensions first: the facts' foreign keys point to them).
TABLES: tuple[Table, ...] = (
    Table("dim_province", "province"),
    Table("dim_commune", "commune"),
    Table("dim_period", "all"),
    Table("dim_indicator", "all"),
    Table("dim_hamlet", "commune"),
    Table("dim_reporting_unit", "commune"),
    Table("fact_indicator_value", "commune"),
    Table("mart_hamlet_indicator", "commune"),
    Table("mart_commune_indicator", "commune"),
    Table("mart_reporting_compliance", "commune"),
    Table("fact_ocop_certificate", "commune"),
    Table("mart_satisfaction", "commune"),
)


class PackageBuildError(RuntimeError):
    """The release cannot give a report package (no home commune, a table missing, invalid package)."""


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


# ----------------------------------------------------------------------------------------- read the release


def _release_table(release_dir: Path, res: dict[str, Any], where: tuple[str, str] | None = None) -> pa.Table:
    """A release resource's rows (all, or those with ``column == value``: read with the filter pushed down to
    the Parquet row groups, so a national-scale release is not loaded whole for one commune)."""
    paths = [f["path"] for f in res.get("ntm:files", [])] or (
        [res["path"]] if isinstance(res.get("path"), str) else list(res.get("path") or [])
    )
    if not paths:
        raise PackageBuildError(f"{res['name']}: không có tệp / no file in the release")
    if where is not None and where[0] not in {f["name"] for f in res["schema"]["fields"]}:
        raise PackageBuildError(f"{res['name']}: thiếu cột {where[0]} / no column {where[0]}")
    filters = [(where[0], "=", where[1])] if where else None
    parts = [pq.read_table(release_dir / p, filters=filters) for p in paths]
    return (pa.concat_tables(parts) if len(parts) > 1 else parts[0]).combine_chunks()


def _home(release_dir: Path, resources: dict[str, dict]) -> dict[str, Any]:
    communes = _release_table(release_dir, resources["dim_commune"])
    home = communes.filter(pc.fill_null(communes["is_home_commune"], False)).to_pylist()
    if len(home) != 1:
        raise PackageBuildError(
            f"Bản phát hành có {len(home)} xã chủ (is_home_commune), cần đúng 1. / The release has {len(home)} "
            "home communes (is_home_commune), exactly 1 is needed."
        )
    return home[0]


# ----------------------------------------------------------------------------------------- write files


def write_parquet(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        table,
        path,
        compression="zstd",
        use_dictionary=True,
        write_statistics=True,
        version="2.6",
        row_group_size=131_072,
    )


def write_csv(table: pa.Table, path: Path) -> None:
    """UTF-8 (no byte-order mark), comma, CRLF, RFC 4180 quoting, NULL = empty cell, booleans true/false,
    timestamps ISO 8601 with +07:00. An exact copy of the values: no formula neutralisation (a machine file,
    see raw/README.md 10.3)."""
    cols, fields = [], []
    for name, arr in zip(table.column_names, table.columns, strict=True):
        arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
        if pa.types.is_dictionary(arr.type):
            arr = arr.dictionary_decode()
        if pa.types.is_timestamp(arr.type):
            arr = format_timestamps(arr)
        cols.append(arr)
        fields.append(pa.field(name, arr.type))
    out = pa.Table.from_arrays(cols, schema=pa.schema(fields))
    buf = io.BytesIO()
    pacsv.write_csv(out, buf, pacsv.WriteOptions(eol="\r\n", quoting_style="needed"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())


def _file_entry(root: Path, path: Path) -> dict[str, Any]:
    return {
        "path": path.relative_to(root).as_posix(),
        "bytes": path.stat().st_size,
        "sha256": sha256_file(path),
    }


def write_zip(src_dir: Path, zip_path: Path) -> None:
    """A deterministic zip of ``src_dir`` (entries ``<src_dir name>/...``, sorted, fixed date and mode)."""
    entries = sorted(p for p in src_dir.rglob("*") if p.is_file())
    with zipfile.ZipFile(zip_path, "w") as zf:
        for p in entries:
            info = zipfile.ZipInfo(f"{src_dir.name}/{p.relative_to(src_dir).as_posix()}", date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            zf.writestr(info, p.read_bytes(), compresslevel=9)


# ----------------------------------------------------------------------------------------- descriptor


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


def _sender_name(home: dict[str, Any], configured: str | None) -> str:
    if configured:
        return unicodedata.normalize("NFC", configured.strip())
    name = home["commune_name"] or home["commune_code"]
    dtype = (home.get("division_type_vi") or "").strip()
    if dtype and name.lower().startswith(dtype.lower() + " "):
        name = dtype.lower() + name[len(dtype) :]  # "Xã Đồng Lộc" -> "xã Đồng Lộc"
    return f"UBND {name}"


def _write_resources(
    pkg: Path,
    tables: dict[str, pa.Table],
    resources: dict[str, dict],
    taken: dict[str, tuple[bytes, bytes]] | None = None,
) -> list[dict[str, Any]]:
    """Write data/<table>.parquet and .csv; their resource descriptors (Parquet ones first)."""
    keep = {t.name for t in TABLES}
    parquet_res, csv_res = [], []
    for t in TABLES:
        rel = resources[t.name]
        table = tables[t.name]
        p_path, c_path = pkg / "data" / f"{t.name}.parquet", pkg / "data" / f"{t.name}.csv"
        if t.name in (taken or {}):  # the previous package's files of the same rows (_taken_tables)
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


def _sender_block(
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
        "sender_name": _sender_name(home, sender_name),
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


def _references(res: dict[str, Any]) -> set[str]:
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
        refs = sorted((_references(pq_res) | _references(csv_res)) & set(by_name))
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


def _taken_tables(previous: Previous | None, keys: dict[str, str]) -> dict[str, tuple[bytes, bytes]]:
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
    taken = _taken_tables(previous, data_keys)
    for t in TABLES:
        if t.name in taken:
            tables[t.name] = pq.read_table(io.BytesIO(taken[t.name][0]))
            continue
        where = {"commune": ("commune_code", commune), "province": ("province_code", province)}.get(t.rows)
        rows = _release_table(release_dir, resources[t.name], where)
        pk = resources[t.name]["schema"].get("primaryKey") or []
        tables[t.name] = rows.sort_by([(k, "ascending") for k in pk]).combine_chunks() if pk else rows

    resources_out = _write_resources(pkg, tables, resources, taken)
    sender = _sender_block(home, tables, dp, pkg / "data" / "dim_indicator.parquet")
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
            stack += sorted(_references(by_name[n]) & set(by_name))
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
    home = _home(release_dir, resources)
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

    files = [_file_entry(out_dir, p) for p in sorted(out_dir.rglob("*")) if p.is_file()]
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
    home = _home(release_dir, {r["name"]: r for r in dp.get("resources", [])})
    if sender.get("sender_name") != _sender_name(home, name) or sender.get("sender_email") != email:
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

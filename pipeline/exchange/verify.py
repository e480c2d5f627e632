"""Verify a commune's report package (the folder, its datapackage.json or the .zip): every file listed,
sized and hashed as its descriptor says and nothing else in it, valid for Frictionless (types, keys, foreign
keys), and its commune is a real commune of the admin registry (vietnam-provinces, QĐ 19/2025) that every
row belongs to. ``python -m pipeline exchange verify <path>`` prints the bilingual result (exit 0 valid,
1 invalid); the province's ingest will call :func:`verify_package` before it loads anything.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from pipeline.lib.hashing import sha256_file

from .format import FORMAT_NAME, FORMAT_VERSION

MAX_LISTED = 20  # Frictionless errors listed (a broken file gives one per cell)
MAX_UNZIPPED_BYTES = 512 * 1024 * 1024  # a commune's package is < 5 MB; refuse a zip bomb


@dataclass
class Verdict:
    path: Path
    problems: list[str] = field(default_factory=list)
    descriptor: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def validate_frictionless(pkg_dir: Path, formats: tuple[str, ...] = ("parquet", "csv")) -> list[str]:
    """Frictionless validation of the package's resources of ``formats`` (types, primary and foreign keys;
    for CSV also the declared bytes and hash). Parquet goes through pandas in Frictionless 5 and takes ~10 x
    longer than the CSV of the same rows."""
    import frictionless

    pkg_dir = Path(pkg_dir)
    dp = json.loads((pkg_dir / "datapackage.json").read_text(encoding="utf-8"))
    dp["resources"] = [r for r in dp.get("resources", []) if r.get("format") in formats]
    try:
        report = frictionless.Package.from_descriptor(dp, basepath=str(pkg_dir)).validate()
    except frictionless.FrictionlessException as e:
        return [f"package: {e}"]
    if report.valid:
        return []
    errors = [f"{t.name}: {e.type}: {e.note or e.message}" for t in report.tasks for e in t.errors]
    return errors + [f"package: {e.type}: {e.note or e.message}" for e in report.errors]


def _nfc(s: Any) -> str:
    return unicodedata.normalize("NFC", str(s or "")).strip().casefold()


def _check_files(pkg: Path, dp: dict[str, Any]) -> list[str]:
    problems, listed = [], {"datapackage.json"}
    for res in dp.get("resources", []):
        rel = res.get("path")
        if not isinstance(rel, str) or rel.startswith("/") or ".." in Path(rel).parts:
            problems.append(f"{res.get('name')}: đường dẫn không hợp lệ {rel!r} / invalid path {rel!r}")
            continue
        listed.add(rel)
        p = pkg / rel
        size = res.get("ntm:bytes", res.get("bytes"))
        digest = str(res.get("hash", "")).removeprefix("sha256:")
        if not p.is_file():
            problems.append(f"{rel}: thiếu tệp / missing file")
        elif p.stat().st_size != size:
            problems.append(
                f"{rel}: {p.stat().st_size} byte, khai báo {size} / {p.stat().st_size} bytes, declared {size}"
            )
        elif sha256_file(p) != digest:
            problems.append(
                f"{rel}: sai mã băm sha256 (tệp đã bị sửa) / sha256 mismatch (the file was changed)"
            )
    for p in sorted(pkg.rglob("*")):
        if p.is_file() and p.relative_to(pkg).as_posix() not in listed:
            problems.append(
                f"{p.relative_to(pkg).as_posix()}: tệp không có trong datapackage.json / file not listed in datapackage.json"
            )
    return problems


def _registry_commune(code: str) -> dict[str, Any] | None:
    from pipeline.ingest.sources.reference.admin_units import communes_frame

    df = communes_frame()
    row = df[df["commune_code"] == code]
    return None if row.empty else row.iloc[0].to_dict()


def _check_commune(pkg: Path, dp: dict[str, Any]) -> list[str]:
    sender = dp.get("sender") or {}
    code, province = str(sender.get("commune_code") or ""), str(sender.get("province_code") or "")
    problems = []
    reg = _registry_commune(code) if code.isdigit() and len(code) == 5 else None
    if reg is None:
        return [
            f"sender.commune_code {code!r}: không có trong danh mục đơn vị hành chính (vietnam-provinces, QĐ 19/2025) "
            f"/ not in the admin registry (vietnam-provinces, QĐ 19/2025)"
        ]
    if reg["province_code"] != province:
        problems.append(
            f"sender.province_code {province!r}: xã {code} thuộc tỉnh {reg['province_code']} / commune {code} "
            f"belongs to province {reg['province_code']}"
        )
    if _nfc(reg["name"]) not in {_nfc(sender.get("commune_name"))} and not _nfc(
        sender.get("commune_name")
    ).endswith(_nfc(reg["name"])):
        problems.append(
            f"sender.commune_name {sender.get('commune_name')!r}: danh mục ghi {reg['name']!r} / the registry says "
            f"{reg['name']!r}"
        )
    for res in dp.get("resources", []):
        p = pkg / str(res.get("path"))
        names = [f["name"] for f in res.get("schema", {}).get("fields", [])]
        if not p.is_file() or "commune_code" not in names or res.get("ntm:table") == "dim_province":
            continue
        try:
            if res.get("format") == "parquet":
                col = pq.read_table(p, columns=["commune_code"])["commune_code"].to_pylist()
            else:
                opts = pacsv.ConvertOptions(
                    column_types={n: "string" for n in names}, include_columns=["commune_code"]
                )
                col = pacsv.read_csv(p, convert_options=opts)["commune_code"].to_pylist()
        except (OSError, pa.ArrowException) as e:
            problems.append(f"{res['path']}: không đọc được / unreadable ({e})")
            continue
        others = sorted({c for c in col if c is not None and c != code})
        if others:
            problems.append(
                f"{res['path']}: có dòng của xã khác {others[:5]} (gói của xã {code}) / rows of other communes "
                f"{others[:5]} (the package is commune {code}'s)"
            )
    return problems


def verify_dir(pkg: Path) -> Verdict:
    pkg = Path(pkg)
    verdict = Verdict(pkg)
    try:
        dp = json.loads((pkg / "datapackage.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        verdict.problems.append(f"datapackage.json: không đọc được / unreadable ({e})")
        return verdict
    verdict.descriptor = dp
    sender = dp.get("sender")
    if not isinstance(sender, dict) or sender.get("format") != FORMAT_NAME:
        verdict.problems.append(
            f"datapackage.json: không phải gói {FORMAT_NAME} (thiếu khối sender) / not an {FORMAT_NAME} package "
            "(no sender block)"
        )
        return verdict
    if str(sender.get("format_version", "")).split(".")[0] != FORMAT_VERSION.split(".")[0]:
        verdict.problems.append(
            f"sender.format_version {sender.get('format_version')!r}: chỉ đọc được {FORMAT_VERSION.split('.')[0]}.x "
            f"/ only {FORMAT_VERSION.split('.')[0]}.x is understood"
        )
        return verdict
    verdict.problems += _check_files(pkg, dp)
    if not any("thiếu tệp" in p for p in verdict.problems):
        errors = validate_frictionless(pkg)
        verdict.problems += [f"Frictionless: {e}" for e in errors[:MAX_LISTED]]
        if len(errors) > MAX_LISTED:
            verdict.problems.append(f"Frictionless: ... {len(errors) - MAX_LISTED} lỗi nữa / more errors")
    verdict.problems += _check_commune(pkg, dp)
    return verdict


def safe_extract(zip_path: Path, dest: Path) -> Path:
    """Unzip a package into ``dest`` and return its one top folder; ValueError for a zip with several top
    folders, more than MAX_UNZIPPED_BYTES unzipped, or an absolute or ``..`` path."""
    with zipfile.ZipFile(zip_path) as zf:
        infos = zf.infolist()
        tops = {i.filename.split("/", 1)[0] for i in infos}
        if len(tops) != 1 or sum(i.file_size for i in infos) > MAX_UNZIPPED_BYTES:
            raise ValueError(
                "cần đúng một thư mục gốc, dưới 512 MB / exactly one top folder, under 512 MB expected"
            )
        for i in infos:
            parts = Path(i.filename).parts
            if i.filename.startswith("/") or ".." in parts:
                raise ValueError(f"đường dẫn không an toàn {i.filename!r} / unsafe path {i.filename!r}")
        zf.extractall(dest)
    return dest / tops.pop()


def find_package(path: Path) -> Path:
    """What to verify from what the user gave: the package folder, its datapackage.json, the zip, or a
    folder (a release's ``exchange/upward``) holding exactly one package folder or zip."""
    path = Path(path)
    if path.is_file() and path.name == "datapackage.json":
        return path.parent
    if path.is_dir() and not (path / "datapackage.json").exists():
        found = sorted(path.glob("*.zip")) + sorted(p.parent for p in path.glob("*/datapackage.json"))
        if len(found) == 1:
            return found[0]
    return path


def verify_package(path: Path) -> Verdict:
    """Verify a package folder, its datapackage.json, the .zip, or a release's exchange/upward folder."""
    path = find_package(Path(path))
    if not path.exists():
        return Verdict(path, [f"{path}: không tồn tại / does not exist"])
    if path.is_file() and path.suffix == ".zip":
        with tempfile.TemporaryDirectory(prefix="ntm-verify-") as tmp:
            try:
                pkg = safe_extract(path, Path(tmp))
            except (zipfile.BadZipFile, ValueError) as e:
                return Verdict(
                    path, [f"{path.name}: tệp zip hỏng hoặc không an toàn / broken or unsafe zip ({e})"]
                )
            verdict = verify_dir(pkg)
            verdict.path = path
            return verdict
    return verify_dir(path)


# ----------------------------------------------------------------------------------------- command line


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("exchange", help="the report package for the level above (báo cáo lên cấp trên)")
    ex = p.add_subparsers(dest="exchange_command", required=True)
    v = ex.add_parser("verify", help="verify a report package: hashes, Frictionless, commune code")
    v.add_argument("path", type=Path, help="the package folder, its datapackage.json, or the .zip")


def main(args: argparse.Namespace, out=print) -> int:
    verdict = verify_package(args.path)
    sender = (verdict.descriptor or {}).get("sender") or {}
    what = f"{verdict.path} (xã/commune {sender.get('commune_code', '?')}, {sender.get('release_id', '?')}, sent_at {sender.get('sent_at', '?')})"
    if verdict.ok:
        out(f"HỢP LỆ / VALID: {what}")
        return 0
    out(f"KHÔNG HỢP LỆ / INVALID: {what} - {len(verdict.problems)} vấn đề / problem(s):")
    for p in verdict.problems:
        out(f"  - {p}")
    return 1

"""A province-level instance (``NTM_LEVEL=province``) ingests its communes' report packages: the landing
source ``raw/communes/<commune_code>/<package>.zip`` (or the unzipped folder of the same name), the contract
of raw/README.md section 11.

For every package file not seen before (by path and sha256), in one transaction each:

1. verify it (:func:`pipeline.exchange.verify.verify_dir`: listed files, sizes, sha256, Frictionless on the
   CSV resources, each Parquet resource against its CSV twin, the sender's commune in the admin registry); also the folder's ``<commune_code>`` equals
   ``sender.commune_code`` and the commune is in the home province (``NTM_HOME_PROVINCE``). A package that
   fails is ``rejected`` with a bilingual reason and none of its rows is loaded;
2. apply the versioning rule: for one commune the package with the later ``sent_at`` wins (equal: the larger
   ``release_id``); a package identical to one received before (same sha256 of ``datapackage.json``) is
   ``unchanged``; one whose (sent_at, release_id) is not later than the package in use is ``superseded``
   (kept in the history, not applied); otherwise it is ``accepted``: its tables replace the commune's rows
   of ``raw.commune_pkg_<table>`` (delete + insert in the same transaction: a crash leaves the previous
   package whole) and it becomes the commune's package in use;
3. record it in ``raw.commune_packages`` (the history: path, sha256, commune, release, sent_at, periods,
   received_at, status, in_use, rows, reason in Vietnamese and English), ``audit.ingest_files`` (one row
   per file content: rows_read = rows_loaded = the package's rows when applied, 0 otherwise) and
   ``audit.file_paths`` (every path under ``raw/communes/``: the package file, each member file of an
   unzipped package folder, and anything else found there, with its state).

New packages of one run are taken in (sent_at, release_id) order, so the result does not depend on the
order of the paths. Re-running with the same files changes nothing (idempotent). At level ``commune``
nothing is loaded: each file is recorded as ``ignored`` (``not_province_level``) and read again once the
instance runs at level province.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
import pyarrow.parquet as pq

from pipeline.ingest import files as files_mod
from pipeline.ingest.tables import ensure_warehouse_schema
from pipeline.lib.hashing import sha256_file

from .verify import MAX_LISTED, safe_extract, verify_dir

SOURCE = "communes"
PREFIX = "raw.commune_pkg_"
HISTORY = "raw.commune_packages"  # DDL: pipeline.ingest.tables
SETTINGS_TABLE = "raw.federation_settings"
TZ = ZoneInfo("Asia/Ho_Chi_Minh")

REASONS = {
    "package_invalid": ("Gói không hợp lệ", "The package is invalid"),
    "commune_folder_mismatch": (
        "Thư mục raw/communes/<mã xã> không khớp sender.commune_code của gói",
        "The folder raw/communes/<commune code> does not match the package's sender.commune_code",
    ),
    "commune_not_in_province": (
        "Xã của gói không thuộc tỉnh của phiên bản này (NTM_HOME_PROVINCE)",
        "The package's commune is not in this instance's province (NTM_HOME_PROVINCE)",
    ),
    "not_a_package": (
        "Không phải gói báo cáo: cần raw/communes/<mã xã>/<gói>.zip hoặc thư mục <gói>/ có datapackage.json",
        "Not a report package: raw/communes/<commune code>/<package>.zip or a <package>/ folder with "
        "datapackage.json is expected",
    ),
    "not_province_level": (
        "Phiên bản chạy ở cấp xã (NTM_LEVEL=commune): gói của xã chỉ được nạp ở cấp tỉnh",
        "The instance runs at level commune (NTM_LEVEL=commune): commune packages load only at level province",
    ),
    "superseded": (
        "Gói có sent_at (rồi release_id) không muộn hơn gói đang dùng của xã: lưu lịch sử, không áp dụng",
        "The package's sent_at (then release_id) is not later than the commune's package in use: kept in "
        "the history, not applied",
    ),
    "unchanged": (
        "Gói giống hệt một gói đã nhận (cùng sha256 của datapackage.json): không đổi gì",
        "The package is identical to one received before (same sha256 of datapackage.json): nothing changes",
    ),
    "package_file": ("Tệp thuộc thư mục gói", "A file of an unzipped package folder"),
}


@dataclass
class Candidate:
    """One package found under raw/communes/: a zip, or the datapackage.json of an unzipped folder."""

    path: Path  # the zip, or the package folder
    rel: str  # raw-relative path of the zip / of the folder's datapackage.json
    folder_code: str
    file_sha256: str = ""
    bytes: int = 0
    members: list[str] = field(default_factory=list)  # raw-relative paths of a folder's other files


@dataclass
class PackageOutcome:
    rel: str
    status: str  # accepted | superseded | unchanged | rejected | ignored
    commune_code: str | None = None
    release_id: str | None = None
    sent_at: str | None = None
    rows_loaded: int = 0
    reason_code: str | None = None
    reason_vi: str | None = None
    reason_en: str | None = None


@dataclass
class FederationReport:
    level: str
    province_code: str
    outcomes: list[PackageOutcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)


def _reason(code: str, detail: str = "") -> tuple[str, str]:
    vi, en = REASONS[code]
    return (f"{vi}{': ' + detail if detail else ''}", f"{en}{': ' + detail if detail else ''}")


def ensure_tables(con: duckdb.DuckDBPyConnection, level: str, province: str) -> None:
    """The warehouse tables (the history, the mart table the dbt roll-up reads, at every level) and the
    settings row (the level the dbt compliance mart looks at)."""
    ensure_warehouse_schema(con)
    con.execute(f"delete from {SETTINGS_TABLE}")
    con.execute(f"insert into {SETTINGS_TABLE} values (?, ?)", [level, province])


def discover(raw_dir: Path) -> tuple[list[Candidate], list[tuple[str, Path]]]:
    """(packages, strays): the zips and unzipped package folders of ``raw/communes/<code>/``, and every
    other file there that is ours to account for (hidden files and README/Markdown are left to
    :func:`pipeline.ingest.landing.account_landing_zone`, as in every source)."""
    root = Path(raw_dir) / SOURCE
    if not root.is_dir():
        return [], []
    mine = sorted(
        p for p in root.rglob("*")
        if (p.is_file() or p.is_symlink()) and files_mod.classify(p.relative_to(raw_dir).as_posix()) is None
    )  # fmt: skip
    packages: dict[Path, Candidate] = {}
    strays: list[tuple[str, Path]] = []
    for p in mine:
        rel = p.relative_to(raw_dir).as_posix()
        parts = p.relative_to(root).parts
        if len(parts) == 2 and p.suffix.lower() == ".zip" and p.is_file() and not p.is_symlink():
            packages[p] = Candidate(p, rel, parts[0])
            continue
        if len(parts) >= 3 and (root / parts[0] / parts[1] / "datapackage.json").is_file():
            folder = root / parts[0] / parts[1]
            cand = packages.setdefault(
                folder,
                Candidate(folder, (folder / "datapackage.json").relative_to(raw_dir).as_posix(), parts[0]),
            )
            if rel != cand.rel:
                cand.members.append(rel)
            continue
        strays.append((rel, p))
    return list(packages.values()), strays


def _file_identity(p: Path) -> tuple[str, int]:
    if p.is_symlink() or not p.is_file():
        import hashlib

        return hashlib.sha256(f"not_a_file:{p}".encode()).hexdigest(), 0
    return sha256_file(p), p.stat().st_size


def _sent_at_local(sent_at: str) -> datetime:
    dt = datetime.fromisoformat(sent_at)
    if dt.tzinfo is None:
        raise ValueError("sent_at không có múi giờ / sent_at has no time zone")
    return dt.astimezone(TZ).replace(tzinfo=None)


def _registry_province(code: str) -> str | None:
    from pipeline.ingest.sources.reference.admin_units import communes_frame

    df = communes_frame()
    row = df[df["commune_code"] == code]
    return None if row.empty else str(row.iloc[0]["province_code"])


def _check(cand: Candidate, pkg_dir: Path, province: str) -> tuple[dict | None, str | None, str]:
    """(descriptor, reason code, detail) — reason None when the package passes."""
    verdict = verify_dir(pkg_dir)
    dp = verdict.descriptor
    if not verdict.ok:
        return dp, "package_invalid", "; ".join(verdict.problems[:MAX_LISTED])
    sender = dp["sender"]
    code = str(sender.get("commune_code"))
    if code != cand.folder_code:
        return dp, "commune_folder_mismatch", f"{SOURCE}/{cand.folder_code}/ ≠ sender.commune_code {code}"
    if _registry_province(code) != province:
        return dp, "commune_not_in_province", f"xã/commune {code}, NTM_HOME_PROVINCE={province}"
    try:
        _sent_at_local(str(sender.get("sent_at")))
    except (TypeError, ValueError) as e:
        return dp, "package_invalid", f"sender.sent_at {sender.get('sent_at')!r}: {e}"
    return dp, None, ""


def _parquet_resources(dp: dict) -> list[tuple[str, str]]:
    """(table, relative path) of the package's Parquet resources."""
    return [
        (str(r.get("ntm:table") or r["name"]), r["path"])
        for r in dp.get("resources", [])
        if r.get("format") == "parquet" and str(r.get("name", "")).replace("_", "").isalnum()
    ]


def _load(con: duckdb.DuckDBPyConnection, pkg_dir: Path, dp: dict, code: str, sha: str, rel: str) -> int:
    """Replace commune ``code``'s rows of every raw.commune_pkg_<table> with the package's (caller holds the
    transaction). Returns the rows loaded."""
    existing = {
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'raw' "
            "and table_name like 'commune_pkg_%'"
        ).fetchall()
    }
    for t in sorted(existing):
        con.execute(f"delete from raw.{t} where _package_commune_code = ?", [code])
    total = 0
    for table, path in _parquet_resources(dp):
        name = f"commune_pkg_{table}"
        src = (pkg_dir / path).as_posix().replace("'", "''")
        # published timestamps are instants in Asia/Ho_Chi_Minh; the warehouse keeps Vietnam wall-clock time
        # (naive), as the ingest of every source does (no DST in Vietnam: exact)
        cols = [
            f'timezone(\'{TZ.key}\', "{c}") as "{c}"' if t == "TIMESTAMP WITH TIME ZONE" else f'"{c}"'
            for c, t in con.execute(
                f"select column_name, column_type from (describe from read_parquet('{src}'))"
            ).fetchall()
        ]
        select = (
            f"select {', '.join(cols)}, ?::varchar as _package_sha256, ?::varchar as _package_commune_code, "
            f"?::varchar as _source_file from read_parquet('{src}')"
        )
        if name not in existing:
            con.execute(f"create table raw.{name} as {select} limit 0", [sha, code, rel])
            existing.add(name)
        have = {r[0] for r in con.execute(f"describe raw.{name}").fetchall()}
        for col, typ in con.execute(
            f"select column_name, column_type from (describe {select})", [sha, code, rel]
        ).fetchall():
            if col not in have:
                con.execute(f'alter table raw.{name} add column "{col}" {typ}')
        con.execute(f"insert into raw.{name} by name {select}", [sha, code, rel])
        total += pq.read_metadata(pkg_dir / path).num_rows
    return total


def _in_use(con: duckdb.DuckDBPyConnection, code: str) -> tuple[datetime, str] | None:
    row = con.execute(
        f"select sent_at_local, release_id from {HISTORY} where commune_code = ? and in_use", [code]
    ).fetchone()
    return (row[0], row[1]) if row else None


def ingest_commune_packages(
    con: duckdb.DuckDBPyConnection, raw_dir: Path, level: str = "province", province: str = "42"
) -> FederationReport:
    """Ingest every new package of ``raw_dir/communes/`` (see the module docstring)."""
    raw_dir = Path(raw_dir)
    ensure_tables(con, level, province)
    report = FederationReport(level, province)
    packages, strays = discover(raw_dir)
    done = {
        (r[0], r[1])
        for r in con.execute(f"select path, file_sha256 from {HISTORY} where reason_code is distinct from "
                             "'not_province_level'").fetchall()
    }  # fmt: skip
    now = datetime.now()
    paths: list[tuple[str, str, str]] = []  # (path, sha, state) for audit.file_paths
    files: list[dict] = []  # rows of audit.ingest_files
    for cand in packages:
        cand.file_sha256, cand.bytes = _file_identity(
            cand.path / "datapackage.json" if cand.path.is_dir() else cand.path
        )
    for rel, p in strays:
        sha, size = _file_identity(p)
        paths.append((rel, sha, "not_a_package"))
        vi, en = _reason("not_a_package")
        files.append(_file_row(sha, rel, size, "rejected", "not_a_package", vi, en, 0, now))
        report.outcomes.append(
            PackageOutcome(rel, "rejected", reason_code="not_a_package", reason_vi=vi, reason_en=en)
        )

    new = [c for c in packages if (c.rel, c.file_sha256) not in done]
    for c in packages:
        state = "present"
        paths.append((c.rel, c.file_sha256, state))
        for m in c.members:
            msha, msize = _file_identity(raw_dir / m)
            paths.append((m, msha, "package_file"))
            vi, en = _reason("package_file", c.rel)
            files.append(_file_row(msha, m, msize, "package_file", "package_file", vi, en, 0, now))

    if level != "province":
        for c in new:
            vi, en = _reason("not_province_level")
            files.append(
                _file_row(c.file_sha256, c.rel, c.bytes, "ignored", "not_province_level", vi, en, 0, now)
            )
            report.outcomes.append(
                PackageOutcome(c.rel, "ignored", reason_code="not_province_level", reason_vi=vi, reason_en=en)
            )
        _record(con, files, paths)
        return report

    with tempfile.TemporaryDirectory(prefix="ntm-federation-") as tmp:
        checked: list[tuple[Candidate, Path | None, dict | None, str | None, str]] = []
        for i, c in enumerate(new):
            pkg_dir: Path | None = c.path
            if c.path.is_file():
                try:
                    pkg_dir = safe_extract(c.path, Path(tmp) / str(i))
                except (zipfile.BadZipFile, ValueError, OSError) as e:
                    checked.append(
                        (c, None, None, "package_invalid", f"{c.path.name}: zip hỏng / broken zip ({e})")
                    )
                    continue
            dp, code, detail = _check(c, pkg_dir, province)
            checked.append((c, pkg_dir, dp, code, detail))

        def order(item):
            c, _, dp, code, _ = item
            if code is not None:
                return (0, datetime.min, "", c.rel)
            s = dp["sender"]
            return (1, _sent_at_local(s["sent_at"]), str(s.get("release_id")), c.rel)

        for c, pkg_dir, dp, code, detail in sorted(checked, key=order):
            outcome = _apply(con, c, pkg_dir, dp, code, detail, now)
            report.outcomes.append(outcome)
    _record(con, files, paths)
    return report


def _file_row(sha, rel, size, status, code, vi, en, rows, now) -> dict:
    return {
        "file_sha256": sha, "path": rel, "bytes": size, "source": SOURCE, "encoding": None,
        "rows_read": rows, "rows_loaded": rows, "rows_quarantined": 0, "status": status,
        "reason": None if code is None else f"{code}: {en} / {vi}", "ingested_at": now,
    }  # fmt: skip


def _apply(con, c: Candidate, pkg_dir, dp, code, detail, now) -> PackageOutcome:
    """Decide and record one package in one transaction (load when accepted)."""
    sender = (dp or {}).get("sender") or {}
    commune = str(sender.get("commune_code")) if sender.get("commune_code") else None
    package_sha = sha256_file(pkg_dir / "datapackage.json") if pkg_dir is not None and dp else None
    periods = list((sender.get("periods") or {}).get("codes") or [])
    sent_local = None
    status, rows, in_use = "rejected", 0, False
    con.begin()
    try:
        if code is None:
            sent_local = _sent_at_local(sender["sent_at"])
            seen = con.execute(
                f"select count(*) from {HISTORY} where commune_code = ? and package_sha256 = ? "
                "and status <> 'rejected'",
                [commune, package_sha],
            ).fetchone()[0]
            current = _in_use(con, commune)
            if seen:
                status, code = "unchanged", "unchanged"
            elif current is not None and (sent_local, str(sender.get("release_id"))) <= current:
                status, code = "superseded", "superseded"
                detail = f"đang dùng / in use: sent_at {current[0].isoformat()}, {current[1]}"
            else:
                status, in_use = "accepted", True
                rows = _load(con, pkg_dir, dp, commune, package_sha, c.rel)
                con.execute(
                    f"update {HISTORY} set in_use = false where commune_code = ? and in_use", [commune]
                )
        vi, en = _reason(code, detail) if code else (None, None)
        con.execute(
            f"insert or replace into {HISTORY} values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [c.rel, c.file_sha256, package_sha, commune, c.folder_code, sender.get("province_code"),
             sender.get("release_id"), sender.get("sent_at"), sent_local, periods, now, status, in_use, rows,
             code, vi, en],
        )  # fmt: skip
        con.execute(
            "delete from audit.ingest_files where file_sha256 = ? and status = 'ignored'", [c.file_sha256]
        )
        row = _file_row(c.file_sha256, c.rel, c.bytes, status, code, vi or "", en or "", rows, now)
        if code is None:
            row["reason"] = None
        con.execute(
            """insert into audit.ingest_files (file_sha256, path, bytes, source, encoding, rows_read, rows_loaded,
               rows_quarantined, status, reason, ingested_at)
               select ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
               where not exists (select 1 from audit.ingest_files where file_sha256 = ?)""",
            [*row.values(), c.file_sha256],
        )
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return PackageOutcome(c.rel, status, commune, sender.get("release_id"), sender.get("sent_at"), rows, code,
                          vi, en)  # fmt: skip


def _record(con: duckdb.DuckDBPyConnection, files: list[dict], paths: list[tuple[str, str, str]]) -> None:
    """audit.ingest_files rows of the strays and member files; audit.file_paths of every path under
    raw/communes/ (paths gone since: state ``missing``). One transaction."""
    now = datetime.now()
    con.begin()
    try:
        if files:
            frame = pd.DataFrame(files).drop_duplicates("file_sha256")
            con.register("_fed_files", frame)
            try:
                con.execute(
                    """insert into audit.ingest_files by name select * from _fed_files o
                       anti join audit.ingest_files f on f.file_sha256 = o.file_sha256"""
                )
            finally:
                con.unregister("_fed_files")
        seen = pd.DataFrame(paths, columns=["path", "file_sha256", "state"]).drop_duplicates(
            ["path", "file_sha256"]
        )
        seen["now"] = now
        con.register("_fed_paths", seen)
        try:
            con.execute(
                """update audit.file_paths as fp set last_seen = s.now, state = s.state
                   from _fed_paths s where fp.path = s.path and fp.file_sha256 = s.file_sha256"""
            )
            con.execute(
                """insert into audit.file_paths
                   select s.path, s.file_sha256, s.now, s.now, s.state from _fed_paths s
                   anti join audit.file_paths fp on fp.path = s.path and fp.file_sha256 = s.file_sha256"""
            )
            con.execute(
                f"""update audit.file_paths as fp set state = 'missing'
                   where fp.path like '{SOURCE}/%' and fp.state <> 'missing' and not exists (
                       select 1 from _fed_paths s where s.path = fp.path and s.file_sha256 = fp.file_sha256)
                     and fp.state in ('present', 'package_file', 'not_a_package')"""
            )
        finally:
            con.unregister("_fed_paths")
        con.commit()
    except BaseException:
        con.rollback()
        raise


def package_periods(dp: dict) -> list[str]:
    return list(((dp.get("sender") or {}).get("periods") or {}).get("codes") or [])


def read_descriptor(path: Path) -> dict:
    """The datapackage.json of a package zip or folder (no verification)."""
    path = Path(path)
    if path.is_dir():
        return json.loads((path / "datapackage.json").read_text(encoding="utf-8"))
    with zipfile.ZipFile(path) as zf:
        name = next(n for n in zf.namelist() if n.endswith("/datapackage.json") and n.count("/") == 1)
        return json.loads(zf.read(name).decode("utf-8"))


def reconcile(con: duckdb.DuckDBPyConnection, raw_dir: Path) -> list[str]:
    """What the asset check holds, one message per problem (empty: reconciled): every file under
    ``raw/communes/`` that is ours has its ``audit.file_paths`` row and its content an
    ``audit.ingest_files`` row; each commune has at most one package in use; the rows of
    ``raw.commune_pkg_*`` are exactly those of the packages in use, as many as recorded when loaded."""
    problems: list[str] = []
    packages, strays = discover(raw_dir)
    recorded = {
        (r[0], r[1]) for r in con.execute("select path, file_sha256 from audit.file_paths").fetchall()
    }
    contents = {r[0] for r in con.execute("select file_sha256 from audit.ingest_files").fetchall()}
    expected = [(rel, _file_identity(p)[0]) for rel, p in strays]
    for c in packages:
        expected.append(
            (c.rel, _file_identity(c.path / "datapackage.json" if c.path.is_dir() else c.path)[0])
        )
        expected += [(m, _file_identity(Path(raw_dir) / m)[0]) for m in c.members]
    for rel, sha in expected:
        if (rel, sha) not in recorded:
            problems.append(f"{rel}: không có trong audit.file_paths / not in audit.file_paths")
        if sha not in contents:
            problems.append(f"{rel}: không có trong audit.ingest_files / not in audit.ingest_files")
    for code, n in con.execute(
        f"select commune_code, count(*) from {HISTORY} where in_use group by 1 having count(*) > 1"
    ).fetchall():
        problems.append(f"xã/commune {code}: {n} gói đang dùng / packages in use")
    tables = [
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'raw' "
            "and table_name like 'commune_pkg_%' order by 1"
        ).fetchall()
    ]
    if tables:
        union = " union all ".join(
            f"select _package_sha256, count(*) as n from raw.{t} group by 1" for t in tables
        )
        loaded = dict(con.execute(f"select _package_sha256, sum(n) from ({union}) group by 1").fetchall())
    else:
        loaded = {}
    in_use = dict(con.execute(f"select package_sha256, rows_loaded from {HISTORY} where in_use").fetchall())
    for sha, n in loaded.items():
        if sha not in in_use:
            problems.append(
                f"raw.commune_pkg_*: {n} dòng của gói không dùng / rows of a package not in use {sha}"
            )
        elif int(n) != int(in_use[sha]):
            problems.append(
                f"gói/package {sha}: {n} dòng, ghi nhận {in_use[sha]} / rows, recorded {in_use[sha]}"
            )
    for sha, n in in_use.items():
        if n and sha not in loaded:
            problems.append(
                f"gói/package {sha}: ghi nhận {n} dòng, không có dòng nào / recorded {n} rows, none loaded"
            )
    return problems

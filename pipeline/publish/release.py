"""Write-audit-publish of the open-data release.

Layout under ``open_data_dir``::

    .publish.lock                  fcntl lock: one publisher at a time
    .staging/<random>/             a release being written (removed on failure; stale ones cleaned)
    releases/<release_id>/         complete releases (datapackage.json, README.md, CHANGELOG.md, data/)
    latest -> releases/<id>        relative symlink, swapped atomically with os.replace
    LATEST                         text file with the release id (for tools that cannot follow symlinks)
    CHANGELOG.md                   copy of the latest release's CHANGELOG.md

``release_id = <YYYYMMDD>-<first 10 hex of the content hash>``; the content hash covers the data files'
sha256 and the resource descriptions/schemas (not the time, version label or release id), so publishing
identical content again is a no-op (``changed=False``) whatever the date.

Order of a publish (every step before 6 works only inside the staging folder, so a failed, blocked or
killed run leaves ``latest`` as it was):

1. lock, clean stale staging folders, 2. stream every table from DuckDB into Parquet (explicit schema,
zstd, dictionary pages, statistics, deterministic row groups), 3. audit: primary-key uniqueness /
not-null, foreign keys between published tables, PII scan of every text column (pipeline.publish.pii;
formula-like cells flagged in the column descriptions), the disclosure attacker (:mod:`.disclosure_audit`:
no suppressed survey cell recomputable; an audit the previous release passed on the same file bytes, code
and inputs is taken from its ``build.json``, :mod:`.audits`), 4. content hash ->
no-op if equal to latest (a missing or stale site of latest is rebuilt and swapped in), 5. datapackage.json,
README.md, CHANGELOG.md, the site (``site/``: pages, map, CSV/XLSX downloads, built from the staged files), the
report package for the level above (``exchange/upward/``, pipeline.exchange.package), fsync, 6. rename staging ->
releases/<id>, swap ``latest`` and ``LATEST``, copy CHANGELOG.md, 7. prune to ``keep`` releases.

Fault points (:mod:`pipeline.lib.faults`, no-ops unless a test installs a hook): ``publish.file_written`` after
each data file, ``publish.before_swap`` and ``publish.after_swap`` around step 6.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import progress
from pipeline.lib.faults import fault_point
from pipeline.lib.hashing import sha256_file
from pipeline.lib.pii import NameIndex
from pipeline.quality.fingerprint import table_fingerprint

from . import audits, reuse
from . import datapackage as dpk
from .audits import audit_keys
from .disclosure_audit import DisclosureAuditError, audit_release_tables
from .home import release_home
from .parquet import (
    ReleaseIntegrityError,
    TableSpec,
    fsync_path,
    write_table,
)
from .pii import PIIFoundError, flag_formula_fields, formula_cells, scan_pii
from .release_dir import (
    RELEASES,
    STAGING,
    atomic_write_text,
    clean_staging,
    current_release,
    fsync_tree_dirs,
    fsync_write_text,
    prune_releases,
    publish_lock,
    swap_latest,
)
from .reuser_readme import changelog_entry, prepend_changelog, render_readme

VN_TZ = timezone(timedelta(hours=7), "ICT")


class SiteBuilder(Protocol):
    """What the publisher needs of :mod:`pipeline.site.build` (kept abstract: publish does not import it)."""

    def __call__(self, release_dir: Path, site_dir: Path, previous: Path | None = None) -> Any: ...

    def ensure(self, release_dir: Path, scratch_dir: Path) -> Any: ...


CONTENT_KEY = "ntm:content_sha256"


@dataclass(frozen=True)
class ReleaseResult:
    release_id: str
    path: Path
    changed: bool
    tables: dict[str, int]
    bytes_total: int
    previous_release_id: str | None
    content_sha256: str = ""
    site: Any = None  # the SiteResult when a site builder ran (None: no builder, or the site was current)
    exchange: Any = None  # the report package's result when its builder ran (None: none, or it was current)
    reused: dict[str, str | None] = field(default_factory=dict)  # table -> release its files were linked from


# ---------------------------------------------------------------------------------------------------------
# Audit
# ---------------------------------------------------------------------------------------------------------


def content_hash(resources: Sequence[dict[str, Any]], is_synthetic: bool) -> str:
    """sha256 over what a reuser gets: every file's sha256 and the resource descriptions and schemas."""
    canon = []
    for r in resources:
        canon.append(
            {
                "name": r["name"],
                "files": [[f["path"], f["sha256"]] for f in r["ntm:files"]],
                "schema": r["schema"],
                "title": r["title"],
                "description": r["description"],
            }
        )
    blob = json.dumps({"resources": canon, "synthetic": is_synthetic}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def verify_release(release_dir: Path) -> list[str]:
    """Check a release folder against its datapackage.json: files, sizes, sha256, content hash."""
    release_dir = Path(release_dir)
    problems: list[str] = []
    try:
        dp = json.loads((release_dir / "datapackage.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        return [f"datapackage.json unreadable: {e}"]
    for res in dp.get("resources", []):
        for f in res.get("ntm:files", []):
            p = release_dir / f["path"]
            if not p.is_file():
                problems.append(f"{res['name']}: missing {f['path']}")
                continue
            if p.stat().st_size != f["bytes"]:
                problems.append(
                    f"{res['name']}: {f['path']} has {p.stat().st_size} bytes, expected {f['bytes']}"
                )
            elif sha256_file(p) != f["sha256"]:
                problems.append(f"{res['name']}: {f['path']} sha256 mismatch")
    if content_hash(dp.get("resources", []), bool(dp.get("ntm:is_synthetic"))) != dp.get(CONTENT_KEY):
        problems.append("content hash mismatch")
    for name in ("README.md", "CHANGELOG.md"):
        if not (release_dir / name).is_file():
            problems.append(f"missing {name}")
    # exchange/<kind>/manifest.json lists the files a release builder wrote there (the report package)
    for manifest in sorted(release_dir.glob("exchange/*/manifest.json")):
        problems += _verify_listed_files(manifest)
    return problems


def _verify_listed_files(manifest: Path) -> list[str]:
    try:
        listed = json.loads(manifest.read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError) as e:
        return [f"{manifest.parent.name}/{manifest.name} unreadable: {e}"]
    problems = []
    for f in listed:
        p, name = manifest.parent / f["path"], f"exchange/{manifest.parent.name}/{f['path']}"
        if not p.is_file():
            problems.append(f"missing {name}")
        elif p.stat().st_size != f["bytes"] or sha256_file(p) != f["sha256"]:
            problems.append(f"{name} size or sha256 mismatch")
    return problems


# ---------------------------------------------------------------------------------------------------------
# Publish
# ---------------------------------------------------------------------------------------------------------


def publish_release(
    con,
    specs: Sequence[TableSpec],
    open_data_dir: Path,
    *,
    keep: int = 5,
    version_label: str | None = None,
    pii_denylist: Iterable[str] = (),
    pii_names: NameIndex | None = None,
    now: datetime | None = None,
    is_synthetic: bool = False,
    partition_min_rows: int = 1_000_000,
    rows_per_batch: int = 65_536,
    row_group_rows: int = 131_072,
    compression_level: int | None = None,
    min_count: int = 5,
    lock_timeout: float = 600.0,
    require_descriptions: bool = True,
    site_builder: SiteBuilder | None = None,
    dhis2_exporter: Callable[[Path], Any] | None = None,
    exchange_builder: SiteBuilder | None = None,
    reuse_previous: bool = True,
) -> ReleaseResult:
    """Publish ``specs`` as a new release under ``open_data_dir`` (see the module docstring).

    Raises :class:`PIIFoundError`, :class:`DisclosureAuditError` or :class:`ReleaseIntegrityError` (nothing
    published, latest untouched);
    with ``require_descriptions`` every published column needs a (vi, en) entry in ``TableSpec.fields``.
    ``site_builder(release_dir, site_dir)`` writes the release's site (:mod:`pipeline.site`) from the staged
    files, inside the staging folder, so it is swapped in with the release; for an unchanged release it
    rebuilds a missing or stale site (``site_builder.ensure(release_dir, scratch_dir)``).
    ``dhis2_exporter(release_dir)`` writes ``exchange/dhis2/`` (:mod:`pipeline.exchange.dhis2`) from the staged
    files, after the site; for an unchanged release ``dhis2_exporter.ensure(release_dir, scratch_dir)`` writes a
    missing or stale one (made with another mapping).
    ``exchange_builder`` (same protocol as ``site_builder``) writes the report package into
    ``exchange/upward`` the same way.
    With ``reuse_previous`` an unchanged table's Parquet files (and the site's CSV downloads made from them)
    are hard-linked from the release ``latest`` points to (:mod:`pipeline.publish.reuse`); False rewrites all.
    """
    if keep < 1:
        raise ValueError("keep must be >= 1")
    names = [s.name for s in specs]
    if len(set(names)) != len(names) or not specs:
        raise ValueError(f"specs must be non-empty with unique names: {names}")
    open_data_dir = Path(open_data_dir).absolute()
    if now is None:
        now = datetime.now(VN_TZ)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=VN_TZ)  # a naive time is read as Vietnam local time
    else:
        now = now.astimezone(VN_TZ)

    with publish_lock(open_data_dir, lock_timeout):
        (open_data_dir / STAGING).mkdir(parents=True, exist_ok=True)
        (open_data_dir / RELEASES).mkdir(parents=True, exist_ok=True)
        clean_staging(open_data_dir)
        stage = open_data_dir / STAGING / f"{now:%Y%m%dT%H%M%S}-{os.getpid()}-{secrets.token_hex(4)}"
        stage.mkdir()
        try:
            result = _publish_in_stage(
                con, specs, open_data_dir, stage, keep=keep, version_label=version_label,
                pii_denylist=pii_denylist, pii_names=pii_names, now=now, is_synthetic=is_synthetic,
                partition_min_rows=partition_min_rows, rows_per_batch=rows_per_batch,
                row_group_rows=row_group_rows, compression_level=compression_level,
                min_count=min_count, require_descriptions=require_descriptions,
                site_builder=site_builder, dhis2_exporter=dhis2_exporter, exchange_builder=exchange_builder,
                reuse_previous=reuse_previous,
            )  # fmt: skip
        finally:
            if stage.exists():
                shutil.rmtree(stage, ignore_errors=True)
        return result


def _publish_in_stage(
    con, specs, open_data_dir: Path, stage: Path, *, keep, version_label, pii_denylist, pii_names, now,
    is_synthetic,
    partition_min_rows, rows_per_batch, row_group_rows, compression_level, min_count,
    require_descriptions, site_builder=None, dhis2_exporter=None, exchange_builder=None, reuse_previous=True,
) -> ReleaseResult:  # fmt: skip
    prev_id, prev_dir = current_release(open_data_dir)
    prev_dp = json.loads((prev_dir / "datapackage.json").read_text(encoding="utf-8")) if prev_dir else None

    prev = reuse.previous(prev_id, prev_dir, prev_dp) if reuse_previous else None
    # formula-like text cells (= + - @) are published as they are and flagged in the column description; a
    # table whose rows have the content fingerprint the previous release counted takes that count
    fps = {s.name: table_fingerprint(con, f"({s.sql})") for s in specs}
    formula_keys = {s.name: audits.formula_key(s, fps[s.name].digest) for s in specs}
    known = {s.name: reuse.previous_formula(prev, s.name, formula_keys[s.name]) for s in specs}
    formulas = {n: c for n, c in known.items() if c}
    formulas.update(
        formula_cells(
            con,
            {s.name: s.sql for s in specs if known[s.name] is None},
            {s.name: s.pii_exempt_columns for s in specs},
        )
    )
    formula_record = {s.name: {"key": formula_keys[s.name], "cells": formulas.get(s.name, {})} for s in specs}
    specs = [
        replace(s, fields=flag_formula_fields(s.fields, formulas[s.name])) if s.name in formulas else s
        for s in specs
    ]

    # 2. data files: an unchanged table's files are linked from the previous release (pipeline.publish.reuse)
    schemas: dict[str, pa.Schema] = {}
    files: dict[str, list[dict[str, Any]]] = {}
    rows: dict[str, int] = {}
    partitioned: dict[str, bool] = {}
    writer = {"partition_min_rows": partition_min_rows, "rows_per_batch": rows_per_batch,
              "row_group_rows": row_group_rows, "compression_level": compression_level}  # fmt: skip
    keys: dict[str, str] = {}
    reused_from: dict[str, str | None] = {}
    for spec in specs:
        keys[spec.name] = reuse.parquet_key(con, spec, writer, fps[spec.name])
        old = reuse.reuse_table(prev, spec.name, keys[spec.name], stage)
        if old is not None:
            files[spec.name] = [dict(f) for f in old["ntm:files"]]
            schemas[spec.name] = pq.read_schema(stage / files[spec.name][0]["path"])
            rows[spec.name], partitioned[spec.name] = old["ntm:rows"], "ntm:partition_by" in old
            reused_from[spec.name] = prev.release_id
            undocumented = [n for n in schemas[spec.name].names if n not in spec.fields]
            if require_descriptions and undocumented:
                raise ReleaseIntegrityError(
                    f"{spec.name}: no (vi, en) description for columns {undocumented}"
                )
            for _ in files[spec.name]:
                fault_point("publish.file_written")
        else:
            schemas[spec.name], files[spec.name], rows[spec.name], partitioned[spec.name] = write_table(
                con, spec, stage / "data", stage,
                partition_min_rows=partition_min_rows, rows_per_batch=rows_per_batch,
                row_group_rows=row_group_rows, compression_level=compression_level,
                require_descriptions=require_descriptions,
            )  # fmt: skip
            reused_from[spec.name] = None
        if not files[spec.name]:  # empty partitioned table: still publish an (empty) file
            raise ReleaseIntegrityError(f"{spec.name}: no file written")
        progress.advance(len(files), len(specs), "tables")  # the CLI's progress bar

    # 3. audit on exactly the bytes that will be published (an audit the previous release passed on the same
    # bytes, with the same code and inputs, is taken from its build.json: pipeline.publish.audits)
    passed = prev.audits if prev is not None else frozenset()
    audited: set[str] = set()
    problems = audit_keys(con, specs, files, stage, passed=passed, record=audited)
    if problems:
        raise ReleaseIntegrityError("release audit failed:\n  " + "\n  ".join(problems))
    pii_denylist = list(pii_denylist)
    names_digest = audits.names_digest(pii_names, pii_denylist)
    pii_keys = {s.name: audits.pii_key(s, files[s.name], names_digest) for s in specs}
    hits = scan_pii(
        con,
        {
            s.name: [str(stage / f["path"]) for f in files[s.name]]
            for s in specs
            if pii_keys[s.name] not in passed
        },
        pii_denylist,
        names=pii_names,
        exempt={s.name: s.pii_exempt_columns for s in specs},
        keys={s.name: tuple(s.primary_key) for s in specs},
    )
    if hits:
        raise PIIFoundError(hits)
    audited.update(pii_keys.values())
    # the attacker: no suppressed survey cell may be recomputable from the published numbers
    disclosure_keys = {s.name: audits.disclosure_key(s.name, files[s.name], min_count) for s in specs}
    recoverable = audit_release_tables(
        {
            s.name: [stage / f["path"] for f in files[s.name]]
            for s in specs
            if disclosure_keys[s.name] not in passed
        },
        min_count=min_count,
    )
    if recoverable:
        raise DisclosureAuditError(recoverable)
    audited.update(disclosure_keys.values())

    # 4. content hash -> no-op?
    resources = [
        dpk.resource_descriptor(s, schemas[s.name], files[s.name], rows[s.name], partitioned[s.name])
        for s in specs
    ]
    chash = content_hash(resources, is_synthetic)
    if prev_dp is not None and prev_dp.get(CONTENT_KEY) == chash and not verify_release(prev_dir):
        _repair_root(open_data_dir, prev_id, prev_dir)
        site = site_builder.ensure(prev_dir, stage / "site-rebuild") if site_builder is not None else None
        if dhis2_exporter is not None and hasattr(dhis2_exporter, "ensure"):
            dhis2_exporter.ensure(prev_dir, stage / "dhis2-rebuild")
        ex = exchange_builder.ensure(prev_dir, stage / "exchange-rebuild") if exchange_builder else None
        return ReleaseResult(
            prev_id, prev_dir, False, {r["name"]: r["ntm:rows"] for r in prev_dp["resources"]},
            sum(r["ntm:bytes"] for r in prev_dp["resources"]), prev_id, chash, site, ex,
        )  # fmt: skip
    release_id = f"{now:%Y%m%d}-{chash[:10]}"

    # 5. metadata
    created = now.isoformat(timespec="seconds")
    version = version_label or f"{now:%Y.%m.%d}+{chash[:10]}"
    home = release_home(con)  # the commune the release is for (marts.dim_commune.is_home_commune)
    descriptor = dpk.package_descriptor(
        resources=resources, release_id=release_id, content_sha256=chash, version=version, created=created,
        is_synthetic=is_synthetic, previous_release_id=prev_id, home=home,
    )  # fmt: skip
    errs = dpk.validate_descriptor(descriptor)
    if errs:
        raise ReleaseIntegrityError("datapackage.json is not a valid Data Package:\n  " + "\n  ".join(errs))
    fsync_write_text(stage / "datapackage.json", dpk.dumps(descriptor))
    fsync_write_text(stage / "README.md", render_readme(descriptor, min_count=min_count, home=home))
    prev_rows = {r["name"]: r["ntm:rows"] for r in prev_dp["resources"]} if prev_dp else None
    prev_log = (
        (prev_dir / "CHANGELOG.md").read_text(encoding="utf-8")
        if prev_dir and (prev_dir / "CHANGELOG.md").is_file()
        else None
    )
    entry = changelog_entry(
        release_id=release_id, created=created, rows=rows, previous_rows=prev_rows, previous_id=prev_id
    )
    fsync_write_text(stage / "CHANGELOG.md", prepend_changelog(prev_log, entry, home))
    # 5b. the site (pages, charts, map, CSV/XLSX downloads), from the staged files only
    # (its CSV downloads of unchanged tables are linked from the previous release's site)
    site = (
        site_builder(stage, stage / "site", previous=prev_dir if reuse_previous else None)
        if site_builder is not None
        else None
    )
    # 5c. DHIS2 dataValueSets (exchange/dhis2/), from the staged files only
    if dhis2_exporter is not None:
        dhis2_exporter(stage)
    # 5d. the report package for the level above (pipeline.exchange.package), from the staged files only
    # (a table whose resources a previous package validated is not validated again, pipeline.exchange.package)
    ex = (
        exchange_builder(stage, stage / "exchange" / "upward", previous=prev_dir if reuse_previous else None)
        if exchange_builder is not None
        else None
    )
    fsync_write_text(
        stage / reuse.BUILD_FILE,
        reuse.build_record(
            release_id,
            keys,
            reused_from,
            audits=audited,
            formulas=formula_record,
            exchange=ex.record() if hasattr(ex, "record") else None,
            site=site.record() if hasattr(site, "record") else None,
        ),  # fmt: skip
    )
    fsync_tree_dirs(stage)

    # 6. move into place and swap
    fault_point("publish.before_swap")
    final = open_data_dir / RELEASES / release_id
    if final.exists():
        # same content on the same day (a release published, then superseded, or a run killed between rename
        # and swap): replace it by the fresh, complete folder. (If it is latest's own target, latest was
        # corrupt - verify_release failed above - and dangles for the instant between the two renames.)
        trash = open_data_dir / STAGING / f"replaced-{release_id}-{secrets.token_hex(4)}"
        os.replace(final, trash)
        shutil.rmtree(trash, ignore_errors=True)
    os.replace(stage, final)
    fsync_path(final.parent)
    swap_latest(open_data_dir, release_id)
    fault_point("publish.after_swap")
    atomic_write_text(open_data_dir / "CHANGELOG.md", (final / "CHANGELOG.md").read_text(encoding="utf-8"))

    # 7. retention
    prune_releases(open_data_dir, keep)
    return ReleaseResult(
        release_id,
        final,
        True,
        dict(rows),
        sum(sum(f["bytes"] for f in v) for v in files.values()),
        prev_id,
        chash,
        site,
        ex,
        reused_from,
    )


def _repair_root(open_data_dir: Path, rid: str, rdir: Path) -> None:
    """Make LATEST and the root CHANGELOG.md agree with ``latest`` (after a run killed after the swap)."""
    latest_file = open_data_dir / "LATEST"
    if not latest_file.is_file() or latest_file.read_text(encoding="utf-8").strip() != rid:
        atomic_write_text(latest_file, rid + "\n")
    log = (rdir / "CHANGELOG.md").read_text(encoding="utf-8")
    root_log = open_data_dir / "CHANGELOG.md"
    if not root_log.is_file() or root_log.read_text(encoding="utf-8") != log:
        atomic_write_text(root_log, log)

"""Which Parquet files of the previous release a new release reuses (hard links) instead of rewriting.

A table's files are reused when its *key* equals the key the previous release recorded for it in its
``build.json``: the content fingerprint of the rows it publishes (:func:`pipeline.quality.fingerprint.
table_fingerprint` on the spec's SELECT: row count, order-free row hash, column names and types) together with
everything else that shapes the bytes (the spec: SQL, column descriptions with their formula flags, keys,
partition column; the writer settings; the code of :mod:`.parquet`; the pyarrow and DuckDB versions). The
previous file must still have its recorded size and sha256. ``NTM_PUBLISH_REUSE=0`` turns reuse off.

``build.json`` (one per release, the publisher's own record; it differs between runs) lists each table's key
and the release its files were linked from (``reused_from``, null when written by this run), the keys of the
audits that passed (``audits``, :mod:`.audits`), each table's formula-cell count with its key (``formula``),
the report package's validated resources (``exchange``, :mod:`pipeline.exchange.package`) and the scorecard
workbook's commune sheet (``site``, :mod:`pipeline.site.scorecard_xlsx`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from pipeline.lib.reuse import code_digest, link_verified
from pipeline.quality.fingerprint import Fingerprint, table_fingerprint

from .parquet import TableSpec

BUILD_FILE = "build.json"
BUILD_FORMAT = 1
PARQUET_CODE = code_digest(Path(__file__).with_name("parquet.py"))


def parquet_key(
    con: duckdb.DuckDBPyConnection, spec: TableSpec, writer: dict[str, Any], fp: Fingerprint | None = None
) -> str:
    """The key of one table's Parquet files (see the module docstring); ``fp``: the fingerprint of the spec's
    rows when already taken."""
    fp = fp or table_fingerprint(con, f"({spec.sql})")
    blob = {
        "rows": fp.rows,
        "content": fp.digest,
        "spec": {
            "name": spec.name,
            "sql": spec.sql,
            "fields": sorted([k, *v] for k, v in spec.fields.items()),
            "primary_key": list(spec.primary_key),
            "partition_by": spec.partition_by,
        },
        "writer": writer,
        "code": PARQUET_CODE,
        "pyarrow": pa.__version__,
        "duckdb": duckdb.__version__,
    }
    return hashlib.sha256(json.dumps(blob, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


@dataclass(frozen=True)
class Previous:
    """What the previous release offers: its id, folder, and per table the key and the resource."""

    release_id: str
    path: Path
    keys: dict[str, str]
    resources: dict[str, dict[str, Any]]
    audits: frozenset[str] = frozenset()  # keys of the audits that passed (pipeline.publish.audits)
    formulas: dict[str, dict[str, Any]] = field(default_factory=dict)  # table -> {key, cells}
    exchange: dict[str, Any] = field(default_factory=dict)  # the report package's record


def previous(prev_id: str | None, prev_dir: Path | None, prev_dp: dict | None) -> Previous | None:
    """The previous release's record, or None (no previous release, or one published without build.json)."""
    if prev_id is None or prev_dir is None or prev_dp is None:
        return None
    try:
        build = json.loads((prev_dir / BUILD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if build.get("format") != BUILD_FORMAT or build.get("release_id") != prev_id:
        return None
    keys = {n: t["key"] for n, t in build.get("tables", {}).items() if isinstance(t, dict) and "key" in t}
    audits = build.get("audits")
    formulas = build.get("formula")
    exchange = build.get("exchange")
    return Previous(
        prev_id,
        prev_dir,
        keys,
        {r["name"]: r for r in prev_dp.get("resources", [])},
        frozenset(a for a in audits if isinstance(a, str)) if isinstance(audits, list) else frozenset(),
        {n: f for n, f in formulas.items() if isinstance(f, dict) and isinstance(f.get("cells"), dict)}
        if isinstance(formulas, dict)
        else {},
        exchange if isinstance(exchange, dict) else {},
    )


def previous_formula(prev: Previous | None, name: str, key: str) -> dict[str, int] | None:
    """The formula-cell count the previous release recorded for ``name`` under ``key`` (None: count again)."""
    rec = prev.formulas.get(name) if prev is not None else None
    if rec is None or rec.get("key") != key:
        return None
    return {str(c): int(n) for c, n in rec["cells"].items()}


def reuse_table(prev: Previous | None, name: str, key: str, stage: Path) -> dict[str, Any] | None:
    """Link the previous release's files of ``name`` into ``stage`` when its key is ``key`` and every file is
    intact. Returns the previous resource (its ``ntm:files`` carry size, sha256 and rows), or None (nothing
    left in ``stage``: the caller writes the table)."""
    if prev is None or prev.keys.get(name) != key or name not in prev.resources:
        return None
    res = prev.resources[name]
    files = res.get("ntm:files") or []
    placed: list[Path] = []
    ok = bool(files)
    for f in files:
        rel = Path(f["path"])
        if (
            rel.is_absolute()
            or ".." in rel.parts
            or not link_verified(prev.path / rel, stage / rel, f["bytes"], f["sha256"])
        ):
            ok = False
            break
        placed.append(stage / rel)
    if not ok:
        for p in placed:
            p.unlink(missing_ok=True)
        return None
    return res


def build_record(
    release_id: str,
    keys: dict[str, str],
    reused_from: dict[str, str | None],
    *,
    audits: Iterable[str] = (),
    formulas: dict[str, dict[str, Any]] | None = None,
    exchange: dict[str, Any] | None = None,
    site: dict[str, Any] | None = None,
) -> str:
    record = {
        "format": BUILD_FORMAT,
        "release_id": release_id,
        "tables": {n: {"key": keys[n], "reused_from": reused_from.get(n)} for n in keys},
        "audits": sorted(set(audits)),
        "formula": formulas or {},
        "exchange": exchange or {},
        "site": site or {},
    }
    return json.dumps(record, ensure_ascii=False, indent=1, sort_keys=True) + "\n"

"""The release's audits on the staged files, and which of their results a new release may take from the
previous one instead of running them again.

Every published file is audited in every release: keys (primary keys unique and non-null, foreign keys
resolvable), personal data (:mod:`.pii`), the disclosure attacker (:mod:`.disclosure_audit`). An audit is
*not run again* only when the previous release recorded (``build.json`` ``audits``) that it passed on exactly
the same input: the key of an audit is the sha256 of

- the sha256 of every file it reads (a primary-key check: the table's files; a foreign-key check: the child's
  and the referenced table's files; the personal-data scan and the attacker: the table's files),
- what else decides its outcome (the key columns; the exempt columns and the row-key columns of the scan and
  a digest of the name index it searches, salt included, with any denylist; the attacker's ``min_count``),
- the sha256 of the code that runs it (this module and :mod:`.parquet` for the keys, :mod:`.pii` and
  :mod:`pipeline.lib.pii` for the scan, :mod:`.disclosure_audit` and :mod:`.suppression` for the attacker)
  and the DuckDB / pandas version.

A previous release exists only when every audit passed, so a recorded key is a passed audit; the files it
names are the same bytes (their sha256 is in the key, and a file linked from the previous release was
checked against its recorded sha256 first). ``build.json`` lists every key that passed for the new release
(run or taken), so the next release can take them in turn. The formula-cell count (which flags a column's
description) is taken the same way, keyed by the content fingerprint of the table's rows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from pipeline.lib.pii import NameIndex, name_key
from pipeline.lib.reuse import code_digest

from .parquet import TableSpec, quote_ident

_HERE = Path(__file__).parent
KEYS_CODE = code_digest(Path(__file__), _HERE / "parquet.py")
PII_CODE = code_digest(_HERE / "pii.py", _HERE.parent / "lib" / "pii.py")
DISCLOSURE_CODE = code_digest(_HERE / "disclosure_audit.py", _HERE / "suppression.py")


def _h(blob: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(blob, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _sig(files: Sequence[dict[str, Any]]) -> list[list[str]]:
    return [[f["path"], f["sha256"]] for f in files]


def pk_key(spec: TableSpec, files: Sequence[dict[str, Any]]) -> str:
    return _h({"audit": "primary_key", "table": spec.name, "files": _sig(files), "key": list(spec.primary_key),
               "code": KEYS_CODE, "duckdb": duckdb.__version__})  # fmt: skip


def fk_key(spec: TableSpec, fk, files: Sequence[dict[str, Any]], ref_files: Sequence[dict[str, Any]]) -> str:
    fk_fields, ref, ref_fields = fk
    return _h({"audit": "foreign_key", "table": spec.name, "files": _sig(files), "fields": list(fk_fields),
               "ref": ref, "ref_fields": list(ref_fields), "ref_files": _sig(ref_files), "code": KEYS_CODE,
               "duckdb": duckdb.__version__})  # fmt: skip


def names_digest(names: NameIndex | None, denylist: Iterable[str] = ()) -> str:
    """A digest of the names the scan searches (salt, hashed name keys, denylist): never the names."""
    h = hashlib.sha256()
    if names is not None:
        h.update(b"salt\0" + names.salt.encode() + b"\0")
        for part, hashes in (("hashes", names.hashes), ("legacy", names.legacy)):
            h.update(part.encode() + b"\0" + "\n".join(sorted(hashes)).encode() + b"\0")
    h.update(
        b"deny\0"
        + "\n".join(sorted(k for n in denylist if isinstance(n, str) and (k := name_key(n)))).encode()
    )
    return h.hexdigest()


def pii_key(spec: TableSpec, files: Sequence[dict[str, Any]], names: str) -> str:
    return _h({"audit": "personal_data", "table": spec.name, "files": _sig(files),
               "exempt": sorted(spec.pii_exempt_columns), "keys": list(spec.primary_key), "names": names,
               "code": PII_CODE, "duckdb": duckdb.__version__})  # fmt: skip


def disclosure_key(name: str, files: Sequence[dict[str, Any]], min_count: int) -> str:
    return _h({"audit": "disclosure", "table": name, "files": _sig(files), "min_count": min_count,
               "code": DISCLOSURE_CODE, "pandas": pd.__version__})  # fmt: skip


def formula_key(spec: TableSpec, content: str) -> str:
    """The formula-cell count of a table: its rows' content fingerprint, exempt columns, the scan's code."""
    return _h({"audit": "formula_cells", "table": spec.name, "sql": spec.sql, "content": content,
               "exempt": sorted(spec.pii_exempt_columns), "code": PII_CODE, "duckdb": duckdb.__version__})  # fmt: skip


def _parquet_rel(paths: Iterable[str], root: Path) -> str:
    lits = ", ".join("'" + str(root / p).replace("'", "''") + "'" for p in paths)
    return f"read_parquet([{lits}])"


def audit_keys(
    con,
    specs: Sequence[TableSpec],
    files: dict[str, list[dict[str, Any]]],
    root: Path,
    *,
    passed: frozenset[str] | set[str] = frozenset(),
    record: set[str] | None = None,
) -> list[str]:
    """Primary keys unique and non-null, foreign keys resolvable, on the staged Parquet files. A check whose
    key (:func:`pk_key`, :func:`fk_key`) is in ``passed`` is not run again; the key of every check that
    passed (run or taken) is added to ``record``."""
    problems: list[str] = []
    record = set() if record is None else record
    by_name = {s.name: s for s in specs}
    for spec in specs:
        rel = _parquet_rel((f["path"] for f in files[spec.name]), root)
        if spec.primary_key:
            key = pk_key(spec, files[spec.name])
            if key not in passed:
                pk = ", ".join(quote_ident(k) for k in spec.primary_key)
                nulls = " or ".join(f"{quote_ident(k)} is null" for k in spec.primary_key)
                dup = con.execute(
                    f"select count(*) from (select {pk} from {rel} group by all having count(*) > 1)"
                ).fetchall()[0][0]
                nul = con.execute(f"select count(*) from {rel} where {nulls}").fetchall()[0][0]
                if dup:
                    problems.append(f"{spec.name}: {dup} duplicated primary key value(s) ({pk})")
                if nul:
                    problems.append(f"{spec.name}: {nul} row(s) with a null primary key column")
                if dup or nul:
                    key = None
            if key is not None:
                record.add(key)
        for fk_fields, ref, ref_fields in spec.foreign_keys:
            if ref not in by_name:
                problems.append(f"{spec.name}: foreign key references unpublished resource {ref}")
                continue
            key = fk_key(spec, (fk_fields, ref, ref_fields), files[spec.name], files[ref])
            if key in passed:
                record.add(key)
                continue
            ref_rel = _parquet_rel((f["path"] for f in files[ref]), root)
            cond = " and ".join(
                f"c.{quote_ident(a)} = p.{quote_ident(b)}" for a, b in zip(fk_fields, ref_fields, strict=True)
            )
            notnull = " and ".join(f"c.{quote_ident(a)} is not null" for a in fk_fields)
            orphans = con.execute(
                f"select count(*) from {rel} c where {notnull} and not exists (select 1 from {ref_rel} p where {cond})"
            ).fetchall()[0][0]
            if orphans:
                problems.append(
                    f"{spec.name}: {orphans} row(s) whose ({', '.join(fk_fields)}) is not in {ref}"
                )
            else:
                record.add(key)
    return problems

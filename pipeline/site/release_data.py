"""Read one release's published files (and nothing else) for the site.

The site is built from ``<release>/datapackage.json`` and the Parquet files it lists, through an in-memory
DuckDB connection with one view per resource. It never opens the warehouse: what the site shows is what the
release publishes (suppressed survey cells stay hidden, no personal data can appear that the release's own PII
scan did not pass).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb


@dataclass
class Release:
    root: Path
    descriptor: dict[str, Any]
    con: duckdb.DuckDBPyConnection
    resources: dict[str, list[str]] = field(default_factory=dict)  # name -> file paths relative to root

    @property
    def release_id(self) -> str:
        return self.descriptor.get("ntm:release_id") or self.descriptor.get("name", "")

    @property
    def created(self) -> str:
        return self.descriptor.get("created", "")

    @property
    def is_synthetic(self) -> bool:
        return bool(self.descriptor.get("ntm:is_synthetic"))

    def has(self, name: str) -> bool:
        return name in self.resources

    def rows(self, sql: str, params: list | None = None) -> list[dict[str, Any]]:
        cur = self.con.execute(sql, params or [])
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]

    def close(self) -> None:
        self.con.close()


def open_release(root: Path) -> Release:
    """Views over the release's Parquet files, one per data-package resource."""
    root = Path(root)
    descriptor = json.loads((root / "datapackage.json").read_text(encoding="utf-8"))
    con = duckdb.connect(":memory:")
    con.execute("set threads = 1")
    resources: dict[str, list[str]] = {}
    for res in descriptor.get("resources", []):
        paths = [f["path"] for f in res.get("ntm:files", [])] or (
            [res["path"]] if isinstance(res.get("path"), str) else list(res.get("path") or [])
        )
        if not paths:
            continue
        resources[res["name"]] = paths
        lits = ", ".join("'" + str(root / p).replace("'", "''") + "'" for p in paths)
        con.execute(
            f'create view "{res["name"]}" as select * from read_parquet([{lits}], union_by_name = true)'
        )
    return Release(root=root, descriptor=descriptor, con=con, resources=resources)

"""Read one release's published files (and nothing else) for the site.

The site is built from ``<release>/datapackage.json`` and the Parquet files it lists, through an in-memory
DuckDB connection with one view per resource. It never opens the warehouse: what the site shows is what the
release publishes (suppressed survey cells stay hidden, no personal data can appear that the release's own PII
scan did not pass).

The site is the home commune's (``dim_commune.is_home_commune``): every table with a ``commune_code`` column
(except the ``dim_commune`` / ``dim_province`` registries) is read for that commune only, so a release that
holds several communes (a synthetic province) shows one commune's hamlets, reports and surveys.
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
    home_commune: str | None = None  # tables with a commune_code column are read for this commune only
    cache: dict[str, Any] = field(default_factory=dict)  # what a page builder read once for every page

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
    # published timestamps are instants (timestamp with time zone): show and cast them in Vietnam time
    con.execute("set TimeZone = 'Asia/Ho_Chi_Minh'")
    resources: dict[str, list[str]] = {}
    sources: dict[str, str] = {}
    for res in descriptor.get("resources", []):
        paths = [f["path"] for f in res.get("ntm:files", [])] or (
            [res["path"]] if isinstance(res.get("path"), str) else list(res.get("path") or [])
        )
        if not paths:
            continue
        resources[res["name"]] = paths
        lits = ", ".join("'" + str(root / p).replace("'", "''") + "'" for p in paths)
        sources[res["name"]] = f"read_parquet([{lits}], union_by_name = true)"
    home = None
    if "dim_commune" in sources:
        rows = con.execute(
            f"select commune_code from {sources['dim_commune']} where is_home_commune"
        ).fetchall()
        home = rows[0][0] if len(rows) == 1 else None
    for name, source in sources.items():
        cols = {
            r[0] for r in con.execute(f"select column_name from (describe select * from {source})").fetchall()
        }
        where = ""
        if home is not None and "commune_code" in cols and name not in {"dim_commune", "dim_province"}:
            # The site is the home commune's: in a release of several communes (a synthetic province) it
            # shows that commune's hamlets, reports and surveys, never a mix of all of them.
            where = " where commune_code = '" + home.replace("'", "''") + "'"
        con.execute(f'create view "{name}" as select * from {source}{where}')
    return Release(root=root, descriptor=descriptor, con=con, resources=resources, home_commune=home)

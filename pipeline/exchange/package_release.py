"""The report package's tables (which release resources it carries, which of their rows) and how their rows
are read from the staged release (pipeline.exchange.package builds the package from them)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq


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


def release_table(release_dir: Path, res: dict[str, Any], where: tuple[str, str] | None = None) -> pa.Table:
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


def home_commune(release_dir: Path, resources: dict[str, dict]) -> dict[str, Any]:
    """The release's home commune: its one ``dim_commune`` row with ``is_home_commune`` (any other count
    stops the build)."""
    communes = release_table(release_dir, resources["dim_commune"])
    home = communes.filter(pc.fill_null(communes["is_home_commune"], False)).to_pylist()
    if len(home) != 1:
        raise PackageBuildError(
            f"Bản phát hành có {len(home)} xã chủ (is_home_commune), cần đúng 1. / The release has {len(home)} "
            "home communes (is_home_commune), exactly 1 is needed."
        )
    return home[0]

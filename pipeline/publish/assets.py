"""The open-data release: write, audit, publish.

Runs after the marts it publishes and only when their blocking checks passed (Dagster skips a downstream
asset whose upstream blocking check failed). It first verifies, under the warehouse lock it holds until the
release is written, that every published mart is the content the quality gate checked (another run may have
rebuilt it in between; pipeline.quality.fingerprint). Satisfaction cells are suppressed here, every published text
column is scanned for personal data, then `publish_release` writes the Parquet files and datapackage.json
into a staging folder and swaps `open_data/latest` atomically. Identical content is a no-op.
"""

import json
from functools import cache
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

from pipeline.config import get_settings
from pipeline.constants import OWNERS
from pipeline.ingest.surveys import name_hash
from pipeline.publish.disclosure import suppress_satisfaction
from pipeline.publish.parquet import TableSpec
from pipeline.publish.release import publish_release
from pipeline.quality.fingerprint import UncheckedContentError, mismatch_message, verify_gate
from pipeline.resources import WarehouseResource
from pipeline.transform.assets import DBT_PROJECT

# What the commune publishes: (mart, primary key, partition column or None). fact_survey_answer,
# fact_submission's file paths, raw.* and audit.* never leave the warehouse.
PUBLISHED: dict[str, tuple[tuple[str, ...], str | None]] = {
    "dim_province": (("province_code",), None),
    "dim_commune": (("commune_code",), None),
    "dim_hamlet": (("hamlet_key",), None),
    "dim_period": (("period_code",), None),
    "dim_indicator": (("indicator_code",), None),
    "dim_reporting_unit": (("reporting_unit_key",), None),
    "dim_plan_task": (("task_code",), None),
    "fact_indicator_value": (("indicator_value_key",), "period_code"),
    "mart_hamlet_indicator": (("indicator_value_key",), "period_code"),
    "mart_commune_indicator": (("commune_indicator_key",), "period_code"),
    "mart_province_indicator": (("province_indicator_key",), None),
    "mart_plan_targets": (("plan_target_key",), None),
    "mart_reporting_compliance": (("compliance_key",), None),
    "mart_satisfaction": (("satisfaction_key",), None),
    "mart_ocop_portfolio": (("portfolio_key",), None),
    "fact_ocop_certificate": (("certificate_key",), None),
}
# Foreign keys declared in datapackage.json (column → (resource, column)).
FOREIGN_KEYS: dict[str, list[tuple[list[str], str, list[str]]]] = {
    "dim_commune": [(["province_code"], "dim_province", ["province_code"])],
    "fact_indicator_value": [
        (["period_code"], "dim_period", ["period_code"]),
        (["indicator_code"], "dim_indicator", ["indicator_code"]),
        (["commune_code"], "dim_commune", ["commune_code"]),
    ],
    "mart_commune_indicator": [
        (["period_code"], "dim_period", ["period_code"]),
        (["indicator_code"], "dim_indicator", ["indicator_code"]),
        (["commune_code"], "dim_commune", ["commune_code"]),
    ],
    "mart_hamlet_indicator": [
        (["period_code"], "dim_period", ["period_code"]),
        (["indicator_code"], "dim_indicator", ["indicator_code"]),
    ],
    "mart_province_indicator": [
        (["period_code"], "dim_period", ["period_code"]),
        (["indicator_code"], "dim_indicator", ["indicator_code"]),
        (["province_code"], "dim_province", ["province_code"]),
    ],
}
SATISFACTION_TABLE = "publish_mart_satisfaction"


def _split(text: str | None) -> tuple[str, str]:
    """dbt descriptions are written "tiếng Việt / English"."""
    text = " ".join((text or "").split())
    if " / " in text:
        vi, en = text.split(" / ", 1)
        return vi.strip(), en.strip()
    return text, text


@cache
def _manifest_nodes(manifest_path: Path) -> dict[str, dict]:
    manifest = json.loads(manifest_path.read_text())
    return {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}


def table_specs(con: duckdb.DuckDBPyConnection) -> list[TableSpec]:
    nodes = _manifest_nodes(DBT_PROJECT.manifest_path)
    specs = []
    for name, (pk, partition) in PUBLISHED.items():
        node = nodes[name]
        desc_vi, desc_en = _split(node.get("description"))
        columns = [r[0] for r in con.execute(f"describe marts.{name}").fetchall()]
        fields = {c: _split(node["columns"].get(c, {}).get("description")) for c in columns}
        source = f"select * from marts.{name}"
        if name == "mart_satisfaction":
            source = f"select * from {SATISFACTION_TABLE}"
            fields["suppressed"] = (
                "Ô bị ẩn (bảo vệ dữ liệu cá nhân)",
                "Cell suppressed (disclosure control)",
            )
            fields["suppression_reason"] = (
                "Lý do ẩn: primary_lt5 (dưới 5 người trả lời) hoặc secondary (ẩn kèm)",
                "Why: primary_lt5 (fewer than 5 respondents) or secondary (protects another cell)",
            )
        specs.append(
            TableSpec(
                name=name,
                sql=source,
                title_vi=desc_vi.split(".")[0][:120],
                title_en=desc_en.split(".")[0][:120],
                description_vi=desc_vi,
                description_en=desc_en,
                fields=fields,
                primary_key=pk,
                foreign_keys=FOREIGN_KEYS.get(name, ()),
                partition_by=partition,
                # hash-derived identifiers (hex can hold 9- or 12-digit runs), validated by dbt tests
                pii_exempt_columns=tuple(c for c in columns if c.endswith("_key") or c == "submission_id"),
            )
        )
    return specs


def stage_suppressed_satisfaction(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Apply small-cell suppression (< 5 respondents, plus secondary suppression) into a temp table."""
    df = con.execute("select * from marts.mart_satisfaction").df()
    # A group is one commune × period × form × question; its commune row (hamlet_code null) is the total.
    out = suppress_satisfaction(
        df,
        group_cols=["commune_code", "period_code", "form_code", "question_code"],
        cell_col="hamlet_code",
        count_col="respondents",
        value_cols=["satisfied", "satisfied_rate", "meets_90"],
        has_total_row=True,
        total_cell=None,
    )
    con.register("_sat", out)
    con.execute(f"create or replace temp table {SATISFACTION_TABLE} as select * from _sat")
    con.unregister("_sat")
    return {
        "cells": len(out),
        "primary": int((out["suppression_reason"] == "primary_lt5").sum()) if len(out) else 0,
        "secondary": int((out["suppression_reason"] == "secondary").sum()) if len(out) else 0,
    }


class RespondentNameFound(RuntimeError):
    pass


def scan_hashed_respondent_names(
    con: duckdb.DuckDBPyConnection, specs: list[TableSpec], salt: str
) -> list[str]:
    """Respondent names are kept only as salted hashes (raw.survey_answers.respondent_name_hash). Hash every
    distinct value of every published text column the same way and look for a match.

    Only cells without a digit are candidates (a person's name has none; codes, keys and dates all do):
    at national scale this leaves the labels and names, not tens of millions of keys. The candidates'
    hashes are joined with the stored ones in DuckDB, so the millions of stored hashes never reach Python.
    """
    if not con.execute(
        "select 1 from raw.survey_answers where respondent_name_hash is not null limit 1"
    ).fetchall():
        return []
    probes = []
    for spec in specs:
        cols = [
            c[0] for c in con.execute(f"describe {spec.sql}").fetchall() if str(c[1]).upper() == "VARCHAR"
        ]
        for col in cols:
            values = pd.Series(
                [
                    r[0]
                    for r in con.execute(
                        f'select distinct "{col}" from ({spec.sql}) '
                        f'where "{col}" is not null and not regexp_matches("{col}", \'[0-9]\')'
                    ).fetchall()
                ],
                dtype=object,
            )
            if values.empty:
                continue
            hashes = name_hash(values, salt).dropna().unique()
            probes.append(pd.DataFrame({"source": f"{spec.name}.{col}", "h": hashes}))
    if not probes:
        return []
    probe = pd.concat(probes, ignore_index=True)  # noqa: F841 (scanned by DuckDB below)
    found = con.execute(
        "select p.source, count(distinct p.h) from raw.survey_answers as a "
        "inner join probe as p on a.respondent_name_hash = p.h group by 1 order by 1"
    ).fetchall()
    return [f"{source}: {n} value(s) equal a respondent name" for source, n in found]


def pii_denylist(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Names that must never appear in open data: household-business owners (OCOP producers of type
    household). Respondent names are never stored in clear; the hashed-name scan covers them."""
    return [
        r[0]
        for r in con.execute(
            "select distinct producer_name from raw.ocop_products "
            "where producer_type = 'household' and producer_name is not null"
        ).fetchall()
    ]


@dg.asset(
    key=dg.AssetKey(["publish", "open_data_release"]),
    deps=[dg.AssetKey(["marts", name]) for name in PUBLISHED],
    group_name="publish",
    owners=OWNERS,
    kinds={"parquet", "python"},
    description=(
        "Bản phát hành dữ liệu mở (Parquet + datapackage.json), chỉ công bố khi các kiểm tra chặn đều đạt. / "
        "The open-data release (Parquet + datapackage.json), published only when the blocking checks pass."
    ),
)
def open_data_release(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    settings = get_settings()
    with warehouse.connect(context.log) as con:
        checked_by = verify_checked_content(con, context)
        suppression = stage_suppressed_satisfaction(con)
        specs = table_specs(con)
        name_hits = scan_hashed_respondent_names(con, specs, settings.pii_salt())
        if name_hits:
            raise RespondentNameFound(
                "Dữ liệu mở chứa tên người trả lời khảo sát; không công bố. / Open data would contain respondent "
                "names; nothing published: " + "; ".join(name_hits)
            )
        result = publish_release(
            con,
            specs,
            settings.open_data_dir,
            keep=settings.keep_releases,
            pii_denylist=pii_denylist(con),
            is_synthetic=_is_synthetic(settings.raw_dir),
        )
    verb = "published" if result.changed else "unchanged (identical content, no new release)"
    context.log.info(f"release {result.release_id} {verb}: {result.path}")
    return dg.MaterializeResult(
        metadata={
            "release_id": result.release_id,
            "changed": result.changed,
            "path": str(settings.open_data_dir / "latest"),
            "release_path": str(result.path),
            "previous_release_id": result.previous_release_id or "",
            "tables": dg.MetadataValue.json(result.tables),
            "dagster/row_count": sum(result.tables.values()),
            "bytes_total": result.bytes_total,
            "suppressed_cells": dg.MetadataValue.json(suppression),
            "checked_by_runs": dg.MetadataValue.json(sorted(set(checked_by.values()))),
        }
    )


def verify_checked_content(
    con: duckdb.DuckDBPyConnection, context: dg.AssetExecutionContext
) -> dict[str, str]:
    """Every published mart is what a passed quality gate saw (this run's, or for a publish-only run the
    latest gate's); otherwise raise, naming the tables and, when Dagster knows it, the run that rebuilt
    each one. Returns ``{table: run id of the gate that checked it}``."""
    run_id = context.run.run_id
    checked_by, problems = verify_gate(con, run_id, [f"marts.{name}" for name in PUBLISHED])
    if not problems:
        return checked_by

    def rebuilt_by(table: str, checked_run_id: str | None) -> str | None:
        event = context.instance.get_latest_materialization_event(dg.AssetKey(table.split(".")))
        return event.run_id if event is not None and event.run_id not in (run_id, checked_run_id) else None

    raise UncheckedContentError(mismatch_message(run_id, problems, rebuilt_by))


def _is_synthetic(raw_dir: Path) -> bool:
    readme = raw_dir / "README.md"
    return readme.exists() and "synthetic" in readme.read_text(encoding="utf-8").lower()


defs = dg.Definitions(assets=[open_data_release])

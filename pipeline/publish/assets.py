"""The open-data release: write, audit, publish.

Runs after the marts it publishes and only when their blocking checks passed (Dagster skips a downstream
asset whose upstream blocking check failed). It first verifies, under the warehouse lock it holds until the
release is written, that every published mart is the content the quality gate checked (another run may have
rebuilt it in between; pipeline.quality.fingerprint). Satisfaction cells are suppressed here (and the release
is blocked if the disclosure attacker can recompute a hidden cell), every published text column is scanned for
personal data (pipeline.publish.pii: names of respondents and household-business owners, also inside longer
text; phone and ID numbers; e-mail), then `publish_release` writes the Parquet files and datapackage.json
into a staging folder and swaps `open_data/latest` atomically. Identical content is a no-op. With the release
in place, and when this run's dbt step built the marts, it records the last success (pipeline.changes): what
the next run, the nightly schedule and the sensor compare the landing zone with.
"""

import json
from functools import cache
from pathlib import Path

import dagster as dg
import duckdb

from pipeline import changes
from pipeline.config import get_settings, instance_level, publish_reuse
from pipeline.constants import OWNERS, PUBLISHED
from pipeline.exchange.dhis2 import MAPPING_FILE, Dhis2Exporter
from pipeline.exchange.package import PACKAGE_BUILDER
from pipeline.publish.checks import release_integrity
from pipeline.publish.dbt_meta import model_title, relationship_foreign_keys, split_bilingual
from pipeline.publish.parquet import TableSpec
from pipeline.publish.pii import name_index
from pipeline.publish.release import publish_release
from pipeline.publish.suppression import COMPLEMENTARY, DEFAULT_MIN_COUNT, PRIMARY, suppress_satisfaction
from pipeline.quality.fingerprint import UncheckedContentError, mismatch_message, verify_gate
from pipeline.resources import DBT_PROJECT, WarehouseResource
from pipeline.site.build import SITE_BUILDER, site_metadata

# Foreign keys declared in datapackage.json: every dbt `relationships` test between two published models
# (pipeline.publish.dbt_meta.relationship_foreign_keys, read from the manifest in table_specs).
SATISFACTION_TABLE = "publish_mart_satisfaction"
# Text columns the personal-data scan skips besides surrogate keys, by name. geometry_geojson holds only
# coordinates written by the ingest (pipeline.ingest.sources.reference.boundaries re-serialises every polygon, no source text
# survives): "105.723456" is 9 digits with a dot, which the ID-number rule would flag, and scanning a few
# hundred kB of numbers per row is wasted time.
PII_EXEMPT_COLUMNS = frozenset({"geometry_geojson"})


@cache
def _manifest(manifest_path: Path) -> dict:
    return json.loads(manifest_path.read_text())


def _manifest_nodes(manifest_path: Path) -> dict[str, dict]:
    manifest = _manifest(manifest_path)
    return {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}


def table_specs(con: duckdb.DuckDBPyConnection) -> list[TableSpec]:
    nodes = _manifest_nodes(DBT_PROJECT.manifest_path)
    foreign_keys = relationship_foreign_keys(_manifest(DBT_PROJECT.manifest_path), PUBLISHED)
    specs = []
    for name, (pk, partition) in PUBLISHED.items():
        node = nodes[name]
        desc_vi, desc_en = split_bilingual(node.get("description"))
        title_vi, title_en = model_title(node)
        columns = [r[0] for r in con.execute(f"describe marts.{name}").fetchall()]
        fields = {c: split_bilingual(node["columns"].get(c, {}).get("description")) for c in columns}
        source = f"select * from marts.{name}"
        if name == "mart_satisfaction":
            source = f"select * from {SATISFACTION_TABLE}"
            fields["suppressed"] = (
                "Ô bị ẩn (bảo vệ dữ liệu cá nhân)",
                "Cell suppressed (disclosure control)",
            )
            fields["suppression_reason"] = (
                "Lý do ẩn (số người trả lời n cũng để trống): primary (1 ≤ n < ngưỡng) hoặc complementary "
                "(n ≥ ngưỡng, ẩn kèm để n và số hài lòng của ô khác không tính lại được từ tổng)",
                "Why hidden (respondents n is null too): primary (1 <= n < the threshold) or complementary "
                "(n >= the threshold, hidden so that another hidden cell's n and satisfied count cannot be "
                "recomputed from the totals)",
            )
        specs.append(
            TableSpec(
                name=name,
                sql=source,
                title_vi=title_vi,
                title_en=title_en,
                description_vi=desc_vi,
                description_en=desc_en,
                fields=fields,
                primary_key=pk,
                foreign_keys=foreign_keys.get(name, ()),
                partition_by=partition,
                # hash-derived identifiers (hex can hold 9- or 12-digit runs), validated by dbt tests
                pii_exempt_columns=tuple(
                    c
                    for c in columns
                    if c.endswith("_key") or c == "submission_id" or c in PII_EXEMPT_COLUMNS
                ),
            )
        )
    return specs


def stage_suppressed_satisfaction(
    con: duckdb.DuckDBPyConnection, min_count: int = DEFAULT_MIN_COUNT
) -> dict[str, int]:
    """Apply cell suppression (primary: fewer than ``min_count`` respondents; complementary: so that no
    hidden cell can be recomputed, see :mod:`pipeline.publish.suppression`) into a temp table."""
    df = con.execute("select * from marts.mart_satisfaction").df()
    # A group is one commune × period × form × question; its commune row (hamlet_code null) is the total.
    out = suppress_satisfaction(
        df,
        group_cols=["commune_code", "period_code", "form_code", "question_code"],
        cell_col="hamlet_code",
        count_col="respondents",
        satisfied_col="satisfied",
        value_cols=["satisfied", "satisfied_rate", "meets_90"],
        min_count=min_count,
        has_total_row=True,
        total_cell=None,
        # a location hidden on one question is hidden on every question of that form and period, so that its
        # n shown on a sibling question cannot give the hidden n away
        block_cols=["commune_code", "period_code", "form_code"],
        hide_count=True,
    )
    con.register("_sat", out)
    con.execute(f"create or replace temp table {SATISFACTION_TABLE} as select * from _sat")
    con.unregister("_sat")
    return {
        "cells": len(out),
        "primary": int((out["suppression_reason"] == PRIMARY).sum()) if len(out) else 0,
        "complementary": int((out["suppression_reason"] == COMPLEMENTARY).sum()) if len(out) else 0,
        "respondents_hidden": int(df.loc[out["suppressed"].to_numpy(), "respondents"].sum())
        if len(out)
        else 0,
        "min_count": min_count,
    }


RELEASE_KEY = dg.AssetKey(["publish", "open_data_release"])
SITE_KEY = dg.AssetKey(["publish", "open_data_site"])


@dg.multi_asset(
    name="publish__open_data_release",
    # selectable one by one (`--select publish/open_data_release` keeps working); the site is part of the
    # release, so it is built whichever of the two is selected
    can_subset=True,
    specs=[
        dg.AssetSpec(
            key=RELEASE_KEY,
            deps=[dg.AssetKey(["marts", name]) for name in PUBLISHED],
            group_name="publish",
            owners=OWNERS,
            kinds={"parquet", "python"},
            description=(
                "Bản phát hành dữ liệu mở (Parquet + datapackage.json), chỉ công bố khi các kiểm tra chặn đều "
                "đạt. / The open-data release (Parquet + datapackage.json), published only when the blocking "
                "checks pass."
            ),
        ),
        dg.AssetSpec(
            key=SITE_KEY,
            deps=[RELEASE_KEY],
            group_name="publish",
            owners=OWNERS,
            kinds={"html", "python"},
            description=(
                "Bản đồ số và bảng điểm: trang web tĩnh song ngữ trong mỗi bản phát hành (site/), dựng chỉ từ "
                "các tệp của bản phát hành, mở được khi không có mạng. / The digital map and scorecard: a "
                "bilingual static site in every release (site/), built only from the release's files, works "
                "offline."
            ),
        ),
    ],
)
def open_data_release(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    settings = get_settings()
    level, _ = instance_level()
    if level != "commune":
        context.log.info(f"level {level}: no commune report package in exchange/upward/")
    with warehouse.connect(context.log) as con:
        checked_by = verify_checked_content(con, context)
        suppression = stage_suppressed_satisfaction(con, settings.suppression_min_count)
        specs = table_specs(con)
        result = publish_release(
            con,
            specs,
            settings.open_data_dir,
            keep=settings.keep_releases,
            pii_names=name_index(con, settings.pii_salt()),
            is_synthetic=_is_synthetic(settings.raw_dir),
            min_count=settings.suppression_min_count,
            site_builder=SITE_BUILDER,
            dhis2_exporter=Dhis2Exporter(settings.raw_dir / "reference" / MAPPING_FILE),
            # the report package is the commune's; a province instance sends no commune package (the province's
            # own package for the national level is designed in raw/README.md section 11.5, not built yet)
            exchange_builder=PACKAGE_BUILDER if level == "commune" else None,
            reuse_previous=publish_reuse(),
        )
        _record_success(context, con, settings, result.release_id)
    verb = "published" if result.changed else "unchanged (identical content, no new release)"
    context.log.info(f"release {result.release_id} {verb}: {result.path}")
    selected = context.selected_asset_keys
    if RELEASE_KEY in selected:
        yield dg.MaterializeResult(
            asset_key=RELEASE_KEY,
            metadata={
                "release_id": result.release_id,
                "changed": result.changed,
                "path": str(settings.open_data_dir / "latest"),
                "release_path": str(result.path),
                "previous_release_id": result.previous_release_id or "",
                "tables": dg.MetadataValue.json(result.tables),
                "dagster/row_count": sum(result.tables.values()),
                "bytes_total": result.bytes_total,
                # table -> the release its Parquet files were hard-linked from (NTM_PUBLISH_REUSE=0: none)
                "reused_tables": dg.MetadataValue.json(
                    {t: r for t, r in result.reused.items() if r} if result.changed else {}
                ),
                "suppressed_cells": dg.MetadataValue.json(suppression),
                "checked_by_runs": dg.MetadataValue.json(sorted(set(checked_by.values()))),
                "report_package": dg.MetadataValue.json(
                    result.exchange.metadata() if result.exchange is not None else {"rebuilt": False}
                ),
            },
        )
    if SITE_KEY not in selected:
        return
    site = result.site.metadata() if result.site is not None else site_metadata(result.path)
    index = settings.open_data_dir / "latest" / "site" / "index.html"
    yield dg.MaterializeResult(
        asset_key=SITE_KEY,
        metadata={
            **site,
            "rebuilt": result.site is not None,
            "index": dg.MetadataValue.path(str(index)),
            "release_id": result.release_id,
        },
    )


def _record_success(context, con: duckdb.DuckDBPyConnection, settings, release_id: str) -> None:
    """The release is in place: record what this run built (pipeline.changes), when its dbt step ran (the tag
    it set says which periods it rebuilt); a run that only published records nothing."""
    run = context.instance.get_run_by_id(context.run.run_id)
    built = (run.tags if run else context.run.tags).get(changes.BUILT_SCOPE_TAG)
    if not built:
        context.log.info("no dbt build in this run: the last-success record is left as it was")
        return
    accounted, stat_cache = changes.stat_cache_from(con)
    record = changes.record_success(
        settings,
        run_id=context.run.run_id,
        release_id=str(release_id),
        accounted=accounted,
        scope=None if built == "all" else built,
        stat_cache=stat_cache,
    )
    context.log.info(
        f"last success recorded: {len(record['files'])} landed file(s), scope {record['scope']} "
        f"→ {settings.warehouse_dir / changes.STATE_FILE}"
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


defs = dg.Definitions(assets=[open_data_release], asset_checks=[release_integrity])

"""dbt models, seeds and tests as Dagster assets and asset checks.

The manifest is prepared by ``make manifest`` (``dbt parse``), never at import time of the code location.
Asset keys follow the warehouse: ``<schema>/<table>`` (``marts/fact_indicator_value``), so dbt sources in
schema ``raw`` connect to the ingest assets that write them.
"""

import json
import os
from collections.abc import Mapping
from typing import Any

import dagster as dg
import duckdb
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from pipeline.config import DBT_PROJECT_DIR
from pipeline.constants import OWNERS
from pipeline.partitions import PERIOD_TAG, dbt_period_vars, marts_freshness_policy
from pipeline.resources import WarehouseResource

DBT_PROJECT = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)

if not DBT_PROJECT.manifest_path.exists():
    raise FileNotFoundError(
        f"dbt manifest not found at {DBT_PROJECT.manifest_path}. Run `make manifest` (dbt parse) first; "
        "`make run`, `make ui` and `make test` do it for you."
    )

_FOLDER_GROUPS = {"staging": "staging", "intermediate": "intermediate", "marts": "marts"}


class NtmDbtTranslator(DagsterDbtTranslator):
    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])
        return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "reference"
        fqn = dbt_resource_props.get("fqn", [])
        for part in fqn[1:-1]:
            if part in _FOLDER_GROUPS:
                return _FOLDER_GROUPS[part]
        return "marts"

    def get_owners(self, dbt_resource_props: Mapping[str, Any]):
        return OWNERS


TRANSLATOR = NtmDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))

# Periods: the whole dbt project is one op (one `dbt build` per run). A run tagged ntm/period (see
# pipeline.partitions) passes the period as dbt vars: only the three incremental facts (fact_indicator_value,
# fact_submission, fact_task_progress: delete+insert on period_code) depend on it; the other models are
# rebuilt in full in any run, which is cheap.
PERIOD_MODELS = "fact_indicator_value+ fact_submission+ fact_task_progress+"
PREVIEW_ROWS = 5


def _with_run_metadata(context, events, warehouse: WarehouseResource, extra: dict[str, Any]):
    """Add the row count and a small preview of every built mart table to its materialization. Read after
    dbt has finished (the caller holds the writer lock; DuckDB has one writer per file)."""
    events = list(events)
    cache: dict[dg.AssetKey, dict[str, Any]] = {}
    path = warehouse.database
    con = duckdb.connect(str(path), read_only=True) if path.exists() else None
    try:
        for event in events:
            if not isinstance(event, dg.Output | dg.AssetMaterialization):
                yield event
                continue
            if isinstance(event, dg.Output):
                key = context.asset_key_for_output(event.output_name)
            else:
                key = event.asset_key
            meta: dict[str, Any] = dict(extra)
            if key in cache:
                meta.update(cache[key])
            elif con is not None and len(key.path) == 2 and key.path[0] == "marts":
                rel = f'marts."{key.path[1]}"'
                try:
                    meta["dagster/row_count"] = int(con.execute(f"select count(*) from {rel}").fetchone()[0])
                    preview = con.execute(f"select * from {rel} limit {PREVIEW_ROWS}").df()
                    meta["preview"] = dg.MetadataValue.md(preview.astype(str).to_markdown(index=False))
                except duckdb.Error:
                    pass
                cache[key] = {k: v for k, v in meta.items() if k in ("dagster/row_count", "preview")}
            yield event.with_metadata({**(event.metadata or {}), **meta})
    finally:
        if con is not None:
            con.close()


def _dbt_build(context, dbt: DbtCliResource, warehouse: WarehouseResource, dbt_vars: dict[str, str]):
    os.environ["NTM_WAREHOUSE_PATH"] = str(warehouse.database)
    warehouse.database.parent.mkdir(parents=True, exist_ok=True)
    args = ["build"]
    if dbt_vars:
        args += ["--vars", json.dumps(dbt_vars)]
    extra = {"dbt_vars": json.dumps(dbt_vars) if dbt_vars else "(none: every period)"}
    with warehouse.lock(context.log):
        context.log.info(f"dbt {' '.join(args)}")
        yield from _with_run_metadata(context, dbt.cli(args, context=context).stream(), warehouse, extra)


@dbt_assets(
    manifest=DBT_PROJECT.manifest_path,
    project=DBT_PROJECT,
    dagster_dbt_translator=TRANSLATOR,
    name="ntm_dbt",
)
def ntm_dbt_assets(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    """dbt build (seeds, staging, intermediate and marts, with their data and unit tests) on DuckDB.

    A run tagged ``ntm/period`` (``make period PERIOD=2026-Q2``, the sensor) passes the period as dbt vars:
    the incremental facts replace that quarter and its year. Without the tag every period is rebuilt."""
    period = context.run.tags.get(PERIOD_TAG)
    dbt_vars = dbt_period_vars(period)
    context.log.info(f"period {period or 'all'} → dbt vars {dbt_vars or 'none'}")
    yield from _dbt_build(context, dbt, warehouse, dbt_vars)


def _fresh_marts(spec: dg.AssetSpec) -> dg.AssetSpec:
    """Every mart is expected by the commune's deadline to the province (25th of the quarter's last month)."""
    if spec.key.path[0] == "marts":
        return spec.replace_attributes(freshness_policy=marts_freshness_policy)
    return spec


ntm_dbt_assets = ntm_dbt_assets.map_asset_specs(_fresh_marts)

defs = dg.Definitions(assets=[ntm_dbt_assets])

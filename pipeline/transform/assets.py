"""dbt models, seeds and tests as Dagster assets and asset checks.

The manifest is prepared by ``make manifest`` (``dbt parse``), never at import time of the code location.
Asset keys follow the warehouse: ``<schema>/<table>`` (``marts/fact_indicator_value``), so dbt sources in
schema ``raw`` connect to the ingest assets that write them.
"""


import os
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from pipeline.config import DBT_PROJECT_DIR
from pipeline.constants import OWNERS
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


@dbt_assets(
    manifest=DBT_PROJECT.manifest_path,
    project=DBT_PROJECT,
    dagster_dbt_translator=TRANSLATOR,
    name="ntm_dbt",
)
def ntm_dbt_assets(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    """dbt build (seeds, staging, intermediate and marts, with their data and unit tests) on DuckDB."""
    os.environ["NTM_WAREHOUSE_PATH"] = str(warehouse.database)
    warehouse.database.parent.mkdir(parents=True, exist_ok=True)
    with warehouse.lock(context.log):
        yield from dbt.cli(["build"], context=context).stream()


defs = dg.Definitions(assets=[ntm_dbt_assets])

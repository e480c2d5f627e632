"""dbt models, seeds and tests as Dagster assets and asset checks.

The manifest is prepared by ``make manifest`` (``dbt parse``), never at import time of the code location.
Asset keys follow the warehouse: ``<schema>/<table>`` (``marts/fact_indicator_value``), so dbt sources in
schema ``raw`` connect to the ingest assets that write them.
"""

import contextlib
import functools
import json
import os
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path
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

from pipeline import changes
from pipeline.config import export_for_dbt, get_settings
from pipeline.constants import OWNERS
from pipeline.lib.gx_context import prewarm_context
from pipeline.partitions import dbt_period_vars, marts_freshness_policy
from pipeline.resources import (
    DBT_PROJECT,
    WarehouseBusy,
    WarehouseResource,
    busy_message,
    dbt_connect_attempts,
)
from pipeline.transform import selection, unchanged
from pipeline.transform.check_descriptions import describe_test
from pipeline.transform.scope import Scope, run_scope

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

    def get_asset_check_spec(
        self,
        asset_spec: dg.AssetSpec,
        manifest: Mapping[str, Any],
        unique_id: str,
        project: DbtProject | None,
    ) -> dg.AssetCheckSpec | None:
        """dagster-dbt's check for a dbt test, with a bilingual description (pipeline.transform.check_descriptions)."""
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None:
            return None
        return spec._replace(description=describe_test(manifest, unique_id))


TRANSLATOR = NtmDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))

# Periods: the whole dbt project is one op (one `dbt build` per run). A run scoped to a period (tag ntm/period,
# or only submission files of one period changed) passes it in NTM_DBT_PERIOD_CODE: only the incremental
# models (the three facts, mart_hamlet_indicator, mart_hamlet_indicator_restated: delete+insert on period_code)
# depend on it; the other models of the selection are rebuilt in full.
#: run tag: the dbt --select of the run's build ("all": every node), set before dbt starts
DBT_SELECT_TAG = "ntm/dbt_select"
#: dbt's partial-parse state of the last successful build, beside the warehouse file (_target_path)
PARSE_CACHE = "dbt_partial_parse.msgpack"
PREVIEW_ROWS = 5


def _is_mart(key: dg.AssetKey | None) -> bool:
    """A table of the marts schema. Not its views (the roll-ups, the restatement): counting a view's rows
    computes it (the restatement alone took 1-3 s at province after every build that rebuilt it)."""
    return key is not None and len(key.path) == 2 and key.path[0] == "marts" and key.path[1] in _mart_tables()


@functools.cache
def _mart_tables() -> frozenset[str]:
    return frozenset(
        n["name"]
        for n in _manifest()["nodes"].values()
        if n["resource_type"] == "model" and n["schema"] == "marts" and n["config"]["materialized"] != "view"
    )


def _event_key(context, event) -> dg.AssetKey | None:
    if isinstance(event, dg.Output):
        return context.asset_key_for_output(event.output_name)
    return getattr(event, "asset_key", None)


def _with_run_metadata(context, events, warehouse: WarehouseResource, extra: dict[str, Any]):
    """Add the row count and a small preview of every built mart table (not view) to its materialization.

    The events are held until dbt has exited: DuckDB has one writer per file and dbt holds it while it runs,
    and Dagster wants a multi-asset's outputs in topological order (``marts/dim_period`` comes first), so
    the marts' events cannot simply be held back while the others pass. When dbt fails, what it built is
    still recorded before the error propagates."""
    held: list[Any] = []
    try:
        for event in events:
            held.append(event)
    except Exception:
        yield from _mart_events(context, held, warehouse, extra)
        raise
    yield from _mart_events(context, held, warehouse, extra)


def _mart_events(context, held: list[Any], warehouse: WarehouseResource, extra: dict[str, Any]):
    if not held:
        return
    with contextlib.ExitStack() as stack:
        exists = warehouse.database.exists()
        con = stack.enter_context(warehouse.open(context.log, read_only=True)) if exists else None
        yield from _annotated(context, held, con, extra)


def _annotated(context, held: list[Any], con: duckdb.DuckDBPyConnection | None, extra: dict[str, Any]):
    """Each held event, a mart's with its row count and preview (read through ``con`` when there is one)."""
    cache: dict[dg.AssetKey, dict[str, Any]] = {}
    for event in held:
        if not isinstance(event, dg.Output | dg.AssetMaterialization):
            yield event
            continue
        key = _event_key(context, event)
        if not _is_mart(key):
            yield event.with_metadata({**(event.metadata or {}), **extra})
            continue
        if key not in cache:
            cache[key] = {}
            if con is not None:
                rel = f'marts."{key.path[1]}"'
                try:
                    rows = con.execute(f"select count(*) from {rel}").fetchone()[0]
                    preview = con.execute(f"select * from {rel} limit {PREVIEW_ROWS}").df()
                    cache[key] = {
                        "dagster/row_count": int(rows),
                        "preview": dg.MetadataValue.md(preview.astype(str).to_markdown(index=False)),
                    }
                except duckdb.Error:
                    pass
        yield event.with_metadata({**(event.metadata or {}), **extra, **cache[key]})


# dbt's unit tests check the models' SQL on fixed inputs, not the data a run loads: the same result in every
# run of one code version. They run where the code is tested (`make test`: tests/dbt/test_marts.py builds the
# mini dataset with every unit test), not in each pipeline run (1.6-1.9 s of a commune run's dbt build).
UNIT_TESTS_EXCLUDED = ("--exclude-resource-type", "unit_test")


def _is_subset(context) -> bool:
    """The run selects only some of the dbt assets or checks (a UI selection, the sensor's run for some
    sources): Dagster's selection decides what dbt builds, as it always did."""
    a = context.assets_def
    return a.keys_by_output_name != a.node_keys_by_output_name or (
        a.check_specs_by_output_name != a.node_check_specs_by_output_name
    )


def _selection(context, scope: Scope) -> selection.Selection:
    manifest = _manifest()
    if _is_subset(context):
        return selection.select_for(manifest, None, "the run selects some dbt assets: Dagster's selection")
    if scope.raw_tables is None:
        return selection.select_for(manifest, None, scope.tables_reason or scope.reason)
    return selection.select_for(manifest, set(scope.raw_tables), scope.tables_reason)


@functools.cache
def _manifest() -> dict[str, Any]:
    """The dbt manifest the assets were defined from (read once per process)."""
    return json.loads(DBT_PROJECT.manifest_path.read_text(encoding="utf-8"))


def _dbt_build(context, dbt: DbtCliResource, warehouse: WarehouseResource):
    export_for_dbt(warehouse.database)  # profiles.yml: the file dbt opens
    warehouse.database.parent.mkdir(parents=True, exist_ok=True)
    code_fp = changes.code_fingerprint()
    with warehouse.lock(context.log):
        scope = run_scope(context, warehouse, code_fp)
        chosen = _selection(context, scope)
        dbt_vars = dbt_period_vars(scope.period)
        select = " ".join(chosen.select) if chosen.select is not None else "all"
        context.log.info(
            f"scope: {scope.period or 'every period'} ({scope.reason}) → dbt period "
            f"{json.dumps(dbt_vars) if dbt_vars else 'none'} (NTM_DBT_PERIOD_CODE); tests' period "
            f"{scope.tests_period or 'none: every row'} (NTM_DBT_TEST_PERIOD_CODE); "
            f"nodes: {select} ({len(chosen.rebuilt)} of {len(selection.buildable(_manifest()))}: "
            f"{chosen.reason})"
        )
        # the period reaches dbt as NTM_DBT_PERIOD_CODE (macros/periods.sql), not --vars: a changed var makes
        # dbt parse the whole project again, an environment variable only the three facts that read it
        args = ["build", *UNIT_TESTS_EXCLUDED, *chosen.dbt_args()]
        extra = {
            "dbt_vars": json.dumps(dbt_vars) if dbt_vars else "(none: every period)",
            "dbt_tests_period": scope.tests_period or "(none: every row)",
            "scope": f"{scope.period or 'every period'}: {scope.reason}",
            "dbt_select": select,
        }
        # the gate and publish steps (and a person) can read what this run's dbt build selected
        context.instance.add_run_tags(context.run.run_id, {DBT_SELECT_TAG: select[:1000]})
        # until the publish step records this run's success, the record says a build is under way: a kill or a
        # failed dbt build leaves the mark, and the next run rebuilds every period (pipeline.changes)
        changes.mark_building(get_settings(), context.run.run_id)
        # outputs of the models not rebuilt first: they are upstream of (or beside) every rebuilt one
        manifest = _manifest()
        yield from unchanged.unchanged_outputs(context, chosen, select, manifest, TRANSLATOR)
        yield from unchanged.unchanged_checks(context, chosen, manifest, TRANSLATOR, DBT_PROJECT)
        if not chosen.rebuilt:
            context.log.info("dbt: no node to rebuild, dbt is not started")
        else:
            shown = [a if len(a) < 200 else f"<{len(chosen.exclude)} nodes not rebuilt>" for a in args]
            context.log.info(f"dbt {' '.join(shown)}")
            # the quality gate runs next in this process: import GX while dbt runs in its subprocess
            prewarm_context()
            # dbt opens the file itself: wait here for a reader to let go, and let dbt-duckdb retry its own
            # connect for as long (profiles.yml, retries) should a reader slip in while dbt starts
            warehouse.wait_until_free(context.log)
            export_for_dbt(
                warehouse.database, dbt_connect_attempts(warehouse.wait_s), scope.period, scope.tests_period
            )
            target = _target_path(context, warehouse)
            try:
                invocation = dbt.cli(args, context=context, target_path=target)
                yield from _with_run_metadata(context, invocation.stream(), warehouse, extra)
            except Exception as exc:
                if "Could not set lock on file" not in str(exc):
                    raise
                raise WarehouseBusy(busy_message(warehouse.database, str(exc), warehouse.wait_s)) from exc
            _log_run_results(context, invocation)
            _keep_parse_cache(target, warehouse)
        # only reached when dbt build succeeded (a failure raises above): the publish step records the last
        # success with the periods this build rebuilt (pipeline.changes)
        context.instance.add_run_tags(context.run.run_id, {changes.BUILT_SCOPE_TAG: scope.period or "all"})


def _parse_cache(warehouse: WarehouseResource) -> Path:
    return warehouse.database.parent / PARSE_CACHE


def _target_path(context, warehouse: WarehouseResource) -> Path:
    """The dbt target folder of this invocation (one per invocation, as dagster-dbt makes it), holding the
    partial-parse state the last successful build on this warehouse left (:func:`_keep_parse_cache`).

    dbt parses the project again (5-20 s) unless its saved state matches: dbt version, vars, files and the
    profile, whose ``path`` is this warehouse. The one ``make manifest`` leaves in dbt_project/target (which
    dagster-dbt copies when there is no other) is for the default warehouse only, so a warehouse elsewhere (a
    test, the benchmark, NTM_WAREHOUSE) paid a full parse in every run. The state is only a cache: dbt checks
    all of the above and every file's checksum, and parses what changed."""
    target = DBT_PROJECT.project_dir / DBT_PROJECT.target_path
    path = target / f"ntm_dbt-{context.run.run_id[:7]}-{uuid.uuid4().hex[:7]}"
    path.mkdir(parents=True, exist_ok=True)
    cache = _parse_cache(warehouse)
    if cache.is_file():
        with contextlib.suppress(OSError):
            shutil.copyfile(cache, path / "partial_parse.msgpack")
    return path


def _keep_parse_cache(target: Path, warehouse: WarehouseResource) -> None:
    """After a successful build: dbt's partial-parse state beside the warehouse, for the next run."""
    saved = target / "partial_parse.msgpack"
    if not saved.is_file():
        return
    cache = _parse_cache(warehouse)
    tmp = cache.with_suffix(".tmp")
    with contextlib.suppress(OSError):
        shutil.copyfile(saved, tmp)
        os.replace(tmp, cache)


def _log_run_results(context, invocation) -> None:
    """One line: what dbt ran (from its run_results.json), and where the file is."""
    path = invocation.target_path / "run_results.json"
    try:
        results = json.loads(path.read_text(encoding="utf-8"))["results"]
    except (OSError, ValueError, KeyError):
        return
    kinds: dict[str, int] = {}
    for r in results:
        kind = r["unique_id"].split(".", 1)[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    took = sum(float(r.get("execution_time") or 0) for r in results)
    context.log.info(
        f"dbt ran {len(results)} node(s) ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}; "
        f"{took:.1f} s of node time): {path}"
    )


@dbt_assets(
    manifest=DBT_PROJECT.manifest_path,
    project=DBT_PROJECT,
    dagster_dbt_translator=TRANSLATOR,
    name="ntm_dbt",
)
def ntm_dbt_assets(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    """dbt build (seeds, staging, intermediate and marts, with their data tests) on DuckDB. dbt's unit tests
    test the models' SQL, not the data: they run in `make test` (tests/dbt), not in every run.

    A run tagged ``ntm/period`` (``make period PERIOD=2026-Q2``, the sensor) passes the period to dbt
    (NTM_DBT_PERIOD_CODE): the incremental facts replace that quarter and its year. Without the tag the period
    and the nodes to rebuild follow what changed since the last successful build (pipeline.transform.scope,
    pipeline.transform.selection); the models not rebuilt are yielded with ``rebuilt: false``."""
    yield from _dbt_build(context, dbt, warehouse)


def _fresh_marts(spec: dg.AssetSpec) -> dg.AssetSpec:
    """Every mart is expected by the commune's deadline to the province (25th of the quarter's last month)."""
    if spec.key.path[0] == "marts":
        return spec.replace_attributes(freshness_policy=marts_freshness_policy)
    return spec


ntm_dbt_assets = ntm_dbt_assets.map_asset_specs(_fresh_marts)

defs = dg.Definitions(assets=[ntm_dbt_assets])

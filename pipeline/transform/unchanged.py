"""What the dbt step reports for the nodes a run does not rebuild (pipeline.transform.selection decides which):
an Output for each model and seed, so that the steps downstream of it run, and the latest recorded result of
each dbt test not run, so that no blocking check is left without one. Their tables are the ones the last
build of them left, unchanged."""

from __future__ import annotations

from typing import Any

import dagster as dg
from dagster_dbt.asset_utils import get_asset_check_key_for_test

from pipeline.transform import selection


def unchanged_outputs(
    context, chosen: selection.Selection, run_tag: str, manifest: dict[str, Any], translator
):
    """An Output for every dbt model and seed the run does not rebuild, so that the steps downstream of it
    (quality gate, publish) run: its table is the one the last build of it left, and the Output says so
    (``rebuilt`` false, the run that last rebuilt it, why, and the dbt tests of it that were not run)."""
    nodes = manifest["nodes"]
    skipped = [
        uid
        for uid in selection.buildable(manifest)
        if uid not in chosen.rebuilt and nodes[uid]["resource_type"] in selection.BUILT_TYPES
    ]
    if not skipped:
        return
    tests_of: dict[str, int] = {}
    for uid in selection.buildable(manifest) - chosen.rebuilt:
        if nodes[uid]["resource_type"] == "test":
            attached = nodes[uid].get("attached_node") or next(iter(nodes[uid]["depends_on"]["nodes"]), None)
            tests_of[attached] = tests_of.get(attached, 0) + 1
    keys = {uid: translator.get_asset_key(nodes[uid]) for uid in skipped}
    latest = context.instance.get_latest_materialization_events(list(keys.values()))
    not_run = sum(tests_of.values())
    context.log.info(
        f"dbt: {len(skipped)} model(s)/seed(s) and {not_run} test(s) not rebuilt, their inputs unchanged "
        f"({chosen.reason}): {', '.join(sorted(k.to_user_string() for k in keys.values()))}"
    )
    order = {uid: i for i, uid in enumerate(topological(manifest))}
    for uid in sorted(skipped, key=lambda u: order.get(u, 0)):
        key = keys[uid]
        event = latest.get(key)
        since = "(không rõ / not recorded in this Dagster instance)"
        if event is not None:
            meta = event.asset_materialization.metadata if event.asset_materialization else {}
            carried = meta.get("unchanged_since_run")
            since = str(carried.value) if carried is not None else event.run_id
        yield dg.Output(
            None,
            output_name=context.assets_def.get_output_name_for_asset_key(key),
            metadata={
                "rebuilt": False,
                "unchanged_since_run": since,
                "why": (
                    "Không xây lại: đầu vào không đổi từ lần xây trước / not rebuilt: no input changed since "
                    f"its last build ({chosen.reason})"
                ),
                "dbt_tests_not_run": tests_of.get(uid, 0),
                "dbt_select": run_tag,
            },
        )


#: how far back the latest evaluation of a check is looked for: this run has already recorded each check as
#: planned, and a killed run may have left another planned record without an evaluation
CHECK_HISTORY = 10


def unchanged_checks(context, chosen: selection.Selection, manifest: dict[str, Any], translator, project):
    """The result of every dbt test the run does not run, carried from its latest evaluation in this Dagster
    instance: its inputs are the tables the last build left, unchanged, so its outcome is the one recorded then
    (a warning stays a warning, a failure a failure). Without it Dagster would report each of them as
    "emitted no result" and let publish proceed "without gating on it". A test with no recorded evaluation
    (another Dagster instance) gets no result, and the log says how many."""
    nodes = manifest["nodes"]
    declared = set(context.selected_asset_check_keys)
    keys = {}
    for uid in sorted(selection.buildable(manifest) - chosen.rebuilt):
        if nodes[uid]["resource_type"] != "test":
            continue
        key = get_asset_check_key_for_test(manifest, translator, uid, project)
        if key is not None and key in declared:
            keys[uid] = key
    if not keys:
        return
    storage = context.instance.event_log_storage
    carried = unknown = 0
    for key in sorted(keys.values(), key=lambda k: k.to_user_string()):
        record, evaluation = latest_evaluation(storage, key, context.run.run_id)
        if record is None:
            unknown += 1
            continue
        since = evaluation.metadata.get("reused_from_run")
        carried += 1
        yield dg.AssetCheckResult(
            asset_key=key.asset_key,
            check_name=key.name,
            passed=evaluation.passed,
            severity=evaluation.severity,
            metadata={
                "reused": True,
                "reused_from_run": since.value if since is not None else record.run_id,
                "why": (
                    "Không chạy lại: bảng không đổi từ lần kiểm tra trước, kết quả giữ nguyên / not run again: "
                    f"its tables are unchanged since that evaluation ({chosen.reason})"
                ),
            },
        )
    context.log.info(
        f"dbt: {carried} test result(s) carried from their latest evaluation (tables unchanged)"
        + (f"; {unknown} with no recorded evaluation in this Dagster instance: no result" if unknown else "")
    )


def latest_evaluation(storage, key: dg.AssetCheckKey, run_id: str):
    """(record, evaluation) of the latest evaluation of ``key`` by another run than ``run_id``, or (None, None)."""
    for record in storage.get_asset_check_execution_history(key, limit=CHECK_HISTORY):
        entry = record.event
        evaluation = entry.dagster_event.event_specific_data if entry and entry.dagster_event else None
        if record.run_id != run_id and isinstance(evaluation, dg.AssetCheckEvaluation):
            return record, evaluation
    return None, None


def topological(manifest: dict[str, Any]) -> list[str]:
    """The nodes, every parent before its children."""
    parents = manifest["parent_map"]
    out: list[str] = []
    seen: set[str] = set()

    def visit(uid: str) -> None:
        if uid in seen:
            return
        seen.add(uid)
        for p in parents.get(uid, ()):
            visit(p)
        out.append(uid)

    for uid in sorted(manifest["nodes"]):
        visit(uid)
    return out

"""dbt layers flow one way (issue 16, item 3): staging reads sources and seeds; intermediate reads staging,
other intermediate models and seeds; only marts read marts. Read from the parsed manifest
(dbt_project/target/manifest.json, `make manifest`), so no warehouse is built."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MANIFEST = REPO / "dbt_project" / "target" / "manifest.json"
LAYERS = ("staging", "intermediate", "marts")
# what a model of each layer may read: a layer name, or "source" / "seed" (dbt resource types)
MAY_READ = {
    "staging": {"source", "seed", "staging"},
    "intermediate": {"source", "seed", "staging", "intermediate"},
    "marts": {"source", "seed", "staging", "intermediate", "marts"},
}


def layer_of(node: dict) -> str:
    """``source`` / ``seed`` for those resource types, else the model's folder under models/."""
    if node["resource_type"] in ("source", "seed"):
        return node["resource_type"]
    parts = Path(node["original_file_path"]).parts
    if len(parts) > 2 and parts[0] == "models" and parts[1] in LAYERS:
        return parts[1]
    raise AssertionError(
        f"model {node['name']} is not in models/<{'|'.join(LAYERS)}>/: {node['original_file_path']}"
    )


def layer_violations(manifest: dict) -> list[str]:
    """``"<model> (<layer>) reads <dep> (<layer>)"`` for every edge that flows backwards."""
    resources = {**manifest["nodes"], **manifest["sources"]}
    found = []
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model":
            continue
        layer = layer_of(node)
        for dep_id in node["depends_on"]["nodes"]:
            dep_layer = layer_of(resources[dep_id])
            if dep_layer not in MAY_READ[layer]:
                found.append(f"{node['name']} ({layer}) reads {resources[dep_id]['name']} ({dep_layer})")
    return sorted(found)


@pytest.fixture(scope="module")
def manifest() -> dict:
    if not MANIFEST.exists():
        pytest.fail(f"{MANIFEST} missing: run `make manifest` (dbt parse) first")
    return json.loads(MANIFEST.read_text(encoding="utf-8"))


def test_dbt_layers_flow_one_way(manifest):
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    assert {layer_of(n) for n in models} == set(LAYERS)
    assert layer_violations(manifest) == []


def _model(name: str, folder: str, deps: list[str]) -> tuple[str, dict]:
    node = {
        "name": name,
        "resource_type": "model",
        "original_file_path": f"models/{folder}/{name}.sql",
        "depends_on": {"nodes": [f"model.ntm.{d}" for d in deps]},
    }
    return f"model.ntm.{name}", node


def test_an_intermediate_model_reading_a_mart_is_reported():
    nodes = dict(
        [
            _model("stg_a", "staging", []),
            _model("int_b", "intermediate", ["stg_a"]),
            _model("fact_c", "marts", ["int_b"]),
            _model("int_d", "intermediate", ["fact_c", "int_b"]),
            _model("stg_e", "staging", ["int_b"]),
        ]
    )
    assert layer_violations({"nodes": nodes, "sources": {}}) == [
        "int_d (intermediate) reads fact_c (marts)",
        "stg_e (staging) reads int_b (intermediate)",
    ]

"""datapackage.json polish: titles from the dbt models, foreign keys from the dbt relationships tests, the
`bytes` property Frictionless refuses on Parquet. Fast: the manifest and small files only (the real release is
checked in tests/e2e/test_materialize_all.py)."""

from __future__ import annotations

import json
from pathlib import Path

import frictionless
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.publish.dbt_meta import (
    first_sentence,
    model_title,
    relationship_foreign_keys,
    split_bilingual,
)

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "dbt_project" / "target" / "manifest.json"


@pytest.mark.parametrize(
    ("text", "sentence"),
    [
        ("Xã/phường/đặc khu (3.321, QĐ 19/2025); Đồng Lộc = 18484.", "Xã/phường/đặc khu (3.321, QĐ 19/2025); Đồng Lộc = 18484"),
        ("Nhiệm vụ của kế hoạch (phụ lục I.1 - V.2).", "Nhiệm vụ của kế hoạch (phụ lục I.1 - V.2)"),
        ("Plan tasks (appendix I.1 - V.2) with lead units. Second.", "Plan tasks (appendix I.1 - V.2) with lead units"),
        ("Sản phẩm OCOP. Hạt: sản phẩm (x. y) x giấy.", "Sản phẩm OCOP"),
        ("expiring within 6 months", "expiring within 6 months"),
    ],
)  # fmt: skip
def test_first_sentence_is_never_cut_inside_a_number_or_parentheses(text, sentence):
    assert first_sentence(text) == sentence


def _model(description: str, meta: dict | None = None) -> dict:
    return {"description": description, "config": {"meta": meta or {}}}


def test_model_title_prefers_the_meta_title_and_falls_back_to_whole_sentences():
    node = _model(
        "Tên dài (3.321). Câu hai. / Long name (3,321). Second.", {"title_vi": "Tên", "title_en": "Name"}
    )
    assert model_title(node) == ("Tên", "Name")
    assert model_title(_model("Tên dài (3.321). Câu hai. / Long name (3,321). Second.")) == (
        "Tên dài (3.321)",
        "Long name (3,321)",
    )
    assert split_bilingual("  a  b / c   d ") == ("a b", "c d")


def _rel_test(child: str, column, parent: str, field, **config) -> dict:
    key = "column_names" if isinstance(column, list) else "column_name"
    fkey = "fields" if isinstance(field, list) else "field"
    return {
        "resource_type": "test",
        "attached_node": f"model.ntm.{child}",
        "config": {"severity": "ERROR", "enabled": True, **config},
        "test_metadata": {"name": "relationships", "kwargs": {key: column, "to": f"ref('{parent}')", fkey: field}},
    }  # fmt: skip


def _rel_set(child: str, *fks: tuple[str, str, str], **config) -> dict:
    """A relationships_set test (dbt_project/tests/generic): several foreign keys in one node."""
    keys = [{"column": c, "to": f"ref('{parent}')", "field": f} for c, parent, f in fks]
    return {
        "resource_type": "test",
        "attached_node": f"model.ntm.{child}",
        "config": {"severity": "ERROR", "enabled": True, **config},
        "test_metadata": {"name": "relationships_set", "kwargs": {"foreign_keys": keys}},
    }


def test_every_foreign_key_of_a_relationships_set_test_is_declared():
    nodes = {
        f"model.ntm.{m}": {"resource_type": "model", "name": m} for m in ("fact", "dim_a", "dim_b", "hidden")
    }
    tests = [
        _rel_set("fact", ("a_code", "dim_a", "a_code"), ("b_code", "dim_b", "code"), ("h", "hidden", "h")),
        _rel_set("dim_b", ("a_code", "dim_a", "a_code"), severity="warn"),  # may fail without blocking
    ]
    manifest = {"nodes": {**nodes, **{f"test.ntm.t{i}": t for i, t in enumerate(tests)}}}
    assert relationship_foreign_keys(manifest, ["fact", "dim_a", "dim_b"]) == {
        "fact": [(["a_code"], "dim_a", ["a_code"]), (["b_code"], "dim_b", ["code"])],
    }


def test_foreign_keys_only_for_published_pairs_and_tests_that_hold_on_every_row():
    models = ["fact", "dim_a", "dim_b", "hidden"]
    nodes = {f"model.ntm.{m}": {"resource_type": "model", "name": m} for m in models}
    tests = [
        _rel_test("fact", "a_code", "dim_a", "a_code"),
        _rel_test("fact", "a_code", "dim_a", "a_code"),  # the same join twice: declared once
        _rel_test("fact", "sub_id", "hidden", "sub_id"),  # parent not published
        _rel_test("hidden", "a_code", "dim_a", "a_code"),  # child not published
        _rel_test("fact", "b_code", "dim_b", "b_code", where="b_code <> 'x'"),  # not every row
        _rel_test("fact", "b_code", "dim_b", "b_code", severity="warn"),  # may fail without blocking
        _rel_test("fact", ["b_code", "period"], "dim_b", ["b_code", "period"]),  # composite
        _rel_test("dim_a", "parent_code", "dim_a", "a_code"),  # self-reference
    ]
    manifest = {"nodes": {**nodes, **{f"test.ntm.t{i}": t for i, t in enumerate(tests)}}}
    fks = relationship_foreign_keys(manifest, ["fact", "dim_a", "dim_b"])
    assert fks == {
        "dim_a": [(["parent_code"], "dim_a", ["a_code"])],
        "fact": [(["a_code"], "dim_a", ["a_code"]), (["b_code", "period"], "dim_b", ["b_code", "period"])],
    }


@pytest.fixture(scope="module")
def manifest() -> dict:
    if not MANIFEST.is_file():
        pytest.fail(f"{MANIFEST} missing: run `make manifest` first")
    return json.loads(MANIFEST.read_text(encoding="utf-8"))


def test_every_published_model_has_a_complete_bilingual_meta_title(manifest):
    from pipeline.publish.assets import PUBLISHED

    nodes = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    for name in PUBLISHED:
        meta = nodes[name]["config"].get("meta") or {}
        vi, en = meta.get("title_vi"), meta.get("title_en")
        assert vi and en and vi != en, f"{name}: meta title_vi / title_en missing in its .yml"
        # whole words, balanced parentheses: nothing cut
        for t in (vi, en):
            assert t.count("(") == t.count(")") and t[-1] not in ",;:/-(" and len(t) <= 120, (name, t)
        assert model_title(nodes[name]) == (vi, en)


def test_the_manifest_foreign_keys_cover_dim_hamlet_and_the_marts(manifest):
    from pipeline.publish.assets import PUBLISHED

    fks = relationship_foreign_keys(manifest, PUBLISHED)
    refs = {(child, tuple(f), parent) for child, lst in fks.items() for f, parent, _ in lst}
    assert ("mart_hamlet_indicator", ("hamlet_key",), "dim_hamlet") in refs
    assert ("dim_hamlet", ("commune_code",), "dim_commune") in refs
    assert ("mart_satisfaction", ("period_code",), "dim_period") in refs
    assert all(parent in PUBLISHED and child in PUBLISHED for child, _, parent in refs)
    assert not any(parent == "fact_submission" for _, _, parent in refs)  # not published


def test_frictionless_still_refuses_bytes_on_parquet(tmp_path):
    """Why the resources carry ``ntm:bytes`` and not the standard ``bytes``: Frictionless 5.21 computes no
    byte count for Parquet and fails every resource that declares one. When this test fails, Frictionless
    accepts it: add ``bytes`` to single-file resources in pipeline.publish.datapackage.resource_descriptor."""
    pq.write_table(pa.table({"a": [1, 2]}), tmp_path / "t.parquet")
    size = (tmp_path / "t.parquet").stat().st_size
    res = {"name": "t", "path": "t.parquet", "format": "parquet", "type": "table", "bytes": size}
    (tmp_path / "datapackage.json").write_text(json.dumps({"resources": [res]}))
    report = frictionless.validate(str(tmp_path / "datapackage.json"))
    assert not report.valid
    assert [e.type for t in report.tasks for e in t.errors] == ["byte-count"]
    res.pop("bytes")
    (tmp_path / "datapackage.json").write_text(json.dumps({"resources": [res]}))
    assert frictionless.validate(str(tmp_path / "datapackage.json")).valid

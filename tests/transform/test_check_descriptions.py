"""Every asset check made from a dbt test carries a bilingual description (Vietnamese first, English second):
the test's own description from its .yml, or one generated from the test kind, table and column
(pipeline.transform.check_descriptions). Reads the manifest of `make manifest`; no dbt run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pipeline.lib.dbt_tests import rules_of
from pipeline.transform.check_descriptions import describe_test

REPO = Path(__file__).resolve().parents[2]
MANIFEST = REPO / "dbt_project" / "target" / "manifest.json"
VI = re.compile(r"[àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ]", re.IGNORECASE)
EN = re.compile(r"\b(the|of|is|are|has|every|no|column|rows?|passes|when|never|only)\b")


def _bilingual(text: str) -> tuple[str, str]:
    assert " / " in text, f"not '<Vietnamese> / <English>': {text!r}"
    vi, en = text.split(" / ", 1)
    assert VI.search(vi), f"the first half is not Vietnamese: {text!r}"
    assert EN.search(en) and not VI.search(re.sub(r'"[^"]*"', "", en)), (
        f"the second half is not English: {text!r}"
    )
    return vi, en


@pytest.fixture(scope="module")
def dbt_checks() -> list[tuple[str, object]]:
    from dagster_dbt.asset_utils import DAGSTER_DBT_UNIQUE_ID_METADATA_KEY

    from pipeline.definitions import defs

    graph = defs.get_repository_def().asset_graph
    out = []
    for key in graph.asset_check_keys:
        spec = graph.get_check_spec(key)
        unique_id = (spec.metadata or {}).get(DAGSTER_DBT_UNIQUE_ID_METADATA_KEY)
        if unique_id:
            out.append((unique_id, spec))
    return out


def test_every_dbt_test_check_has_a_bilingual_description(dbt_checks):
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    tests = {uid for uid, n in manifest["nodes"].items() if n["resource_type"] == "test"}
    generic = {uid for uid in tests if manifest["nodes"][uid].get("test_metadata")}
    # a singular test on several models without a `meta.dagster.ref` is run by dbt but is no asset check
    assert generic <= {uid for uid, _ in dbt_checks} <= tests
    for unique_id, spec in dbt_checks:
        node = manifest["nodes"][unique_id]
        vi, en = _bilingual(spec.description or "")
        table = spec.asset_key.path[-1]
        kind = (node.get("test_metadata") or {}).get("name")
        if kind and not node.get("description"):
            # generated: names the test kind, the table and the column it checks, in both halves
            assert vi.startswith(f"{kind}: "), spec.description
            assert table in vi and table in en, spec.description
            if node.get("column_name"):
                assert node["column_name"] in vi and node["column_name"] in en, spec.description
            # a set-based test names every column, key and foreign key it checks, in both halves
            for rule in rules_of(node):
                assert all(c in vi and c in en for c in rule.columns), (rule, spec.description)
        if node["config"].get("severity", "error").lower() == "warn":
            assert "cảnh báo" in vi and "warn" in en, spec.description


def test_singular_tests_have_their_own_descriptions():
    """The singular tests (dbt_project/tests/*.sql) are described in dbt_project/tests/_singular_tests.yml."""
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    singular = [
        n for n in manifest["nodes"].values() if n["resource_type"] == "test" and not n.get("test_metadata")
    ]
    assert singular
    for node in singular:
        assert node.get("description"), (
            f"{node['original_file_path']} has no description in _singular_tests.yml"
        )
        _bilingual(describe_test(manifest, node["unique_id"]))


def _manifest(test: dict, *parents: dict) -> dict:
    nodes = {p["unique_id"]: p for p in parents}
    test = {
        "resource_type": "test",
        "config": {"severity": "ERROR"},
        "depends_on": {"nodes": list(nodes)},
        **test,
    }
    nodes[test["unique_id"]] = test
    return {"nodes": nodes, "sources": {}}


FACT = {"unique_id": "model.ntm.fact_x", "resource_type": "model", "name": "fact_x", "schema": "marts"}
DIM = {"unique_id": "model.ntm.dim_hamlet", "resource_type": "model", "name": "dim_hamlet", "schema": "marts"}


@pytest.mark.parametrize(
    ("meta", "column", "expected"),
    [
        (
            {"name": "not_null", "kwargs": {"column_name": "hamlet_code"}},
            "hamlet_code",
            "not_null: cột hamlet_code của marts.fact_x không rỗng. / column hamlet_code of marts.fact_x is never null.",
        ),
        (
            {"name": "unique", "kwargs": {"column_name": "k"}},
            "k",
            "unique: cột k của marts.fact_x không có giá trị trùng. / column k of marts.fact_x has no duplicate values.",
        ),
        (
            {"name": "accepted_values", "kwargs": {"column_name": "level", "values": ["thôn", "xã", 3]}},
            "level",
            'accepted_values: cột level của marts.fact_x chỉ nhận các giá trị "thôn", "xã", 3. / '
            'column level of marts.fact_x only takes the values "thôn", "xã", 3.',
        ),
        (
            {
                "name": "relationships",
                "kwargs": {"column_name": "hamlet_code", "to": "ref('dim_hamlet')", "field": "code"},
            },
            "hamlet_code",
            "relationships: mọi giá trị khác rỗng của cột hamlet_code của marts.fact_x có trong cột code của "
            "marts.dim_hamlet. / every non-null value of column hamlet_code of marts.fact_x exists in column code "
            "of marts.dim_hamlet.",
        ),
        (
            {"name": "unique_keys", "kwargs": {"columns": ["k"], "grains": [["a", "b"]]}},
            None,
            "unique_keys: trong marts.fact_x, cột k không có giá trị trùng; không có hai dòng trùng bộ cột (a, b), "
            "rỗng coi như bằng nhau. / in marts.fact_x: column k has no duplicate values; no two rows share the "
            "same (a, b), nulls comparing equal.",
        ),
        (
            {"name": "accepted_values_set", "kwargs": {"columns": {"level": ["thôn", "xã"], "n": [1, 2]}}},
            None,
            'accepted_values_set: trong marts.fact_x, cột level chỉ nhận các giá trị "thôn", "xã"; cột n chỉ nhận '
            'các giá trị 1, 2. / in marts.fact_x: column level only takes the values "thôn", "xã"; column n only '
            "takes the values 1, 2.",
        ),
        (
            {
                "name": "relationships_set",
                "kwargs": {
                    "foreign_keys": [{"column": "hamlet_code", "to": "ref('dim_hamlet')", "field": "code"}]
                },
            },
            None,
            "relationships_set: trong marts.fact_x, mọi giá trị khác rỗng của cột hamlet_code có trong cột code của "
            "marts.dim_hamlet. / in marts.fact_x: every non-null value of column hamlet_code exists in column code "
            "of marts.dim_hamlet.",
        ),
        (
            {"name": "not_null_set", "kwargs": {"columns": ["a", "b"]}},
            None,
            "not_null_set: trong marts.fact_x, cột a không rỗng; cột b không rỗng. / in marts.fact_x: column a is "
            "never null; column b is never null.",
        ),
        (
            {"name": "expect_between", "kwargs": {"column_name": "v", "min": 0}},
            "v",
            'expect_between: kiểm thử dbt expect_between trên marts.fact_x, cột v, tham số {"min": 0}. / '
            'dbt test expect_between on marts.fact_x, column v, arguments {"min": 0}.',
        ),
    ],
)
def test_generated_descriptions(meta, column, expected):
    test = {"unique_id": "test.ntm.t", "name": "t", "test_metadata": meta, "column_name": column}
    test["attached_node"] = FACT["unique_id"]
    assert describe_test(_manifest(test, FACT, DIM), "test.ntm.t") == expected


def test_own_description_wins_and_warn_level_and_where_are_said():
    own = {"unique_id": "test.ntm.t", "name": "t", "description": "  Mô tả  riêng / own\n description "}
    own["test_metadata"] = {"name": "not_null", "kwargs": {}}
    assert describe_test(_manifest(own, FACT), "test.ntm.t") == "Mô tả riêng / own description"

    warn = {"unique_id": "test.ntm.t", "name": "t", "attached_node": FACT["unique_id"], "column_name": "c"}
    warn["test_metadata"] = {"name": "not_null", "kwargs": {"column_name": "c"}}
    m = _manifest(warn, FACT)
    m["nodes"]["test.ntm.t"]["config"] = {"severity": "warn", "where": "period_code\n  = '2026-Q1'"}
    text = describe_test(m, "test.ntm.t")
    vi, en = _bilingual(text)
    assert "không chặn công bố" in vi and "never blocks publishing" in en
    assert "where period_code = '2026-Q1'" in vi and "only rows where period_code = '2026-Q1'" in en

    singular = {"unique_id": "test.ntm.s", "name": "s", "original_file_path": "tests/s.sql"}
    text = describe_test(_manifest(singular, FACT), "test.ntm.s")
    assert text == (
        "kiểm thử dbt riêng tests/s.sql (trên marts.fact_x): đạt khi truy vấn không trả về dòng nào. / "
        "singular dbt test tests/s.sql (on marts.fact_x): passes when its query returns no rows."
    )

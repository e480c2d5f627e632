"""One owner per rule (issue 16, item 2): dbt owns schema, keys, relationships, accepted values and not-null;
the GX suites state none of them again, and every rule moved out of a suite is still held by a blocking dbt
test. The logic is :mod:`pipeline.quality.overlap` (``python -m pipeline.quality.overlap`` prints it)."""

from __future__ import annotations

import pytest

from pipeline.lib import dbt_tests
from pipeline.quality import overlap, overlap_rules, suites

RULES = overlap_rules.dbt_rules(overlap_rules.load_manifest())
SUITES = suites.load_all()
LEDGER = overlap.load_ledger()


def test_no_gx_rule_repeats_a_dbt_test():
    dups = overlap_rules.find_duplicates(SUITES, RULES)
    assert dups == [], (
        "these GX rules repeat a dbt test: remove them with `python -m pipeline.quality.overlap --remove` "
        + "; ".join(f"{d.suite} {d.rule} [{d.column}] <- {', '.join(d.covered_by)}" for d in dups)
    )


@pytest.mark.parametrize("entry", LEDGER, ids=[f"{e['suite']}:{e['rule']}:{e['column']}" for e in LEDGER])
def test_every_rule_moved_to_dbt_is_still_held_by_a_blocking_dbt_test(entry):
    """Removing or weakening (severity warn, ``where``) the dbt test that took over a GX rule fails here."""
    assert overlap.entry_covered_by(entry, RULES), (
        f"{entry['suite']}: {entry['rule']} [{entry['column']}] was removed from the suite because "
        f"{entry['covered_by']} held it; no blocking dbt test holds it now"
    )


def test_the_ledger_names_the_dbt_tests_that_hold_each_rule_now():
    """After dbt tests are renamed or regrouped (2026-12-01: one-column tests -> set-based tests) the ledger
    says which test holds each rule today: `python -m pipeline.quality.overlap --refresh-ledger`."""
    stale = [e for e in LEDGER if overlap.entry_covered_by(e, RULES) != e["covered_by"]]
    assert stale == [], stale[:3]
    # a set-based test is named with the rule it holds
    assert any(
        c == "unique_keys_dim_hamlet [(hamlet_code, version_no)]" for e in LEDGER for c in e["covered_by"]
    )


def test_the_ledger_is_the_readme_table():
    text = overlap.README_PATH.read_text(encoding="utf-8")
    assert overlap.ledger_markdown(LEDGER) in text
    # rules moved out of the suites on 2026-11-30 (see expectations/README.md): 277 at first, then 10 of the new
    # mart_commune_report_compliance suite and 7 of the roll-up marts once their .yml could take the dbt tests
    assert len(LEDGER) == 294


def test_not_null_on_a_table_mart_has_one_owner_the_contract_constraint():
    """dbt-duckdb creates a table or incremental model with its contract's NOT NULL constraints and DuckDB
    refuses a NULL on insert (tests/dbt/test_marts.py::test_a_null_in_a_not_null_contract_column_fails_the_build_
    naming_model_and_column): a not_null data test on such a column would be a second owner of the rule (and one
    more dbt node and Dagster asset check per run). not_null data tests stay on views (their contracts are not
    enforced) and seeds only."""
    manifest = overlap_rules.load_manifest()
    nodes = manifest["nodes"]
    repeats, on = [], []
    for node in nodes.values():
        if node["resource_type"] != "test":
            continue
        for rule in dbt_tests.rules_of(node):
            if rule.kind != dbt_tests.NOT_NULL:
                continue
            parent = nodes[node["attached_node"]]
            on.append(parent["config"]["materialized"])
            if rule.column in RULES.get(parent["name"], overlap_rules.DbtModelRules()).not_null_constraints:
                repeats.append(f"{node['name']} [{rule.column}]")
    assert repeats == []
    assert set(on) <= {"view", "seed"}
    # 132 not_null data tests became contract constraints on 22 table/incremental marts; 14 not-null rules stay
    # (10 on views, 4 on seeds), in 9 not_null_set tests
    assert sum(len(r.not_null_constraints) for r in RULES.values()) == 132
    assert len(on) == 14


def test_column_rules_are_set_based_tests_one_per_model_and_kind():
    """Each generic dbt test is one node, one query and one Dagster asset check per run: a model's keys,
    accepted values, foreign keys and (on views and seeds) not-nulls are one test each
    (dbt_project/tests/generic), named ``<kind>_<model>`` (the failing rows are dbt_test__audit.<name>)."""
    prefix = {
        "unique_keys": "unique_keys",
        "accepted_values_set": "accepted_values",
        "relationships_set": "relationships",
        "not_null_set": "not_null",
    }
    nodes = overlap_rules.load_manifest()["nodes"]
    seen = []
    for node in nodes.values():
        if node["resource_type"] != "test" or not node.get("test_metadata"):
            continue
        kind = node["test_metadata"]["name"]
        assert kind in dbt_tests.SET_TESTS, (
            f"{node['name']}: a one-column {kind} test; add it to its set test"
        )
        model = nodes[node["attached_node"]]["name"]
        assert node["name"] == f"{prefix[kind]}_{model}", node["name"]
        seen.append((model, kind))
    assert len(seen) == len(set(seen))
    # 183 one-column tests became 88 (2026-12-01, bench/results/commune_set_tests.md)
    assert len(seen) == 88


def test_the_not_null_rules_gx_gave_to_dbt_are_held_by_contract_constraints():
    held = [e for e in LEDGER if e["rule"] == overlap_rules.NOT_NULL]
    assert len(held) == 121
    assert all(e["covered_by"] == [overlap_rules.not_null_constraint(e["column"])] for e in held)


def test_every_key_or_enum_rule_left_in_gx_says_why():
    left = [
        (name, e["type"], e["kwargs"].get("column"))
        for name, suite in SUITES.items()
        for e in suite["expectations"]
        if e["type"] in overlap_rules.KEY_ENUM_TYPES and not e["meta"].get("why_gx")
    ]
    assert left == []


def test_every_suite_table_is_a_contracted_mart():
    for name, suite in SUITES.items():
        assert RULES[suite["meta"].get("dbt_model") or name].contract, name


# --- the matcher on a hand-written manifest: what counts as "dbt already holds it" -------------------------


def _test(name, kind, column=None, *, severity="error", where=None, **kwargs):
    return {
        "resource_type": "test",
        "name": name,
        "attached_node": "model.ntm.m",
        "column_name": column,
        "test_metadata": {"name": kind, "kwargs": {"column_name": column, **kwargs}},
        "config": {"severity": severity, "where": where, "error_if": "!= 0", "warn_if": "!= 0"},
    }


MANIFEST = {
    "nodes": {
        "model.ntm.m": {
            "resource_type": "model",
            "name": "m",
            "config": {"contract": {"enforced": True}},
            "columns": {"k": {"data_type": "varchar"}, "n": {"data_type": "integer"}},
        },
        "model.ntm.t": {  # a table: its contract's NOT NULL is enforced by DuckDB
            "resource_type": "model",
            "name": "t",
            "config": {"contract": {"enforced": True}, "materialized": "table"},
            "columns": {
                "k": {"data_type": "varchar", "constraints": [{"type": "not_null"}]},
                "n": {"data_type": "integer", "constraints": [{"type": "check", "expression": "n > 0"}]},
            },
        },
        "model.ntm.v": {  # a view: the same constraint is not enforced, it covers nothing
            "resource_type": "model",
            "name": "v",
            "config": {"contract": {"enforced": True}, "materialized": "view"},
            "columns": {"k": {"data_type": "varchar", "constraints": [{"type": "not_null"}]}},
        },
        "t1": _test("not_null_m_k", "not_null", "k"),
        "t2": _test("not_null_m_n", "not_null", "n", severity="warn"),
        "t3": _test("unique_m_k", "unique", "k", where="n > 0"),
        "t4": _test("av_m", "accepted_values_set", columns={"n": [1, 2]}),
        "t5": _test("keys_m", "unique_keys", grains=[["k"]]),
        "t6": _test("rel_m_k", "relationships", "k", to="ref('d')", field="k"),  # a dbt built-in is read too
        "t7": _test(
            "rel_m", "relationships_set", foreign_keys=[{"column": "n", "to": "ref('f')", "field": "f_n"}]
        ),
        "t8": _test("nn_m", "not_null_set", columns=["n"], severity="warn"),
    }
}
MODEL = overlap_rules.dbt_rules(MANIFEST)["m"]


@pytest.mark.parametrize(
    ("exp", "covered"),
    [
        ({"type": overlap_rules.NOT_NULL, "kwargs": {"column": "k"}}, ["not_null_m_k"]),
        ({"type": overlap_rules.NOT_NULL, "kwargs": {"column": "k", "mostly": 0.9}}, []),  # GX-only: mostly
        (
            {
                "type": overlap_rules.NOT_NULL,
                "kwargs": {"column": "k", "row_condition": {"column": {"name": "n"}}},
            },
            ["not_null_m_k"],  # a conditional GX rule is implied by dbt's rule on every row
        ),
        ({"type": overlap_rules.NOT_NULL, "kwargs": {"column": "n"}}, []),  # dbt test is warn: does not block
        (
            {"type": overlap_rules.UNIQUE, "kwargs": {"column": "k"}},
            ["keys_m [(k)]"],
        ),  # unique_m_k has a `where`
        ({"type": overlap_rules.COMPOUND_UNIQUE, "kwargs": {"column_list": ["k", "n"]}}, ["keys_m [(k)]"]),
        ({"type": overlap_rules.COMPOUND_UNIQUE, "kwargs": {"column_list": ["n"]}}, []),
        ({"type": overlap_rules.IN_SET, "kwargs": {"column": "n", "value_set": [1, 2, 3]}}, ["av_m [n]"]),
        (
            {"type": overlap_rules.IN_SET, "kwargs": {"column": "k", "value_set": [1, 2, 3]}},
            [],
        ),  # another column
        ({"type": overlap_rules.IN_SET, "kwargs": {"column": "n", "value_set": [1]}}, []),  # GX stricter
        ({"type": overlap_rules.MATCH_SET, "kwargs": {"column_set": ["n", "k"]}}, ["contract (enforced)"]),
        ({"type": overlap_rules.MATCH_SET, "kwargs": {"column_set": ["k"]}}, []),
        (
            {"type": overlap_rules.OF_TYPE, "kwargs": {"column": "n", "type_": "int32"}},
            ["contract (enforced): n integer"],
        ),
        ({"type": "expect_column_values_to_be_between", "kwargs": {"column": "n", "min_value": 0}}, []),
    ],
)
def test_what_a_dbt_test_covers(exp, covered):
    assert overlap_rules.expectation_covered_by(exp, MODEL) == covered


def test_a_not_null_constraint_covers_only_on_a_table():
    rules = overlap_rules.dbt_rules(MANIFEST)
    not_null = lambda col: {"type": overlap_rules.NOT_NULL, "kwargs": {"column": col}}  # noqa: E731
    assert overlap_rules.expectation_covered_by(not_null("k"), rules["t"]) == [
        "contract (enforced): k not null"
    ]
    assert (
        overlap_rules.expectation_covered_by(not_null("n"), rules["t"]) == []
    )  # a check constraint is no not-null
    assert overlap_rules.expectation_covered_by(not_null("k"), rules["v"]) == []
    assert rules["t"].not_null_constraints == {"k"} and rules["v"].not_null_constraints == frozenset()


def test_what_covers_a_declared_sql_check():
    ref = {"check": "referential", "kwargs": {"col": "k", "dim_table": "marts.d", "dim_col": "k"}}
    assert overlap_rules.sql_check_covered_by(ref, "m", MODEL, "marts.m") == ["rel_m_k"]
    other = {"check": "referential", "kwargs": {"col": "k", "dim_table": "marts.e", "dim_col": "k"}}
    assert overlap_rules.sql_check_covered_by(other, "m", MODEL, "marts.m") == []
    in_set = {"check": "referential", "kwargs": {"col": "n", "dim_table": "marts.f", "dim_col": "f_n"}}
    assert overlap_rules.sql_check_covered_by(in_set, "m", MODEL, "marts.m") == ["rel_m [n -> f.f_n]"]
    types = {"check": "column_types", "kwargs": {"expected": {"k": "VARCHAR", "n": "int4"}}}
    assert overlap_rules.sql_check_covered_by(types, "m", MODEL, "marts.m") == ["contract (enforced)"]
    wrong = {"check": "column_types", "kwargs": {"expected": {"k": "varchar", "n": "double"}}}
    assert overlap_rules.sql_check_covered_by(wrong, "m", MODEL, "marts.m") == []
    ranges = {"check": "indicator_ranges", "kwargs": {}}
    assert overlap_rules.sql_check_covered_by(ranges, "m", MODEL, "marts.m") == []


def test_a_suite_repeating_a_dbt_test_is_found_and_removed(tmp_path):
    import json

    suite = {
        "name": "m",
        "expectations": [
            {"type": overlap_rules.NOT_NULL, "kwargs": {"column": "k"}, "meta": {"severity": "error"}},
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "n", "min_value": 0},
                "meta": {"severity": "error"},
            },
        ],
        "meta": {
            "table": "marts.m",
            "sql_checks": [
                {
                    "check": "referential",
                    "kwargs": {"col": "k", "dim_table": "marts.d", "dim_col": "k"},
                    "severity": "error",
                }
            ],
        },
    }
    (tmp_path / "m.json").write_text(json.dumps(suite), encoding="utf-8")
    rules = {"m": MODEL}
    found = overlap_rules.find_duplicates(suites.load_all(tmp_path), rules)
    assert [(d.rule, d.covered_by) for d in found] == [
        (overlap_rules.NOT_NULL, ("not_null_m_k",)),
        ("sql:referential", ("rel_m_k",)),
    ]
    ledger = tmp_path / "ledger" / "owned_by_dbt.json"
    entries = overlap.remove_duplicates(rules, tmp_path, ledger)
    left = json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))
    assert [e["type"] for e in left["expectations"]] == ["expect_column_values_to_be_between"]
    assert left["meta"]["sql_checks"] == []
    assert overlap.load_ledger(ledger) == entries and len(entries) == 2
    assert all(overlap.entry_covered_by(e, rules) for e in entries)
    assert overlap_rules.find_duplicates(suites.load_all(tmp_path), rules) == []

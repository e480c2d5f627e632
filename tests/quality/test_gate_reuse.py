"""The gate reuses an earlier passed result only for unchanged content, suite, code and inputs
(pipeline/quality/reuse.py, pipeline/quality/gate.py), on a small DuckDB warehouse with the real GX runner.

``validate`` counts the GX validations; where a test says GX must not run, it raises."""

from __future__ import annotations

import copy
import json

import duckdb
import pytest

from pipeline.quality import gate, gx_runner, periods, reuse, suites
from pipeline.quality.fingerprint import verify_gate
from tests.quality.gx_fixtures import SUITES

FACT = {
    "name": "fact_indicator_value",
    "expectations": [
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": "value", "min_value": 0, "max_value": 1000},
            "meta": {"severity": "error"},
        },
        {
            "type": "expect_column_values_to_match_regex",
            "kwargs": {"column": "period_code", "regex": r"^\d{4}-Q[1-4]$"},
            "meta": {"severity": "error"},
        },
    ],
    "meta": {
        "table": "marts.fact_indicator_value",
        "batch_column": "period_code",
        "sql_checks": [
            {
                "check": "indicator_ranges",
                "kwargs": {"key_cols": ["location_code", "period_code", "indicator_code"]},
            }
        ],
    },
}
HAMLET = {
    "name": "dim_hamlet",
    "expectations": [
        {
            "type": "expect_column_values_to_match_regex",
            "kwargs": {"column": "hamlet_code", "regex": r"^\d{5}-T\d{2,3}$"},
            "meta": {"severity": "error"},
        }
    ],
    "meta": {"table": "marts.dim_hamlet"},
}


def _suites(fact=FACT, hamlet=HAMLET) -> dict[str, dict]:
    return {
        "fact_indicator_value": suites.normalise_suite_dict(fact),
        "dim_hamlet": suites.normalise_suite_dict(hamlet),
    }


class Validations:
    """The ``validate`` of :func:`gate.run_gate`: the real GX runner, recording what it validates:
    ``tables`` (a period's rows count as their table) and ``periods`` ((table, period) validated alone)."""

    def __init__(self, con, forbid: bool = False):
        self.con, self.forbid, self.tables, self.periods = con, forbid, [], []

    def __call__(self, relation, suite):
        if self.forbid:
            raise AssertionError(f"GX ran on {relation} although its result should have been reused")
        table = relation.replace("temp.main.gate_period_marts_", "marts.")
        if table not in self.tables:
            self.tables.append(table)
        if table != relation:
            got = self.con.execute(f"select distinct period_code from {relation}").fetchall()
            self.periods += [(table, p) for (p,) in got]
        return gx_runner.run_suite(self.con, relation, suite, docs_dir=None)


def gate_run(con, run_id, the_suites=None, *, forbid=False, **kw) -> tuple[dict, Validations]:
    v = Validations(con, forbid)
    out = {o.table: o for o in gate.run_gate(con, the_suites or _suites(), run_id, validate=v, **kw)}
    return out, v


@pytest.fixture(autouse=True)
def _gx(gx_context):
    return gx_context


def test_unchanged_table_and_suite_is_reused_without_running_gx(con):
    first, v1 = gate_run(con, "run-1")
    assert sorted(v1.tables) == ["marts.dim_hamlet", "marts.fact_indicator_value"]
    assert all(o.passed and o.reused is None for o in first.values())

    logged = []
    second, _ = gate_run(con, "run-2", forbid=True, log=logged.append)  # GX would raise
    for table, o in second.items():
        assert o.passed and o.reused is not None, table
        meta = o.metadata()
        assert meta["reused"] is True and meta["reused_from_run"] == "run-1"
        assert meta["content_fingerprint"] == first[table].fingerprint.digest
        assert meta["validated_at"]
        # the earlier result is reported in full: same expectations and SQL checks, same outcomes
        assert [e.type for e in o.result.expectations] == [e.type for e in first[table].result.expectations]
        assert [s.name for s in o.sql_outcomes] == [s.name for s in first[table].sql_outcomes]
    assert "2 of 2 tables" in logged[0] and "fact_indicator_value (run-1)" in logged[0]
    # a reuse of a reuse still names the run that validated
    third, _ = gate_run(con, "run-3", forbid=True)
    assert {o.reused.validated_run_id for o in third.values()} == {"run-1"}
    # the publish-time comparison sees what run 3's gate saw, passed
    checked_by, problems = verify_gate(con, "run-3", ["marts.fact_indicator_value", "marts.dim_hamlet"])
    assert problems == [] and set(checked_by.values()) == {"run-3"}
    # one row per run and table: recording the same run again replaces it
    gate_run(con, "run-3", forbid=True)
    assert con.execute(f"select count(*) from {reuse.TABLE} where run_id = 'run-3'").fetchone()[0] == 2


def test_a_changed_row_is_validated_again_and_a_planted_bad_value_is_caught(con):
    gate_run(con, "run-1")
    con.execute(
        "update marts.fact_indicator_value set value = 5000 "
        "where hamlet_code = '18484-T02' and period_code = '2026-Q2' and indicator_code = 'CDS.09'"
    )
    second, v = gate_run(con, "run-2")
    assert v.tables == ["marts.fact_indicator_value"]  # dim_hamlet unchanged: reused
    assert v.periods == [("marts.fact_indicator_value", "2026-Q2")]  # 2026-Q1's rows are unchanged
    fact = second["fact_indicator_value"]
    assert fact.reused is None and not fact.passed
    assert fact.metadata()["periods_validated"] == "2026-Q2" and fact.metadata()["periods_reused"] == 1
    failed = [e for e in fact.result.expectations if not e.success]
    assert [(e.type, e.unexpected_count) for e in failed] == [("expect_column_values_to_be_between", 1)]
    assert second["dim_hamlet"].reused is not None


def test_a_changed_suite_is_validated_again(con, monkeypatch):
    gate_run(con, "run-1")
    stricter = copy.deepcopy(FACT)
    stricter["expectations"][0]["kwargs"]["max_value"] = 50  # counts of 11-12 pass, percents of 51-52 do not
    second, v = gate_run(con, "run-2", _suites(fact=stricter))
    assert v.tables == ["marts.fact_indicator_value"] and v.periods == []  # every row again, in one pass
    assert second["fact_indicator_value"].split.reused == {}
    assert not second["fact_indicator_value"].passed
    # a SQL check's parameters are part of the suite too: the table is checked again; its row-level GX rules
    # did not change, so the unchanged periods keep their validation and the SQL checks run
    changed_sql = copy.deepcopy(FACT)
    changed_sql["meta"]["sql_checks"][0]["severity"] = "warn"
    sql_runs = []
    real = gate.run_declared_checks
    monkeypatch.setattr(gate, "run_declared_checks", lambda c, s: sql_runs.append(s["name"]) or real(c, s))
    third, _ = gate_run(con, "run-3", _suites(fact=changed_sql))
    assert third["fact_indicator_value"].reused is None and sql_runs == ["fact_indicator_value"]
    assert third["fact_indicator_value"].sql_outcomes[0].severity == "warn"


def test_a_changed_input_of_a_sql_check_is_validated_again(con):
    """fact_indicator_value is unchanged, but its indicator_ranges check reads dim_indicator: a narrower
    bound there must be seen."""
    gate_run(con, "run-1")
    con.execute("update marts.dim_indicator set max_value = 11 where indicator_code = 'CDS.09'")
    second, _ = gate_run(con, "run-2")
    fact = second["fact_indicator_value"]
    assert fact.reused is None and not fact.passed
    assert [(o.name, o.failed_count) for o in fact.sql_outcomes if not o.passed] == [
        ("indicator_ranges:marts.fact_indicator_value", 3)
    ]


def test_a_failure_is_never_reused(con):
    con.execute("update marts.fact_indicator_value set value = -1 where hamlet_code = '18484-T01'")
    first, _ = gate_run(con, "run-1")
    assert not first["fact_indicator_value"].passed
    second, v = gate_run(con, "run-2")
    assert v.tables == ["marts.fact_indicator_value"] and not second["fact_indicator_value"].passed


def test_a_newer_failure_hides_an_older_pass_of_the_same_content(con):
    gate_run(con, "run-1")
    failing = gx_runner.run_suite(con, "marts.fact_indicator_value", _suites()["fact_indicator_value"])
    failing.success = False  # e.g. a check that failed for a reason outside the data, in a forced run
    only_fact = {"fact_indicator_value": _suites()["fact_indicator_value"]}
    out = list(gate.run_gate(con, only_fact, "run-2", validate=lambda r, s: failing, reuse_on=False))
    assert not out[0].passed
    _, v = gate_run(con, "run-3")
    # run 1's pass is not taken over run 2's failure, neither for the table nor for any of its periods
    assert v.tables == ["marts.fact_indicator_value"] and v.periods == []


@pytest.mark.parametrize(
    "where, change",
    [
        (
            "sql",
            "select location_code, indicator_code, period_code from marts.fact_indicator_value "
            "where period_code <= strftime(current_date, '%Y')",
        ),
        (
            "sql",
            "select location_code, indicator_code, period_code from marts.fact_indicator_value "
            "where now() > '2020-01-01'",
        ),
        ("sql", "select * from read_csv('{tmp}/expected.csv')"),
        ("gx", {"$PARAMETER": "urn:great_expectations:validations:other:observed_value"}),
    ],
)
def test_a_rule_that_reads_the_date_or_anything_outside_the_tables_is_always_evaluated(
    con, tmp_path, where, change
):
    volatile = copy.deepcopy(FACT)
    if where == "sql":
        change = change.replace("{tmp}", str(tmp_path))
        con.execute(f"copy (select * from marts.fact_indicator_value) to '{tmp_path}/expected.csv'")
        volatile["meta"]["sql_checks"].append(
            {"check": "completeness", "severity": "warn",
             "kwargs": {"expected_sql": change, "keys": ["location_code", "indicator_code", "period_code"]}}
        )  # fmt: skip
    else:
        volatile["expectations"][0]["kwargs"]["max_value"] = change
    blockers = reuse.reuse_blockers(suites.normalise_suite_dict(volatile))
    assert blockers, change
    if where == "gx":
        return  # GX itself refuses an evaluation parameter it cannot resolve; the rule above is what matters
    the_suites = _suites(fact=volatile)
    gate_run(con, "run-1", the_suites)
    second, v = gate_run(con, "run-2", the_suites)
    assert v.tables == ["marts.fact_indicator_value"]
    assert (
        second["fact_indicator_value"]
        .metadata()["validated_because"]
        .startswith("never reused: completeness")
    )


def test_a_sql_check_unknown_to_the_reuse_rule_is_never_reused():
    suite = copy.deepcopy(FACT)
    suite["meta"]["sql_checks"].append({"check": "some_new_check", "kwargs": {}})
    assert reuse.reuse_blockers(suites.normalise_suite_dict(suite)) == [
        "some_new_check: SQL check not known to the reuse rule"
    ]


def test_every_declarable_check_is_classified():
    from pipeline.quality.declared_checks import DECLARABLE_CHECKS

    assert set(reuse.RELATION_KWARGS) == set(DECLARABLE_CHECKS)


def test_the_shipped_suites_are_reusable_and_their_inputs_are_named():
    """Every suite in expectations/ may be reused (no rule reads the date or a previous release); the
    relations their SQL checks read besides their own table are exactly these."""
    inputs = {}
    for table, path in SUITES.items():
        suite = suites.load_suite_dict(path)
        assert reuse.reuse_blockers(suite) == [], table
        rels, problems = reuse.suite_inputs(suite, f"marts.{table}")
        assert problems == [], table
        if rels:
            inputs[table] = sorted(rels)
    assert inputs == {
        "fact_indicator_value": [
            "marts.dim_hamlet",
            "marts.dim_indicator",
            "marts.dim_period",
            "marts.fact_submission",
        ],
        "mart_commune_indicator": ["marts.dim_indicator"],
        "mart_hamlet_indicator": ["marts.dim_indicator"],
        "mart_hamlet_indicator_restated": ["marts.dim_indicator"],
        "mart_province_indicator": ["marts.dim_indicator"],
    }


def test_reuse_can_be_turned_off_by_setting_or_run_tag(con, monkeypatch):
    from pipeline.config import gate_reuse

    gate_run(con, "run-1")
    monkeypatch.setenv("NTM_GATE_REUSE", "0")
    assert reuse.reuse_enabled(gate_reuse(), {}) == (False, "NTM_GATE_REUSE=0")
    monkeypatch.delenv("NTM_GATE_REUSE")
    assert reuse.reuse_enabled(gate_reuse(), {}) == (True, "")
    on, why = reuse.reuse_enabled(gate_reuse(), {reuse.REUSE_TAG: "off"})
    assert not on and why == "run tag ntm/gate_reuse=off"
    second, v = gate_run(con, "run-2", reuse_on=on, off_reason=why)
    assert sorted(v.tables) == ["marts.dim_hamlet", "marts.fact_indicator_value"]
    assert (
        second["dim_hamlet"].metadata()["validated_because"]
        == "reuse turned off (run tag ntm/gate_reuse=off)"
    )
    # a forced run records its results: the next run may reuse them
    third, _ = gate_run(con, "run-3", forbid=True)
    assert {o.reused.validated_run_id for o in third.values()} == {"run-2"}


def test_results_are_kept_per_table_up_to_the_limit(con, monkeypatch):
    monkeypatch.setattr(reuse, "KEEP_PER_TABLE", 2)
    for i in range(4):
        gate_run(con, f"run-{i}", forbid=i > 0)
    rows = con.execute(f"select table_name, count(*) from {reuse.TABLE} group by 1 order by 1").fetchall()
    assert rows == [("marts.dim_hamlet", 2), ("marts.fact_indicator_value", 2)]
    assert json.loads(con.execute(f"select result from {reuse.TABLE} limit 1").fetchone()[0])["suite"]


def test_results_survive_in_the_warehouse_file(con, tmp_path):
    path = tmp_path / "w.duckdb"
    con.execute(f"attach '{path}' as w")
    con.execute("copy from database memory to w")
    con.execute("detach w")
    file_con = duckdb.connect(str(path))
    gate_run(file_con, "run-1")
    file_con.close()
    file_con = duckdb.connect(str(path))
    try:
        second, _ = gate_run(file_con, "run-2", forbid=True)
        assert all(o.reused is not None for o in second.values())
    finally:
        file_con.close()


# ---------------------------------------------------------------------------------------------------------
# period by period (pipeline/quality/periods.py)
# ---------------------------------------------------------------------------------------------------------

ADD_Q3 = (
    "insert into marts.fact_indicator_value select * replace ('2026-Q3' as period_code, "
    "replace(indicator_value_key, '2026-Q2', '2026-Q3') as indicator_value_key) "
    "from marts.fact_indicator_value where period_code = '2026-Q2'"
)


def _failures(outcome) -> list[tuple]:
    return [(e.type, e.column, e.unexpected_count) for e in outcome.result.expectations if not e.success]


def test_a_new_period_is_validated_alone_and_the_sum_equals_a_whole_validation(con):
    with_count = copy.deepcopy(FACT)
    with_count["expectations"].append(
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1, "max_value": 20},
         "meta": {"severity": "warn"}}
    )  # fmt: skip
    the_suites = _suites(fact=with_count)
    first, v = gate_run(con, "run-1", the_suites)
    # nothing stored yet: one pass over the whole table; every row passed, so each period is recorded passed
    assert first["fact_indicator_value"].passed and "marts.fact_indicator_value" in v.tables and not v.periods
    recorded = con.execute(f"select period, row_count, passed from {periods.TABLE} order by 1").fetchall()
    assert recorded == [("2026-Q1", 9, True), ("2026-Q2", 9, True)]
    con.execute(ADD_Q3)
    con.execute(
        "update marts.fact_indicator_value set value = 3000 "
        "where period_code = '2026-Q3' and hamlet_code = '18484-T01' and indicator_code = 'CDS.09'"
    )
    second, v = gate_run(con, "run-2", the_suites)
    fact = second["fact_indicator_value"]
    assert v.periods == [("marts.fact_indicator_value", "2026-Q3")]  # only the new period's rows
    assert fact.split.reused == {"2026-Q1": "run-1", "2026-Q2": "run-1"}
    assert not fact.passed
    # the row count is decided over the whole table (27 rows > 20), not per period
    whole, _ = gate_run(con, "run-4", the_suites, reuse_on=False, off_reason="test")
    assert (
        _failures(fact)
        == _failures(whole["fact_indicator_value"])
        == [
            ("expect_column_values_to_be_between", "value", 1),
            ("expect_table_row_count_to_be_between", None, None),
        ]
    )
    count = next(e for e in fact.result.expectations if e.type == "expect_table_row_count_to_be_between")
    assert count.observed_value == 27 and count.evaluated_by == "duckdb"
    bad = next(e for e in fact.result.expectations if e.type == "expect_column_values_to_be_between")
    assert bad.failed_batches == ["period_code=2026-Q3"] and bad.partial_unexpected_list == [3000.0]
    assert fact.result.row_count == 27 and fact.result.statistics["rows_validated_by_gx"] == 9


def test_a_suite_with_a_rule_that_is_not_row_by_row_is_validated_whole(con):
    columns = [r[0] for r in con.execute("describe marts.fact_indicator_value").fetchall()]
    assert periods.splittable(_suites()["fact_indicator_value"], columns) == "period_code"
    for change in (
        {"type": "expect_column_mean_to_be_between", "kwargs": {"column": "value", "min_value": 0}},
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": "value", "min_value": 0, "mostly": 0.9},
        },
    ):
        suite = copy.deepcopy(FACT)
        suite["expectations"].append({**change, "meta": {"severity": "error"}})
        assert periods.splittable(suites.normalise_suite_dict(suite), columns) is None, change
        gate_run(con, "run-1", _suites(fact=suite))
        con.execute(ADD_Q3) if change["type"].endswith("mean_to_be_between") else con.execute(
            "update marts.fact_indicator_value set value = value + 0.5 where period_code = '2026-Q3'"
        )
        _, v = gate_run(con, "run-2", _suites(fact=suite))
        assert v.tables == ["marts.fact_indicator_value"] and v.periods == [], change


def test_a_period_too_large_to_validate_alone_falls_back_to_the_whole_table(con, monkeypatch):
    gate_run(con, "run-1")
    monkeypatch.setattr(periods, "MAX_ROWS_PER_PERIOD", 5)  # each period holds 9 rows
    con.execute(ADD_Q3)
    _, v = gate_run(con, "run-2")
    assert v.tables == ["marts.fact_indicator_value"] and v.periods == []


def test_an_empty_period_table_is_validated_whole(con):
    con.execute("create table marts.fact_empty as select * from marts.fact_indicator_value limit 0")
    empty = {**copy.deepcopy(FACT), "name": "fact_empty"}
    empty["meta"] = {"table": "marts.fact_empty", "batch_column": "period_code"}
    the_suites = {"fact_empty": suites.normalise_suite_dict(empty)}
    first, v = gate_run(con, "run-1", the_suites)
    assert v.tables == ["marts.fact_empty"] and v.periods == [] and first["fact_empty"].passed
    con.execute("insert into marts.fact_empty select * from marts.fact_indicator_value")
    second, v = gate_run(con, "run-2", the_suites)
    assert v.tables == ["marts.fact_empty"] and second["fact_empty"].result.row_count == 18


def test_a_whole_pass_with_a_failed_row_records_no_period(con):
    """A period is recorded passed only when every row of the table passed every row-level rule (warn-level
    ones too): a whole-table failure cannot say which periods were clean."""
    warn = copy.deepcopy(FACT)
    warn["expectations"][0]["meta"]["severity"] = "warn"
    con.execute(
        "update marts.fact_indicator_value set value = 2000 "
        "where hamlet_code = '18484-T01' and period_code = '2026-Q1' and indicator_code = 'CDS.09'"
    )
    first, _ = gate_run(con, "run-1", _suites(fact=warn))
    fact = first["fact_indicator_value"]
    assert fact.passed and [e.success for e in fact.result.expectations] == [False, True]  # a warning
    assert not con.execute(
        "select * from duckdb_tables() where table_name = 'gate_period_results'"
    ).fetchall()
    con.execute(ADD_Q3)
    _, v = gate_run(con, "run-2", _suites(fact=warn))
    assert v.tables == ["marts.fact_indicator_value"] and v.periods == []  # still whole: nothing to reuse

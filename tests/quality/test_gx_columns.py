"""A GX batch holds only the columns its expectations read (``gx_batches.gx_columns``), indexed by rowid; the
outcomes a data officer sees (passed or failed, unexpected counts, unexpected values, sample rows, failed
batches) are the same as with every column loaded (``prune_columns=False``, the path a view takes)."""

from __future__ import annotations

import duckdb
import pytest

from pipeline.quality import gx_runner
from pipeline.quality.gx_batches import gx_columns
from pipeline.quality.suites import load_suite_dict
from tests.quality.gx_fixtures import SUITES, suite_with_dbt_rules

COLUMNS = ["a", "b", "c", "kind", "period_code"]


def _exp(kind: str, **kwargs) -> dict:
    return {"type": kind, "kwargs": kwargs, "meta": {"severity": "error"}}


def test_only_the_columns_an_expectation_names_are_read():
    cond = {"column": {"name": "kind"}, "operator": "==", "parameter": "x", "type": "comparison"}
    exps = [
        _exp("expect_column_values_to_not_be_null", column="b", row_condition=cond),
        _exp("expect_column_pair_values_a_to_be_greater_than_b", column_A="c", column_B="a"),
        _exp("expect_table_row_count_to_be_between", min_value=1),
    ]
    assert gx_columns(exps, COLUMNS) == ["a", "b", "c", "kind"]  # table order, period_code not read
    anded = {"type": "and", "conditions": [cond, {"column": {"name": "period_code"}, "type": "nullity"}]}
    assert gx_columns(
        [_exp("expect_column_values_to_be_null", column="a", row_condition=anded)], COLUMNS
    ) == [
        "a",
        "kind",
        "period_code",
    ]
    assert gx_columns([_exp("expect_compound_columns_to_be_unique", column_list=["c", "a"])], COLUMNS) == [
        "a",
        "c",
    ]
    # a column the table lacks is not invented: GX reports it missing, as on the whole table
    assert gx_columns([_exp("expect_column_values_to_not_be_null", column="zz")], COLUMNS) == []
    assert gx_columns([_exp("expect_table_row_count_to_equal", value=3)], COLUMNS) == []


@pytest.mark.parametrize(
    "exp",
    [
        _exp("expect_table_columns_to_match_set", column_set=COLUMNS),
        _exp("expect_table_column_count_to_equal", value=5),
        _exp("expect_column_to_exist", column="a", column_index=0),
        _exp("expect_column_values_to_not_be_null", column="a", row_condition='kind == "x"'),
        _exp("expect_column_values_to_not_be_null", column="a", row_condition={"column": "kind"}),
        _exp("expect_my_custom_rule", column="a"),
    ],
    ids=["column_set", "column_count", "column_exists", "string_condition", "odd_condition", "custom"],
)
def test_a_table_level_or_unreadable_expectation_loads_every_column(exp):
    assert gx_columns([_exp("expect_column_values_to_not_be_null", column="a"), exp], COLUMNS) is None


def test_every_real_suite_loads_fewer_columns_than_its_table():
    """The suites in expectations/ all name their columns: none falls back to loading every column (a
    suite that did would cost the gate the whole table again; change this test only with a reason)."""
    for table, path in SUITES.items():
        suite = load_suite_dict(path)
        read = gx_columns(suite["expectations"], [f"c{i}" for i in range(200)])
        assert read is not None, table


def _corrupt(c: duckdb.DuckDBPyConnection) -> None:
    c.execute(
        "update marts.fact_indicator_value set location_code = null, quarters_count = 9, period_code = '2026-Q9' "
        "where period_code = '2026-Q2' and indicator_code = 'TC8.4'"
    )
    c.execute(
        "update marts.fact_indicator_value set hamlet_code = null "
        "where hamlet_code = '18484-T03' and indicator_code = 'CDS.09'"
    )
    c.execute(
        "update marts.fact_indicator_value set commune_code = '1848', numerator = -1 "
        "where hamlet_code = '18484-T01' and period_code = '2026-Q1'"
    )
    c.execute(
        "update marts.fact_indicator_value set indicator_value_key = 'same' "
        "where hamlet_code = '18484-T04' and indicator_code = 'TC8.4'"
    )


def _seen(res) -> list[tuple]:
    """What the report and the Dagster check show of each expectation."""
    return [
        (
            e.type,
            e.column,
            e.success,
            e.unexpected_count,
            e.element_count,
            e.partial_unexpected_list,
            e.sample_rows,
            e.failed_batches,
            e.observed_value,
            e.exception,
        )
        for e in res.expectations
    ]


@pytest.mark.parametrize(
    ("batching", "n_batches"),
    [({}, 1), ({"max_rows_per_batch": 10}, 4), ({"max_rows_per_batch": 10, "batch_column": None}, 3)],
    ids=["one_batch", "by_period", "rowid_ranges"],
)
def test_a_broken_table_fails_the_same_with_fewer_columns_loaded(gx_context, fact_con, batching, n_batches):
    c = fact_con
    _corrupt(c)
    suite = suite_with_dbt_rules("fact_indicator_value")
    pair = _exp(
        "expect_column_pair_values_a_to_be_greater_than_b",
        column_A="denominator",
        column_B="numerator",
        or_equal=True,
        ignore_row_if="either_value_is_missing",
    )
    # the suite as shipped has no table-level schema expectation: drop the ledger's column-set rule
    exps = [e for e in suite["expectations"] if e["type"] != "expect_table_columns_to_match_set"]
    suite = {**suite, "expectations": [*exps, pair]}
    whole = gx_runner.run_suite(c, "marts.fact_indicator_value", suite, prune_columns=False, **batching)
    pruned = gx_runner.run_suite(c, "marts.fact_indicator_value", suite, **batching)
    n_cols = len(c.execute("describe marts.fact_indicator_value").fetchall())
    assert whole.statistics["columns_loaded_for_gx"] == n_cols
    assert 0 < pruned.statistics["columns_loaded_for_gx"] < n_cols
    assert not pruned.success and not whole.success
    assert pruned.batches == whole.batches and len(pruned.batches) == n_batches
    assert _seen(pruned) == _seen(whole)
    failed = {(e.type, e.column): e for e in pruned.error_failures + pruned.warn_failures}
    nulls = failed[("expect_column_values_to_not_be_null", "hamlet_code")]
    assert nulls.unexpected_count == 3 and len(nulls.sample_rows) == 3
    # a sample row is the whole row (every column), not just the columns GX read
    assert all(len(r) == n_cols and r["indicator_code"] == "CDS.09" for r in nulls.sample_rows)
    assert failed[("expect_column_values_to_match_regex", "commune_code")].unexpected_count == 2
    assert failed[("expect_column_values_to_be_between", "quarters_count")].partial_unexpected_list == [9] * 4


def test_a_table_level_expectation_loads_the_whole_table(gx_context, fact_con):
    suite = suite_with_dbt_rules("fact_indicator_value")
    assert any(e["type"] == "expect_table_columns_to_match_set" for e in suite["expectations"])
    res = gx_runner.run_suite(fact_con, "marts.fact_indicator_value", suite)
    n_cols = len(fact_con.execute("describe marts.fact_indicator_value").fetchall())
    assert res.success and res.statistics["columns_loaded_for_gx"] == n_cols


def test_a_row_count_only_suite_loads_no_column(gx_context, fact_con):
    suite = {"name": "n", "expectations": [_exp("expect_table_row_count_to_be_between", min_value=26)]}
    res = gx_runner.run_suite(fact_con, "marts.fact_indicator_value", suite)
    assert res.statistics["columns_loaded_for_gx"] == 0 and res.statistics["rows_validated_by_gx"] == 25
    assert not res.success and res.expectations[0].observed_value == 25


def test_a_view_loads_every_column_and_fails_the_same(gx_context, fact_con):
    """A view has no rowid to fetch sample rows by: it is validated with every column, as before."""
    c = fact_con
    _corrupt(c)
    c.execute("create view marts.fact_view as select * from marts.fact_indicator_value")
    suite = load_suite_dict(SUITES["fact_indicator_value"])
    view = gx_runner.run_suite(c, "marts.fact_view", suite)
    table = gx_runner.run_suite(c, "marts.fact_indicator_value", suite)
    assert view.statistics["columns_loaded_for_gx"] > table.statistics["columns_loaded_for_gx"] > 0
    assert not view.success and _seen(view) == _seen(table)

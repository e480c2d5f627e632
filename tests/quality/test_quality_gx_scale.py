"""Great Expectations on larger tables: batches by period or rowid range give the whole-table outcome, Data
Docs, and a table above ``sql_above_rows`` decided in DuckDB with GX's outcomes."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipeline.quality import gx_runner
from tests.quality.gx_fixtures import GRAIN, SUITES, assert_same_outcomes, by_type, suite_with_dbt_rules


def test_batched_validation_matches_whole_table(gx_context, fact_con, tmp_path: Path):
    c = fact_con
    fact_suite = suite_with_dbt_rules("fact_indicator_value")
    c.execute(
        "update marts.fact_indicator_value set location_code = null where period_code = '2026-Q2' and indicator_code = 'TC8.4'"
    )
    # a duplicated surrogate key across two periods: only DuckDB can see it when batching by period
    c.execute(
        "update marts.fact_indicator_value set indicator_value_key = 'same' where hamlet_code = '18484-T01' and indicator_code = 'CDS.09' and period_code in ('2026-Q1', '2026-Q3')"
    )
    whole = gx_runner.run_suite(c, "marts.fact_indicator_value", fact_suite)
    batched = gx_runner.run_suite(
        c,
        "marts.fact_indicator_value",
        fact_suite,
        max_rows_per_batch=10,  # fewer than the table's 25 rows, more than any period's
        docs_dir=tmp_path / "docs",
    )
    assert batched.batches == ["period_code=2026-Q1", "period_code=2026-Q2", "period_code=2026-Q3"]
    assert batched.batch_column == "period_code"
    assert whole.success == batched.success is False
    assert_same_outcomes(whole, batched)
    key = by_type(batched, "expect_column_values_to_be_unique", "indicator_value_key")
    assert key.evaluated_by == "duckdb" and key.unexpected_count == 2
    nulls = by_type(batched, "expect_column_values_to_not_be_null", "location_code")
    assert nulls.failed_batches == ["period_code=2026-Q2"] and nulls.unexpected_count == 4
    assert by_type(batched, "expect_table_row_count_to_be_between").evaluated_by == "duckdb"
    assert batched.statistics["rows_validated_by_gx"] == 25
    # no batch column: rowid ranges
    rowid = gx_runner.run_suite(
        c,
        "marts.fact_indicator_value",
        fact_suite,
        batch_column=None,
        max_rows_per_batch=10,
    )
    assert rowid.batch_column == "rowid" and len(rowid.batches) == 3
    assert [e.unexpected_count for e in rowid.expectations] == [
        e.unexpected_count for e in whole.expectations
    ]


def test_a_period_larger_than_a_batch_falls_back_to_rowid_ranges(gx_context, fact_con):
    """A batch-column value with more rows than a batch may hold (a survey year at national scale) would
    load that many rows into pandas at once: the table is then cut into rowid ranges instead, and the
    uniqueness checks that a period could have decided move to DuckDB."""
    c = fact_con
    fact_suite = suite_with_dbt_rules("fact_indicator_value")
    sizes = c.execute(
        "select period_code, count(*) from marts.fact_indicator_value group by 1 order by 1"
    ).fetchall()
    biggest = max(n for _, n in sizes)
    whole = gx_runner.run_suite(c, "marts.fact_indicator_value", fact_suite)
    res = gx_runner.run_suite(c, "marts.fact_indicator_value", fact_suite, max_rows_per_batch=biggest - 1)
    assert res.batch_column == "rowid"
    assert all(b.startswith("rowid=") for b in res.batches)
    assert len(res.batches) == -(-sum(n for _, n in sizes) // (biggest - 1))
    assert res.statistics["rows_validated_by_gx"] == sum(n for _, n in sizes)
    assert_same_outcomes(whole, res)
    grain = by_type(res, "expect_compound_columns_to_be_unique")
    assert grain.evaluated_by == "duckdb"
    # a value that fits keeps the period batches
    fits = gx_runner.run_suite(c, "marts.fact_indicator_value", fact_suite, max_rows_per_batch=biggest)
    assert fits.batch_column == "period_code"


def test_data_docs_index_is_built(gx_context, fact_con, tmp_path: Path):
    docs = tmp_path / "data_docs" / "run-1"
    res = gx_runner.run_suite(
        fact_con, "marts.fact_indicator_value", SUITES["fact_indicator_value"], docs_dir=docs, run_id="run-1"
    )
    assert res.docs_path == docs.resolve() / "index.html" and res.docs_path.is_file()
    pages = list((docs / "validations").rglob("*.html"))
    assert len(pages) == 1 and "run-1" in str(pages[0])
    # the pages GX wrote load nothing from a CDN (vendored copies in the site's static/vendor/)
    from pipeline.quality.gx_offline import remote_urls

    for page in [res.docs_path, *pages]:
        assert remote_urls(page.read_text(encoding="utf-8")) == [], page
    # a second table in the same run joins the same site; another run's docs stay separate
    other = duckdb.connect()
    other.execute("create table t as select 1 as a")
    tiny = {
        "name": "t",
        "expectations": [
            {
                "type": "expect_column_values_to_not_be_null",
                "kwargs": {"column": "a"},
                "meta": {"severity": "error"},
            }
        ],
    }
    gx_runner.run_suite(other, "t", tiny, docs_dir=docs, run_id="run-1")
    assert len(list((docs / "validations").rglob("*.html"))) == 2
    index = res.docs_path.read_text(encoding="utf-8")
    assert "fact_indicator_value" in index and "run-1" in index
    gx_runner.run_suite(other, "t", tiny, docs_dir=tmp_path / "data_docs" / "run-2", run_id="run-2")
    assert "fact_indicator_value" not in (tmp_path / "data_docs" / "run-2" / "validations").as_posix()
    assert len(list((tmp_path / "data_docs" / "run-2" / "validations").rglob("*.html"))) == 1
    # deferred: record several tables, render once
    run3 = tmp_path / "data_docs" / "run-3"
    r3 = gx_runner.run_suite(other, "t", tiny, docs_dir=run3, run_id="run-3", build_docs=False)
    assert r3.docs_path == run3.resolve() / "index.html" and not r3.docs_path.exists()
    assert gx_runner.build_data_docs(run3) == r3.docs_path and r3.docs_path.is_file()


def test_200k_rows_pass_clean_and_fail_with_exact_counts(gx_context):
    """A 200k-row table through GX: every expectation evaluated on every row (its speed is the benchmark's
    business, bench/, not a timed unit test's)."""
    con = duckdb.connect()
    con.execute(
        "create table big as select 'H' || (i % 500) as location_code, '2026-Q' || (1 + (i // 500) % 4) as period_code, "
        "'I' || (i // 2000) as indicator_code, (i % 100)::double as value from range(200000) t(i)"
    )
    suite = {
        "name": "big",
        "expectations": [
            {
                "type": "expect_table_columns_to_match_set",
                "kwargs": {"column_set": ["location_code", "period_code", "indicator_code", "value"]},
                "meta": {"severity": "error"},
            },
            {
                "type": "expect_column_values_to_not_be_null",
                "kwargs": {"column": "location_code"},
                "meta": {"severity": "error"},
            },
            {
                "type": "expect_compound_columns_to_be_unique",
                "kwargs": {"column_list": GRAIN},
                "meta": {"severity": "error"},
            },
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "value", "min_value": 0, "max_value": 100},
                "meta": {"severity": "error"},
            },
            {
                "type": "expect_column_values_to_be_in_set",
                "kwargs": {
                    "column": "period_code",
                    "value_set": ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"],
                },
                "meta": {"severity": "error"},
            },
        ],
    }
    res = gx_runner.run_suite(con, "big", suite)
    assert res.success, res.failures_table()
    assert res.row_count == 200_000 and len(res.expectations) == 5
    print(f"200k rows: {res.duration_s:.2f}s")
    con.execute("update big set value = 101 where value = 99 and location_code = 'H499'")
    con.execute("update big set location_code = null where location_code = 'H7'")
    bad = gx_runner.run_suite(con, "big", suite)
    assert not bad.success and bad.blocking
    assert by_type(bad, "expect_column_values_to_be_between", "value").unexpected_count == 400
    assert by_type(bad, "expect_column_values_to_not_be_null", "location_code").unexpected_count == 400


@pytest.mark.parametrize("corrupt", [False, True], ids=["clean", "corrupted"])
def test_a_large_table_is_decided_in_duckdb_with_the_outcomes_gx_gives(gx_context, fact_con, corrupt):
    """Above ``sql_above_rows`` every expectation of the suite is evaluated by pipeline.quality.gx_sql in
    DuckDB: same success, unexpected and element counts as GX on the same rows, clean or corrupted."""
    c = fact_con
    if corrupt:
        c.execute(
            "update marts.fact_indicator_value set location_code = null, value = 250, period_code = '2026-Q9' "
            "where period_code = '2026-Q2' and indicator_code = 'TC8.4'"
        )
        c.execute(
            "update marts.fact_indicator_value set numerator = 12, denominator = 10 "
            "where hamlet_code = '18484-T01' and indicator_code = 'TC8.4'"
        )
        c.execute(
            "update marts.fact_indicator_value set location_level = 'commune' where hamlet_code = '18484-T02'"
        )
        c.execute(
            "update marts.fact_indicator_value set indicator_value_key = 'same' "
            "where hamlet_code = '18484-T01' and indicator_code = 'CDS.09'"
        )
    suite = suite_with_dbt_rules("fact_indicator_value")
    # a column-pair expectation too (the suite's numerator <= denominator rule is a SQL check per indicator)
    pair = {
        "type": "expect_column_pair_values_a_to_be_greater_than_b",
        "kwargs": {
            "column_A": "denominator",
            "column_B": "numerator",
            "or_equal": True,
            "ignore_row_if": "either_value_is_missing",
        },
        "meta": {"severity": "warn"},
        "severity": "warning",
    }
    suite = {**suite, "expectations": [*suite["expectations"], pair]}
    gx = gx_runner.run_suite(c, "marts.fact_indicator_value", suite, sql_above_rows=10**9)
    sql = gx_runner.run_suite(c, "marts.fact_indicator_value", suite, sql_above_rows=0)
    assert all(e.evaluated_by == "duckdb" for e in sql.expectations)
    assert sql.statistics["rows_validated_by_gx"] == 0 and sql.batches == []
    assert gx.success == sql.success == (not corrupt)
    for a, b in assert_same_outcomes(gx, sql):
        if a.element_count is not None and a.type not in ("expect_column_values_to_be_unique",):
            assert a.element_count == b.element_count, (a.type, a.column)
        if not a.success and a.partial_unexpected_list:
            assert b.partial_unexpected_list and b.sample_rows, (a.type, a.column)
    assert_same_shown(gx, sql)
    if corrupt:
        failed = {(e.type, e.column) for e in sql.error_failures + sql.warn_failures}
        assert ("expect_column_values_to_not_be_null", "location_code") in failed
        assert any(t == "expect_column_values_to_match_regex" for t, _ in failed)
        assert any(t == "expect_column_pair_values_a_to_be_greater_than_b" for t, _ in failed)


def assert_same_shown(gx, sql) -> int:
    """What a data officer sees of a failed per-row expectation is the same on both paths: the listed
    unexpected values (at most SAMPLE_LIMIT, in the order GX meets the rows) and the sample rows."""
    from pipeline.quality import gx_sql
    from pipeline.quality.sql_base import SAMPLE_LIMIT

    compared = 0
    for a, b in zip(gx.expectations, sql.expectations, strict=True):
        if a.type not in gx_sql.COLUMN_MAP_TYPES:
            continue
        assert len(b.partial_unexpected_list) <= SAMPLE_LIMIT, (a.type, a.column)
        assert b.partial_unexpected_list == a.partial_unexpected_list, (a.type, a.column)
        assert b.sample_rows == a.sample_rows, (a.type, a.column)
        compared += bool(a.partial_unexpected_list)
    return compared


def test_the_duckdb_path_shows_what_gx_shows_whole_and_in_batches(gx_context, fact_con):
    """More unexpected rows than a list holds, spread over periods in an order that is not the period order:
    above ``sql_above_rows`` DuckDB lists the same SAMPLE_LIMIT unexpected values and sample rows as GX, for a
    table GX takes whole (rowid order), by period (period order, then rowid) and by rowid range."""
    c = fact_con
    c.execute(
        "create or replace table marts.fact_indicator_value as select * from marts.fact_indicator_value "
        "order by period_code desc, hamlet_code"
    )
    for _ in range(2):  # 3 x 25 rows: more failures than SAMPLE_LIMIT in each period
        c.execute(
            "insert into marts.fact_indicator_value select * replace "
            "(indicator_value_key || '+' || hash(random()) as indicator_value_key) "
            "from marts.fact_indicator_value where location_level = 'hamlet' limit 25"
        )
    c.execute(
        "update marts.fact_indicator_value set value = 250 + rowid, location_code = null, "
        "numerator = 12 + rowid, denominator = 10, value_source = 'v' || rowid where indicator_code = 'TC8.4'"
    )
    c.execute(
        "update marts.fact_indicator_value set quarters_count = 5 + rowid % 3, hamlet_code = 'X' || rowid, "
        "numerator = -1 - rowid where indicator_code = 'CDS.09'"
    )
    pair = {
        "type": "expect_column_pair_values_a_to_be_greater_than_b",
        "kwargs": {
            "column_A": "denominator",
            "column_B": "numerator",
            "or_equal": True,
            "ignore_row_if": "either_value_is_missing",
        },
        "meta": {"severity": "warn"},
    }
    base = suite_with_dbt_rules("fact_indicator_value")
    suite = {**base, "expectations": [*base["expectations"], pair]}
    t = "marts.fact_indicator_value"
    for kw in ({}, {"max_rows_per_batch": 30}, {"max_rows_per_batch": 30, "batch_column": None}):
        gx = gx_runner.run_suite(c, t, suite, sql_above_rows=10**9, **kw)
        sql = gx_runner.run_suite(c, t, suite, sql_above_rows=0, **kw)
        assert not gx.success and len(gx.batches) == (1 if not kw else 3), kw
        assert_same_outcomes(gx, sql)
        assert assert_same_shown(gx, sql) == 6, kw
        nulls = by_type(sql, "expect_column_values_to_not_be_null", "location_code")
        assert nulls.unexpected_count > 10 and len(nulls.partial_unexpected_list) == 10


def test_an_expectation_without_a_sql_form_stays_with_gx(gx_context, fact_con):
    from pipeline.quality import gx_sql

    suite = {
        "name": "odd",
        "expectations": [
            {
                "type": "expect_column_values_to_not_be_null",
                "kwargs": {"column": "value", "mostly": 0.5},
                "meta": {"severity": "error"},
            },
            {
                "type": "expect_column_values_to_not_be_null",
                "kwargs": {"column": "value"},
                "meta": {"severity": "error"},
            },
        ],
    }
    res = gx_runner.run_suite(fact_con, "marts.fact_indicator_value", suite, sql_above_rows=0)
    assert [e.evaluated_by for e in res.expectations] == ["gx", "duckdb"]
    assert res.success
    with pytest.raises(gx_sql.Unsupported):
        gx_sql._condition({"row_condition": "value > 1", "condition_parser": "pandas"})

"""Great Expectations 1.x on DuckDB tables: the real suite files, failures with counts and sample rows,
severities, batching and Data Docs. GX is imported once for the module (it is slow to import)."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from pipeline.quality import gx_runner, suites
from pipeline.quality.sql_checks import run_declared_checks

SUITES = suites.list_suites()
GRAIN = ["location_code", "period_code", "indicator_code"]


@pytest.fixture(scope="module")
def gx_context():
    started = time.perf_counter()
    ctx = gx_runner.get_context()
    print(f"GX import + context: {time.perf_counter() - started:.1f}s")
    assert gx_runner.get_context() is ctx  # cached: one context per process
    return ctx


def _table(con: duckdb.DuckDBPyConnection, name: str, df: pd.DataFrame, columns: list[str]) -> None:
    for c in columns:
        if c not in df.columns:
            df[c] = None
    con.register("_df", df[columns])
    con.execute(f"create or replace table {name} as select * from _df")
    con.unregister("_df")


def _fact_rows(n_hamlets: int = 4, periods=("2026-Q1", "2026-Q2", "2026-Q3")) -> pd.DataFrame:
    rows = []
    for p in periods:
        for h in range(1, n_hamlets + 1):
            for ind, value in (("TC8.4", 80.0), ("CDS.09", 12.0)):
                hc = f"18484-T{h:02d}"
                rows.append(
                    {
                        "indicator_value_key": f"{hc}|{p}|{ind}",
                        "location_code": hc,
                        "location_level": "hamlet",
                        "commune_code": "18484",
                        "hamlet_code": hc,
                        "hamlet_key": h,
                        "existed_at_period_end": True,
                        "period_code": p,
                        "period_kind": "quarter",
                        "year": 2026,
                        "indicator_code": ind,
                        "value": value,
                        "numerator": 8.0,
                        "denominator": 10.0,
                        "met_threshold": True,
                        "value_source": "reported",
                        "quarters_count": 1,
                        "unit_code": hc,
                        "submission_id": f"abcdef012345-{hc}-{p}",
                    }
                )
    # a commune-level row: hamlet_code null
    rows.append(
        {
            **rows[0],
            "indicator_value_key": "18484|2026-Q1|CDS.01",
            "location_code": "18484",
            "location_level": "commune",
            "hamlet_code": None,
            "hamlet_key": None,
            "indicator_code": "CDS.01",
            "unit_code": "18484-VP",
        }
    )
    return pd.DataFrame(rows)


@pytest.fixture()
def fact_con():
    con = duckdb.connect()
    con.execute("create schema marts")
    cols = suites.suite_columns(suites.load_suite_dict(SUITES["fact_indicator_value"]))
    _table(con, "marts.fact_indicator_value", _fact_rows(), cols)
    yield con
    con.close()


def _by_type(result, exp_type, column=None):
    found = [e for e in result.expectations if e.type == exp_type and (column is None or e.column == column)]
    assert found, (exp_type, column)
    return found[0]


def test_every_suite_file_builds_as_a_gx_suite(gx_context):
    assert SUITES
    for table, path in SUITES.items():
        d = suites.load_suite_dict(path)
        suite = gx_runner.build_suite(d)
        assert suite.name == table
        assert len(suite.expectations) == len(d["expectations"])
        assert [e.meta.get("severity") for e in suite.expectations] == [
            e["meta"]["severity"] for e in d["expectations"]
        ]


def test_unknown_expectation_is_refused(gx_context):
    bad = {
        "name": "x",
        "expectations": [{"type": "expect_column_values_to_be_purple", "kwargs": {"column": "a"}}],
    }
    with pytest.raises(suites.SuiteFileError):
        gx_runner.build_suite(bad)


def test_real_fact_suite_passes_on_clean_data(gx_context, fact_con):
    res = gx_runner.run_suite(fact_con, "marts.fact_indicator_value", SUITES["fact_indicator_value"])
    failed = [(e.type, e.column, e.observed_value, e.exception) for e in res.expectations if not e.success]
    assert res.success and not failed, failed
    assert res.statistics["evaluated_expectations"] == len(
        suites.load_suite_dict(SUITES["fact_indicator_value"])["expectations"]
    )
    assert res.batches == ["all"] and res.row_count == 25


def test_injected_violations_fail_with_counts_and_sample_rows(gx_context, fact_con):
    c = fact_con
    c.execute(
        "update marts.fact_indicator_value set location_code = null where indicator_value_key = '18484-T02|2026-Q2|TC8.4'"
    )
    c.execute(
        "insert into marts.fact_indicator_value select * replace ('dup' as indicator_value_key) "
        "from marts.fact_indicator_value where indicator_value_key = '18484-T03|2026-Q3|CDS.09'"
    )
    c.execute(
        "update marts.fact_indicator_value set quarters_count = 7 where indicator_value_key = '18484-T01|2026-Q1|TC8.4'"
    )
    c.execute(
        "update marts.fact_indicator_value set hamlet_code = null where indicator_value_key = '18484-T04|2026-Q1|TC8.4'"
    )
    res = gx_runner.run_suite(c, "marts.fact_indicator_value", SUITES["fact_indicator_value"])
    assert not res.success and res.blocking

    nulls = _by_type(res, "expect_column_values_to_not_be_null", "location_code")
    assert not nulls.success and nulls.severity == "error"
    assert nulls.unexpected_count == 1
    assert nulls.sample_rows[0]["indicator_value_key"] == "18484-T02|2026-Q2|TC8.4"

    grain = _by_type(res, "expect_compound_columns_to_be_unique", ", ".join(GRAIN))
    assert not grain.success and grain.unexpected_count == 2
    assert {r["indicator_value_key"] for r in grain.sample_rows} == {"18484-T03|2026-Q3|CDS.09", "dup"}

    rng = _by_type(res, "expect_column_values_to_be_between", "quarters_count")
    assert rng.unexpected_count == 1 and rng.partial_unexpected_list == [7]

    hamlet = [
        e
        for e in res.expectations
        if e.type == "expect_column_values_to_not_be_null" and e.column == "hamlet_code"
    ][0]
    assert hamlet.unexpected_count == 1  # row_condition: only hamlet-level rows must carry hamlet_code
    assert hamlet.sample_rows[0]["location_level"] == "hamlet"

    failed_types = {(e.type, e.column) for e in res.error_failures}
    assert (
        "expect_column_values_to_be_unique",
        "indicator_value_key",
    ) not in failed_types  # 'dup' key is unique
    rows = res.failures_table()
    assert rows and all(r["description_en"] and r["description_vi"] for r in rows)
    import json

    json.dumps(res.to_dict())  # JSON-safe for Dagster metadata


def test_percent_120_fails_in_mart_and_in_sql_range_check(gx_context):
    con = duckdb.connect()
    con.execute("create schema marts")
    mart_cols = suites.suite_columns(suites.load_suite_dict(SUITES["mart_commune_indicator"]))
    df = pd.DataFrame(
        [
            {
                "commune_indicator_key": f"k{i}",
                "commune_code": "18484",
                "period_code": p,
                "period_kind": "quarter",
                "year": 2026,
                "indicator_code": ind,
                "value_type": vt,
                "aggregation": "ratio_of_sums",
                "value_origin": "hamlets",
                "value": v,
                "hamlets_reporting": 5,
                "hamlets_meeting": 4,
                "hamlets_existing": 5,
                "value_source": "reported",
            }
            for i, (p, ind, vt, v) in enumerate(
                [
                    ("2026-Q1", "TC8.4", "percent", 80.0),
                    ("2026-Q2", "TC8.4", "percent", 120.0),
                    ("2026-Q1", "CDS.09", "count", 120.0),
                ]
            )
        ]
    )
    _table(con, "marts.mart_commune_indicator", df, mart_cols)
    res = gx_runner.run_suite(con, "marts.mart_commune_indicator", SUITES["mart_commune_indicator"])
    pct = [
        e for e in res.expectations if e.type == "expect_column_values_to_be_between" and e.column == "value"
    ][0]
    assert not pct.success and pct.unexpected_count == 1  # the count indicator's 120 is fine
    assert pct.partial_unexpected_list == [120.0] and pct.sample_rows[0]["period_code"] == "2026-Q2"
    assert not res.success
    con.execute(
        "create table marts.dim_indicator as select * from (values ('TC8.4', 'percent', 0.0, 100.0), "
        "('CDS.09', 'count', 0.0, null)) t(indicator_code, value_type, min_value, max_value)"
    )
    outs = {
        o.name.split(":")[0]: o
        for o in run_declared_checks(
            con, suites.load_suite_dict(SUITES["mart_commune_indicator"]), only=["indicator_ranges"]
        )
    }
    assert outs["indicator_ranges"].failed_count == 1


def test_ocop_stars_score_mismatch(gx_context):
    con = duckdb.connect()
    con.execute("create schema marts")
    cols = suites.suite_columns(suites.load_suite_dict(SUITES["fact_ocop_certificate"]))
    base = {
        "product_name": "Nước mắm",
        "group_code": 1,
        "commune_code": "18484",
        "hamlet_code": "18484-T01",
        "producer_type": "cooperative",
        "rating_level": "province",
        "recorded_status": "active",
        "status_at_period_end": "active",
    }
    df = pd.DataFrame(
        [
            {
                **base,
                "certificate_key": "a",
                "product_id": "P1",
                "certificate_no": "C1",
                "score": 92.0,
                "stars": 5,
                "issued_on": pd.Timestamp("2024-03-01"),
                "expires_on": pd.Timestamp("2027-03-01"),
            },
            {
                **base,
                "certificate_key": "b",
                "product_id": "P2",
                "certificate_no": "C2",
                "score": 65.0,
                "stars": 4,
                "issued_on": pd.Timestamp("2024-03-01"),
                "expires_on": pd.Timestamp("2027-03-01"),
            },
            {
                **base,
                "certificate_key": "c",
                "product_id": "P3",
                "certificate_no": None,
                "score": 40.0,
                "stars": 2,
            },
        ]
    )
    _table(con, "marts.fact_ocop_certificate", df, cols)
    res = gx_runner.run_suite(
        con, "marts.fact_ocop_certificate", SUITES["fact_ocop_certificate"], batch_column=None
    )
    band = [
        e
        for e in res.expectations
        if e.type == "expect_column_values_to_be_between"
        and e.column == "score"
        and (e.kwargs.get("row_condition") or {}).get("parameter") == 4
    ][0]
    assert not band.success and band.unexpected_count == 1
    assert band.sample_rows[0]["product_id"] == "P2"
    stars = [
        e for e in res.expectations if e.column == "stars" and e.type == "expect_column_values_to_be_between"
    ][0]
    assert stars.success  # the uncertified 2-star product is not a certificate
    assert not res.success


def test_warn_failure_keeps_success(gx_context, fact_con):
    fact_con.execute(
        "update marts.fact_indicator_value set numerator = 12 where indicator_value_key = '18484-T01|2026-Q1|TC8.4'"
    )
    res = gx_runner.run_suite(fact_con, "marts.fact_indicator_value", SUITES["fact_indicator_value"])
    assert res.success and not res.blocking
    assert [e.type for e in res.warn_failures] == ["expect_column_pair_values_a_to_be_greater_than_b"]
    assert res.warn_failures[0].unexpected_count == 1 and res.error_failures == []


def test_batched_validation_matches_whole_table(gx_context, fact_con, tmp_path: Path):
    c = fact_con
    c.execute(
        "update marts.fact_indicator_value set location_code = null where period_code = '2026-Q2' and indicator_code = 'TC8.4'"
    )
    # a duplicated surrogate key across two periods: only DuckDB can see it when batching by period
    c.execute(
        "update marts.fact_indicator_value set indicator_value_key = 'same' where hamlet_code = '18484-T01' and indicator_code = 'CDS.09' and period_code in ('2026-Q1', '2026-Q3')"
    )
    whole = gx_runner.run_suite(c, "marts.fact_indicator_value", SUITES["fact_indicator_value"])
    batched = gx_runner.run_suite(
        c,
        "marts.fact_indicator_value",
        SUITES["fact_indicator_value"],
        max_rows_per_batch=10,  # fewer than the table's 25 rows, more than any period's
        docs_dir=tmp_path / "docs",
    )
    assert batched.batches == ["period_code=2026-Q1", "period_code=2026-Q2", "period_code=2026-Q3"]
    assert batched.batch_column == "period_code"
    assert whole.success == batched.success is False
    for a, b in zip(whole.expectations, batched.expectations, strict=True):
        assert (a.type, a.column, a.success, a.unexpected_count) == (
            b.type,
            b.column,
            b.success,
            b.unexpected_count,
        )
    key = _by_type(batched, "expect_column_values_to_be_unique", "indicator_value_key")
    assert key.evaluated_by == "duckdb" and key.unexpected_count == 2
    nulls = _by_type(batched, "expect_column_values_to_not_be_null", "location_code")
    assert nulls.failed_batches == ["period_code=2026-Q2"] and nulls.unexpected_count == 4
    assert _by_type(batched, "expect_table_row_count_to_be_between").evaluated_by == "duckdb"
    assert batched.statistics["rows_validated_by_gx"] == 25
    # no batch column: rowid ranges
    rowid = gx_runner.run_suite(
        c,
        "marts.fact_indicator_value",
        SUITES["fact_indicator_value"],
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
    sizes = c.execute(
        "select period_code, count(*) from marts.fact_indicator_value group by 1 order by 1"
    ).fetchall()
    biggest = max(n for _, n in sizes)
    whole = gx_runner.run_suite(c, "marts.fact_indicator_value", SUITES["fact_indicator_value"])
    res = gx_runner.run_suite(
        c, "marts.fact_indicator_value", SUITES["fact_indicator_value"], max_rows_per_batch=biggest - 1
    )
    assert res.batch_column == "rowid"
    assert all(b.startswith("rowid=") for b in res.batches)
    assert len(res.batches) == -(-sum(n for _, n in sizes) // (biggest - 1))
    assert res.statistics["rows_validated_by_gx"] == sum(n for _, n in sizes)
    for a, b in zip(whole.expectations, res.expectations, strict=True):
        assert (a.type, a.column, a.success, a.unexpected_count) == (
            b.type,
            b.column,
            b.success,
            b.unexpected_count,
        )
    grain = _by_type(res, "expect_compound_columns_to_be_unique")
    assert grain.evaluated_by == "duckdb"
    # a value that fits keeps the period batches
    fits = gx_runner.run_suite(
        c, "marts.fact_indicator_value", SUITES["fact_indicator_value"], max_rows_per_batch=biggest
    )
    assert fits.batch_column == "period_code"


def test_data_docs_index_is_built(gx_context, fact_con, tmp_path: Path):
    docs = tmp_path / "data_docs" / "run-1"
    res = gx_runner.run_suite(
        fact_con, "marts.fact_indicator_value", SUITES["fact_indicator_value"], docs_dir=docs, run_id="run-1"
    )
    assert res.docs_path == docs.resolve() / "index.html" and res.docs_path.is_file()
    pages = list((docs / "validations").rglob("*.html"))
    assert len(pages) == 1 and "run-1" in str(pages[0])
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


def test_200k_rows_in_a_few_seconds(gx_context):
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
    print(f"200k rows: {res.duration_s:.2f}s")
    assert res.duration_s < 30  # generous: the test machine is shared


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
    suite = SUITES["fact_indicator_value"]
    gx = gx_runner.run_suite(c, "marts.fact_indicator_value", suite, sql_above_rows=10**9)
    sql = gx_runner.run_suite(c, "marts.fact_indicator_value", suite, sql_above_rows=0)
    assert all(e.evaluated_by == "duckdb" for e in sql.expectations)
    assert sql.statistics["rows_validated_by_gx"] == 0 and sql.batches == []
    assert gx.success == sql.success == (not corrupt)
    for a, b in zip(gx.expectations, sql.expectations, strict=True):
        assert (a.type, a.column, a.success, a.unexpected_count) == (
            b.type,
            b.column,
            b.success,
            b.unexpected_count,
        )
        if a.element_count is not None and a.type not in ("expect_column_values_to_be_unique",):
            assert a.element_count == b.element_count, (a.type, a.column)
        if not a.success and a.partial_unexpected_list:
            assert b.partial_unexpected_list and b.sample_rows, (a.type, a.column)
    if corrupt:
        failed = {(e.type, e.column) for e in sql.error_failures + sql.warn_failures}
        assert ("expect_column_values_to_not_be_null", "location_code") in failed
        assert any(t == "expect_column_values_to_match_regex" for t, _ in failed)
        assert any(t == "expect_column_pair_values_a_to_be_greater_than_b" for t, _ in failed)


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

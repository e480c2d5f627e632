"""Great Expectations 1.x on DuckDB tables: the real suite files, failures with counts and sample rows,
severities (batching, Data Docs and large tables: test_quality_gx_scale.py). GX is imported once per
process (it is slow to import)."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from pipeline.config import REPO_ROOT
from pipeline.quality import gx_runner, suites
from pipeline.quality.declared_checks import run_declared_checks
from tests.quality.gx_fixtures import GRAIN, SUITES, by_type, suite_with_dbt_rules, table_from_frame


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
    res = gx_runner.run_suite(c, "marts.fact_indicator_value", suite_with_dbt_rules("fact_indicator_value"))
    assert not res.success and res.blocking

    nulls = by_type(res, "expect_column_values_to_not_be_null", "location_code")
    assert not nulls.success and nulls.severity == "error"
    assert nulls.unexpected_count == 1
    assert nulls.sample_rows[0]["indicator_value_key"] == "18484-T02|2026-Q2|TC8.4"

    grain = by_type(res, "expect_compound_columns_to_be_unique", ", ".join(GRAIN))
    assert not grain.success and grain.unexpected_count == 2
    assert {r["indicator_value_key"] for r in grain.sample_rows} == {"18484-T03|2026-Q3|CDS.09", "dup"}

    rng = by_type(res, "expect_column_values_to_be_between", "quarters_count")
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
    table_from_frame(con, "marts.mart_commune_indicator", df, mart_cols)
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
    table_from_frame(con, "marts.fact_ocop_certificate", df, cols)
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


def test_warn_failure_keeps_success(gx_context):
    """A failed warn-level expectation (a plan task ending in 2031) is reported but never blocks."""
    con = duckdb.connect()
    con.execute("create schema marts")
    df = pd.read_csv(REPO_ROOT / "dbt_project" / "seeds" / "plan_tasks.csv", dtype=str)
    df["plan_task_key"], df["lead_unit_code"] = df["task_code"], "18484-" + df["lead_unit_abbr"]
    df[["timeframe_start", "timeframe_end"]] = df[["timeframe_start", "timeframe_end"]].astype(int)
    df.loc[df["task_code"] == "I.1", "timeframe_end"] = 2031
    cols = suites.suite_columns(suites.load_suite_dict(SUITES["dim_plan_task"]))
    table_from_frame(con, "marts.dim_plan_task", df, cols)
    res = gx_runner.run_suite(con, "marts.dim_plan_task", SUITES["dim_plan_task"], batch_column=None)
    assert res.success and not res.blocking
    assert [(e.type, e.column) for e in res.warn_failures] == [
        ("expect_column_values_to_be_between", "timeframe_end")
    ]
    assert res.warn_failures[0].unexpected_count == 1 and res.error_failures == []


def test_hamlet_boundary_suite_passes_on_the_sample_and_catches_bad_rows(gx_context):
    """dim_hamlet_boundary's suite on the bundled synthetic boundaries (as the ingest writes them, versions from
    hamlets.csv): all met; then a point geometry type, a centroid in the sea off Africa, a duplicated version
    and an unknown hamlet_key are each caught."""
    import json

    from pipeline.ingest.reference import ReferenceData
    from pipeline.ingest.sources.reference.boundaries import parse_boundaries

    raw = REPO_ROOT / "raw"
    ref = ReferenceData.from_files(raw)
    parsed = parse_boundaries(
        (raw / "reference" / "hamlet_boundaries.geojson").read_bytes(), "r", "s", ref.hamlets
    )
    hamlets = pd.read_csv(raw / "reference" / "hamlets.csv", dtype=str, keep_default_na=False)
    df = parsed.rows.merge(
        hamlets.rename(columns={"name": "hamlet_name"}), on=["hamlet_code"], suffixes=("", "_h")
    )
    df = df[df["valid_from"].astype(str) == df["valid_from_h"]]
    df["hamlet_key"] = df["hamlet_key"].astype("int32")
    df["valid_from"] = pd.to_datetime(df["valid_from"]).dt.date
    df["valid_to"] = pd.to_datetime(df["valid_to"]).dt.date
    suite = suite_with_dbt_rules("dim_hamlet_boundary")
    con = duckdb.connect()
    con.execute("create schema marts")
    table_from_frame(con, "marts.dim_hamlet_boundary", df, suites.suite_columns(suite))
    con.execute("create table marts.dim_hamlet as select hamlet_key from marts.dim_hamlet_boundary")
    con.execute("alter table marts.dim_hamlet_boundary alter valid_from type date")
    con.execute("alter table marts.dim_hamlet_boundary alter valid_to type date")
    con.execute("alter table marts.dim_hamlet_boundary alter hamlet_key type integer")
    assert len(df) == 31 and json.loads(df["geometry_geojson"].iloc[0])["type"] == "Polygon"
    res = gx_runner.run_suite(con, "marts.dim_hamlet_boundary", suite, batch_column=None)
    sql = run_declared_checks(con, suite)
    failed = [(e.type, e.column) for e in res.expectations if not e.success] + [
        o.name for o in sql if not o.passed
    ]
    assert res.success and not failed, failed
    # a commune without a boundary file: the empty table passes the gate (the map falls back to a tile grid)
    con.execute("create table marts.keep as select * from marts.dim_hamlet_boundary")
    con.execute("delete from marts.dim_hamlet_boundary")
    empty = gx_runner.run_suite(con, "marts.dim_hamlet_boundary", suite, batch_column=None)
    assert empty.success and all(o.passed for o in run_declared_checks(con, suite))
    con.execute("insert into marts.dim_hamlet_boundary select * from marts.keep")

    con.execute("update marts.dim_hamlet_boundary set geometry_type = 'Point' where hamlet_key = 1")
    con.execute("update marts.dim_hamlet_boundary set centroid_lat = -4.0 where hamlet_key = 2")
    con.execute(
        "insert into marts.dim_hamlet_boundary select * replace (999 as hamlet_key) "
        "from marts.dim_hamlet_boundary where hamlet_key = 3"
    )
    res = gx_runner.run_suite(con, "marts.dim_hamlet_boundary", suite, batch_column=None)
    bad = {(e.type, e.column): e.unexpected_count for e in res.expectations if not e.success}
    assert not res.success
    assert bad[("expect_column_values_to_be_in_set", "geometry_type")] == 1
    assert bad[("expect_column_values_to_be_between", "centroid_lat")] == 1
    assert [n for (t, _), n in bad.items() if t == "expect_compound_columns_to_be_unique"] == [2]
    referential = [o for o in run_declared_checks(con, suite) if not o.passed]
    assert [o.failed_count for o in referential] == [1]  # hamlet_key 999 is not in dim_hamlet

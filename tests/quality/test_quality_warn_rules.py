"""The warn-level rules of the suites, as the suite files declare them (issue 14): each passes on data shaped
like the bundled sample and still fails on bad data.

- dim_plan_task: timeframe years within [2021, 2030] (the appendix of the 2026-2030 plan also assigns the
  wrap-up tasks of the 2021-2025 phase: IV.4, V.1, V.2);
- fact_indicator_value: numerator <= denominator only for shares of a population (percent, or a ratio whose
  max_value <= 1), not for "devices per household";
- mart_commune_indicator: hamlets_reporting <= hamlets_existing only for stock indicators (flows also count
  hamlets that ceased during the period, rule 7.2);
- fact_indicator_value completeness: an absent cell is accepted only when the hamlet's report is missing or
  has as many quarantined rows as absent cells;
- outliers: small counts (both values under 10) are not flagged.
The whole bundled sample has no warning: tests/e2e/test_materialize_all.py::test_sample_run_has_no_warning.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from pipeline.config import REPO_ROOT
from pipeline.quality import gx_runner, suites
from pipeline.quality.declared_checks import run_declared_checks
from tests.quality.gx_fixtures import SUITES, table_from_frame


def _declared(table: str, check: str) -> dict:
    suite = suites.load_suite_dict(SUITES[table])
    return {
        **suite,
        "meta": {
            **suite["meta"],
            "sql_checks": [c for c in suite["meta"]["sql_checks"] if c["check"] == check],
        },
    }


def _run(con, table: str, check: str):
    (out,) = run_declared_checks(con, _declared(table, check))
    return out


# ------------------------------------------------------------------------------------------ dim_plan_task


def _plan_tasks() -> pd.DataFrame:
    df = pd.read_csv(REPO_ROOT / "dbt_project" / "seeds" / "plan_tasks.csv", dtype=str)
    df["plan_task_key"] = df["task_code"]
    df["lead_unit_code"] = "18484-" + df["lead_unit_abbr"]
    df["timeframe_start"] = df["timeframe_start"].astype(int)
    df["timeframe_end"] = df["timeframe_end"].astype(int)
    return df


def _plan_con(df: pd.DataFrame) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema marts")
    cols = suites.suite_columns(suites.load_suite_dict(SUITES["dim_plan_task"]))
    table_from_frame(con, "marts.dim_plan_task", df, cols)
    return con


def _timeframe_failures(res) -> dict[str, int]:
    return {
        e.column: e.unexpected_count
        for e in res.warn_failures
        if e.type == "expect_column_values_to_be_between" and e.column in ("timeframe_start", "timeframe_end")
    }


def test_plan_timeframe_passes_on_the_seed_plan_with_its_2021_2025_wrap_up_tasks(gx_context):
    df = _plan_tasks()
    # the seed holds the appendix as published: three wrap-up tasks of the 2021-2025 phase
    assert set(df.loc[df["timeframe_start"] < 2026, "task_code"]) == {"IV.4", "V.1", "V.2"}
    res = gx_runner.run_suite(
        _plan_con(df), "marts.dim_plan_task", SUITES["dim_plan_task"], batch_column=None
    )
    assert res.success and res.warn_failures == [] and res.error_failures == []


def test_plan_timeframe_outside_2021_2030_is_a_warning(gx_context):
    df = _plan_tasks()
    df.loc[df["task_code"] == "I.1", "timeframe_end"] = 2031
    df.loc[df["task_code"] == "I.2", ["timeframe_start", "timeframe_end"]] = [2019, 2020]
    res = gx_runner.run_suite(
        _plan_con(df), "marts.dim_plan_task", SUITES["dim_plan_task"], batch_column=None
    )
    assert res.success and not res.blocking  # a warning never blocks
    assert _timeframe_failures(res) == {"timeframe_start": 1, "timeframe_end": 2}


# ------------------------------------------------------------------------------------- numerator <= denominator


@pytest.fixture()
def shares_con():
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute(
        "create table marts.dim_indicator as select * from (values "
        "('CDS.24', 'percent', 100.0, 'stock'), ('CDS.25', 'ratio', 10.0, 'stock'), "
        "('X.R1', 'ratio', 1.0, 'stock'), ('CDS.30', 'count', 100.0, 'flow')) "
        "t(indicator_code, value_type, max_value, measure_kind)"
    )
    # as in the sample: CDS.25 (smart devices per household) has 736 devices for 384 households
    con.execute(
        "create table marts.fact_indicator_value as select * from (values "
        "('18484-T19', '2026-Q2', 'CDS.24', 76.8::double, 295.0::double, 384.0::double), "
        "('18484-T19', '2026-Q2', 'CDS.25', 1.92, 736.0, 384.0), "
        "('18484-T19', '2026-Q2', 'X.R1', 0.5, 2.0, 4.0), "
        "('18484-T19', '2026-Q2', 'CDS.30', 13.0, null, null)) "
        "t(location_code, period_code, indicator_code, value, numerator, denominator)"
    )
    yield con
    con.close()


def test_numerator_rule_passes_on_a_ratio_above_one(shares_con):
    out = _run(shares_con, "fact_indicator_value", "pair_by_indicator")
    assert out.passed and out.severity == "warn"
    assert out.metadata["indicators_checked"] == ["CDS.24", "X.R1"]  # not CDS.25, not counts


def test_numerator_above_denominator_of_a_share_is_a_warning(shares_con):
    shares_con.execute(
        "update marts.fact_indicator_value set numerator = 400 where indicator_code = 'CDS.24'"
    )
    shares_con.execute("update marts.fact_indicator_value set numerator = 5 where indicator_code = 'X.R1'")
    shares_con.execute(
        "update marts.fact_indicator_value set numerator = 9000 where indicator_code = 'CDS.25'"
    )
    out = _run(shares_con, "fact_indicator_value", "pair_by_indicator")
    assert not out.passed and not out.blocking and out.severity == "warn"
    assert out.failed_count == 2
    assert {r["indicator_code"] for r in out.sample_rows} == {"CDS.24", "X.R1"}
    assert out.sample_rows[0]["location_code"] == "18484-T19"


# ---------------------------------------------------------------------- hamlets reporting <= hamlets existing


def test_hamlets_reporting_above_existing_is_a_warning_for_stock_indicators_only(shares_con):
    shares_con.execute(
        "create table marts.mart_commune_indicator as select * from (values "
        "('18484', '2026', 'CDS.30', 27, 26), ('18484', '2026', 'CDS.24', 26, 26)) "
        "t(commune_code, period_code, indicator_code, hamlets_reporting, hamlets_existing)"
    )
    # a flow counts the sessions of a hamlet merged during the year (rule 7.2): 27 reporting, 26 at year end
    assert _run(shares_con, "mart_commune_indicator", "pair_by_indicator").passed
    shares_con.execute(
        "update marts.mart_commune_indicator set hamlets_reporting = 27 where indicator_code = 'CDS.24'"
    )
    out = _run(shares_con, "mart_commune_indicator", "pair_by_indicator")
    assert not out.passed and out.severity == "warn" and out.failed_count == 1
    assert out.sample_rows == [
        {
            "commune_code": "18484",
            "period_code": "2026",
            "indicator_code": "CDS.24",
            "hamlets_reporting": 27,
            "hamlets_existing": 26,
        }
    ]


# -------------------------------------------------------------------------------------------- completeness


@pytest.fixture()
def complete_con():
    """Four hamlets × two hamlet-level indicators × 2026-Q1/Q2, every cell present; every hamlet reported."""
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute(
        "create table marts.dim_period as select * from (values "
        "('2026-Q1', date '2026-01-01', date '2026-03-31'), ('2026-Q2', date '2026-04-01', date '2026-06-30')) "
        "t(period_code, start_date, end_date)"
    )
    con.execute(
        "create table marts.dim_hamlet as select 'H' || i as hamlet_code, date '2025-07-01' as valid_from, "
        "null::date as valid_to from range(1, 5) r(i)"
    )
    con.execute(
        "create table marts.dim_indicator as select * from (values "
        "('CDS.27', 'hamlet', date '2026-01-01', date '2030-12-31'), "
        "('CDS.28', 'hamlet', date '2026-01-01', date '2030-12-31'), "
        "('CDS.08', 'commune', date '2026-01-01', date '2030-12-31')) "
        "t(indicator_code, level, valid_from, valid_to)"
    )
    con.execute(
        "create table marts.fact_indicator_value as select h.hamlet_code as location_code, i.indicator_code, "
        "p.period_code, 1.0 as value from marts.dim_hamlet h, marts.dim_period p, marts.dim_indicator i "
        "where i.level = 'hamlet'"
    )
    con.execute(
        "create table marts.fact_submission as select h.hamlet_code as unit_code, p.period_code, "
        "0 as rows_quarantined from marts.dim_hamlet h, marts.dim_period p"
    )
    yield con
    con.close()


def _drop(con, hamlet: str, indicator: str, period: str = "2026-Q2") -> None:
    con.execute(
        "delete from marts.fact_indicator_value where location_code = ? and indicator_code = ? and period_code = ?",
        [hamlet, indicator, period],
    )


def test_completeness_accepts_a_missing_report_and_quarantined_rows(complete_con):
    assert _run(complete_con, "fact_indicator_value", "completeness").metadata["expected"] == 16
    # H2 sent no report for 2026-Q2 (as the sample's 18484-T11): reporting compliance counts it missing
    complete_con.execute(
        "delete from marts.fact_submission where unit_code = 'H2' and period_code = '2026-Q2'"
    )
    _drop(complete_con, "H2", "CDS.27")
    _drop(complete_con, "H2", "CDS.28")
    # H3's report has one quarantined row (as 18484-T07's -3 members): audit.quarantine names it
    complete_con.execute(
        "update marts.fact_submission set rows_quarantined = 1 where unit_code = 'H3' and period_code = '2026-Q2'"
    )
    _drop(complete_con, "H3", "CDS.27")
    out = _run(complete_con, "fact_indicator_value", "completeness")
    assert out.passed and out.severity == "warn"
    assert out.metadata["explained"] == {"report_missing": 2, "rows_quarantined": 1}
    assert out.metadata["absent"] == 3 and out.metadata["unexplained"] == 0


def test_completeness_warns_on_a_cell_left_out_of_a_report(complete_con):
    # H4's report arrived, nothing quarantined, but CDS.28 is not in it
    _drop(complete_con, "H4", "CDS.28")
    # H3 has one quarantined row but two absent cells: neither is accounted for
    complete_con.execute(
        "update marts.fact_submission set rows_quarantined = 1 where unit_code = 'H3' and period_code = '2026-Q2'"
    )
    _drop(complete_con, "H3", "CDS.27")
    _drop(complete_con, "H3", "CDS.28")
    out = _run(complete_con, "fact_indicator_value", "completeness")
    assert not out.passed and not out.blocking and out.severity == "warn"
    assert out.failed_count == 3 and out.metadata["explained"] == {}
    assert {(r["location_code"], r["indicator_code"]) for r in out.sample_rows} == {
        ("H3", "CDS.27"),
        ("H3", "CDS.28"),
        ("H4", "CDS.28"),
    }


# ------------------------------------------------------------------------------------------------ outliers


def _counts(values: dict[str, list[float]]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute(
        "create table marts.dim_indicator as select * from (values ('CDS.30', 'count'), ('CDS.24', 'percent')) "
        "t(indicator_code, value_type)"
    )
    rows = [
        (loc, f"2026-Q{q}", code, v)
        for (loc, code), vs in ((k.split("/"), vs) for k, vs in values.items())
        for q, v in enumerate(vs, start=1)
    ]
    con.execute(
        "create table marts.fact_indicator_value (location_code varchar, period_code varchar, "
        "indicator_code varchar, value double)"
    )
    con.executemany("insert into marts.fact_indicator_value values (?, ?, ?, ?)", rows)
    return con


def test_outliers_ignore_small_counts_and_flag_real_jumps():
    # the sample's 18484-T09 training sessions 6, 5, 1: ordinary for a count that averages 4
    assert _run(
        _counts({"T09/CDS.30": [6, 5, 1], "T19/CDS.24": [70, 75, 80]}),
        "fact_indicator_value",
        "outliers_vs_previous_period",
    ).passed
    out = _run(
        _counts(
            {
                "T09/CDS.30": [6, 5, 1],
                "T19/CDS.30": [3, 12, 11],
                "T20/CDS.30": [40, 12, 13],
                "T19/CDS.24": [40, 75, 80],
            }
        ),
        "fact_indicator_value",
        "outliers_vs_previous_period",
    )
    assert not out.passed and out.severity == "warn" and out.metadata["min_base"] == 10
    assert {(r["location_code"], r["indicator_code"], r["period_code"]) for r in out.sample_rows} == {
        ("T19", "CDS.30", "2026-Q2"),  # 3 -> 12
        ("T20", "CDS.30", "2026-Q2"),  # 40 -> 12
        ("T19", "CDS.24", "2026-Q2"),  # 40 % -> 75 %
    }

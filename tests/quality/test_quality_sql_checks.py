"""SQL checks pushed down to DuckDB, on small synthetic tables."""

from __future__ import annotations

import json

import duckdb
import pandas as pd
import pytest

from pipeline import quality as sc  # every check, whichever module defines it
from pipeline.ingest.sources.ocop.rules import stars_for_score


def test_clean_fact_passes_everything(con):
    assert sc.check_grain_unique(
        con, "marts.fact_indicator_value", ["location_code", "period_code", "indicator_code"]
    ).passed
    assert sc.check_not_null(con, "marts.fact_indicator_value", ["location_code", "period_code"]).passed
    ref = sc.check_referential(
        con, "marts.fact_indicator_value", "hamlet_code", "marts.dim_hamlet", "hamlet_code"
    )
    assert ref.passed and ref.failed_count == 0
    assert sc.check_indicator_ranges(con).passed
    out = sc.check_outliers_vs_previous_period(con)
    assert out.passed and out.severity == "warn"


def test_grain_duplicate_counts_rows_and_samples_keys(con):
    con.execute(
        "insert into marts.fact_indicator_value select * from marts.fact_indicator_value "
        "where location_code = '18484-T01' and period_code = '2026-Q1' and indicator_code = 'TC8.4'"
    )
    out = sc.check_grain_unique(
        con, "marts.fact_indicator_value", ["location_code", "period_code", "indicator_code"]
    )
    assert not out.passed and out.blocking
    assert out.failed_count == 2
    assert out.metadata["duplicated_keys"] == 1
    assert out.sample_rows == [
        {"location_code": "18484-T01", "period_code": "2026-Q1", "indicator_code": "TC8.4", "n_rows": 2}
    ]
    assert "trùng" in out.message_vi and "share" in out.message_en
    json.dumps(out.to_dict())  # metadata is JSON-safe


def test_not_null_reports_per_column(con):
    con.execute(
        "update marts.fact_indicator_value set period_code = null where location_code = '18484-T02' and indicator_code = 'TC8.4'"
    )
    out = sc.check_not_null(
        con, "marts.fact_indicator_value", ["location_code", "period_code", "indicator_code"]
    )
    assert not out.passed
    assert out.failed_count == 2
    assert out.metadata["null_counts"] == {"location_code": 0, "period_code": 2, "indicator_code": 0}
    assert all(r["period_code"] is None for r in out.sample_rows) and len(out.sample_rows) == 2


def test_referential_lists_unknown_codes(con):
    con.execute(
        "update marts.fact_indicator_value set hamlet_code = '18484-T99' where location_code = '18484-T03'"
    )
    out = sc.check_referential(
        con, "marts.fact_indicator_value", "hamlet_code", "marts.dim_hamlet", "hamlet_code"
    )
    assert not out.passed
    assert out.failed_count == 6
    assert out.sample_rows == [{"hamlet_code": "18484-T99", "n_rows": 6}]


def test_indicator_ranges_percent_above_100_and_yesno(con):
    con.execute(
        "update marts.fact_indicator_value set value = 120 where indicator_code = 'TC8.4' "
        "and location_code = '18484-T01' and period_code = '2026-Q2'"
    )
    con.execute(
        "update marts.fact_indicator_value set value = 0.5 where indicator_code = 'TC15.2' "
        "and location_code = '18484-T02' and period_code = '2026-Q1'"
    )
    con.execute(
        "update marts.fact_indicator_value set value = null where indicator_code = 'CDS.09'"
    )  # marked missing: ok
    out = sc.check_indicator_ranges(con)
    assert not out.passed
    assert out.failed_count == 2
    by_code = {r["indicator_code"]: r for r in out.sample_rows}
    assert by_code["TC8.4"]["value"] == 120.0 and by_code["TC8.4"]["max_value"] == 100.0
    assert by_code["TC15.2"]["value_type"] == "yesno"
    assert out.sample_rows[0]["location_code"]  # the officer can find the row


def test_completeness_absent_vs_marked_missing(con):
    expected = (
        "select h.hamlet_code as location_code, i.indicator_code, p.period_code "
        "from marts.dim_hamlet h cross join marts.dim_indicator i "
        "cross join (select distinct period_code from marts.fact_indicator_value) p"
    )
    keys = ["location_code", "indicator_code", "period_code"]
    ok = sc.check_completeness(con, "marts.fact_indicator_value", expected, keys=keys)
    assert ok.passed and ok.metadata["expected"] == 18
    # one cell explicitly marked missing (null value) is fine; one deleted cell is not
    con.execute(
        "update marts.fact_indicator_value set value = null where location_code = '18484-T01' and indicator_code = 'CDS.09' and period_code = '2026-Q1'"
    )
    con.execute(
        "delete from marts.fact_indicator_value where location_code = '18484-T02' and indicator_code = 'TC8.4' and period_code = '2026-Q2'"
    )
    out = sc.check_completeness(
        con, "marts.fact_indicator_value", expected, keys=keys, missing_marker="value is null"
    )
    assert not out.passed
    assert out.failed_count == 1
    assert out.sample_rows == [
        {"location_code": "18484-T02", "indicator_code": "TC8.4", "period_code": "2026-Q2"}
    ]
    assert out.metadata["marked_missing"] == 1
    assert out.metadata["present"] == 17


def test_completeness_matches_null_keys():
    c = duckdb.connect()
    c.execute(
        "create table f as select * from (values (null, 'A', '2026'), ('H1', 'B', '2026')) t(hamlet_code, indicator_code, period_code)"
    )
    out = sc.check_completeness(c, "f", "select * from f")
    assert out.passed


@pytest.fixture()
def ocop():
    c = duckdb.connect()
    c.execute(
        """
        create table cert as select * from (values
            ('P1', 'C-001', 'Nước mắm', 92.0, 5, date '2024-03-01', date '2027-03-01'),
            ('P2', 'C-002', 'Mật ong', 75.0, 4, date '2024-02-29', date '2027-02-28'),
            ('P3', 'C-003', 'Chè xanh', 55.0, 3, date '2023-06-15', date '2026-06-15'),
            ('P4', null, 'Nấm', 40.0, 2, null, null)
        ) as t(product_id, certificate_no, product_name, score, stars, issued_on, expires_on)
        """
    )
    yield c
    c.close()


def test_ocop_rules_pass(ocop):
    out = sc.check_ocop_rules(ocop, "cert")
    assert out.passed, out.sample_rows


def test_ocop_rules_detect_each_violation(ocop):
    ocop.execute("update cert set stars = 4 where product_id = 'P1'")  # 92 points -> 5 stars
    ocop.execute("update cert set expires_on = date '2026-03-01' where product_id = 'P2'")  # 24 months
    ocop.execute("update cert set stars = 2, score = 45 where product_id = 'P3'")  # certified with 2 stars
    out = sc.check_ocop_rules(ocop, "cert")
    assert not out.passed
    assert out.failed_count == 3
    assert out.metadata["stars_disagree_with_score"] == 1
    assert out.metadata["wrong_expiry"] == 1
    assert out.metadata["stars_out_of_range"] == 1
    rows = {r["product_id"]: r for r in out.sample_rows}
    assert rows["P1"]["expected_stars"] == 5 and rows["P1"]["stars_disagree_with_score"] is True
    assert rows["P2"]["expected_expires_on"] == "2027-02-28"
    assert rows["P3"]["stars_out_of_range"] is True


@pytest.mark.parametrize(
    ("score", "stars"), [(100, 5), (90, 5), (89.9, 4), (70, 4), (69.5, 3), (50, 3), (49, 2), (30, 2), (10, 1)]
)
def test_star_bands(score, stars):
    assert stars_for_score(score) == stars


def test_outliers_warn_on_jumps(con):
    con.execute(
        "update marts.fact_indicator_value set value = 95 where indicator_code = 'TC8.4' and location_code = '18484-T01' and period_code = '2026-Q2'"
    )
    con.execute(
        "update marts.fact_indicator_value set value = 300 where indicator_code = 'CDS.09' and location_code = '18484-T02' and period_code = '2026-Q2'"
    )
    con.execute(
        "update marts.fact_indicator_value set value = 0 where indicator_code = 'TC15.2' and period_code = '2026-Q2'"
    )  # yes/no flips: skipped
    out = sc.check_outliers_vs_previous_period(con)
    assert not out.passed and not out.blocking and out.severity == "warn"
    assert out.failed_count == 2
    assert {(r["location_code"], r["indicator_code"]) for r in out.sample_rows} == {
        ("18484-T01", "TC8.4"),
        ("18484-T02", "CDS.09"),
    }
    assert out.sample_rows[0]["previous_period"] == "2026-Q1"
    # restricted to a period without jumps
    assert sc.check_outliers_vs_previous_period(con, current_period="2026-Q1").passed
    # the flagged rows were computed once into a temporary table, dropped afterwards
    assert con.execute("select count(*) from duckdb_tables() where temporary").fetchone()[0] == 0


def test_row_count_vs_previous_release(tmp_path):
    dp = tmp_path / "datapackage.json"
    dp.write_text(
        json.dumps(
            {
                "resources": [
                    {"name": "fact_indicator_value", "ntm:rows": 1000},
                    {"name": "dim_hamlet", "ntm:rows": 20},
                    {"name": "mart_satisfaction", "ntm:rows": 50},
                ]
            }
        )
    )
    out = sc.check_row_count_vs_previous_release(
        {"marts.fact_indicator_value": 700, "marts.dim_hamlet": 19, "marts.mart_new": 5}, dp, max_drop=0.2
    )
    assert not out.passed and out.severity == "warn" and not out.blocking
    tables = {r["table"]: r for r in out.sample_rows}
    assert set(tables) == {"fact_indicator_value", "mart_satisfaction"}
    assert tables["fact_indicator_value"]["drop_share"] == 0.3
    assert tables["mart_satisfaction"]["current_rows"] is None
    assert sc.check_row_count_vs_previous_release({"fact_indicator_value": 900}, None).passed
    assert sc.check_row_count_vs_previous_release(
        {"fact_indicator_value": 900}, tmp_path / "nope.json"
    ).passed


def test_row_count_reads_parquet_footer_when_no_count(tmp_path):
    pd.DataFrame({"a": range(7)}).to_parquet(tmp_path / "t.parquet")
    (tmp_path / "datapackage.json").write_text(
        json.dumps({"resources": [{"name": "t", "path": "t.parquet"}]})
    )
    assert sc.previous_release_counts(tmp_path) == {"t": 7}


def test_suppression_applied_on_dataframe_and_table():
    df = pd.DataFrame(
        {
            "location_code": ["18484-T01", "18484-T02", "18484-T03", "18484"],
            "respondents": [None, 12, 0, 15],
            "satisfied": [None, 11, None, 14],
            "satisfied_rate": [None, 91.7, None, 93.3],
            "suppressed": [True, False, False, False],
        }
    )
    ok = sc.check_suppression_applied(df)
    assert ok.passed and ok.metadata["small_cells"] == 1
    # a suppressed cell that shows its count (n is protected like s), small or not
    for n in (3, 12):
        shows_n = df.assign(respondents=[n, 12, 0, 15])
        out = sc.check_suppression_applied(shows_n)
        assert not out.passed and out.failed_count == 1 and "their count" in out.message_en
    # without a suppressed flag the small count itself is the leak
    bare = df.drop(columns="suppressed").assign(respondents=[3, 12, 0, 15])
    assert sc.check_suppression_applied(bare).failed_count == 1
    assert sc.check_suppression_applied(bare.assign(respondents=[None, 12, 0, 15])).passed
    leaked = df.copy()
    leaked.loc[0, "respondents"] = 3
    leaked.loc[0, "satisfied_rate"] = 66.7
    out = sc.check_suppression_applied(leaked)
    assert not out.passed and out.blocking and out.failed_count == 1
    assert out.sample_rows[0]["location_code"] == "18484-T01"
    c = duckdb.connect()
    c.execute("create schema marts")
    c.register("leaked_df", leaked)
    c.execute("create table marts.mart_satisfaction as select * from leaked_df")
    assert sc.check_suppression_applied(c).failed_count == 1


def test_missing_table_is_a_failed_outcome_not_a_crash(con):
    out = sc.check_grain_unique(con, "marts.nope", ["a"])
    assert not out.passed and "marts.nope" in out.message_en


def test_an_unreadable_input_file_is_a_failed_outcome_naming_it_not_a_crash(con, tmp_path):
    gone = tmp_path / "gone.parquet"
    expected = f"select * from read_parquet('{gone}')"
    out = sc.check_completeness(con, "marts.fact_indicator_value", expected, keys=["indicator_code"])
    assert not out.passed and out.failed_count == 0
    assert out.name == "check_completeness"
    assert "marts.fact_indicator_value" in out.message_en and "gone.parquet" in out.message_en
    assert "marts.fact_indicator_value" in out.message_vi and "gone.parquet" in out.metadata["error"]


def test_column_types(con):
    ok = sc.check_column_types(con, "marts.dim_hamlet", {"hamlet_code": "varchar", "commune_code": "text"})
    assert ok.passed, ok.sample_rows
    bad = sc.check_column_types(con, "marts.dim_hamlet", {"hamlet_code": "integer"})
    assert not bad.passed
    assert {r["problem"] for r in bad.sample_rows} == {"type", "unexpected"}


def test_names_are_validated(con):
    with pytest.raises(ValueError):
        sc.check_not_null(con, "marts.fact_indicator_value", ["value; drop table x"])


def test_run_declared_checks(con):
    suite = {
        "name": "fact_indicator_value",
        "expectations": [],
        "meta": {
            "table": "marts.fact_indicator_value",
            "sql_checks": [
                {"check": "indicator_ranges", "kwargs": {}, "severity": "error", "description_en": "ranges"},
                {
                    "check": "referential",
                    "kwargs": {
                        "col": "hamlet_code",
                        "dim_table": "marts.dim_hamlet",
                        "dim_col": "hamlet_code",
                    },
                    "severity": "warn",
                },
            ],
        },
    }
    outs = sc.run_declared_checks(con, suite)
    assert [o.passed for o in outs] == [True, True]
    assert outs[1].severity == "warn" and outs[0].metadata["description_en"] == "ranges"


def test_indicator_ranges_share_of_hamlets_is_a_percent(con):
    con.execute(
        "create table marts.mart_commune_indicator as select * from (values "
        "('18484', '2026-Q1', 'TC15.2', 'share_meeting', 66.7), "
        "('18484', '2026-Q2', 'TC15.2', 'last', 1.0), "
        "('18484', '2026-Q3', 'TC15.2', 'share_meeting', 140.0)) "
        "t(commune_code, period_code, indicator_code, aggregation, value)"
    )
    out = sc.check_indicator_ranges(
        con, "marts.mart_commune_indicator", key_cols=["commune_code", "period_code", "indicator_code"]
    )
    assert out.failed_count == 1
    assert out.sample_rows[0]["period_code"] == "2026-Q3" and out.sample_rows[0]["max_value"] == 100.0


def test_indicator_ranges_a_sum_over_several_units_keeps_only_its_lower_bound(con):
    """Found at province scale: a commune's count summed over its cooperatives (each within 0-20) exceeds the
    per-unit maximum; it is not an error. One unit's value above the maximum still is."""
    con.execute(
        "create or replace table marts.dim_indicator as select * from (values "
        "('CDS.20', 'count', 'commune', 0.0, 20.0, 'sum')) "
        "as t(indicator_code, value_type, level, min_value, max_value, aggregation)"
    )
    con.execute(
        "create or replace table marts.fact_indicator_value as select * from (values "
        "('18484', '2026-Q1', 'CDS.20', 25.0, 2), ('18485', '2026-Q1', 'CDS.20', 21.0, 1), "
        "('18486', '2026-Q1', 'CDS.20', -1.0, 3)) "
        "as t(location_code, period_code, indicator_code, value, units_count)"
    )
    out = sc.check_indicator_ranges(con)
    assert out.failed_count == 2
    assert {r["location_code"] for r in out.sample_rows} == {"18485", "18486"}


def test_completeness_computes_its_keys_once_and_leaves_no_temporary_table(con, tmp_path):
    """The expected and absent keys are materialised once per check (temporary tables), then dropped, also
    when the check fails or cannot read its input; the outcome is the one the CTE form gave."""

    def temp_tables() -> list[str]:
        return [
            r[0] for r in con.execute("select table_name from duckdb_tables() where temporary").fetchall()
        ]

    expected = (
        "select h.hamlet_code as location_code, i.indicator_code, p.period_code "
        "from marts.dim_hamlet h cross join marts.dim_indicator i "
        "cross join (select distinct period_code from marts.fact_indicator_value) p"
    )
    keys = ["location_code", "indicator_code", "period_code"]
    con.execute(
        "delete from marts.fact_indicator_value where location_code in ('18484-T02', '18484-T03') "
        "and indicator_code = 'TC8.4' and period_code = '2026-Q2'"
    )
    explained = "select location_code, indicator_code, period_code, 'report_missing' as reason from absent where location_code = '18484-T03'"
    out = sc.check_completeness(
        con, "marts.fact_indicator_value", expected, keys=keys, explained_sql=explained
    )
    assert not out.passed and out.failed_count == 1
    assert out.sample_rows == [
        {"location_code": "18484-T02", "indicator_code": "TC8.4", "period_code": "2026-Q2"}
    ]
    assert out.metadata["absent"] == 2 and out.metadata["explained"] == {"report_missing": 1}
    assert out.metadata["absent_by_column"]["location_code"] == [
        {"location_code": "18484-T02", "n_missing": 1}
    ]
    assert temp_tables() == []
    gone = sc.check_completeness(
        con, "marts.fact_indicator_value", f"select * from read_parquet('{tmp_path}/x.parquet')"
    )
    assert not gone.passed and temp_tables() == []

"""End-to-end test of the dbt project on the hand-made mini dataset (tests/dbt/mini_dataset.py).

The project is copied to a temporary folder with the mini seeds, the raw tables are written to a temporary
DuckDB file, then the real ``dbt build`` runs (seeds, models, data tests, unit tests) with
NTM_WAREHOUSE_PATH pointing at it. Every mart is then compared with values computed BY HAND below: the
arithmetic is written out from the story in mini_dataset.py, never read back from the warehouse.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from datetime import date
from pathlib import Path

import duckdb
import pytest

from tests import dbt_parse_cache
from tests.dbt import mini_dataset

REPO = Path(__file__).resolve().parents[2]
DBT = REPO / ".venv" / "bin" / "dbt"
DBT_BIN = str(DBT) if DBT.exists() else (shutil.which("dbt") or "dbt")

MARTS = [
    "dim_province",
    "dim_commune",
    "dim_hamlet",
    "dim_period",
    "dim_indicator",
    "dim_reporting_unit",
    "dim_plan_task",
    "dim_hamlet_boundary",
    "fact_indicator_value",
    "fact_submission",
    "fact_survey_answer",
    "fact_ocop_certificate",
    "fact_task_progress",
    "mart_hamlet_indicator",
    "mart_hamlet_indicator_restated",
    "mart_commune_indicator",
    "mart_province_indicator",
    "mart_plan_targets",
    "mart_reporting_compliance",
    "mart_satisfaction",
    "mart_ocop_portfolio",
]


#: project folder -> (dbt's partial-parse state of its first build, the warehouse that build opened): a later
#: build of the same project on another warehouse starts from that state (tests/dbt_parse_cache.py) instead of
#: parsing the project in full
_PARSE_STATES: dict[Path, tuple[Path, Path]] = {}


def run_dbt(project: Path, warehouse: Path, target: Path, *args: str) -> subprocess.CompletedProcess:
    if project in _PARSE_STATES and not (target / "partial_parse.msgpack").exists():
        state, built_on = _PARSE_STATES[project]
        dbt_parse_cache.write_state(target / "partial_parse.msgpack", warehouse, state, str(built_on))
    env = dict(os.environ, NTM_WAREHOUSE_PATH=str(warehouse), DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    cmd = [
        DBT_BIN,
        *args,
        "--project-dir",
        str(project),
        "--profiles-dir",
        str(project),
        "--target-path",
        str(target),
        "--log-path",
        str(target / "logs"),
    ]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=project, timeout=1200)


@pytest.fixture(scope="module")
def mini(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("dbt_mini")
    project = tmp / "dbt_project"
    shutil.copytree(
        REPO / "dbt_project",
        project,
        ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", ".user.yml"),
    )
    mini_dataset.write_seeds(project / "seeds")
    warehouse = tmp / "mini.duckdb"
    mini_dataset.build_warehouse(warehouse)
    started = time.perf_counter()
    result = run_dbt(project, warehouse, tmp / "target", "build")
    seconds = time.perf_counter() - started
    summary = [line for line in result.stdout.splitlines() if "Done." in line]
    print(f"dbt build on the mini dataset: {seconds:.1f} s; {summary[-1] if summary else ''}")
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-4000:]
    _PARSE_STATES[project] = (tmp / "target" / "partial_parse.msgpack", warehouse)
    return {"project": project, "warehouse": warehouse, "tmp": tmp, "seconds": seconds}


@pytest.fixture(scope="module")
def con(mini):
    c = duckdb.connect(str(mini["warehouse"]), read_only=True)
    yield c
    c.close()


def rows(con, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def approx_dict(d: dict) -> dict:
    return {k: (pytest.approx(v) if isinstance(v, float) else v) for k, v in d.items()}


# ------------------------------------------------------------------------------------------ tables


def test_every_table_is_built_with_an_enforced_contract(con, mini):
    built = {
        r[0]
        for r in rows(con, "select table_name from information_schema.tables where table_schema = 'marts'")
    }
    assert set(MARTS) <= built
    for name in MARTS:
        yml = next((mini["project"] / "models" / "marts").glob(f"{name}.yml")).read_text()
        assert "enforced: true" in yml, name


# ------------------------------------------------------------------------------------------ dimensions


def test_every_dbt_unit_test_runs_in_the_mini_build_and_passes(mini):
    """The pipeline's runs leave dbt's unit tests out (pipeline.transform.assets.UNIT_TESTS_EXCLUDED): they
    test the models' SQL, so they run here, every one of them, on every `make test`."""
    import json

    manifest = json.loads((mini["tmp"] / "target" / "manifest.json").read_text(encoding="utf-8"))
    declared = set(manifest["unit_tests"])
    assert len(declared) >= 10
    ran = {k: v for k, v in _run_results(mini["tmp"] / "target").items() if k.startswith("unit_test.")}
    assert set(ran) == declared
    assert {k: v["status"] for k, v in ran.items() if v["status"] != "pass"} == {}


def test_dim_commune_holds_all_communes_with_dong_loc(con):
    assert rows(con, "select count(*) from marts.dim_commune") == [(3321,)]
    ((name, province, group, home),) = rows(
        con,
        "select commune_name, province_code, commune_group, is_home_commune from marts.dim_commune "
        "where commune_code = '18484'",
    )
    assert "Đồng Lộc" in name and province == "42" and group == 2 and home is True
    assert rows(con, "select count(*) from marts.dim_province") == [(34,)]
    assert rows(con, "select is_home_province from marts.dim_province where province_code = '42'") == [
        (True,)
    ]


def test_dim_period_is_generated(con):
    # 2025..2030: 6 years x 4 quarters + 6 years
    assert rows(con, "select count(*) from marts.dim_period") == [(6 * 4 + 6,)]
    assert rows(
        con,
        "select period_kind, start_date, end_date, unit_due_date, province_due_date, label_vi, label_en "
        "from marts.dim_period where period_code = '2026-Q3'",
    ) == [
        (
            "quarter",
            date(2026, 7, 1),
            date(2026, 9, 30),
            date(2026, 9, 15),
            date(2026, 9, 25),
            "Quý 3/2026",
            "Q3 2026",
        )
    ]
    assert rows(
        con,
        "select period_kind, unit_due_date, province_due_date, label_vi from marts.dim_period "
        "where period_code = '2025'",
    ) == [("year", date(2025, 12, 15), date(2025, 12, 25), "Năm 2025")]


def test_dim_hamlet_versions_and_crosswalk(con):
    got = rows(
        con,
        "select hamlet_key, hamlet_code, version_no, is_current, successor_codes, predecessor_codes "
        "from marts.dim_hamlet order by hamlet_key",
    )
    assert got == [
        (1, "18484-T01", 1, False, None, None),
        (2, "18484-T02", 1, False, "18484-T04", None),
        (3, "18484-T03", 1, False, "18484-T04", None),
        (4, "18484-T04", 1, True, None, "18484-T02;18484-T03"),
        (5, "18484-T01", 2, True, None, None),
    ]


# ------------------------------------------------------------------------------------------ facts


def test_fact_submission_versions_lateness_and_status(con):
    got = {
        (u, p, v): (s, d, ok)
        for u, p, v, s, d, ok in rows(
            con,
            "select unit_code, period_code, version_no, status, days_late, is_on_time from marts.fact_submission",
        )
    }
    # 5 reports in Q1, 4 versions in Q2 (T01 twice), 4 in Q3, 1 annual report
    assert len(got) == 5 + 4 + 4 + 1
    assert got[("18484-T03", "2026-Q1", 1)] == ("late", 20 - 15, False)  # 20 Mar vs due 15 Mar
    assert got[("18484-VHXH", "2026-Q1", 1)] == ("on_time", 0, True)  # 15 Mar 20:00 <= 15 Mar 23:59:59
    assert got[("18484-T01", "2026-Q2", 1)] == ("superseded", 0, True)
    assert got[("18484-T01", "2026-Q2", 2)] == ("late", 20 - 15, False)  # resubmitted on 20 Jun
    assert got[("18484-T04", "2026-Q3", 1)] == ("late", 16 - 15, False)
    assert got[("18484-KT", "2026", 1)] == ("on_time", 0, True)
    assert rows(
        con,
        "select rows_loaded, rows_quarantined, value_rows from marts.fact_submission "
        "where unit_code = '18484-T03'",
    ) == [(7, 1, 7)]


def test_fact_indicator_value_latest_accepted_value(con):
    # 2026-Q1: 3 hamlets x 7 + KT C.COUNT + VHXH C.PCT = 23; Q2: 2 x 7 + KT = 15;
    # Q3: T01 7 + T04 6 (no H.SHARE) + KT + VHXH = 15; 2026: 4 hamlets x 7 derived + C.COUNT + C.PCT = 30
    assert rows(con, "select count(*) from marts.fact_indicator_value") == [(23 + 15 + 15 + 30,)]

    def one(location, period, indicator):
        return rows(
            con,
            f"""select value, numerator, denominator, met_threshold, value_source, unit_code,
                                   hamlet_key, submission_id like '%-' || unit_code || '-' || period_code
                            from marts.fact_indicator_value
                            where location_code = '{location}' and period_code = '{period}'
                              and indicator_code = '{indicator}'""",
        )[0]

    # resubmission: the Q2 value comes from T01's second version
    assert one("18484-T01", "2026-Q2", "H.SUM")[:6] == (12, None, None, None, "reported", "18484-T01")
    # rule 7.3: ...and H.MEAN, which v2 left out, from the first (10 Jun) version: 50, still counted
    assert one("18484-T01", "2026-Q2", "H.MEAN")[:6] == (50, None, None, None, "reported", "18484-T01")
    v1, v2 = (
        r[0]
        for r in rows(
            con,
            "select submission_id from intermediate.int_submissions_ranked "
            "where unit_code = '18484-T01' and period_code = '2026-Q2' order by version_no",
        )
    )
    assert rows(
        con,
        "select submission_id from marts.fact_indicator_value where location_code = '18484-T01' "
        "and period_code = '2026-Q2' and indicator_code in ('H.MEAN', 'H.SUM') order by indicator_code",
    ) == [(v1,), (v2,)]
    # rule 7.1: T04's bare 90 % for H.RATIO in Q3 gets its 130 households as the denominator
    assert one("18484-T04", "2026-Q3", "H.RATIO")[:4] == (90, pytest.approx(0.9 * 130), 130, True)
    assert rows(
        con,
        "select fraction_source from intermediate.int_indicator_values_selected "
        "where location_code = '18484-T04' and indicator_code = 'H.RATIO' order by period_code",
    ) == [("reported",), ("derived_households",)]
    # two units on one hamlet value: KT (15 Sep) after T01 (10 Sep) -> KT's 99
    assert (
        one("18484-T01", "2026-Q3", "H.LAST")[0] == 99
        and one("18484-T01", "2026-Q3", "H.LAST")[5] == "18484-KT"
    )
    # VHXH's C.COUNT (999) is not a culture indicator: KT's 10 stays
    assert one("18484", "2026-Q1", "C.COUNT")[:6] == (10, None, None, None, "reported", "18484-KT")
    # value computed from numerator/denominator; group-2 threshold 90 overrides the default 80
    assert one("18484-T02", "2026-Q1", "H.RATIO")[:4] == (pytest.approx(100 * 8 / 10), 8, 10, False)
    assert one("18484-T01", "2026-Q1", "H.RATIO")[:4] == (pytest.approx(100 * 18 / 20), 18, 20, True)
    # lower_better: T01's 4 <= 5 meets, T02's 7 does not
    assert (
        one("18484-T01", "2026-Q1", "H.MAX")[3] is True and one("18484-T02", "2026-Q1", "H.MAX")[3] is False
    )
    # hamlet version: T01 was renamed on 1 Jul 2026 -> key 1 in Q1, key 5 in Q3
    assert one("18484-T01", "2026-Q1", "H.SUM")[6] == 1 and one("18484-T01", "2026-Q3", "H.SUM")[6] == 5
    assert one("18484-T01", "2026-Q1", "H.SUM")[7] is True
    # annual: T01 H.SUM 10 + 12 + 13; H.RATIO (18 + 19 + 10) / (20 + 20 + 20); C.COUNT reported 40 wins over 37
    assert one("18484-T01", "2026", "H.SUM")[:5] == (10 + 12 + 13, None, None, None, "derived_from_quarters")
    assert one("18484-T01", "2026", "H.RATIO")[:3] == (pytest.approx(100 * 47 / 60), 47, 60)
    assert one("18484", "2026", "C.COUNT")[0] == 40 and one("18484", "2026", "C.COUNT")[4] == "reported"
    # C.PCT annual_rule last -> Q3's 45/50
    assert one("18484", "2026", "C.PCT")[:3] == (pytest.approx(100 * 45 / 50), 45, 50)


def test_fact_survey_answer_has_no_personal_data(con):
    columns = {
        r[0]
        for r in rows(
            con,
            "select column_name from information_schema.columns "
            "where table_schema = 'marts' and table_name = 'fact_survey_answer'",
        )
    }
    assert not columns & {"respondent_hash", "reason_text", "name", "phone", "producer_name"}
    # 6 responses x 2 questions, minus R1 (household h1 answered again as R4)
    assert rows(con, "select count(*), count(distinct response_id) from marts.fact_survey_answer") == [
        (10, 5)
    ]
    assert rows(con, "select count(*) from marts.fact_survey_answer where response_id = 'R1'") == [(0,)]


def test_fact_ocop_certificate_and_task_progress(con):
    got = rows(
        con,
        "select product_id, certificate_no, stars, status_at_period_end, status_period_code "
        "from marts.fact_ocop_certificate order by product_id",
    )
    assert got == [
        ("P1", "C1", 4, "active", "2026-Q3"),
        ("P2", "C2", 3, "active", "2026-Q3"),
        ("P3", "C3", 3, "active", "2026-Q3"),
    ]
    columns = {
        r[0]
        for r in rows(
            con,
            "select column_name from information_schema.columns "
            "where table_schema = 'marts' and table_name = 'fact_ocop_certificate'",
        )
    }
    assert "producer_name" not in columns
    tasks = rows(
        con,
        "select task_code, unit_code, period_code, task_status, percent_done, is_lead_unit "
        "from marts.fact_task_progress order by period_code, unit_code, task_code",
    )
    assert tasks == [
        ("I.1", "18484-T01", "2026-Q2", "in_progress", 20.0, False),  # from the second version
        ("I.1", "18484-KT", "2026-Q3", "in_progress", 40.0, True),
        ("I.2", "18484-KT", "2026-Q3", "done", 100.0, False),
    ]


def test_value_changes_between_versions(con):
    got = dict(
        rows(
            con,
            "select indicator_code, change_type from intermediate.int_submission_value_changes "
            "where unit_code = '18484-T01' and period_code = '2026-Q2'",
        )
    )
    assert got == {
        "H.SUM": "changed",
        "H.RATIO": "changed",
        "H.SHARE": "changed",
        "H.MEAN": "kept_from_earlier",  # rule 7.3: v2 leaves H.MEAN out, v1's value stays in force
        "H.LAST": "unchanged",
        "H.MAX": "unchanged",
        "H.ALLYES": "unchanged",
    }


# ------------------------------------------------------------------------------------------ indicator marts

# Hamlet values (latest accepted; see mini_dataset.SUBMISSIONS)
#          SUM MEAN RATIO(num/den) SHARE LAST MAX ALLYES
# Q1 T01   10  60   18/20          1     3    4   1     (10 Mar)
# Q1 T02   20  80    8/10          0     5    7   1     (14 Mar)
# Q1 T03   30  70   27/30          1     2    6   0     (20 Mar)
# Q2 T01   12  50   19/20          1     4    3   1     (v2, 20 Jun)
# Q2 T04   45  90   40/50          1     6    9   1     (14 Jun)
# Q3 T01   13  40   10/20          1     99*  2   1     (10 Sep; *H.LAST from KT on 15 Sep)
# Q3 T04   50  100  117/130*       -     7    8   0     (16 Sep; no H.SHARE; *bare 90 %, rule 7.1:
#                                                        derived from T04's 130 households: 0.9 x 130 = 117)
# (Q2 T01 MEAN 50 comes from v1: v2 left H.MEAN out and v1's value stays in force, rule 7.3)
# Hamlets existing at the period end: Q1 T01 T02 T03; Q2, Q3 and the year: T01 T04.
# Annual (derived by annual_rule):
#   T01 SUM 10+12+13=35, MEAN (60+50+40)/3=50, RATIO 47/60, SHARE last=1, LAST last=99, MAX max(4,3,2)=4, ALLYES max=1
#   T02 SUM 20, MEAN 80, RATIO 8/10, SHARE 0, LAST 5, MAX 7, ALLYES 1 (Q1 only)
#   T03 SUM 30, MEAN 70, RATIO 27/30, SHARE 1, LAST 2, MAX 6, ALLYES 0 (Q1 only)
#   T04 SUM 95, MEAN 95, RATIO (40+117)/(50+130)=157/180, SHARE last available (Q2)=1, LAST 7, MAX 9,
#       ALLYES max(1,0)=1
# Rule 7.2 for the year: T02 and T03 ceased on 31 Mar. Stock indicators (MEAN, SHARE, LAST, MAX, ALLYES) roll
# up over T01 and T04 only; flows (SUM, RATIO) over all four hamlets.

COMMUNE_EXPECTED = {
    # (period, indicator): (value, numerator, denominator, hamlets_reporting, hamlets_existing, value_source)
    ("2026-Q1", "H.SUM"): (10 + 20 + 30, None, None, 3, 3, "reported"),
    ("2026-Q1", "H.MEAN"): ((60 + 80 + 70) / 3, None, None, 3, 3, "reported"),
    ("2026-Q1", "H.RATIO"): (100 * (18 + 8 + 27) / (20 + 10 + 30), 53, 60, 3, 3, "reported"),
    ("2026-Q1", "H.SHARE"): (100 * 2 / 3, 2, 3, 3, 3, "reported"),  # T01 and T03 meet
    ("2026-Q1", "H.LAST"): (2, None, None, 3, 3, "reported"),  # T03 submitted last (20 Mar)
    ("2026-Q1", "H.MAX"): (max(4, 7, 6), None, None, 3, 3, "reported"),
    ("2026-Q1", "H.ALLYES"): (0, 2, 3, 3, 3, "reported"),  # T03 reported 0
    ("2026-Q1", "C.COUNT"): (10, None, None, None, None, "reported"),
    ("2026-Q1", "C.PCT"): (100 * 40 / 50, 40, 50, None, None, "reported"),
    ("2026-Q2", "H.SUM"): (12 + 45, None, None, 2, 2, "reported"),
    ("2026-Q2", "H.MEAN"): ((50 + 90) / 2, None, None, 2, 2, "reported"),
    ("2026-Q2", "H.RATIO"): (100 * (19 + 40) / (20 + 50), 59, 70, 2, 2, "reported"),
    ("2026-Q2", "H.SHARE"): (100 * 2 / 2, 2, 2, 2, 2, "reported"),
    ("2026-Q2", "H.LAST"): (4, None, None, 2, 2, "reported"),  # T01 v2 (20 Jun) is the last submitted
    ("2026-Q2", "H.MAX"): (max(3, 9), None, None, 2, 2, "reported"),
    ("2026-Q2", "H.ALLYES"): (1, 2, 2, 2, 2, "reported"),
    ("2026-Q2", "C.COUNT"): (12, None, None, None, None, "reported"),
    ("2026-Q3", "H.SUM"): (13 + 50, None, None, 2, 2, "reported"),
    ("2026-Q3", "H.MEAN"): ((40 + 100) / 2, None, None, 2, 2, "reported"),
    # rule 7.1: T04's bare 90 % weighs with its 130 households (not NULL while T04 counts as reporting)
    ("2026-Q3", "H.RATIO"): (100 * (10 + 117) / (20 + 130), 127, 150, 2, 2, "reported"),
    # T04 did not report: it counts as not meeting (denominator = hamlets existing, not reporting)
    ("2026-Q3", "H.SHARE"): (100 * 1 / 2, 1, 2, 1, 2, "reported"),
    ("2026-Q3", "H.LAST"): (7, None, None, 2, 2, "reported"),  # T04 (16 Sep) after KT's 99 for T01 (15 Sep)
    ("2026-Q3", "H.MAX"): (max(2, 8), None, None, 2, 2, "reported"),
    ("2026-Q3", "H.ALLYES"): (0, 1, 2, 2, 2, "reported"),
    ("2026-Q3", "C.COUNT"): (15, None, None, None, None, "reported"),
    ("2026-Q3", "C.PCT"): (100 * 45 / 50, 45, 50, None, None, "reported"),
    # the year: annual hamlet values (derived), hamlets existing at 31 Dec: T01, T04.
    # flows (rule 7.2) count all four hamlets, T02 and T03 included
    ("2026", "H.SUM"): (35 + 20 + 30 + 95, None, None, 4, 2, "derived_from_quarters"),
    ("2026", "H.RATIO"): (
        100 * (47 + 8 + 27 + 157) / (60 + 10 + 30 + 180),
        239,
        280,
        4,
        2,
        "derived_from_quarters",
    ),
    # stocks (rule 7.2) count T01 and T04 only: T02's 80 and T03's 70 are not averaged in again
    ("2026", "H.MEAN"): ((50 + 95) / 2, None, None, 2, 2, "derived_from_quarters"),
    ("2026", "H.SHARE"): (100 * 2 / 2, 2, 2, 2, 2, "derived_from_quarters"),  # T03 meets but no longer exists
    ("2026", "H.LAST"): (7, None, None, 2, 2, "derived_from_quarters"),  # T04's annual was submitted last
    ("2026", "H.MAX"): (max(4, 9), None, None, 2, 2, "derived_from_quarters"),
    ("2026", "H.ALLYES"): (1, 2, 2, 2, 2, "derived_from_quarters"),
    ("2026", "C.COUNT"): (40, None, None, None, None, "reported"),  # reported 40 wins over 10 + 12 + 15
    ("2026", "C.PCT"): (100 * 45 / 50, 45, 50, None, None, "derived_from_quarters"),  # last quarter
}


def test_mart_commune_indicator_equals_hand_calculation(con):
    got = {
        (p, i): (v, n, d, hr, he, s)
        for p, i, v, n, d, hr, he, s in rows(
            con,
            "select period_code, indicator_code, value, numerator, denominator, hamlets_reporting, "
            "hamlets_existing, value_source from marts.mart_commune_indicator where commune_code = '18484'",
        )
    }
    assert set(got) == set(COMMUNE_EXPECTED)
    for key, expected in COMMUNE_EXPECTED.items():
        assert got[key] == tuple(pytest.approx(x) if isinstance(x, float) else x for x in expected), key
    # threshold on the commune value: ratio 88.3 < group-2 threshold 90; max 7 > 5 (lower_better)
    flags = dict(
        ((p, i), m)
        for p, i, m in rows(
            con, "select period_code, indicator_code, met_threshold from marts.mart_commune_indicator"
        )
    )
    assert flags[("2026-Q1", "H.RATIO")] is False and flags[("2026-Q1", "H.MAX")] is False
    assert flags[("2026-Q2", "H.ALLYES")] is True and flags[("2026-Q1", "H.SHARE")] is None


def test_mart_province_indicator_equals_hand_calculation(con):
    from vietnam_provinces import Ward

    communes_in_42 = sum(1 for w in Ward.iter_all() if int(w.province_code) == 42)
    got = {
        (p, i): (v, n, d, cr, cip)
        for p, i, v, n, d, cr, cip in rows(
            con,
            "select period_code, indicator_code, value, numerator, denominator, communes_reporting, "
            "communes_in_province from marts.mart_province_indicator where province_code = '42'",
        )
    }
    assert rows(con, "select count(distinct province_code) from marts.mart_province_indicator") == [(1,)]
    assert set(got) == set(COMMUNE_EXPECTED)
    # one commune with data: each province value is that commune's value by the same rule
    for (period, indicator), (value, num, den, _hr, _he, _src) in COMMUNE_EXPECTED.items():
        v, n, d, cr, cip = got[(period, indicator)]
        assert v == pytest.approx(value), (period, indicator)
        assert cr == 1 and cip == communes_in_42 == 69
        if indicator in ("H.RATIO", "C.PCT", "H.SHARE"):
            assert (n, d) == (num, den), (period, indicator)


def test_mart_hamlet_indicator_as_of(con):
    # every hamlet row of the fact: 83 - 7 commune rows
    assert rows(con, "select count(*) from marts.mart_hamlet_indicator") == [(83 - 7,)]
    assert rows(
        con,
        "select hamlet_name, hamlet_key, existed_at_period_end from marts.mart_hamlet_indicator "
        "where hamlet_code = '18484-T01' and period_code = '2026-Q3' and indicator_code = 'H.SUM'",
    ) == [("Thôn Một Mới", 5, True)]
    # the merged hamlets keep their own history (as of the period)
    assert rows(
        con,
        "select value, existed_at_period_end from marts.mart_hamlet_indicator "
        "where hamlet_code = '18484-T02' and period_code = '2026-Q1' and indicator_code = 'H.SUM'",
    ) == [(20, True)]
    assert rows(
        con,
        "select value, existed_at_period_end from marts.mart_hamlet_indicator "
        "where hamlet_code = '18484-T03' and period_code = '2026' and indicator_code = 'H.SUM'",
    ) == [(30, False)]


def test_mart_hamlet_indicator_restated(con):
    got = {
        (h, p, i): (v, n, d, r)
        for h, p, i, v, n, d, r in rows(
            con,
            "select hamlet_code, period_code, indicator_code, value, numerator, denominator, is_restated "
            "from marts.mart_hamlet_indicator_restated",
        )
    }
    assert {h for h, _, _ in got} == {"18484-T01", "18484-T04"}  # only today's hamlets
    # Q1: T04 is restated from T02 (pop 300) + T03 (pop 200), shares 1.0
    assert got[("18484-T04", "2026-Q1", "H.SUM")] == (20 + 30, None, None, True)
    assert got[("18484-T04", "2026-Q1", "H.MEAN")][0] == pytest.approx((80 * 300 + 70 * 200) / (300 + 200))
    assert got[("18484-T04", "2026-Q1", "H.RATIO")][:3] == (pytest.approx(100 * (8 + 27) / (10 + 30)), 35, 40)
    assert got[("18484-T04", "2026-Q1", "H.SHARE")][0] == 0  # T02 (300) is the largest contributor
    assert got[("18484-T01", "2026-Q1", "H.SUM")] == (10, None, None, False)
    # the year: T04 = its own annual 95 + T02's 20 + T03's 30
    assert got[("18484-T04", "2026", "H.SUM")][0] == 95 + 20 + 30
    # T04's own annual (40 + 117) / (50 + 130) (rule 7.1) + T02's 8 / 10 + T03's 27 / 30
    assert got[("18484-T04", "2026", "H.RATIO")][:3] == (pytest.approx(100 * 192 / 220), 192, 220)
    # Q1 14 + Q2 14 + Q3 13 + 2026 14
    assert len(got) == 14 + 14 + 13 + 14


def test_mart_plan_targets(con):
    got = {
        (i, p): (a, t, g, ok)
        for i, p, a, t, g, ok in rows(
            con,
            "select indicator_code, period_code, actual_value, target_value, gap, is_on_track "
            "from marts.mart_plan_targets",
        )
    }
    assert len(got) == 2 * 5  # 2 targets x (the year + its 4 quarters)
    assert got[("C.PCT", "2026-Q1")] == (80, 85, 80 - 85, False)
    assert got[("C.PCT", "2026-Q2")] == (None, 85, None, None)
    assert got[("C.PCT", "2026-Q3")] == (90, 85, 90 - 85, True)
    assert got[("C.PCT", "2026")] == (90, 85, 5, True)
    assert got[("C.PCT", "2026-Q4")] == (None, 85, None, None)
    assert got[("H.SHARE", "2026-Q1")] == (pytest.approx(200 / 3), 50, pytest.approx(200 / 3 - 50), True)
    assert got[("H.SHARE", "2026-Q3")] == (50, 50, 0, True)
    assert got[("H.SHARE", "2026")] == (100, 50, 50, True)


def test_mart_reporting_compliance(con):
    per_unit = {
        (u, p): (rec, ot, late, miss)
        for u, p, rec, ot, late, miss in rows(
            con,
            "select unit_code, period_code, is_received, is_on_time, is_late, is_missing "
            "from marts.mart_reporting_compliance",
        )
    }
    # Q1: KT, VHXH, T01, T02, T03 (T04 not yet); Q2 and Q3: KT, VHXH, T01, T04; year: KT only (annual)
    assert len(per_unit) == 5 + 4 + 4 + 1
    assert per_unit[("18484-T03", "2026-Q1")] == (True, False, True, False)
    assert per_unit[("18484-VHXH", "2026-Q2")] == (False, False, False, True)
    assert per_unit[("18484-T01", "2026-Q2")] == (True, True, False, False)  # first version on time
    assert per_unit[("18484-T04", "2026-Q3")] == (True, False, True, False)
    assert ("18484-VHXH", "2026") not in per_unit  # culture dept does not report annually
    periods = {
        p: rest
        for p, *rest in rows(
            con,
            "select distinct period_code, period_expected_count, period_received_count, period_on_time_count, "
            "period_late_count, period_missing_count, period_late_unit_codes, period_missing_unit_codes "
            "from marts.mart_reporting_compliance",
        )
    }
    assert periods == {
        "2026-Q1": [5, 5, 4, 1, 0, "18484-T03", None],
        "2026-Q2": [4, 3, 3, 0, 1, None, "18484-VHXH"],
        "2026-Q3": [4, 4, 3, 1, 0, "18484-T04", None],
        "2026": [1, 1, 1, 0, 0, None, None],
    }


def test_mart_satisfaction(con):
    got = {
        (loc, q): (n, s, r, m)
        for loc, q, n, s, r, m in rows(
            con,
            "select location_code, question_code, respondents, satisfied, satisfied_rate, meets_90 "
            "from marts.mart_satisfaction where period_code = '2026'",
        )
    }
    # T01: R1 dropped (h1 answered again as R4). Q01: R2 yes, R3 no, R4 no; Q02: R2 yes, R3 yes, R4 no
    # T04: Q01: R5 yes, R6 yes; Q02: R5 yes, R6 no
    assert got == {
        ("18484-T01", "Q01"): (3, 1, pytest.approx(100 / 3), False),
        ("18484-T01", "Q02"): (3, 2, pytest.approx(200 / 3), False),
        ("18484-T04", "Q01"): (2, 2, 100.0, True),
        ("18484-T04", "Q02"): (2, 1, 50.0, False),
        ("18484", "Q01"): (5, 3, 60.0, False),
        ("18484", "Q02"): (5, 3, 60.0, False),
    }


def test_mart_ocop_portfolio(con):
    got = {
        (p, g, s): (n, a, e, lst)
        for p, g, s, n, a, e, lst in rows(
            con,
            "select period_code, group_code, stars, products_count, active_certificates, "
            "expiring_within_6_months, expiring_certificate_nos from marts.mart_ocop_portfolio",
        )
    }
    quarters = ["2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3"]  # up to 2026-Q3
    # P1 (group 1, 4*) from 15 Jan 2025; P2 (group 1, 3*) all along, expires 31 Oct 2026: within 6 months
    # of 30 Jun 2026 (-> 30 Dec 2026) and of 30 Sep 2026, not of 31 Mar 2026 (-> 30 Sep 2026);
    # P3 (group 2, 3*) issued 1 May 2026
    expected = {}
    for q in quarters:
        expected[(q, 1, 4)] = (1, 1, 0, None)
        expiring = q in ("2026-Q2", "2026-Q3")
        expected[(q, 1, 3)] = (1, 1, 1 if expiring else 0, "C2" if expiring else None)
    expected[("2026-Q2", 2, 3)] = (1, 1, 0, None)
    expected[("2026-Q3", 2, 3)] = (1, 1, 0, None)
    assert got == expected


# ------------------------------------------------------------------------------------------ partitions


def test_fact_rebuilds_one_period(mini):
    """A partitioned run (--vars period_code) deletes and re-inserts only that quarter and its year."""
    warehouse = mini["tmp"] / "partition.duckdb"
    shutil.copy(mini["warehouse"], warehouse)
    c = duckdb.connect(str(warehouse))
    before = dict(
        c.execute("select period_code, count(*) from marts.fact_indicator_value group by 1").fetchall()
    )
    # a correction arrives for T04 2026-Q2: H.SUM 45 -> 46 (a new version of the whole report)
    c.execute("""insert into raw.submissions by name
                 select 'abcdefabcdef-18484-T04-2026-Q2' as submission_id, '18484-T04' as unit_code,
                        '2026-Q2' as period_code, timestamp '2026-06-15 10:00:00' as submitted_at, 99 as arrival_seq,
                        1 as rows_loaded, 0 as rows_quarantined, 'abcdefabcdef' as _file_sha256,
                        'submissions/fix.csv' as _source_file""")
    # the corrected file repeats the whole report (a version replaces the previous one as a whole)
    c.execute("""insert into raw.submission_values by name
                 select * replace (
                        timestamp '2026-06-15 10:00:00' as submitted_at,
                        case when indicator_code = 'H.SUM' then 46 else value end as value,
                        'abcdefabcdef' as _file_sha256,
                        'submissions/fix.csv' as _source_file)
                 from raw.submission_values where unit_code = '18484-T04' and period_code = '2026-Q2'""")
    # and a change in another period that the partitioned run must NOT pick up
    c.execute(
        "update raw.submission_values set value = 1000 where period_code = '2026-Q1' and indicator_code = 'H.SUM'"
    )
    c.close()
    result = run_dbt(
        mini["project"],
        warehouse,
        mini["tmp"] / "target_partition",
        "run",
        "--select",
        "fact_indicator_value",
        "--vars",
        '{"period_code": "2026-Q2"}',
    )
    assert result.returncode == 0, result.stdout[-6000:]
    c = duckdb.connect(str(warehouse), read_only=True)
    after = dict(
        c.execute("select period_code, count(*) from marts.fact_indicator_value group by 1").fetchall()
    )
    value = lambda loc, p: c.execute(  # noqa: E731
        f"select value from marts.fact_indicator_value where location_code = '{loc}' and period_code = '{p}' "
        "and indicator_code = 'H.SUM'"
    ).fetchone()[0]
    assert after == before
    assert value("18484-T04", "2026-Q2") == 46
    assert value("18484-T04", "2026") == 46 + 50  # the year is rebuilt with the quarter
    assert value("18484-T01", "2026-Q1") == 10  # Q1 untouched by the partitioned run
    c.close()


def test_a_period_run_tests_the_rows_of_its_period(mini, monkeypatch):
    """NTM_DBT_TEST_PERIOD_CODE (set by the pipeline only when the change is submission files of that period
    alone) narrows a period-scoped test to that period's rows: a duplicate grain in 2026-Q1 passes a 2026-Q2 run
    and fails a 2026-Q1 run. A key without the period column (indicator_value_key) is still checked on every
    row (macros/set_tests.sql, overview.md "Tests in a period run")."""
    warehouse = _copy(mini, "test_period")
    c = duckdb.connect(str(warehouse))
    # X: the grain (location, period, indicator) of a 2026-Q1 row again, under a new key
    c.execute("""insert into marts.fact_indicator_value
                 select * replace ('x-grain-duplicate' as indicator_value_key) from marts.fact_indicator_value
                 where period_code = '2026-Q1' order by indicator_value_key limit 1""")
    # Y: the key of a 2026-Q1 row again, on another location
    c.execute("""insert into marts.fact_indicator_value
                 select * replace ('ZZ-not-a-location' as location_code) from marts.fact_indicator_value
                 where period_code = '2026-Q1' and indicator_value_key <> 'x-grain-duplicate'
                 order by indicator_value_key limit 1""")
    c.close()
    failing = {}
    for period in ("2026-Q2", "2026-Q1"):
        monkeypatch.setenv("NTM_DBT_TEST_PERIOD_CODE", period)
        target = mini["tmp"] / f"target_test_period_{period}"
        result = run_dbt(
            mini["project"], warehouse, target, "test", "--select", "unique_keys_fact_indicator_value"
        )
        assert result.returncode != 0, result.stdout[-4000:]
        c = duckdb.connect(str(warehouse), read_only=True)
        failing[period] = sorted(
            c.execute("select key_columns from dbt_test__audit.unique_keys_fact_indicator_value").fetchall()
        )
        c.close()
    assert failing["2026-Q2"] == [("(indicator_value_key)",)]
    assert failing["2026-Q1"] == [
        ("(indicator_value_key)",),
        ("(location_code, period_code, indicator_code)",),
    ]


# ------------------------------------------------------------------------------------------ roll-up rules
# raw/README.md section 7: the rules each indicator declares in the catalog (seeds/indicators.csv).


def _copy(mini, name: str) -> Path:
    """A copy of the built mini warehouse under the same file name (dbt's views name the catalog 'mini')."""
    folder = mini["tmp"] / name
    folder.mkdir()
    shutil.copy(mini["warehouse"], folder / "mini.duckdb")
    return folder / "mini.duckdb"


def test_rollup_rule_7_1_percent_without_fraction_is_weighted_by_households(con):
    # T04 wrote only "90 %" for H.RATIO in Q3; catalog: derive_from_weight, households; T04 has 130 households
    assert rows(
        con,
        "select value, numerator, denominator, fraction_source from intermediate.int_indicator_values_selected "
        "where location_code = '18484-T04' and period_code = '2026-Q3' and indicator_code = 'H.RATIO'",
    ) == [(90.0, pytest.approx(117.0), 130.0, "derived_households")]
    # the commune value weighs T04 in: (10 + 117) / (20 + 130), not NULL and not T01's 10 / 20 alone
    ((value, num, den, reporting),) = rows(
        con,
        "select value, numerator, denominator, hamlets_reporting from marts.mart_commune_indicator "
        "where period_code = '2026-Q3' and indicator_code = 'H.RATIO'",
    )
    assert (value, num, den, reporting) == (pytest.approx(100 * 127 / 150), pytest.approx(127), 150, 2)
    # every hamlet counted as reporting a ratio-of-sums value carries a fraction
    assert rows(
        con,
        "select count(*) from intermediate.int_indicator_values_selected s join reference.indicators i "
        "using (indicator_code) where s.location_level = 'hamlet' and i.aggregation = 'ratio_of_sums' "
        "and (s.numerator is null or s.denominator is null)",
    ) == [(0,)]


def test_rollup_rule_7_2_stock_rolls_up_over_hamlets_existing_at_period_end(con):
    got = {
        i: (v, r, x)
        for i, v, r, x in rows(
            con,
            "select indicator_code, value, hamlets_reporting, hamlets_ceased_excluded "
            "from marts.commune_indicator_rolled_up where period_code = '2026' "
            "and indicator_code in ('H.SUM', 'H.MEAN', 'H.MAX', 'H.RATIO')",
        )
    }
    # T02 and T03 ceased on 31 Mar (merged into T04): a stock leaves their annual values out ...
    assert got["H.MEAN"] == (pytest.approx((50 + 95) / 2), 2, 2)  # not (50 + 80 + 70 + 95) / 4
    assert got["H.MAX"] == (9, 2, 2)
    # ... a flow keeps them: classes held in T02 in Q1 were held
    assert got["H.SUM"] == (35 + 20 + 30 + 95, 4, 0)
    assert got["H.RATIO"] == (pytest.approx(100 * 239 / 280), 4, 0)
    kinds = dict(rows(con, "select indicator_code, measure_kind from reference.indicators"))
    assert kinds["H.MEAN"] == kinds["H.MAX"] == "stock" and kinds["H.SUM"] == kinds["H.RATIO"] == "flow"


def test_rollup_rule_7_3_resubmission_replaces_what_it_carries_unless_replace_all(mini):
    warehouse = _copy(mini, "rule_7_3")
    c = duckdb.connect(str(warehouse))
    in_force = """select indicator_code, value, submission_id from intermediate.int_indicator_values_selected
                  where location_code = '18484-T01' and period_code = '2026-Q2' order by indicator_code"""
    v1, v2 = (
        r[0]
        for r in c.execute(
            "select submission_id from raw.submissions where unit_code = '18484-T01' "
            "and period_code = '2026-Q2' order by submitted_at"
        ).fetchall()
    )
    # default: v2 left H.MEAN out -> v1's 50 stays in force; everything else from v2
    before = {i: (v, s) for i, v, s in c.execute(in_force).fetchall()}
    assert len(before) == 7 and before["H.MEAN"] == (50, v1) and before["H.SUM"] == (12, v2)
    # v3 says "Thay thế toàn bộ" = có and carries only H.SUM = 13: everything else of v1/v2 is dropped
    c.execute("""insert into raw.submissions by name
                 select 'fedcbafedcba-18484-T01-2026-Q2' as submission_id, '18484-T01' as unit_code,
                        '2026-Q2' as period_code, timestamp '2026-06-25 09:00:00' as submitted_at,
                        98 as arrival_seq, 1 as rows_loaded, 0 as rows_quarantined, true as replace_all,
                        'fedcbafedcba' as _file_sha256, 'submissions/v3.csv' as _source_file""")
    c.execute("""insert into raw.submission_values by name
                 select '18484-T01' as unit_code, '2026-Q2' as period_code,
                        timestamp '2026-06-25 09:00:00' as submitted_at, '18484-T01' as hamlet_code,
                        'H.SUM' as indicator_code, 13 as value, 'fedcbafedcba' as _file_sha256,
                        'submissions/v3.csv' as _source_file, 2 as _source_row""")
    after = {i: (v, s) for i, v, s in c.execute(in_force).fetchall()}
    assert after == {"H.SUM": (13, "fedcbafedcba-18484-T01-2026-Q2")}
    changes = {
        i: (t, p, v)
        for i, t, p, v in c.execute(
            "select indicator_code, change_type, previous_value, value_in_force "
            "from intermediate.int_submission_value_changes where version_no = 3"
        ).fetchall()
    }
    assert changes == {
        "H.SUM": ("changed", 12, 13),
        "H.MEAN": ("removed", 50, None),  # in force from v1 until v3 replaced everything
        "H.RATIO": ("removed", None, None),  # the mini rows carry only 19 / 20 (value computed later)
        "H.SHARE": ("removed", 1, None),
        "H.LAST": ("removed", 4, None),
        "H.MAX": ("removed", 3, None),
        "H.ALLYES": ("removed", 1, None),
    }
    c.close()


def test_rollup_rule_7_4_and_7_1_are_enforced_by_dbt_tests(mini):
    """The two data tests fail on a registry edited after the rows were loaded: KT no longer listed as T01's
    reporter (its H.LAST for T01 stays in force) and T04's households for 2026 gone (its bare 90 % cannot be
    weighted)."""
    warehouse = _copy(mini, "rule_7_4")
    c = duckdb.connect(str(warehouse))
    c.execute("update raw.reporting_units set reports_for_hamlets = null")
    c.execute("delete from raw.hamlet_population where hamlet_code = '18484-T04'")
    c.close()
    result = run_dbt(
        mini["project"], warehouse, mini["tmp"] / "target_rule_7_4", "test", "--select", "test_type:singular"
    )
    out = result.stdout
    assert result.returncode != 0
    assert re.search(r"FAIL 1 assert_hamlet_values_come_from_allowed_reporters", out), out[-4000:]
    assert re.search(r"FAIL \d+ assert_ratio_of_sums_hamlet_values_have_a_fraction", out), out[-4000:]


def test_dim_hamlet_boundary_matches_hamlet_versions_and_warns_on_missing_ones(mini):
    """The mini dataset has no boundary file: dim_hamlet_boundary is empty and the warn test is silent. Then
    three boundaries are loaded: T01 without dates (both versions: before and after its rename), T04 dated from
    its creation, T02 dated inside its only version. T03 has none: the warn-level test reports it, and dbt still succeeds (never blocking)."""
    c = duckdb.connect(str(mini["warehouse"]), read_only=True)
    assert c.execute("select count(*) from marts.dim_hamlet_boundary").fetchone()[0] == 0
    c.close()
    warehouse = _copy(mini, "boundaries")
    c = duckdb.connect(str(warehouse))
    square = '{"type":"Polygon","coordinates":[[[105.7,18.4],[105.71,18.4],[105.71,18.41],[105.7,18.41],[105.7,18.4]]]}'
    c.executemany(
        "insert into raw.hamlet_boundaries (hamlet_code, valid_from, valid_to, geometry_geojson, geometry_type, "
        "centroid_lon, centroid_lat, area_km2, source_crs, is_synthetic, feature_index, _source_file) "
        "values (?, ?, ?, ?, 'Polygon', 105.705, 18.405, 1.17, 'OGC:CRS84', ?, ?, 'reference/x.geojson')",
        [
            ("18484-T01", None, None, square, True, 0),
            ("18484-T04", date(2026, 4, 1), None, square, True, 1),
            ("18484-T02", date(2025, 1, 1), date(2026, 3, 31), square, False, 2),
        ],
    )
    c.close()
    result = run_dbt(
        mini["project"],
        warehouse,
        mini["tmp"] / "target_boundaries",
        "build",
        "--select",
        "stg_raw__hamlet_boundaries+",
        "dim_hamlet_boundary+",
    )
    out = result.stdout
    assert result.returncode == 0, out[-4000:]
    assert re.search(r"WARN 1 assert_every_hamlet_version_has_a_boundary", out), out[-4000:]
    c = duckdb.connect(str(warehouse), read_only=True)
    got = c.execute(
        "select hamlet_key, hamlet_code, hamlet_name, valid_from, valid_to, is_synthetic "
        "from marts.dim_hamlet_boundary order by hamlet_key"
    ).fetchall()
    c.close()
    assert got == [
        (1, "18484-T01", "Thôn Một", date(2020, 1, 1), date(2026, 6, 30), True),
        (2, "18484-T02", "Thôn Hai", date(2020, 1, 1), date(2026, 3, 31), False),
        (4, "18484-T04", "Thôn Bốn", date(2026, 4, 1), None, True),
        (5, "18484-T01", "Thôn Một Mới", date(2026, 7, 1), None, True),
    ]


# ------------------------------------------------------------------------------------------ province level
# raw/README.md section 11: a province-level instance (NTM_LEVEL=province) rolls up from the communes'
# report packages (pipeline.exchange.federation loads them into raw.commune_pkg_* / raw.commune_packages).


def test_at_level_commune_the_pool_is_the_local_roll_up_and_no_compliance_row(con):
    local = rows(con, "select * from marts.commune_indicator_rolled_up order by all")
    assert local and rows(con, "select * from marts.commune_indicator_pooled order by all") == local
    assert rows(con, "select count(*) from marts.mart_commune_report_compliance") == [(0,)]


def test_at_level_province_the_package_rows_replace_their_commune_and_count_against_the_25th(mini):
    """18484 rolled up here from hamlets AND sent a package (its package wins: SUM changed to 1000 there);
    18160 only sent a package; 18163 sent nothing. Only the models the packages feed are rebuilt."""
    warehouse = _copy(mini, "province")
    c = duckdb.connect(str(warehouse))
    c.execute("insert into raw.federation_settings values ('province', '42')")
    pkg = """insert into raw.commune_pkg_mart_commune_indicator by name
             select * replace (case when indicator_code = 'C.COUNT' then 1000 else value end as value,
                               '{code}' as commune_code),
                    '{code}' as _package_commune_code, 'sha{code}' as _package_sha256,
                    'communes/{code}/p.zip' as _source_file
             from marts.mart_commune_indicator where commune_code = '18484'"""
    c.execute(pkg.format(code="18484"))
    c.execute(pkg.format(code="18160"))
    c.execute(
        """insert into raw.commune_packages (path, file_sha256, package_sha256, commune_code, status, in_use,
               sent_at_local, periods) values
           ('communes/18484/p.zip', 'f1', 'sha18484', '18484', 'accepted', true,
            timestamp '2026-09-25 23:59:59', ['2026-Q3']),
           ('communes/18160/p.zip', 'f2', 'sha18160', '18160', 'accepted', true,
            timestamp '2026-09-27 08:00:00', ['2026-Q2', '2026-Q3']),
           ('communes/18163/bad.zip', 'f3', null, '18163', 'rejected', false, null, ['2026-Q3'])"""
    )
    c.close()
    models = "commune_indicator_pooled mart_commune_indicator province_indicator_rolled_up "
    models += "mart_province_indicator mart_commune_report_compliance"
    result = run_dbt(mini["project"], warehouse, mini["tmp"] / "target_province", "build", "--select", models)
    assert result.returncode == 0, result.stdout[-6000:]
    c = duckdb.connect(str(warehouse), read_only=True)
    q = lambda sql: c.execute(sql).fetchall()  # noqa: E731
    assert q(
        "select commune_code, value from marts.mart_commune_indicator where indicator_code = 'C.COUNT' "
        "and period_code = '2026-Q1' order by 1"
    ) == [("18160", 1000.0), ("18484", 1000.0)]
    # the province: 18484's package + 18160's package, nothing of 18484's local rows
    assert q(
        "select value, communes_reporting from marts.mart_province_indicator where indicator_code = 'C.COUNT' "
        "and period_code = '2026-Q1'"
    ) == [(2000.0, 2)]
    local_h_sum = q(
        "select value from marts.commune_indicator_rolled_up where indicator_code = 'H.SUM' "
        "and period_code = '2026-Q1'"
    )[0][0]
    assert q(
        "select value from marts.mart_province_indicator where indicator_code = 'H.SUM' and period_code = '2026-Q1'"
    ) == [(2 * local_h_sum,)]
    comp = {
        (r[0], r[1]): r[2:]
        for r in q(
            "select commune_code, period_code, is_on_time, is_late, is_missing, days_late, versions_count "
            "from marts.mart_commune_report_compliance"
        )
    }
    assert {p for _, p in comp} == {"2026-Q2", "2026-Q3"}  # earliest..latest quarter of accepted packages
    assert len({k for k, _ in comp}) == 69  # every commune of province 42 is expected
    assert comp[("18484", "2026-Q3")] == (True, False, False, 0, 1)
    assert comp[("18160", "2026-Q3")] == (False, True, False, 2, 1)
    assert comp[("18484", "2026-Q2")] == (False, False, True, None, 0)
    assert comp[("18163", "2026-Q3")] == (False, False, True, None, 0)  # a rejected package is not a report
    c.close()


# ------------------------------------------------------------------------------------------ contract constraints
# Not-null on a table or incremental mart is owned by its enforced contract (`constraints: [{type: not_null}]`):
# dbt-duckdb creates the table with NOT NULL and DuckDB refuses a NULL on insert. No not_null data test repeats it.


def _run_results(target: Path) -> dict[str, dict]:
    import json

    results = json.loads((target / "run_results.json").read_text(encoding="utf-8"))["results"]
    return {r["unique_id"]: r for r in results}


def test_a_null_in_a_not_null_contract_column_fails_the_build_naming_model_and_column(mini):
    warehouse = _copy(mini, "contract_not_null")
    c = duckdb.connect(str(warehouse))
    c.execute("update raw.provinces set name = null where province_code = '42'")
    c.close()
    target = mini["tmp"] / "target_contract_not_null"
    result = run_dbt(mini["project"], warehouse, target, "build", "--select", "dim_province+")
    assert result.returncode != 0
    # dbt's log names the model, DuckDB's error the column
    assert "in model dim_province" in result.stdout, result.stdout[-4000:]
    assert "NOT NULL constraint failed: dim_province" in result.stdout
    assert ".province_name" in result.stdout
    by_id = _run_results(target)
    failed = by_id.pop("model.ntm.dim_province")
    assert failed["status"] == "error"
    assert "NOT NULL constraint failed" in failed["message"] and "province_name" in failed["message"]
    # nothing downstream is built: the marts that read dim_province and every test on them are skipped
    assert "model.ntm.mart_province_indicator" in by_id
    assert {r["status"] for r in by_id.values()} == {"skipped"}, {
        k: r["status"] for k, r in by_id.items() if r["status"] != "skipped"
    }
    # and the previous dim_province stays as it was (dbt-duckdb builds into a temporary table first)
    c = duckdb.connect(str(warehouse), read_only=True)
    assert c.execute(
        "select count(*), count(province_name) from marts.dim_province where province_code = '42'"
    ).fetchall() == [(1, 1)]
    c.close()


def test_an_incremental_fact_built_before_its_not_null_constraints_gets_them_on_the_next_run(mini):
    """An incremental model is only inserted into once it exists: the pre-hook ``ntm_contract_not_null``
    (macros/contract_constraints.sql) sets its contract's NOT NULL constraints on a table built without them."""
    warehouse = _copy(mini, "contract_incremental")
    nullable = (
        "select column_name from information_schema.columns where table_schema = 'marts' "
        "and table_name = 'fact_submission' and is_nullable = 'NO' order by column_name"
    )
    c = duckdb.connect(str(warehouse))
    required = [r[0] for r in c.execute(nullable).fetchall()]
    assert {"submission_id", "unit_code", "period_code", "status"} <= set(required)
    for column in required:  # as a warehouse built before the constraints were in the contract
        c.execute(f"alter table marts.fact_submission alter column {column} drop not null")
    assert c.execute(nullable).fetchall() == []
    c.close()
    result = run_dbt(
        mini["project"],
        warehouse,
        mini["tmp"] / "target_contract_incremental",
        "run",
        "--select",
        "fact_submission",
    )
    assert result.returncode == 0, result.stdout[-6000:]
    c = duckdb.connect(str(warehouse))
    assert [r[0] for r in c.execute(nullable).fetchall()] == required
    with pytest.raises(
        duckdb.ConstraintException, match=r"NOT NULL constraint failed: fact_submission\.status"
    ):
        c.execute("update marts.fact_submission set status = null")
    c.close()


# ------------------------------------------------------------------------------------------ set-based tests
# dbt_project/tests/generic: one node per model and rule kind (unique_keys, accepted_values_set,
# relationships_set, not_null_set), each returning one row per offending value that names its column.

PROBE_SQL = """
{{ config(materialized='view') }}
select * from (values
    (1, 'x', null, 'p', 1, '2026-Q1'),
    (1, 'x', null, 'q', 2, '1999-Q9'),
    (null, 'y', 'b', 'r', 3, null),
    (null, 'z', 'b', null, null, '1999-Q9')
) as t(k, a, b, level, n, period_code)
"""

PROBE_YML = """
version: 2
models:
- name: probe
  data_tests:
  - unique_keys:
      name: unique_keys_probe
      arguments:
        columns: [k]
        grains:
        - [a, b]
        - [b]
  - accepted_values_set:
      name: accepted_values_probe
      arguments:
        columns:
          level: [p, q]
          n: [1, 2]
  - relationships_set:
      name: relationships_probe
      arguments:
        foreign_keys:
        - {column: period_code, to: "ref('dim_period')", field: period_code}
  - not_null_set:
      name: not_null_probe
      arguments:
        columns: [a, level]
"""


def _audit(warehouse: Path, test: str) -> list[tuple]:
    c = duckdb.connect(str(warehouse), read_only=True)
    try:
        return c.execute(f"select * from dbt_test__audit.{test} order by all").fetchall()
    finally:
        c.close()


def test_set_based_tests_keep_the_semantics_of_the_one_column_tests_they_replace(mini):
    """On a probe view of 4 rows: `unique` ignores nulls (k: only 1 twice), a grain compares nulls equal
    ((x, null) twice, (null) and (b) twice), accepted values and relationships let nulls pass and compare a
    number as a number, not-null names the row. Each failing test returns one row per offending value."""
    project = mini["tmp"] / "dbt_project_probe"
    shutil.copytree(mini["project"], project, ignore=shutil.ignore_patterns("target", "logs"))
    (project / "models" / "marts" / "probe.sql").write_text(PROBE_SQL, encoding="utf-8")
    (project / "models" / "marts" / "probe.yml").write_text(PROBE_YML, encoding="utf-8")
    warehouse = _copy(mini, "set_tests")
    target = mini["tmp"] / "target_set_tests"
    result = run_dbt(project, warehouse, target, "build", "--select", "probe")
    assert result.returncode != 0
    by_name = {r["unique_id"].split(".")[2]: r for r in _run_results(target).values()}
    assert by_name["probe"]["status"] == "success"
    failures = {name: by_name[name]["failures"] for name in by_name if name != "probe"}
    assert failures == {
        "unique_keys_probe": 4,
        "accepted_values_probe": 2,
        "relationships_probe": 1,
        "not_null_probe": 1,
    }
    # (k) twice 1, never the two nulls; the grains count nulls as equal
    assert _audit(warehouse, "unique_keys_probe") == [
        ("(a, b)", "(x, null)", 2),
        ("(b)", "(b)", 2),
        ("(b)", "(null)", 2),
        ("(k)", "(1)", 2),
    ]
    assert _audit(warehouse, "accepted_values_probe") == [("level", "r", 1), ("n", "3", 1)]
    assert _audit(warehouse, "relationships_probe") == [
        ("period_code", "dim_period.period_code", "1999-Q9", 2)
    ]
    [(column, row)] = _audit(warehouse, "not_null_probe")
    assert column == "level" and '"a":"z"' in row and '"level":null' in row


def test_a_broken_mart_fails_each_set_based_test_naming_column_and_value(mini):
    """A second version of hamlet T01 that repeats version 1 (same code, version and start), of an unknown
    type and commune: the keys, accepted-values and relationships tests of dim_hamlet fail, one row each per
    offending key or value; each test is one node."""
    warehouse = _copy(mini, "set_tests_dim_hamlet")
    c = duckdb.connect(str(warehouse))
    c.execute(
        "insert into marts.dim_hamlet select * replace (999 as hamlet_key, 'xom' as hamlet_type, "
        "'99999' as commune_code) from marts.dim_hamlet where hamlet_code = '18484-T01' and version_no = 1"
    )
    c.close()
    target = mini["tmp"] / "target_set_tests_dim_hamlet"
    tests = ["unique_keys_dim_hamlet", "accepted_values_dim_hamlet", "relationships_dim_hamlet"]
    result = run_dbt(mini["project"], warehouse, target, "test", "--select", *tests)
    assert result.returncode != 0
    failures = {
        r["unique_id"].split(".")[2]: (r["status"], r["failures"]) for r in _run_results(target).values()
    }
    assert failures == {
        "unique_keys_dim_hamlet": ("fail", 2),
        "accepted_values_dim_hamlet": ("fail", 1),
        "relationships_dim_hamlet": ("fail", 1),
    }
    assert _audit(warehouse, "unique_keys_dim_hamlet") == [
        ("(hamlet_code, valid_from)", "(18484-T01, 2020-01-01)", 2),
        ("(hamlet_code, version_no)", "(18484-T01, 1)", 2),
    ]
    assert _audit(warehouse, "accepted_values_dim_hamlet") == [("hamlet_type", "xom", 1)]
    assert _audit(warehouse, "relationships_dim_hamlet") == [
        ("commune_code", "dim_commune.commune_code", "99999", 1)
    ]


INCREMENTAL_BY_PERIOD = (
    "fact_submission",
    "fact_indicator_value",
    "fact_task_progress",
    "mart_hamlet_indicator",
    "mart_hamlet_indicator_restated",
)


@pytest.mark.parametrize("scoped", [False, True], ids=["whole", "period_2026_Q3"])
def test_a_period_gone_from_the_source_leaves_every_incremental_model(mini, scoped):
    """An incremental model owns the periods in scope and replaces them whole (pre-hook
    ``ntm_replace_period_scope``, macros/periods.sql): dbt's delete+insert alone deletes only the periods
    the new rows carry, so a period whose every source row is gone would stay in the table for ever."""
    warehouse = _copy(mini, f"period_gone_{scoped}")
    c = duckdb.connect(str(warehouse))
    before = {
        m: rows(c, f"select count(*) from marts.{m} where period_code = '2026-Q3'")[0][0]
        for m in INCREMENTAL_BY_PERIOD
    }
    assert all(n > 0 for n in before.values()), before
    for t in ("submissions", "submission_values", "submission_tasks"):
        c.execute(f"delete from raw.{t} where period_code = '2026-Q3'")
    c.close()
    env_before = os.environ.get("NTM_DBT_PERIOD_CODE")
    os.environ["NTM_DBT_PERIOD_CODE"] = "2026-Q3" if scoped else ""
    try:
        result = run_dbt(
            mini["project"],
            warehouse,
            mini["tmp"] / f"target_period_gone_{scoped}",
            "run",
            "--select",
            *INCREMENTAL_BY_PERIOD,
        )
    finally:
        if env_before is None:
            os.environ.pop("NTM_DBT_PERIOD_CODE")
        else:
            os.environ["NTM_DBT_PERIOD_CODE"] = env_before
    assert result.returncode == 0, result.stdout[-6000:]
    c = duckdb.connect(str(warehouse), read_only=True)
    after = {
        m: rows(c, f"select count(*) from marts.{m} where period_code = '2026-Q3'")[0][0]
        for m in INCREMENTAL_BY_PERIOD
    }
    kept = {
        m: rows(c, f"select count(*) from marts.{m} where period_code = '2026-Q1'")[0][0]
        for m in INCREMENTAL_BY_PERIOD
    }
    c.close()
    assert after == dict.fromkeys(INCREMENTAL_BY_PERIOD, 0)
    assert kept["fact_indicator_value"] > 0 and kept["fact_submission"] > 0

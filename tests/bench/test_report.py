"""The benchmark's report: step profiles read from a run's output, the step table of every pipeline
scenario, and the survey-only scenario's choice of files. No pipeline run here."""

from __future__ import annotations

from pathlib import Path

from bench.__main__ import last_survey_year, survey_of_year
from bench.measure import steps
from bench.report import markdown, step_table, verdicts

DETAIL = (
    "2026-12-01 01:44:14 +0000 - dagster - DEBUG - ntm_full_refresh - r1 - 8157 - ntm_dbt - STEP_SUCCESS - "
    'Finished execution of step "ntm_dbt" in 28.2s.\n'
    "2026-12-01 01:44:15 +0000 - dagster - DEBUG - ntm_full_refresh - r1 - 8157 - admin_units - STEP_SUCCESS"
    ' - Finished execution of step "admin_units" in 121ms.\n'
    '... Finished execution of step "publish__open_data_release" in 2m3s.\n'
)


def _stdout(tmp_path: Path, full_log: Path) -> Path:
    out = tmp_path / "full_1.log"
    out.write_text(
        f"NTM pipeline · raw: x\nNhật ký đầy đủ / full log: {full_log} (-v: live)\n"
        "✓ admin_units (0.1 s, 2 kết quả / results)\n"
        "✓ ntm_dbt (28.2 s, 148 kết quả / results)\n"
        "✓ publish/open_data_release (123.0 s, 2 kết quả / results)\n",
        encoding="utf-8",
    )
    return out


def test_steps_come_from_the_run_log_the_cli_names(tmp_path):
    detail = tmp_path / "runs" / "r1" / "pipeline.log"
    detail.parent.mkdir(parents=True)
    detail.write_text(DETAIL, encoding="utf-8")
    got = steps(_stdout(tmp_path, detail))
    assert got == {"publish__open_data_release": 123.0, "ntm_dbt": 28.2, "admin_units": 0.121}
    assert list(got) == ["publish__open_data_release", "ntm_dbt", "admin_units"]  # slowest first


def test_steps_fall_back_to_the_cli_lines_when_the_run_log_is_gone(tmp_path):
    got = steps(_stdout(tmp_path, tmp_path / "deleted" / "pipeline.log"))
    assert got == {"publish__open_data_release": 123.0, "ntm_dbt": 28.2, "admin_units": 0.1}


def test_step_table_puts_every_pipeline_scenario_side_by_side():
    scen = {
        "floor_release": {"runs": [{"wall_s": 30.0, "steps_s": {}}]},
        "full": {"runs": [{"wall_s": 110.0, "steps_s": {"ntm_dbt": 28.0, "quality_gate": 24.0}}]},
        "noop": {"runs": [{"wall_s": 1.0, "steps_s": {}}]},
        "quarter": {"runs": [{"wall_s": 50.0, "steps_s": {"ntm_dbt": 10.0, "publish": 30.0}}]},
    }
    lines = step_table(scen)
    assert "| step | full | quarter |" in lines
    assert "| publish |  | 30 |" in lines and "| ntm_dbt | 28 | 10 |" in lines
    assert lines.index("| publish |  | 30 |") < lines.index("| ntm_dbt | 28 | 10 |")  # slowest anywhere first
    assert "| sum of steps | 52.0 | 40.0 |" in lines
    assert "| outside the steps | 58.0 | 10.0 |" in lines
    assert step_table({"floor": {"runs": [{"wall_s": 9.0}]}}) == []


def test_survey_scenario_adds_the_last_years_exports_only(tmp_path):
    for name in ("khao_sat_hai_long_42_2029.csv", "khao_sat_hai_long_42_2030.csv", "notes_12030.txt"):
        (tmp_path / "surveys").mkdir(exist_ok=True)
        (tmp_path / "surveys" / name).write_text("x", encoding="utf-8")
    assert last_survey_year(tmp_path) == "2030"
    assert survey_of_year("surveys/khao_sat_hai_long_42_2030.csv", "2030")
    assert not survey_of_year("surveys/khao_sat_hai_long_42_2029.csv", "2030")
    assert not survey_of_year("surveys/notes_12030.txt", "2030")
    assert not survey_of_year("submissions/2030/x_2030-Q4.csv", "2030")


def test_the_survey_scenario_is_reported_beside_the_quarter():
    res = {
        "scale": "province",
        "reps": 1,
        "machine": {
            "date": "d",
            "cpu": "c",
            "cores": 2,
            "ram_gb": 1,
            "python": "3.11",
            "versions": {},
            "load_avg_at_start": [0, 0, 0],
        },  # fmt: skip
        "input": {},
        "scenarios": {
            "full": {
                "median_s": 100.0,
                "runs_s": [100.0],
                "peak_rss_mb": 1.0,
                "rows": None,
                "rows_per_s": None,
                "all_ok": True,
                "runs": [],
            },  # fmt: skip
            "survey": {
                "median_s": 40.0,
                "runs_s": [40.0],
                "peak_rss_mb": 1.0,
                "rows": None,
                "rows_per_s": None,
                "all_ok": True,
                "runs": [],
            },  # fmt: skip
        },
    }
    v = {a: b for a, b, _ in verdicts("province", res)}
    assert v["survey-only change, share of full (no target)"] == "40 %"
    res["verdicts"] = verdicts("province", res)
    assert "| survey | 40.0 |" in markdown(res)

"""`python -m pipeline run`'s summary (pipeline.run_summary): why a step failed in one sentence (the asset's
own exception, not Dagster's wrapper), warnings counted per failed warn-level expectation, exit codes, and
the pruning of old run folders."""

from __future__ import annotations

import os
from types import SimpleNamespace

import dagster as dg
import pandas as pd

from pipeline import run_report, run_summary
from pipeline.exit_codes import ExitCode
from pipeline.quality.fingerprint import Problem, UncheckedContentError, mismatch_message
from pipeline.resources import WarehouseBusy


def test_a_failed_step_is_named_by_its_own_error_in_one_bilingual_sentence(tmp_path):
    message = mismatch_message("run-a", [Problem("marts.mart_satisfaction", "run-a", 550, 549, "changed")])

    @dg.asset(key=dg.AssetKey(["publish", "open_data_release"]))
    def refuses() -> None:
        raise UncheckedContentError(message)

    result = dg.materialize([refuses], raise_on_error=False)
    s = run_summary.collect(result, tmp_path / "none.duckdb", 1.0)
    assert s.exit_code == ExitCode.RUN_FAILED
    cause = s.cause()
    assert cause.startswith("Không công bố vì bước publish__open_data_release bị lỗi / Nothing published")
    assert "marts.mart_satisfaction đã thay đổi sau khi lượt chạy run-a kiểm tra" in cause
    assert "DagsterExecutionStepExecutionError" not in cause and "\n" not in cause
    text = "\n".join(run_report.render(s, tmp_path))
    assert "Mã thoát / exit code 1 (RUN_FAILED)" in text


def test_a_failed_step_names_the_users_error_not_the_lower_level_error_it_was_raised_from(tmp_path):
    """WarehouseBusy is raised from DuckDB's lock error: the sentence quotes the bilingual message."""

    @dg.asset
    def admin_units() -> None:
        try:
            raise OSError('IO Error: Could not set lock on file "ntm.duckdb"')
        except OSError as exc:
            raise WarehouseBusy(
                "Kho dữ liệu đang bị giữ " + "x" * 400 + " / The warehouse is held open by PID 7"
            ) from exc

    s = run_summary.collect(
        dg.materialize([admin_units], raise_on_error=False), tmp_path / "none.duckdb", 1.0
    )
    cause = s.cause()
    assert "failed: Kho dữ liệu đang bị giữ x" in cause  # the class name is not quoted
    assert cause.endswith(" / The warehouse is held open by PID 7")  # both halves, not cut
    assert "Could not set lock" not in cause


def test_a_null_against_a_contract_constraint_is_named_by_model_and_column(tmp_path):
    """dagster-dbt quotes dbt's error lines in its exception; the sentence names the mart and the column."""
    dbt_error = (
        "The dbt CLI process with command\n\n`dbt build`\n\nfailed with exit code `1`. Check the stdout.\n\n"
        "Errors parsed from dbt logs:\n\nRuntime Error in model dim_province (models/marts/dim_province.sql)\n"
        "  Constraint Error: NOT NULL constraint failed: dim_province__dbt_tmp.province_name"
    )

    @dg.asset
    def ntm_dbt() -> None:
        raise RuntimeError(dbt_error)

    s = run_summary.collect(dg.materialize([ntm_dbt], raise_on_error=False), tmp_path / "none.duckdb", 1.0)
    assert s.exit_code == ExitCode.RUN_FAILED
    assert s.cause() == (
        "Không công bố vì bước ntm_dbt bị lỗi / Nothing published because step ntm_dbt failed: cột province_name "
        "của dim_province có giá trị rỗng, trái ràng buộc not_null trong hợp đồng dbt; dim_province và mọi bảng "
        "phía sau không được dựng lại / column province_name of dim_province has a NULL, against the not_null "
        "constraint of its dbt contract; dim_province and everything downstream were not rebuilt"
    )
    assert run_summary.contract_violations("Failure in test unique_x (models/x.yml)") == []


def _gx_eval(passed: bool, failures: list[dict], warnings: int):
    md = pd.DataFrame(failures).to_markdown(index=False) if failures else "-"
    meta = {"failed_expectations": dg.MetadataValue.md(md), "warnings": warnings, "message": "x"}
    return SimpleNamespace(
        asset_key=dg.AssetKey(["marts", "dim_plan_task"]),
        check_name="gx_suite",
        passed=passed,
        severity=dg.AssetCheckSeverity.WARN if passed else dg.AssetCheckSeverity.ERROR,
        metadata=meta,
    )


def _row(severity: str, expectation: str, column: str, n: int) -> dict:
    return {
        "severity": severity,
        "expectation": expectation,
        "column": column,
        "unexpected_count": n,
        "message": "a | b",
    }


def test_a_passed_suite_with_three_failed_warn_expectations_counts_three_warnings():
    rows = [_row("warn", "expect_column_values_to_be_between", c, i + 1) for i, c in enumerate("abc")]
    blocking, warnings = run_summary.check_findings(_gx_eval(True, rows, 3))
    assert blocking == []
    assert [w.label() for w in warnings] == [
        "marts/dim_plan_task · expect_column_values_to_be_between · a · 1 dòng / rows",
        "marts/dim_plan_task · expect_column_values_to_be_between · b · 2 dòng / rows",
        "marts/dim_plan_task · expect_column_values_to_be_between · c · 3 dòng / rows",
    ]


def test_a_blocked_suite_names_the_error_expectation_and_keeps_counting_warnings_past_the_table():
    rows = [_row("error", "expect_column_values_to_match_regex", "hamlet_code", 1)] + [
        _row("warn", f"w{i}", "", 2) for i in range(9)
    ]
    blocking, warnings = run_summary.check_findings(_gx_eval(False, rows, 12))  # the table shows 10
    assert len(warnings) == 12 and len(blocking) == 1
    s = run_summary.RunSummary(run_id="r", elapsed=1.0, blocking=blocking, warnings=warnings)
    assert s.exit_code == ExitCode.BLOCKED
    assert s.cause() == (
        "Không công bố vì kiểm tra chặn không đạt / Nothing published because a blocking check failed: "
        "marts/dim_plan_task · expect_column_values_to_match_regex · hamlet_code · 1 dòng / rows"
    )


def test_exit_code_ok_only_with_a_release():
    assert run_summary.RunSummary("r", 1.0, release={"release_id": "x"}).exit_code == ExitCode.OK
    assert run_summary.RunSummary("r", 1.0).exit_code == ExitCode.RUN_FAILED


def test_markdown_table_round_trip():
    df = pd.DataFrame([_row("warn", "e", "", 3), _row("error", "f", "col", 4)])
    rows = run_summary.parse_markdown_table(df.to_markdown(index=False))
    assert [(r["severity"], r["expectation"], r["column"], r["message"]) for r in rows] == [
        ("warn", "e", "", "a | b"),
        ("error", "f", "col", "a | b"),
    ]
    assert run_summary.parse_markdown_table("-") == []


def test_runs_are_pruned_to_keep_runs(tmp_path):
    runs = tmp_path / "runs"
    for i in range(5):
        (runs / f"r{i}").mkdir(parents=True)
        os.utime(runs / f"r{i}", (1000 + i, 1000 + i))
    removed = run_report.prune_runs(runs, keep=3, current="r0")
    assert sorted(p.name for p in runs.iterdir()) == ["r0", "r3", "r4"]
    assert sorted(p.name for p in removed) == ["r1", "r2"]
    assert run_report.prune_runs(tmp_path / "missing", keep=3) == []


def test_a_blocking_failure_after_publishing_does_not_claim_nothing_was_published():
    f = run_summary.Finding("publish/open_data_release", "release_integrity", "release_integrity")
    s = run_summary.RunSummary("r", 1.0, blocking=[f], release={"release_id": "x", "tables": {}})
    assert s.exit_code == ExitCode.BLOCKED
    assert s.cause().startswith("Đã công bố nhưng kiểm tra chặn không đạt / Published, but a blocking check")


def test_offending_rows_are_short_lines_with_the_failing_column_first():
    rows = [{"hamlet_key": "999", "hamlet_code": "18484-X99", "valid_to": "NaT", "note": "x" * 300}]
    (line,) = run_summary.sample_lines(rows, first="hamlet_code").splitlines()
    assert line.startswith("hamlet_code=18484-X99, hamlet_key=999, note=xxx")
    assert "valid_to" not in line and len(line) == 160

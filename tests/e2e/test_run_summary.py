"""The run summary tells what the audit tables and the checks hold.

- On the bundled sample (the session build `pipeline_build`, no new run): counts per source reconcile
  with audit.ingest_files, every deliberate bad row of raw/README.md §5 is listed with its reason, warnings
  are counted per failed warn-level expectation, and the summary fits one screen.
- One extra run of `python -m pipeline run` on a copy of the sample with a rejected file, quarantined rows,
  a value that jumps against the previous period (a warn-level check) and a hamlet code that breaks the
  dim_hamlet suite (blocking): the output names files, reasons, counts, the cause in one sentence, exits 3,
  and quarantine.csv holds every rejected file and quarantined row of the audit tables.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from pipeline import run_report, run_summary
from pipeline.exit_codes import ExitCode
from tests.e2e.support import REPO, pipeline_env

pytestmark = pytest.mark.slow

#: deliberate bad rows of the sample (raw/README.md §5): file, row, reason code
README_DEFECTS = {
    ("submissions/2026/18484-T05_2026-Q1.csv", 2, "unknown_hamlet"),
    ("submissions/2026/18484-VP_2026-Q2.csv", 3, "unknown_indicator"),
    ("submissions/2026/18484-VHXH_2026-Q1.csv", 2, "unparseable_number"),
    ("submissions/2026/18484-T03_2026-Q2.csv", 4, "duplicate_row"),
    ("submissions/2026/18484-MTTQ_2026-Q3.csv", 5, "future_period"),
    ("submissions/2025/18484-T15_2025-Q4.csv", 4, "malformed_period"),
    ("ocop/ocop_18484.xlsx", 10, "stars_score_mismatch"),
    ("ocop/ocop_18484.xlsx", 13, "expiry_not_36_months"),
}


def _audit(warehouse: str) -> dict:
    con = duckdb.connect(warehouse, read_only=True)
    try:
        per_source = {
            r[0]: r[1:]
            for r in con.execute(
                """select source, count(*), count(*) filter (where status = 'rejected'),
                          sum(rows_loaded), sum(rows_quarantined)
                   from audit.ingest_files
                   where status not in ('ignored', 'not_ingested') and source <> ''
                   group by source"""
            ).fetchall()
        }
        rejected = {
            r[0]
            for r in con.execute("select path from audit.ingest_files where status = 'rejected'").fetchall()
        }
        rows = con.execute(
            "select count(distinct (file_sha256, row_number)) from audit.quarantine where row_number is not null"
        ).fetchone()[0]
    finally:
        con.close()
    return {"per_source": per_source, "rejected": rejected, "quarantined_rows": rows}


def _warn_count(result) -> int:
    """Failed warn-level expectations and checks, straight from the check metadata."""
    n = 0
    for ev in result.get_asset_check_evaluations():
        if "warnings" in ev.metadata:
            n += int(run_summary.meta_value(ev.metadata["warnings"]))
        elif not ev.passed and getattr(ev.severity, "value", "") == "WARN":
            n += 1
    return n


def test_summary_of_the_bundled_sample(pipeline_build, tmp_path):
    result = pipeline_build.result
    warehouse = pipeline_build.env["NTM_WAREHOUSE"]
    s = run_summary.collect(result, Path(warehouse), 12.0, started_at=datetime(2000, 1, 1))
    audit = _audit(warehouse)

    by_source = {c.source: c for c in s.sources}
    assert {"submissions", "surveys", "ocop", "reference"} <= set(by_source)
    for source, (files, rejected, loaded, quarantined) in audit["per_source"].items():
        c = by_source[source]
        assert (c.files, c.rejected, c.rows_loaded, c.rows_quarantined) == (
            files,
            rejected,
            loaded,
            quarantined,
        )
        assert c.new + c.unchanged + c.rejected == c.files
    assert by_source["submissions"].rows_quarantined == 8 and by_source["ocop"].rows_quarantined == 2

    listed = {(p["file"], p["row"], p["reason_code"]) for p in s.quarantined}
    assert listed >= README_DEFECTS
    assert len({(p["file"], p["row"]) for p in s.quarantined}) == audit["quarantined_rows"]
    assert all(p["reason_vi"] and p["reason_en"] for p in s.problems)

    assert s.blocking == [] and s.errors == []
    assert len(s.warnings) == _warn_count(result)
    assert s.checks_passed == sum(ev.passed for ev in result.get_asset_check_evaluations())
    assert s.exit_code == ExitCode.OK and s.cause() is None

    lines = run_report.render(s, tmp_path / result.run_id, tmp_path / "pipeline.log")
    text = "\n".join(lines)
    assert len(lines) <= 40, text
    # the first five quarantined rows are named with row, column and reason; the count covers all of them
    for p in s.quarantined[:5]:
        assert (
            f"{p['file']} · dòng / row {p['row']} · cột / column {p['column']}: {p['reason_code']} — " in text
        )
    assert f"Dòng bị cách ly / quarantined rows: {audit['quarantined_rows']} " in text
    assert str(tmp_path / result.run_id / "quarantine.csv") in text
    assert "Mã thoát / exit code 0 (OK)" in text

    path = run_report.write_quarantine_csv(s, tmp_path / "quarantine.csv")
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(s.problems)
    assert {(r["file"], int(r["row"]), r["reason_code"]) for r in rows if r["kind"] == "quarantined_row"} >= (
        README_DEFECTS
    )


# ---------------------------------------------------------------------------------------------------------
# one run with every kind of problem
# ---------------------------------------------------------------------------------------------------------

REJECTED = "submissions/2026/18484-T01_2026-Q4.csv"
ADDED_BAD_ROW = "submissions/2026/18484-T02_2026-Q3.csv"
OUTLIER = "submissions/2026/18484-VHXH_2026-Q3.csv"


def _break_the_sample(raw: Path) -> None:
    header = (raw / "submissions/2026/18484-T05_2026-Q3.csv").read_text(encoding="utf-8").splitlines()[0]
    # a report with a header and no data: the whole file is rejected (header_only)
    (raw / REJECTED).write_text(header + "\n", encoding="utf-8")
    # a row whose value cannot be read: quarantined (unparseable_number), the rest of the file loads
    lines = (raw / ADDED_BAD_ROW).read_text(encoding="utf-8").splitlines()
    row = lines[1].split(",")
    row[6], row[7], row[8] = "mười hai", "", ""
    (raw / ADDED_BAD_ROW).write_text("\n".join([*lines, ",".join(row)]) + "\n", encoding="utf-8")
    # CDS.09 jumps from 114 (2026-Q2) to 999: the outliers_vs_previous_period check warns
    text = (raw / OUTLIER).read_text(encoding="utf-8")
    assert ",CDS.09,132," in text
    (raw / OUTLIER).write_text(text.replace(",CDS.09,132,", ",CDS.09,999,"), encoding="utf-8")
    # a hamlet code outside the pattern NNNNN-Tnn: the dim_hamlet suite fails (blocking)
    hamlets = raw / "reference" / "hamlets.csv"
    hamlets.write_text(
        hamlets.read_text(encoding="utf-8") + "999,18484-X99,18484,Thôn Thử Nghiệm,thon,2020-01-01,\n",
        encoding="utf-8",
    )


def test_blocked_run_names_files_reasons_and_cause(tmp_path):
    env = pipeline_env(tmp_path)
    _break_the_sample(Path(env["NTM_RAW_DIR"]))
    out = subprocess.run(
        [sys.executable, "-m", "pipeline", "run"],
        cwd=tmp_path,
        env={**os.environ, **env, "PYTHONPATH": str(REPO), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=900,
    )
    stdout = out.stdout
    assert out.returncode == ExitCode.BLOCKED, stdout[-4000:] + out.stderr[-2000:]
    # the full log is in the file, not on the screen
    assert len(stdout.splitlines()) <= 60, stdout
    runs = Path(env["NTM_WAREHOUSE"]).parent / "runs"
    (run_dir,) = [p for p in runs.iterdir() if p.is_dir()]
    log = (run_dir / "pipeline.log").read_text(encoding="utf-8")
    assert "dbt build" in log and "quality_gate" in log
    assert str(run_dir / "pipeline.log") in stdout
    assert (run_dir / "summary.txt").read_text(encoding="utf-8").strip().splitlines()[-1] in stdout

    # named files and reasons
    assert f"{REJECTED}: header_only" in stdout
    assert (
        f"{ADDED_BAD_ROW} · dòng / row {len((Path(env['NTM_RAW_DIR']) / ADDED_BAD_ROW).read_text().splitlines())}"
        in stdout
    )
    # the warn-level finding, counted and named
    assert "CẢNH BÁO / WARN marts/fact_indicator_value · outliers_vs_previous_period" in stdout
    # the blocking one: one sentence naming the expectation and the table, and the exit code
    cause = next(line for line in stdout.splitlines() if "Nothing published because" in line)
    assert "Không công bố vì kiểm tra chặn không đạt" in cause
    assert (
        "marts/dim_hamlet" in cause
        and "expect_column_values_to_match_regex" in cause
        and "hamlet_code" in cause
    )
    assert "DagsterExecutionStepExecutionError" not in stdout
    assert "Mã thoát / exit code 3 (BLOCKED)" in stdout

    # quarantine.csv lists every rejected file and quarantined row the audit tables hold
    audit = _audit(env["NTM_WAREHOUSE"])
    with open(run_dir / "quarantine.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["file"] for r in rows if r["kind"] == "rejected_file"} == audit["rejected"] == {REJECTED}
    assert (
        len({(r["file"], r["row"]) for r in rows if r["kind"] == "quarantined_row"})
        == audit["quarantined_rows"]
    )
    assert audit["quarantined_rows"] == 11
    counts = f"Dòng bị cách ly / quarantined rows: {audit['quarantined_rows']}"
    assert counts in stdout

"""The ingest side of the roll-up rules the catalog declares per indicator (raw/README.md section 7):
7.1 a percent without numerator/denominator (quarantined, or kept to be derived from a weight), 7.3 the optional
"Thay thế toàn bộ" column, 7.4 who may report a hamlet's value. Each case asserts the rows loaded, the rows
quarantined with their reason and column, and the bilingual message.

Reference set (ingest_builders): KT lists T01, T05, T09, T21 in reports_for_hamlets, VP lists none; households
exist for T01 and T05 in 2026 only. CDS.01 is commune-level (missing_fraction_rule = quarantine); CDS.24 and
CDS.25 are hamlet-level (derive_from_weight, households; hamlet_reporters = own_or_listed).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipeline.ingest import ensure_warehouse_schema, load_reference
from pipeline.ingest.sources.submissions.template import SUBMISSION
from pipeline.ingest.sources.submissions.validate import ingest_submissions
from tests.ingest.ingest_builders import SUB_HEADER, TODAY, csv_text, sub_row


def _write(raw, name: str, rows: list[list[str]], header: list[str] = SUB_HEADER) -> None:
    (raw / "submissions" / name).write_text(csv_text(header, rows), encoding="utf-8")


def _quarantine(con) -> list[tuple]:
    return con.execute(
        "select row_number, column_name, reason_code, message_vi, message_en from audit.quarantine "
        "order by row_number, reason_code"
    ).fetchall()


def _values(con) -> list[tuple]:
    return con.execute(
        "select _source_row, unit_code, hamlet_code, indicator_code, value, numerator, denominator "
        "from raw.submission_values order by _source_row"
    ).fetchall()


def test_percent_without_fraction_follows_the_catalog_rule(raw_dir, con, ref):
    _write(
        raw_dir,
        "a.csv",
        [
            sub_row(indicator="CDS.01", value="85", num="", den=""),  # 2: commune, rule quarantine
            sub_row(period="2026-Q2", indicator="CDS.01", value="", num="17", den="20"),  # 3: loaded
            sub_row(
                unit="18484-T05", indicator="CDS.24", value="40", num="", den=""
            ),  # 4: derive, weight 200
            sub_row(unit="18484-T05", period="2026-Q2", indicator="CDS.24", value="40", num="80", den=""),
            # 5: half a fraction
            sub_row(period="2025-Q4", indicator="CDS.24", hamlet="18484-T05", value="40", num="", den=""),
            # 6: no households for T05 in 2025 -> nothing to derive from
        ],
    )
    report = ingest_submissions(con, raw_dir, ref, today=TODAY)
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (5, 2, 3)
    quarantined = _quarantine(con)
    assert [(r[0], r[1], r[2]) for r in quarantined] == [
        (2, "numerator", "missing_fraction"),
        (5, "denominator", "missing_fraction"),
        (6, "hamlet_code", "missing_weight"),
    ]
    assert "tử số và mẫu số" in quarantined[0][3] and "numerator and denominator" in quarantined[0][4]
    assert "hamlet_population.csv" in quarantined[2][3] and "households" in quarantined[2][4]
    # the hamlet's bare percent is loaded as reported: dbt derives 80 / 200 from T05's 200 households
    assert _values(con) == [
        (3, "18484-KT", None, "CDS.01", 85.0, 17.0, 20.0),
        (4, "18484-T05", "18484-T05", "CDS.24", 40.0, None, None),
    ]


def test_only_the_hamlet_or_a_listed_reporter_may_report_its_value(raw_dir, con, ref):
    _write(
        raw_dir,
        "b.csv",
        [
            sub_row(
                unit="18484-T05", indicator="CDS.24", hamlet="18484-T05", value="", num="8", den="10"
            ),  # own
            sub_row(
                unit="18484-KT", indicator="CDS.24", hamlet="18484-T01", value="", num="9", den="10"
            ),  # listed
            sub_row(
                unit="18484-T01", indicator="CDS.24", hamlet="18484-T05", value="", num="1", den="10"
            ),  # 4
            sub_row(
                unit="18484-VP", indicator="CDS.24", hamlet="18484-T05", value="", num="2", den="10"
            ),  # 5
        ],
    )
    report = ingest_submissions(con, raw_dir, ref, today=TODAY)
    assert (report.rows_loaded, report.rows_quarantined) == (2, 2)
    quarantined = _quarantine(con)
    assert [(r[0], r[1], r[2]) for r in quarantined] == [
        (4, "hamlet_code", "reporter_not_allowed"),
        (5, "hamlet_code", "reporter_not_allowed"),
    ]
    assert "reports_for_hamlets" in quarantined[0][3] and "may not report" in quarantined[0][4]
    assert [(r[1], r[2], r[5]) for r in _values(con)] == [
        ("18484-T05", "18484-T05", 8.0),
        ("18484-KT", "18484-T01", 9.0),
    ]


def test_own_only_indicator_refuses_even_a_listed_reporter(tmp_path, raw_dir):
    seeds = raw_dir.parent / "dbt_project" / "seeds" / "indicators.csv"
    text = seeds.read_text(encoding="utf-8")
    line = next(x for x in text.splitlines() if x.startswith("CDS.24,"))
    seeds.write_text(text.replace(line, line.replace(",own_or_listed", ",own_only")), encoding="utf-8")
    con = duckdb.connect(str(tmp_path / "own_only.duckdb"))
    ensure_warehouse_schema(con)
    ref = load_reference(con, raw_dir, seeds.parent)
    _write(raw_dir, "c.csv", [sub_row(indicator="CDS.24", hamlet="18484-T01", value="", num="9", den="10")])
    report = ingest_submissions(con, raw_dir, ref, today=TODAY)
    assert (report.rows_loaded, report.rows_quarantined) == (0, 1)
    assert [(r[0], r[2]) for r in _quarantine(con)] == [(2, "reporter_not_allowed")]
    con.close()


def test_replace_all_column_is_read_into_the_submission(raw_dir, con, ref):
    header = [*SUB_HEADER, SUBMISSION.column("replace_all").label_vi]
    _write(raw_dir, "plain.csv", [sub_row(submitted="10/09/2026 08:00")])  # no such column: not replace-all
    _write(
        raw_dir,
        "replace.csv",
        [
            [*sub_row(submitted="12/09/2026 08:00"), "có"],
            [*sub_row(submitted="12/09/2026 08:00", indicator="CDS.11", value="4", num="", den=""), ""],
        ],
        header,
    )
    _write(
        raw_dir,
        "bad.csv",
        [[*sub_row(submitted="13/09/2026 08:00", indicator="CDS.11", value="5", num="", den=""), "maybe"]],
        header,
    )
    ingest_submissions(con, raw_dir, ref, today=TODAY)
    got = con.execute(
        "select submitted_at::varchar, replace_all, rows_loaded from raw.submissions order by submitted_at"
    ).fetchall()
    assert got == [("2026-09-10 08:00:00", False, 1), ("2026-09-12 08:00:00", True, 2)]
    assert [(r[0], r[1], r[2]) for r in _quarantine(con)] == [(2, "replace_all", "unparseable_yesno")]
    # the optional column is part of the documented template contract
    readme = (Path(__file__).resolve().parents[2] / "raw" / "README.md").read_text(encoding="utf-8")
    assert "| Thay thế toàn bộ | `replace_all` |" in readme


def test_old_warehouse_gets_the_new_columns(tmp_path):
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema raw")
    con.execute(
        "create table raw.submissions (submission_id varchar, unit_code varchar, period_code varchar, "
        "submitted_at timestamp, arrival_seq bigint, rows_loaded bigint, rows_quarantined bigint, "
        "_file_sha256 varchar, _source_file varchar, _source_row integer)"
    )
    con.execute("insert into raw.submissions (submission_id) values ('old')")
    ensure_warehouse_schema(con)
    ensure_warehouse_schema(con)  # idempotent
    assert con.execute("select submission_id, replace_all from raw.submissions").fetchall() == [("old", None)]
    cols = {r[0] for r in con.execute("describe raw.reporting_units").fetchall()}
    assert "reports_for_hamlets" in cols
    con.close()

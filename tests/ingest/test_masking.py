"""Free text kept in the warehouse is masked at ingest (pipeline.ingest.masking): phone, ID, e-mail and the
names of respondents and household-business owners; the landing file stays as it was; audit.pii_masked
counts every masked cell per file, table, column and kind."""

from __future__ import annotations

import hashlib

from pipeline.ingest.sources.ocop.validate import ingest_ocop
from pipeline.ingest.sources.submissions.validate import ingest_submissions
from pipeline.ingest.sources.surveys.validate import ingest_surveys
from tests.ingest.ingest_builders import (
    OCOP_HEADER,
    SALT,
    SUB_HEADER,
    SURVEY_HEADER,
    TODAY,
    csv_text,
    ocop_row,
    sub_row,
    survey_row,
    task_row,
)


def _write(raw, folder, name, text):
    p = raw / folder / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    return p


def _audit(con):
    return con.execute(
        "select table_name, column_name, kind, cells, replacements from audit.pii_masked order by all"
    ).fetchall()


def test_submission_notes_masked_with_audit_counts_and_landing_file_kept(raw_dir, con, ref):
    _write(
        raw_dir,
        "ocop",
        "o.csv",
        csv_text(OCOP_HEADER, [ocop_row(producer="Hộ kinh doanh Lê Thị Mai", ptype="Hộ kinh doanh")]),
    )
    ingest_ocop(con, raw_dir, ref, today=TODAY, salt=SALT)
    assert con.execute("select producer_type from raw.ocop_products").fetchall() == [("household",)]
    notes = [
        "Liên hệ chị Le Thi Mai 0912.345.678",  # owner's name without diacritics, phone with dots
        "CCCD 042 095 001 234; e-mail mai.le@gmail.com",
        "Số liệu ước tính",
    ]
    path = _write(
        raw_dir,
        "submissions",
        "s.csv",
        csv_text(
            SUB_HEADER,
            [
                sub_row(note=notes[0]),
                sub_row(indicator="CDS.11", value="7", note=notes[1]),
                sub_row(indicator="CDS.07", value="Có", note=notes[2]),
                task_row(note=notes[0]),
            ],
        ),
    )
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    report = ingest_submissions(con, raw_dir, ref, today=TODAY, salt=SALT)
    assert report.rows_loaded == 4, report
    got = [
        r[0] for r in con.execute("select note from raw.submission_values order by _source_row").fetchall()
    ]
    assert got == ["Liên hệ chị [TÊN] [SĐT]", "CCCD [CCCD]; e-mail [EMAIL]", "Số liệu ước tính"]
    assert con.execute("select note from raw.submission_tasks").fetchall() == [("Liên hệ chị [TÊN] [SĐT]",)]
    assert _audit(con) == [
        ("raw.submission_tasks", "note", "name", 1, 1),
        ("raw.submission_tasks", "note", "phone", 1, 1),
        ("raw.submission_values", "note", "email", 1, 1),
        ("raw.submission_values", "note", "id_number", 1, 1),
        ("raw.submission_values", "note", "name", 1, 1),
        ("raw.submission_values", "note", "phone", 1, 1),
    ]
    sha = con.execute("select distinct file_sha256 from audit.pii_masked").fetchall()
    assert sha == [(before,)] and hashlib.sha256(path.read_bytes()).hexdigest() == before  # landing kept
    # a re-run changes nothing and counts nothing twice
    ingest_submissions(con, raw_dir, ref, today=TODAY, salt=SALT)
    assert len(_audit(con)) == 6


def test_survey_reasons_masked_against_this_batch_and_earlier_respondents(raw_dir, con, ref):
    _write(
        raw_dir,
        "surveys",
        "a.csv",
        csv_text(
            SURVEY_HEADER,
            [
                survey_row(
                    a1="Không hài lòng",
                    r1="Tôi là Nguyễn Văn Bảo, gọi 0987 654 321",
                    name="Nguyễn Văn Bảo",
                ),
                survey_row(rid="R-2", a1="Không hài lòng", r1="Đường xuống cấp", name="Trần Thị Cúc"),
            ],
        ),
    )
    ingest_surveys(con, raw_dir, ref, today=TODAY, salt=SALT)
    assert con.execute("select reason_text from raw.survey_reasons order by response_id").fetchall() == [
        ("Tôi là [TÊN], gọi [SĐT]",),
        ("Đường xuống cấp",),
    ]
    assert _audit(con) == [
        ("raw.survey_reasons", "reason_text", "name", 1, 1),
        ("raw.survey_reasons", "reason_text", "phone", 1, 1),
    ]
    # the respondent is stored only hashed; a later note naming her (no diacritics) is still masked
    _write(raw_dir, "submissions", "s.csv", csv_text(SUB_HEADER, [sub_row(note="Bà TRAN THI CUC góp ý")]))
    ingest_submissions(con, raw_dir, ref, today=TODAY, salt=SALT)
    assert con.execute("select note from raw.submission_values").fetchall() == [("Bà [TÊN] góp ý",)]
    assert con.execute(
        "select count(*) from raw.survey_answers where respondent_name_fold_hash is null"
    ).fetchone() == (0,)


def test_an_older_warehouse_gets_the_fold_hash_column(tmp_path):
    import duckdb

    from pipeline.ingest import ensure_warehouse_schema

    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    con.execute("create schema raw")
    con.execute("create table raw.survey_answers (response_id varchar, respondent_name_hash varchar)")
    con.execute("insert into raw.survey_answers values ('R-1', 'abc')")
    ensure_warehouse_schema(con)
    ensure_warehouse_schema(con)  # idempotent
    assert con.execute("select * from raw.survey_answers").fetchall() == [("R-1", "abc", None)]
    assert con.execute("select count(*) from audit.pii_masked").fetchone() == (0,)

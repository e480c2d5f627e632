"""The ingest rules that raw/README.md spells out for outsiders (submission ids and arrival order, duplicate
rows, tick exports, survey hamlet names and blank survey fields), each checked on the real ingest."""

from __future__ import annotations

import hashlib

from pipeline.ingest.sources.submissions.validate import ingest_submissions
from pipeline.ingest.sources.surveys.validate import ingest_surveys
from tests.ingest.ingest_builders import SALT, TODAY, sub_row, survey_row
from tests.ingest.test_corpus import sub_file, survey_file


def _quarantine(con, source_file):
    return con.execute(
        "select row_number, reason_code from audit.quarantine where source_file = ? order by 1, 2",
        [source_file],
    ).fetchall()


def test_submission_id_suffix_and_arrival_seq_in_path_then_row_order(raw_dir, con, ref):
    # b.csv: two versions of KT 2026-Q3 (rows 2 and 3); a.csv (earlier in path order): one version
    sub_file("2026/b.csv", [sub_row(), sub_row(submitted="15/09/2026 08:00")])(raw_dir)
    sub_file("2026/a.csv", [sub_row(submitted="13/09/2026 10:00")])(raw_dir)
    ingest_submissions(con, raw_dir, ref, today=TODAY)
    sha_b = hashlib.sha256((raw_dir / "submissions/2026/b.csv").read_bytes()).hexdigest()[:12]
    sha_a = hashlib.sha256((raw_dir / "submissions/2026/a.csv").read_bytes()).hexdigest()[:12]
    got = con.execute(
        "select arrival_seq, _source_file, submission_id from raw.submissions order by arrival_seq"
    ).fetchall()
    assert got == [
        (1, "submissions/2026/a.csv", f"{sha_a}-18484-KT-2026-Q3"),
        (2, "submissions/2026/b.csv", f"{sha_b}-18484-KT-2026-Q3"),
        (3, "submissions/2026/b.csv", f"{sha_b}-18484-KT-2026-Q3-2"),
    ]
    # a later run continues the sequence
    sub_file("2026/0.csv", [sub_row(submitted="16/09/2026 08:00")])(raw_dir)
    ingest_submissions(con, raw_dir, ref, today=TODAY)
    assert con.execute("select max(arrival_seq), count(*) from raw.submissions").fetchone() == (4, 4)


def test_duplicate_key_uses_parsed_time_and_drops_later_copies_of_a_quarantined_row(raw_dir, con, ref):
    sub_file(
        "d.csv",
        [
            sub_row(indicator="CDS.07", value="abc"),  # row 2: quarantined (unparseable)
            sub_row(indicator="CDS.07", value="Có", submitted="2026-09-14 16:30"),  # row 3: same key
            sub_row(indicator="cds.07", value="Có", unit="18484-kt"),  # row 4: codes upper-cased
            sub_row(indicator="CDS.07", value="Có", period="2026-Q3 "),  # row 5: period stripped: same
        ],
    )(raw_dir)
    ingest_submissions(con, raw_dir, ref, today=TODAY)
    q = _quarantine(con, "submissions/d.csv")
    assert (2, "unparseable_yesno") in q
    assert [r for r, c in q if c == "duplicate_row"] == [3, 4, 5]
    assert con.execute("select count(*) from raw.submission_values").fetchone()[0] == 0


def test_tick_export_needs_every_answer_to_be_a_tick(raw_dir, con, ref):
    survey_file("tick.csv", [survey_row(a1="x", a2="", a3=""), survey_row(rid="R-2", a1="X", a2="", a3="x")])(
        raw_dir
    )
    survey_file("mixed.csv", [survey_row(rid="M-1", a1="x", a2="", a3=""), survey_row(rid="M-2", a1="Có")])(
        raw_dir
    )
    ingest_surveys(con, raw_dir, ref, today=TODAY, salt=SALT)
    got = con.execute("select response_id, question_code, satisfied from raw.survey_answers order by 1, 2")
    assert got.fetchall() == [
        ("M-1", "Q01", True),  # one "Có" in mixed.csv: not a tick export, blanks are not answered
        ("M-2", "Q01", True),
        ("M-2", "Q02", False),
        ("R-1", "Q01", True),
        ("R-1", "Q02", False),
        ("R-1", "Q03", False),
        ("R-2", "Q01", True),
        ("R-2", "Q02", False),
        ("R-2", "Q03", True),
    ]


def test_check_marks_make_a_tick_export_and_count_as_satisfied(raw_dir, con, ref):
    survey_file("v.csv", [survey_row(a1="✓", a2="", a3="✔"), survey_row(rid="R-2", a1="x", a2="", a3="")])(
        raw_dir
    )
    ingest_surveys(con, raw_dir, ref, today=TODAY, salt=SALT)
    assert _quarantine(con, "surveys/v.csv") == []
    got = con.execute("select response_id, question_code, satisfied from raw.survey_answers order by 1, 2")
    assert [r for r in got.fetchall() if r[0] == "R-2"] == [
        ("R-2", "Q01", True),
        ("R-2", "Q02", False),
        ("R-2", "Q03", False),
    ]
    got = con.execute(
        "select question_code, satisfied from raw.survey_answers where response_id <> 'R-2' order by 1"
    )
    assert got.fetchall() == [("Q01", True), ("Q02", False), ("Q03", True)]


def test_survey_hamlet_prefixes_blank_commune_and_blank_period(raw_dir, con, ref):
    survey_file(
        "h.csv",
        [
            survey_row(rid="A", hamlet="TDP  Bắc Sơn", commune=""),
            survey_row(rid="B", hamlet="xóm bắc sơn", commune=""),
            survey_row(rid="C", hamlet="18484-t05", commune=""),
            # 'Hoà Bình' (new-style tone) is a T09 name valid until 2025-09-30: no version valid on the
            # answer date has that key, so the latest version with the key is still taken
            survey_row(rid="D", hamlet="Khu dân cư Hoà Bình", ts="2025-11-03 09:12:44"),
            survey_row(rid="E", hamlet="Thôn Không Có"),
        ],
    )(raw_dir)
    ingest_surveys(con, raw_dir, ref, today=TODAY, salt=SALT)
    got = con.execute(
        "select distinct response_id, hamlet_code, commune_code, period_code from raw.survey_answers order by 1"
    ).fetchall()
    assert got == [
        ("A", "18484-T05", "18484", "2025"),
        ("B", "18484-T05", "18484", "2025"),
        ("C", "18484-T05", "18484", "2025"),
        ("D", "18484-T09", "18484", "2025"),
    ]
    assert (6, "unknown_hamlet") in _quarantine(con, "surveys/h.csv")


def test_survey_hamlet_version_is_valid_through_its_last_day():
    """raw/README: the version valid on the answer date (valid_from <= date <= valid_to, as dates) is taken;
    an answer at 10:00 on a version's last day still belongs to it, not to a later version with the same name."""
    import pandas as pd

    from pipeline.ingest.reference import ReferenceData, hamlet_name_key
    from pipeline.ingest.sources.surveys.validate import resolve_hamlet

    hamlets = pd.DataFrame(
        {
            "hamlet_code": ["18484-T09", "18484-T30"],
            "commune_code": ["18484", "18484"],
            "name": ["Thôn Hòa Bình", "Thôn Hòa Bình"],
            "valid_from": pd.to_datetime(["2020-01-01", "2025-10-01"]),
            "valid_to": pd.to_datetime(["2025-09-30", None]),
        }
    )
    hamlets["name_key"] = hamlet_name_key(hamlets["name"])
    none = pd.DataFrame()
    ref = ReferenceData(
        hamlets, none, none, task_codes=frozenset(), questions=none, commune_codes=frozenset()
    )
    when = pd.Series(pd.to_datetime(["2025-09-30 10:00", "2025-10-01 00:00", "2019-05-01 08:00"]))
    code, commune = resolve_hamlet(ref, pd.Series(["Xóm Hoà Bình"] * 3, dtype=object), when)
    # before any version: none is valid, the latest valid_from is taken
    assert list(code) == ["18484-T09", "18484-T30", "18484-T30"]
    assert list(commune) == ["18484"] * 3

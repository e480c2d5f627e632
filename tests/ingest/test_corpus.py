"""Bad-input corpus: each case builds its input in a tmp raw dir, ingests it and asserts the outcome
(status, rows read / loaded / quarantined, reason codes).

XLSX formulas: openpyxl writes formulas without cached values, so a real cached value cannot be produced
here; the case ``ocop_xlsx_hyperlink_text`` stores ``=HYPERLINK(...)`` as a *string* cell (data_type 's')
and asserts it is read back verbatim as text (calamine returns cached values for real formulas).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import openpyxl
import pytest

from pipeline.ingest import load_reference
from pipeline.ingest.sources.ocop.validate import ingest_ocop
from pipeline.ingest.sources.submissions.validate import ingest_submissions
from pipeline.ingest.sources.surveys.validate import ingest_surveys
from pipeline.lib.text import cp1258_encode, tcvn3_encode, vni_encode
from tests.ingest.ingest_builders import (
    OCOP_HEADER,
    SALT,
    SUB_HEADER,
    SURVEY_HEADER,
    TODAY,
    csv_text,
    make_raw_dir,
    ocop_row,
    sub_row,
    survey_row,
    task_row,
)

INGEST = {"submissions": ingest_submissions, "surveys": ingest_surveys, "ocop": ingest_ocop}


@dataclass
class Case:
    name: str
    source: str
    build: Callable[[Path], None]  # writes files under raw/<source>/
    status: str
    read: int
    loaded: int
    quarantined: int
    codes: frozenset[str] = frozenset()
    encoding: str | None = None


def _w(raw: Path, source: str, name: str, data: bytes | str, encoding: str = "utf-8") -> Path:
    p = raw / source / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data if isinstance(data, bytes) else data.encode(encoding))
    return p


def sub_file(name: str, rows, sep=",", enc: Callable[[str], bytes] | str = "utf-8"):
    def build(raw: Path):
        text = csv_text(SUB_HEADER, rows, sep)
        data = enc(text) if callable(enc) else text.encode(enc)
        _w(raw, "submissions", name, data)

    return build


GOOD = [
    sub_row(),
    sub_row(indicator="CDS.07", value="Có"),
    task_row(),
]


def xlsx_bytes(
    sheets: dict[str, list[list]], merge: str | None = None, sheet_for_merge: str | None = None
) -> bytes:
    import io

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for r in rows:
            ws.append(r)
        if merge and title == sheet_for_merge:
            ws.merge_cells(merge)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _xlsx_title_merged(raw: Path):
    rows = [
        ["BÁO CÁO ĐỊNH KỲ - XÃ ĐỒNG LỘC", None, None, None],
        ["Kỳ: Quý III/2026"],
        [],
        SUB_HEADER,
        sub_row(submitted="2026-09-14 16:30"),
        sub_row(indicator="CDS.11", value=12.0),
        task_row(pct=60),
    ]
    data = xlsx_bytes(
        {"Hướng dẫn": [["Điền theo mẫu"]], "BaoCao": rows}, merge="A1:F1", sheet_for_merge="BaoCao"
    )
    _w(raw, "submissions", "kt_q3.xlsx", data)


def _xlsx_other_sheet(raw: Path):
    rows = [SUB_HEADER, sub_row(), sub_row(indicator="CDS.11", value="7")]
    data = xlsx_bytes({"Sheet1": [["ghi chú"]], "Dữ liệu": rows})
    _w(raw, "submissions", "kt_other.xlsx", data)


def _xlsx_excel_serial(raw: Path):
    import datetime as dt

    rows = [
        SUB_HEADER,
        sub_row(submitted=dt.datetime(2026, 9, 14, 16, 30)),
        sub_row(indicator="CDS.11", submitted=46279.5),
    ]
    _w(raw, "submissions", "serial.xlsx", xlsx_bytes({"BaoCao": rows}))


def _truncated_xlsx(raw: Path):
    data = xlsx_bytes({"BaoCao": [SUB_HEADER, sub_row()]})
    _w(raw, "submissions", "cut.xlsx", data[: len(data) // 2])


def _ocop_hyperlink(raw: Path):
    import io

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "OCOP"
    ws.append(["DANH SÁCH SẢN PHẨM OCOP"])
    ws.append(OCOP_HEADER)
    ws.append(ocop_row())
    c = ws.cell(row=3, column=15)
    c.value = '=HYPERLINK("https://truyxuat.hatinh.gov.vn/sp/001","Truy xuất")'
    c.data_type = "s"
    buf = io.BytesIO()
    wb.save(buf)
    _w(raw, "ocop", "ocop.xlsx", buf.getvalue())


def ocop_file(name, rows):
    return lambda raw: _w(raw, "ocop", name, csv_text(OCOP_HEADER, rows))


def survey_file(name, rows, header=SURVEY_HEADER):
    return lambda raw: _w(raw, "surveys", name, csv_text(header, rows))


def _survey_jsonl(raw: Path):
    import json

    lines = [
        json.dumps(dict(zip(SURVEY_HEADER, survey_row(rid=f"R-{i}"), strict=True)), ensure_ascii=False)
        for i in range(3)
    ]
    lines.insert(2, "{not json")
    _w(raw, "surveys", "export.jsonl", "\n".join(lines) + "\n")


def _ragged_csv(raw: Path):
    text = csv_text(SUB_HEADER, [sub_row(), sub_row(indicator="CDS.11", value="3")])
    text += ",".join(sub_row(indicator="CDS.11", value="4") + ["extra", "fields"]) + "\n"
    _w(raw, "submissions", "ragged.csv", text)


CASES = [
    # ---- encodings
    Case("utf8", "submissions", sub_file("utf8.csv", GOOD), "loaded", 3, 3, 0, encoding="utf-8"),
    Case(
        "utf8_bom",
        "submissions",
        sub_file("bom.csv", GOOD, enc="utf-8-sig"),
        "loaded",
        3,
        3,
        0,
        encoding="utf-8-sig",
    ),
    Case(
        "utf16", "submissions", sub_file("u16.csv", GOOD, enc="utf-16"), "loaded", 3, 3, 0, encoding="utf-16"
    ),
    Case(
        "cp1258",
        "submissions",
        sub_file("cp1258.csv", GOOD, enc=cp1258_encode),
        "loaded",
        3,
        3,
        0,
        encoding="cp1258",
    ),
    Case(
        "tcvn3",
        "submissions",
        sub_file("tcvn3.csv", GOOD, enc=tcvn3_encode),
        "loaded",
        3,
        3,
        0,
        encoding="tcvn3",
    ),
    Case("vni", "submissions", sub_file("vni.csv", GOOD, enc=vni_encode), "loaded", 3, 3, 0, encoding="vni"),
    # ---- value formats
    Case(
        "semicolon_vn_decimal",
        "submissions",
        sub_file("semi.csv", [sub_row(value="85,5%"), sub_row(indicator="CDS.11", value="1.234")], sep=";"),
        "loaded",
        2,
        2,
        0,
    ),
    Case(
        "tab_en_thousands",
        "submissions",
        sub_file("tab.txt", [sub_row(indicator="CDS.11", value="1,234.5"), sub_row(value="85 %")], sep="\t"),
        "loaded",
        2,
        2,
        0,
    ),
    Case(
        "yesno_co_khong",
        "submissions",
        sub_file(
            "yn.csv",
            [
                sub_row(indicator="CDS.07", value="có"),
                sub_row(indicator="CDS.23", hamlet="18484-T05", value="không"),
            ],
        ),
        "loaded",
        2,
        2,
        0,
    ),
    Case(
        "dates_iso_and_vn",
        "submissions",
        sub_file(
            "dates.csv",
            [sub_row(submitted="2026-09-14"), sub_row(indicator="CDS.11", value="4", submitted="14/09/2026")],
        ),
        "loaded",
        2,
        2,
        0,
    ),
    Case(
        "hamlet_unit_defaults_hamlet",
        "submissions",
        sub_file("t05.csv", [sub_row(unit="18484-T05", indicator="CDS.24", value="40")]),
        "loaded",
        1,
        1,
        0,
    ),
    Case(
        "ratio_num_den",
        "submissions",
        sub_file(
            "ratio.csv", [sub_row(indicator="CDS.25", hamlet="18484-T05", value="", num="520", den="200")]
        ),
        "loaded",
        1,
        1,
        0,
    ),
    Case(
        "blank_and_dash_value",
        "submissions",
        sub_file(
            "blank.csv",
            [
                sub_row(value="", num="", den=""),
                sub_row(indicator="CDS.11", value="-"),
                sub_row(indicator="CDS.07", value="1"),
            ],
        ),
        "loaded_with_errors",
        3,
        1,
        2,
        frozenset({"missing_value"}),
    ),
    # ---- XLSX
    Case(
        "xlsx_title_rows_merged_several_sheets",
        "submissions",
        _xlsx_title_merged,
        "loaded",
        3,
        3,
        0,
        encoding="xlsx",
    ),
    Case("xlsx_header_on_other_sheet", "submissions", _xlsx_other_sheet, "loaded", 2, 2, 0),
    Case("xlsx_native_and_serial_dates", "submissions", _xlsx_excel_serial, "loaded", 2, 2, 0),
    Case("ocop_xlsx_hyperlink_text", "ocop", _ocop_hyperlink, "loaded", 1, 1, 0),
    # ---- whole-file rejections
    Case(
        "empty_file",
        "submissions",
        lambda r: _w(r, "submissions", "empty.csv", b""),
        "rejected",
        0,
        0,
        0,
        frozenset({"empty_file"}),
    ),
    Case(
        "header_only",
        "submissions",
        sub_file("header.csv", []),
        "rejected",
        0,
        0,
        0,
        frozenset({"header_only"}),
    ),
    Case(
        "binary_junk",
        "submissions",
        lambda r: _w(r, "submissions", "junk.csv", bytes(range(256)) * 8),
        "rejected",
        0,
        0,
        0,
        frozenset({"binary_file"}),
    ),
    Case(
        "truncated_xlsx", "submissions", _truncated_xlsx, "rejected", 0, 0, 0, frozenset({"truncated_file"})
    ),
    Case(
        "missing_required_column",
        "submissions",
        lambda r: _w(
            r,
            "submissions",
            "noperiod.csv",
            csv_text(
                [h for h in SUB_HEADER if h != "Kỳ báo cáo"], [[c for i, c in enumerate(sub_row()) if i != 1]]
            ),
        ),
        "rejected",
        0,
        0,
        0,
        frozenset({"missing_required_columns"}),
    ),
    Case(
        "not_a_template",
        "submissions",
        lambda r: _w(r, "submissions", "letter.txt", "Kính gửi UBND xã,\nđề nghị...\n"),
        "rejected",
        0,
        0,
        0,
        frozenset({"no_header"}),
    ),
    Case(
        "unsupported_extension",
        "submissions",
        lambda r: _w(r, "submissions", "scan.pdf", b"%PDF-1.4 junk"),
        "rejected",
        0,
        0,
        0,
        frozenset({"unsupported_format"}),
    ),
    # ---- quarantine reasons (submissions)
    Case(
        "unknown_unit",
        "submissions",
        sub_file("uu.csv", [sub_row(unit="18484-XX"), sub_row(indicator="CDS.11", value="3")]),
        "loaded_with_errors",
        2,
        1,
        1,
        frozenset({"unknown_unit"}),
    ),
    Case(
        "unknown_hamlet",
        "submissions",
        sub_file("uh.csv", [sub_row(indicator="CDS.24", hamlet="18484-T99", value="5")]),
        "loaded_with_errors",
        1,
        0,
        1,
        frozenset({"unknown_hamlet"}),
    ),
    Case(
        "hamlet_not_valid_in_period",
        "submissions",
        sub_file(
            "hv.csv",
            [
                sub_row(indicator="CDS.24", hamlet="18484-T21", value="5"),
                sub_row(indicator="CDS.24", hamlet="18484-T01", value="5"),
            ],
        ),
        "loaded_with_errors",
        2,
        1,
        1,
        frozenset({"hamlet_not_valid_in_period"}),
    ),
    Case(
        "unknown_indicator",
        "submissions",
        sub_file("ui.csv", [sub_row(indicator="CDS.999")]),
        "loaded_with_errors",
        1,
        0,
        1,
        frozenset({"unknown_indicator"}),
    ),
    Case(
        "hamlet_level_mismatch",
        "submissions",
        sub_file("lm.csv", [sub_row(hamlet="18484-T05"), sub_row(indicator="CDS.24", value="5")]),
        "loaded_with_errors",
        2,
        0,
        2,
        frozenset({"hamlet_level_mismatch"}),
    ),
    Case(
        "malformed_period",
        "submissions",
        sub_file("mp.csv", [sub_row(period="Q3/26x"), sub_row(period="2026-Q5")]),
        "loaded_with_errors",
        2,
        0,
        2,
        frozenset({"malformed_period"}),
    ),
    Case(
        "future_period",
        "submissions",
        sub_file("fp.csv", [sub_row(period="2027-Q2"), sub_row(indicator="CDS.11", value="3")]),
        "loaded_with_errors",
        2,
        1,
        1,
        frozenset({"future_period"}),
    ),
    Case(
        "percent_over_100",
        "submissions",
        sub_file("p100.csv", [sub_row(value="120%"), sub_row(indicator="CDS.11", value="3")]),
        "loaded_with_errors",
        2,
        1,
        1,
        frozenset({"value_out_of_range"}),
    ),
    Case(
        "negative_count",
        "submissions",
        sub_file("neg.csv", [sub_row(indicator="CDS.11", value="-3")]),
        "loaded_with_errors",
        1,
        0,
        1,
        frozenset({"value_out_of_range"}),
    ),
    Case(
        "percent_sign_on_count",
        "submissions",
        sub_file("pc.csv", [sub_row(indicator="CDS.11", value="30%")]),
        "loaded_with_errors",
        1,
        0,
        1,
        frozenset({"unexpected_percent_sign"}),
    ),
    Case(
        "numerator_gt_denominator",
        "submissions",
        sub_file(
            "nd.csv",
            [
                sub_row(value="", num="25", den="20"),
                sub_row(indicator="CDS.24", hamlet="18484-T05", value="", num="17", den="20"),
            ],
        ),
        "loaded_with_errors",
        2,
        1,
        1,
        frozenset({"numerator_exceeds_denominator"}),
    ),
    Case(
        "zero_denominator",
        "submissions",
        sub_file("zd.csv", [sub_row(indicator="CDS.25", hamlet="18484-T05", value="", num="3", den="0")]),
        "loaded_with_errors",
        1,
        0,
        1,
        frozenset({"zero_denominator"}),
    ),
    Case(
        "unparseable_number",
        "submissions",
        sub_file("un.csv", [sub_row(indicator="CDS.11", value="mười hai"), sub_row(value="12")]),
        "loaded_with_errors",
        2,
        1,
        1,
        frozenset({"unparseable_number"}),
    ),
    Case(
        "unparseable_datetime",
        "submissions",
        sub_file("ud.csv", [sub_row(submitted="hôm qua")]),
        "loaded_with_errors",
        1,
        0,
        1,
        frozenset({"unparseable_datetime"}),
    ),
    Case(
        "duplicate_row",
        "submissions",
        sub_file("dup.csv", [sub_row(), sub_row(), task_row(), task_row()]),
        "loaded_with_errors",
        4,
        2,
        2,
        frozenset({"duplicate_row"}),
    ),
    Case(
        "unknown_task_and_status",
        "submissions",
        sub_file(
            "task.csv",
            [
                task_row(task="IX.9"),
                task_row(status="Sắp xong"),
                task_row(task="III.4", status="Hoàn thành", pct="100"),
            ],
        ),
        "loaded_with_errors",
        3,
        1,
        2,
        frozenset({"unknown_task", "unknown_task_status"}),
    ),
    Case(
        "malformed_csv_row",
        "submissions",
        _ragged_csv,
        "loaded_with_errors",
        3,
        2,
        1,
        frozenset({"malformed_row"}),
    ),
    # ---- OCOP
    Case(
        "ocop_ok_feb29_clamp",
        "ocop",
        ocop_file("ok.csv", [ocop_row(), ocop_row(pid="OCOP-2", issued="29/02/2024", expires="28/02/2027")]),
        "loaded",
        2,
        2,
        0,
    ),
    Case(
        "ocop_stars_score_mismatch",
        "ocop",
        ocop_file(
            "stars.csv",
            [
                ocop_row(score="92", stars="4"),
                ocop_row(pid="P2", score="45", stars="3"),
                ocop_row(pid="P3", score="91", stars="5"),
            ],
        ),
        "loaded_with_errors",
        3,
        1,
        2,
        frozenset({"stars_score_mismatch"}),
    ),
    Case(
        "ocop_expiry_not_36_months",
        "ocop",
        ocop_file(
            "exp.csv",
            [ocop_row(expires="14/08/2027"), ocop_row(pid="P2", issued="2024-08-15", expires="2027-08-15")],
        ),
        "loaded_with_errors",
        2,
        1,
        1,
        frozenset({"expiry_not_36_months"}),
    ),
    Case(
        "ocop_bad_group_type_hamlet",
        "ocop",
        ocop_file(
            "grp.csv",
            [
                ocop_row(group="7"),
                ocop_row(pid="P2", ptype="Công ty ma"),
                ocop_row(pid="P3", hamlet="18484-T77"),
            ],
        ),
        "loaded_with_errors",
        3,
        0,
        3,
        frozenset({"invalid_value", "unknown_hamlet"}),
    ),
    Case(
        "ocop_unparseable_date_duplicate",
        "ocop",
        ocop_file("dd.csv", [ocop_row(issued="32/13/2024"), ocop_row(pid="P2"), ocop_row(pid="P2")]),
        "loaded_with_errors",
        3,
        1,
        2,
        frozenset({"unparseable_date", "duplicate_row"}),
    ),
    # ---- surveys
    Case(
        "survey_ok_names_tone_variants",
        "surveys",
        survey_file(
            "s.csv",
            [
                survey_row(),
                survey_row(rid="R-2", hamlet="Hoà Bình", ts="2025-05-03 08:00:00"),
                survey_row(rid="R-3", hamlet="18484-T01", a1="", a2="", name="", phone=""),
            ],
        ),
        "loaded",
        3,
        3,
        0,
    ),
    Case(
        "survey_unknown_hamlet",
        "surveys",
        survey_file("uh.csv", [survey_row(hamlet="Thôn Không Có"), survey_row(rid="R-2")]),
        "loaded_with_errors",
        2,
        1,
        1,
        frozenset({"unknown_hamlet"}),
    ),
    Case(
        "survey_duplicate_response",
        "surveys",
        survey_file("dup.csv", [survey_row(), survey_row()]),
        "loaded_with_errors",
        2,
        1,
        1,
        frozenset({"duplicate_row"}),
    ),
    Case(
        "survey_unparseable_answer",
        "surveys",
        survey_file("ans.csv", [survey_row(a1="Bình thường"), survey_row(rid="R-2", ts="ngày mai")]),
        "loaded_with_errors",
        2,
        0,
        2,
        frozenset({"unparseable_answer", "unparseable_datetime"}),
    ),
    Case(
        "survey_jsonl_bad_line",
        "surveys",
        _survey_jsonl,
        "loaded_with_errors",
        4,
        3,
        1,
        frozenset({"malformed_row"}),
    ),
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """All corpus files in one raw dir, ingested together (one batch per source, as in production)."""
    base = tmp_path_factory.mktemp("corpus")
    raw = make_raw_dir(base)
    paths: dict[str, str] = {}
    for case in CASES:
        before = {p for p in raw.rglob("*") if p.is_file() or p.is_symlink()}
        case.build(raw)
        new = sorted(p for p in raw.rglob("*") if (p.is_file() or p.is_symlink()) and p not in before)
        assert len(new) == 1, (case.name, new)
        paths[case.name] = new[0].relative_to(raw).as_posix()
    con = duckdb.connect(str(base / "ntm.duckdb"))
    ref = load_reference(con, raw, base / "dbt_project" / "seeds")
    reports = {s: fn(con, raw, ref, today=TODAY, salt=SALT) for s, fn in INGEST.items()}
    yield con, paths, reports
    con.close()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus_case(case: Case, corpus):
    con, paths, _ = corpus
    rows = con.execute(
        """select file_sha256, status, rows_read, rows_loaded, rows_quarantined, reason, encoding
           from audit.ingest_files where path = ?""",
        [paths[case.name]],
    ).fetchall()
    assert len(rows) == 1
    sha, status, read, loaded, quarantined, reason, encoding = rows[0]
    quar = con.execute(
        "select row_number, column_name, raw_value, reason_code from audit.quarantine where file_sha256 = ?",
        [sha],
    ).fetchall()
    assert (status, read, loaded, quarantined) == (case.status, case.read, case.loaded, case.quarantined), (
        rows[0],
        quar,
    )
    assert read == loaded + quarantined
    if case.encoding:
        assert encoding == case.encoding
    if status == "rejected":
        codes = {reason.split(":")[0]}
        assert not quar
    else:
        codes = {r[3] for r in quar}
        assert len({r[0] for r in quar}) == quarantined
    assert codes == set(case.codes)
    # every quarantine record carries both messages
    assert (
        con.execute(
            "select count(*) from audit.quarantine where message_vi is null or message_en is null"
        ).fetchall()[0][0]
        == 0
    )


def test_corpus_reports(corpus):
    _, _, reports = corpus
    for r in reports.values():
        assert r.rows_read == r.rows_loaded + r.rows_quarantined
        assert r.files_new == r.files_seen


def test_corpus_is_large_enough():
    assert len(CASES) >= 30


def test_encodings_give_same_text(raw_dir, con, ref):
    for name, enc in (
        ("a.csv", "utf-8"),
        ("b.csv", tcvn3_encode),
        ("c.csv", vni_encode),
        ("d.csv", cp1258_encode),
    ):
        sub_file(
            name,
            [
                task_row(
                    unit=f"18484-{'KT' if name == 'a.csv' else 'VP'}",
                    status="Chậm tiến độ",
                    note="Đồng Lộc " + name,
                )
            ],
            enc=enc,
        )(raw_dir)
    ingest_submissions(con, raw_dir, ref, today=TODAY)
    got = con.execute("select distinct task_status from raw.submission_tasks").fetchall()
    assert got == [("overdue",)]
    notes = {r[0] for r in con.execute("select note from raw.submission_tasks").fetchall()}
    assert notes == {"Đồng Lộc a.csv", "Đồng Lộc b.csv", "Đồng Lộc c.csv", "Đồng Lộc d.csv"}


def test_values_are_parsed(raw_dir, con, ref):
    sub_file(
        "v.csv",
        [
            sub_row(value="85,5%"),
            sub_row(indicator="CDS.11", value="1.234"),
            sub_row(indicator="CDS.07", value="có"),
            sub_row(indicator="CDS.25", hamlet="18484-T05", value="", num="520", den="200"),
        ],
        sep=";",
    )(raw_dir)
    ingest_submissions(con, raw_dir, ref, today=TODAY)
    got = dict(con.execute("select indicator_code, value from raw.submission_values").fetchall())
    assert got == {"CDS.01": 85.5, "CDS.11": 1234.0, "CDS.07": 1.0, "CDS.25": 2.6}
    ts = con.execute("select distinct submitted_at::varchar from raw.submission_values").fetchall()
    assert ts == [("2026-09-14 16:30:00",)]


def test_hyperlink_cell_stays_text(raw_dir, con, ref):
    _ocop_hyperlink(raw_dir)
    ingest_ocop(con, raw_dir, ref, today=TODAY)
    url, issued, expires, ptype = con.execute(
        "select traceability_url, issued_on::varchar, expires_on::varchar, producer_type from raw.ocop_products"
    ).fetchone()
    assert url.startswith("=HYPERLINK(")
    assert (issued, expires, ptype) == ("2024-08-15", "2027-08-15", "cooperative")


def test_symlink_escape_is_rejected_not_followed(raw_dir, con, ref, tmp_path):
    secret = tmp_path / "outside.csv"
    secret.write_text(csv_text(SUB_HEADER, [sub_row()]), encoding="utf-8")
    os.symlink(secret, raw_dir / "submissions" / "link.csv")
    os.symlink(raw_dir / "submissions" / "nowhere.csv", raw_dir / "submissions" / "broken.csv")
    report = ingest_submissions(con, raw_dir, ref, today=TODAY)
    assert report.files_rejected == 2
    rows = dict(con.execute("select path, reason from audit.ingest_files").fetchall())
    assert rows["submissions/link.csv"].startswith("symlink_escape")
    assert rows["submissions/broken.csv"].startswith("unreadable_file")
    assert con.execute("select count(*) from raw.submission_values").fetchone()[0] == 0
    # re-run: no new manifest rows
    ingest_submissions(con, raw_dir, ref, today=TODAY)
    assert con.execute("select count(*) from audit.ingest_files").fetchone()[0] == 2


def test_renamed_duplicate_is_noop(raw_dir, con, ref):
    sub_file("kt_q3.csv", GOOD)(raw_dir)
    r1 = ingest_submissions(con, raw_dir, ref, today=TODAY)
    (raw_dir / "submissions" / "copy").mkdir()
    (raw_dir / "submissions" / "copy" / "kt_q3 (1).csv").write_bytes(
        (raw_dir / "submissions" / "kt_q3.csv").read_bytes()
    )
    r2 = ingest_submissions(con, raw_dir, ref, today=TODAY)
    assert (r1.files_new, r2.files_new, r2.files_skipped_duplicate) == (1, 0, 2)
    assert con.execute("select count(*) from audit.ingest_files").fetchone()[0] == 1
    assert con.execute("select count(*) from raw.submission_values").fetchone()[0] == 2
    states = dict(con.execute("select path, state from audit.file_paths").fetchall())
    assert states == {
        "submissions/kt_q3.csv": "present",
        "submissions/copy/kt_q3 (1).csv": "duplicate_content",
    }


def test_resubmission_keeps_all_versions(raw_dir, con, ref):
    sub_file("kt_v1.csv", [sub_row(value="80")])(raw_dir)
    ingest_submissions(con, raw_dir, ref, today=TODAY)
    sub_file("kt_v2.csv", [sub_row(value="85", submitted="15/09/2026 08:00")])(raw_dir)
    sub_file("kt_v3.csv", [sub_row(value="86", submitted="15/09/2026 08:00")])(raw_dir)
    ingest_submissions(con, raw_dir, ref, today=TODAY, batch_files=1)
    subs = con.execute(
        "select _source_file, arrival_seq, submission_id, rows_loaded from raw.submissions order by arrival_seq"
    ).fetchall()
    assert [s[0] for s in subs] == ["submissions/kt_v1.csv", "submissions/kt_v2.csv", "submissions/kt_v3.csv"]
    assert [s[1] for s in subs] == [1, 2, 3]
    assert all(s[2].endswith("-18484-KT-2026-Q3") and len(s[2].split("-")[0]) == 12 for s in subs)
    # the latest version (latest submitted_at, ties by arrival order) is v3; all values stay queryable
    latest = con.execute(
        """select v.value from raw.submission_values v join raw.submissions s
           on s._file_sha256 = v._file_sha256 and s.unit_code = v.unit_code and s.period_code = v.period_code
              and s.submitted_at = v.submitted_at
           order by s.submitted_at desc, s.arrival_seq desc limit 1"""
    ).fetchone()[0]
    assert latest == 86.0
    assert con.execute("select count(*) from raw.submission_values").fetchone()[0] == 3


def test_removed_and_changed_files_are_recorded(raw_dir, con, ref):
    a = raw_dir / "submissions" / "a.csv"
    sub_file("a.csv", [sub_row()])(raw_dir)
    sub_file("b.csv", [sub_row(unit="18484-VP")])(raw_dir)
    ingest_submissions(con, raw_dir, ref, today=TODAY)
    (raw_dir / "submissions" / "b.csv").unlink()
    a.write_text(csv_text(SUB_HEADER, [sub_row(value="90")]), encoding="utf-8")
    ingest_submissions(con, raw_dir, ref, today=TODAY)
    states = sorted(con.execute("select path, state from audit.file_paths").fetchall())
    assert states == [
        ("submissions/a.csv", "changed"),
        ("submissions/a.csv", "present"),
        ("submissions/b.csv", "missing"),
    ]
    assert con.execute("select count(*) from raw.submission_values").fetchone()[0] == 3


def test_personal_data_never_in_clear(raw_dir, con, ref):
    survey_file(
        "s.csv",
        [
            survey_row(),
            survey_row(rid="R-2", hamlet="Thôn Không Có", name="Trần Thị Bích", phone="0987654321"),
        ],
    )(raw_dir)
    ingest_surveys(con, raw_dir, ref, today=TODAY, salt=SALT)
    for schema, table in con.execute(
        "select table_schema, table_name from information_schema.tables where table_schema in ('raw', 'audit')"
    ).fetchall():
        text = str(con.execute(f"select * from {schema}.{table}").fetchall())
        for secret in ("Nguyễn Văn A", "Trần Thị Bích", "0912", "0987654321"):
            assert secret not in text, (table, secret)
    hashes = con.execute("select distinct respondent_hash from raw.survey_answers").fetchall()
    assert len(hashes) == 1 and len(hashes[0][0]) == 64
    answers = con.execute(
        "select hamlet_code, period_code, question_code, satisfied from raw.survey_answers order by question_code"
    ).fetchall()
    assert answers == [("18484-T05", "2025", "Q01", True), ("18484-T05", "2025", "Q02", False)]


def test_survey_tick_form_blank_means_not_satisfied(raw_dir, con, ref):
    survey_file("tick.csv", [survey_row(a1="x", a2="", a3=""), survey_row(rid="R-2", a1="", a2="", a3="")])(
        raw_dir
    )
    ingest_surveys(con, raw_dir, ref, today=TODAY, salt=SALT)
    got = con.execute(
        "select response_id, question_code, satisfied from raw.survey_answers order by 1, 2"
    ).fetchall()
    assert got == [("R-1", "Q01", True), ("R-1", "Q02", False), ("R-1", "Q03", False)]


def test_survey_reasons_kept_apart(raw_dir, con, ref):
    survey_file("r.csv", [survey_row(a1="Không hài lòng", r1="Đường xuống cấp")])(raw_dir)
    ingest_surveys(con, raw_dir, ref, today=TODAY, salt=SALT)
    assert con.execute("select question_code, reason_text from raw.survey_reasons").fetchall() == [
        ("Q01", "Đường xuống cấp")
    ]


def test_batches_of_many_files(raw_dir, con, ref):
    for i in range(24):
        sub_file(
            f"many/{i:03d}.csv",
            [sub_row(value=str(i)), sub_row(indicator="CDS.11", value="-1" if i % 10 == 0 else "3")],
        )(raw_dir)
    report = ingest_submissions(con, raw_dir, ref, today=TODAY, batch_files=10)
    assert (report.files_new, report.rows_read, report.rows_loaded, report.rows_quarantined) == (
        24,
        48,
        45,
        3,
    )
    again = ingest_submissions(con, raw_dir, ref, today=TODAY)
    assert (again.files_new, again.files_skipped_duplicate) == (0, 24)
    assert con.execute("select count(*), max(arrival_seq) from raw.submissions").fetchone() == (24, 24)

"""Nothing slips past the audit (issue 12, point 4): one test per case, each asserting the audit row, its
reason, that counts reconcile (read = loaded + quarantined) and that nothing was loaded silently."""

from __future__ import annotations

import io
import unicodedata
from pathlib import Path

import dagster as dg
import duckdb
import openpyxl
import pytest

from pipeline.ingest import files, load_reference
from pipeline.ingest.header import FileRejected
from pipeline.ingest.landing import account_landing_zone
from pipeline.ingest.readers import read_any
from pipeline.ingest.sources.submissions.template import SUBMISSION
from pipeline.ingest.sources.submissions.validate import ingest_submissions
from pipeline.ingest.sources.surveys.validate import ingest_surveys
from tests.ingest.ingest_builders import (
    SALT,
    SUB_HEADER,
    SURVEY_HEADER,
    TODAY,
    csv_text,
    sub_row,
    survey_row,
    xlsx_bytes,
)

REPO = Path(__file__).resolve().parents[2]


def _ingest(con, raw_dir, ref, fn=ingest_submissions):
    return fn(con, raw_dir, ref, today=TODAY, salt=SALT)


def _file(con, path: str) -> dict:
    row = con.execute(
        """select status, reason, rows_read, rows_loaded, rows_quarantined, source
           from audit.ingest_files where path = ?""",
        [path],
    ).fetchone()
    assert row is not None, f"{path} has no row in audit.ingest_files"
    return dict(zip(["status", "reason", "read", "loaded", "quarantined", "source"], row, strict=True))


def _reconciles(con) -> None:
    bad = con.execute(
        """select path from audit.ingest_files
           where rows_read <> rows_loaded + rows_quarantined"""
    ).fetchall()
    assert bad == []


def _loaded_from(con, path: str) -> int:
    return con.execute(
        "select count(*) from raw.submission_values where _source_file = ?", [path]
    ).fetchone()[0]


def _valid(raw: Path, rel: str, value: str = "85") -> Path:
    p = raw / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(csv_text(SUB_HEADER, [sub_row(value=value)]), encoding="utf-8")
    return p


def _every_path_recorded(con, raw: Path) -> None:
    on_disk = {p.relative_to(raw).as_posix() for p in raw.rglob("*") if p.is_file() or p.is_symlink()}
    recorded = {r[0] for r in con.execute("select path from audit.file_paths").fetchall()}
    recorded |= {r[0] for r in con.execute("select path from audit.ingest_files").fetchall()}
    assert on_disk - recorded == set()


def _run_all(con, raw, ref):
    report = _ingest(con, raw, ref)
    landing = account_landing_zone(con, raw)
    return report, landing


# ------------------------------------------------------------------ every file under raw/


def test_hidden_file_is_recorded_not_loaded(con, raw_dir, ref):
    _valid(raw_dir, "submissions/real.csv")
    _valid(raw_dir, "submissions/.hidden.csv", value="11")
    _valid(raw_dir, "submissions/~$open.csv", value="12")
    _valid(raw_dir, "submissions/.git/x.csv", value="13")
    report, landing = _run_all(con, raw_dir, ref)
    for rel in ("submissions/.hidden.csv", "submissions/~$open.csv", "submissions/.git/x.csv"):
        f = _file(con, rel)
        assert f["status"] == "not_ingested" and f["reason"].startswith("hidden_file:"), rel
        assert (f["read"], f["loaded"], f["quarantined"]) == (0, 0, 0)
        state = con.execute("select state from audit.file_paths where path = ?", [rel]).fetchone()
        assert state == ("hidden_file",), rel
        assert _loaded_from(con, rel) == 0
    assert {f.path for f in landing.attention()} == {
        "submissions/.hidden.csv",
        "submissions/~$open.csv",
        "submissions/.git/x.csv",
    }
    assert all(f.reason.startswith("hidden_file:") for f in landing.attention())
    assert report.rows_loaded == 1 and _loaded_from(con, "submissions/real.csv") == 1
    _reconciles(con)
    _every_path_recorded(con, raw_dir)


def test_file_in_unknown_folder_is_recorded_not_loaded(con, raw_dir, ref):
    _valid(raw_dir, "backup/2026/kt.csv", value="21")
    _valid(raw_dir, "submissions/2026/kt.csv")  # a normal file beside it
    report, landing = _run_all(con, raw_dir, ref)
    f = _file(con, "backup/2026/kt.csv")
    assert f["status"] == "not_ingested" and f["reason"].startswith("unknown_location:")
    assert (f["read"], f["loaded"], f["quarantined"]) == (0, 0, 0) and f["source"] == "backup"
    assert _loaded_from(con, "backup/2026/kt.csv") == 0
    assert [x.path for x in landing.attention()] == ["backup/2026/kt.csv"]
    assert report.rows_loaded == 1
    _reconciles(con)
    _every_path_recorded(con, raw_dir)


def test_file_directly_in_raw_is_recorded_not_loaded(con, raw_dir, ref):
    _valid(raw_dir, "kt_2026-Q3.csv", value="31")
    report, landing = _run_all(con, raw_dir, ref)
    f = _file(con, "kt_2026-Q3.csv")
    assert f["status"] == "not_ingested" and f["reason"].startswith("unknown_location:")
    assert "Move it into the right folder" in f["reason"] and "chuyển vào đúng thư mục" in f["reason"]
    assert f["source"] == "" and f["loaded"] == 0
    assert report.rows_loaded == 0 and con.execute(
        "select count(*) from raw.submission_values"
    ).fetchone() == (0,)
    assert landing.by_reason()["unknown_location"] == 1
    _reconciles(con)
    _every_path_recorded(con, raw_dir)


def test_moving_a_misplaced_file_into_its_folder_loads_it(con, raw_dir, ref):
    """Content first recorded as not ingested is not mistaken for 'already ingested' once moved."""
    p = _valid(raw_dir, "kt.csv")
    _run_all(con, raw_dir, ref)
    p.rename(raw_dir / "submissions" / "kt.csv")
    report, landing = _run_all(con, raw_dir, ref)
    assert report.files_new == 1 and report.rows_loaded == 1
    assert _file(con, "submissions/kt.csv")["status"] == "loaded"
    assert con.execute("select state from audit.file_paths where path = 'kt.csv'").fetchone() == ("missing",)
    assert landing.attention() == []
    _reconciles(con)


def test_docs_templates_and_registries_are_accounted_without_warning(con, raw_dir, ref):
    (raw_dir / "README.md").write_text("# raw\n", encoding="utf-8")
    (raw_dir / "templates").mkdir()
    (raw_dir / "templates" / "bao_cao_dinh_ky.csv").write_text(csv_text(SUB_HEADER, []), encoding="utf-8")
    (raw_dir / "submissions" / "README.txt").write_text("hướng dẫn", encoding="utf-8")
    (raw_dir / "ocop" / ".gitkeep").write_bytes(b"")
    (raw_dir / "surveys" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    _valid(raw_dir, "submissions/real.csv")
    report, landing = _run_all(con, raw_dir, ref)
    assert landing.attention() == []  # nothing for a person to look at: no warning
    assert landing.by_reason() == {
        "documentation": 2,
        "hidden_file": 2,
        "reference_file": 4,
        "template_file": 1,
    }
    assert _file(con, "surveys/.DS_Store")["status"] == "ignored"
    assert _file(con, "README.md")["status"] == "ignored"
    assert _file(con, "templates/bao_cao_dinh_ky.csv")["reason"].startswith("template_file:")
    hamlets = _file(con, "reference/hamlets.csv")
    n = con.execute("select count(*) from raw.hamlets").fetchone()[0]
    assert hamlets["status"] == "reference" and hamlets["read"] == hamlets["loaded"] == n > 0
    assert report.rows_loaded == 1
    _reconciles(con)
    _every_path_recorded(con, raw_dir)


def test_bundled_sample_has_no_file_outside_the_sources_to_warn_about(tmp_path):
    raw = REPO / "raw"
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    load_reference(con, raw)
    landing = account_landing_zone(con, raw)
    assert landing.attention() == []
    assert set(landing.by_reason()) == {"documentation", "reference_file", "template_file"}
    outside = {f.path for f in landing.files}
    sources = {f.rel for s in files.SOURCES for f in files.discover(raw, s)}
    on_disk = {p.relative_to(raw).as_posix() for p in raw.rglob("*") if p.is_file()}
    assert outside | sources == on_disk and not outside & sources
    con.close()


def test_run_summary_counts_files_outside_the_sources(tmp_path, monkeypatch):
    """The reference_registry step records them and the run summary prints the counts and the paths."""
    from pipeline import run_report, run_summary
    from pipeline.ingest.sources.reference.assets import reference_registry
    from pipeline.resources import WarehouseResource
    from tests.ingest.ingest_builders import make_raw_dir

    raw = make_raw_dir(tmp_path)
    _valid(raw, "stray.csv")
    _valid(raw, "submissions/.draft.csv", value="3")
    (raw / "README.md").write_text("x", encoding="utf-8")
    monkeypatch.setenv("NTM_RAW_DIR", str(raw))
    result = dg.materialize(
        [reference_registry],
        resources={"warehouse": WarehouseResource(path=str(tmp_path / "w.duckdb"))},
    )
    assert result.success
    summary = run_summary.collect(result, tmp_path / "w.duckdb", 1.0)
    out = "\n".join(run_report.render(summary, tmp_path / "run"))
    assert "documentation: 1" in out and "hidden_file: 1" in out and "unknown_location: 1" in out
    assert "files rejected or not loaded: 2" in out and "stray.csv" in out and "submissions/.draft.csv" in out
    assert {p["reason_code"] for p in summary.rejected_files} == {"hidden_file", "unknown_location"}
    mat = result.asset_materializations_for_node("reference_registry")[0]
    assert mat.metadata["files_not_ingested"].value == 2


# ------------------------------------------------------------------ header and cells


@pytest.mark.parametrize(
    "second",
    ["Mã đơn vị", unicodedata.normalize("NFD", "Mã đơn vị"), "unit_code", "  MÃ ĐƠN VỊ "],
    ids=["same", "nfd", "code", "case"],
)
def test_duplicate_column_rejects_the_file(con, raw_dir, ref, second):
    header = [*SUB_HEADER, second]
    rows = [[*sub_row(), "18484-VP"]]
    (raw_dir / "submissions" / "dup.csv").write_text(csv_text(header, rows), encoding="utf-8")
    report = _ingest(con, raw_dir, ref)
    f = _file(con, "submissions/dup.csv")
    assert f["status"] == "rejected" and f["reason"].startswith("duplicate_column:")
    assert "unit_code" in f["reason"] and "column 1 'Mã đơn vị'" in f["reason"] and "column 14" in f["reason"]
    assert report.rows_loaded == 0 and _loaded_from(con, "submissions/dup.csv") == 0


def test_duplicate_column_in_xlsx_and_jsonl(con, raw_dir, ref):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "BaoCao"
    ws.append([*SUB_HEADER, "Giá trị"])
    ws.append([*sub_row(), "99"])
    buf = io.BytesIO()
    wb.save(buf)
    with pytest.raises(FileRejected) as e:
        read_any(buf.getvalue(), ".xlsx", SUBMISSION)
    assert e.value.code == "duplicate_column" and "value" in e.value.detail
    line = '{"Mã đơn vị": "18484-KT", "unit_code": "18484-VP", "Kỳ báo cáo": "2026-Q3"}\n'
    with pytest.raises(FileRejected) as e:
        read_any((line * 2).encode(), ".jsonl", SUBMISSION)
    assert e.value.code == "duplicate_column"


def test_blank_row_type_is_quarantined(con, raw_dir, ref):
    rows = [sub_row(), sub_row(row_type="", indicator="CDS.11", value="3"), sub_row(row_type=" ", value="7")]
    (raw_dir / "submissions" / "rt.csv").write_text(csv_text(SUB_HEADER, rows), encoding="utf-8")
    report = _ingest(con, raw_dir, ref)
    f = _file(con, "submissions/rt.csv")
    assert (f["read"], f["loaded"], f["quarantined"]) == (3, 1, 2)
    q = con.execute(
        "select row_number, column_name, reason_code from audit.quarantine order by row_number"
    ).fetchall()
    assert q == [(3, "row_type", "missing_value"), (4, "row_type", "missing_value")]
    assert report.rows_loaded == 1 and _loaded_from(con, "submissions/rt.csv") == 1


@pytest.mark.parametrize("cell", ["-1", "+1", "2", "01", "-0", "1.5", "x.", "có!", "yes please"])
def test_yesno_accepts_only_the_documented_words(con, raw_dir, ref, cell):
    rows = [sub_row(indicator="CDS.07", value="có"), sub_row(indicator="CDS.07", value=cell, unit="18484-VP")]
    (raw_dir / "submissions" / "yn.csv").write_text(csv_text(SUB_HEADER, rows), encoding="utf-8")
    _ingest(con, raw_dir, ref)
    f = _file(con, "submissions/yn.csv")
    assert (f["read"], f["loaded"], f["quarantined"]) == (2, 1, 1)
    q = con.execute("select row_number, raw_value, reason_code from audit.quarantine").fetchall()
    assert q == [(3, cell, "unparseable_yesno")]
    assert con.execute("select value from raw.submission_values").fetchall() == [(1.0,)]


def test_yesno_documented_words_all_load(con, raw_dir, ref):
    words = {"có": 1, "Có": 1, "x": 1, "X": 1, "1": 1, "Đạt": 1, "yes": 1, "TRUE": 1, "✓": 1}
    words |= {"không": 0, "Không": 0, "0": 0, "Không đạt": 0, "Chưa đạt": 0, "No": 0, "FALSE": 0}
    rows = [
        sub_row(indicator="CDS.07", value=w, submitted=f"14/09/2026 16:{i:02d}") for i, w in enumerate(words)
    ]
    (raw_dir / "submissions" / "ok.csv").write_text(csv_text(SUB_HEADER, rows), encoding="utf-8")
    _ingest(con, raw_dir, ref)
    got = [
        r[0] for r in con.execute("select value from raw.submission_values order by _source_row").fetchall()
    ]
    assert got == [float(v) for v in words.values()]


# ------------------------------------------------------------------ line endings and file type


def test_cr_only_line_endings_are_read(con, raw_dir, ref):
    rows = [sub_row(), sub_row(indicator="CDS.11", value="3")]
    text = csv_text(SUB_HEADER, rows).replace("\n", "\r")
    (raw_dir / "submissions" / "mac.csv").write_bytes(text.encode("utf-8"))
    (raw_dir / "submissions" / "unix.csv").write_bytes(text.replace("\r", "\n").encode("utf-8"))
    report = _ingest(con, raw_dir, ref)
    f = _file(con, "submissions/mac.csv")
    assert f["status"] == "loaded" and (f["read"], f["loaded"]) == (2, 2)
    values = con.execute(
        "select _source_file, _source_row, indicator_code, value from raw.submission_values order by all"
    ).fetchall()
    assert [v[1:] for v in values if v[0].endswith("mac.csv")] == [
        v[1:] for v in values if v[0].endswith("unix.csv")
    ]
    assert report.rows_loaded == 4


def test_csv_named_xlsx_is_read_as_csv_and_the_mismatch_reported(con, raw_dir, ref):
    (raw_dir / "submissions" / "kt.xlsx").write_text(csv_text(SUB_HEADER, [sub_row()]), encoding="utf-8")
    (raw_dir / "submissions" / "vp.csv").write_bytes(xlsx_bytes([SUB_HEADER, sub_row(unit="18484-VP")]))
    report = _ingest(con, raw_dir, ref)
    kt = _file(con, "submissions/kt.xlsx")
    assert kt["status"] == "loaded" and kt["loaded"] == 1
    assert "content is CSV text, tên tệp/named .xlsx" in kt["reason"] and "binary" not in kt["reason"]
    vp = _file(con, "submissions/vp.csv")
    assert vp["status"] == "loaded" and "content is XLSX workbook, tên tệp/named .csv" in vp["reason"]
    assert report.rows_loaded == 2
    _reconciles(con)


@pytest.mark.parametrize(
    ("name", "data", "code", "says"),
    [
        ("scan.csv", b"%PDF-1.4 junk", "unsupported_format", "PDF, tên tệp/named .csv"),
        ("old.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "unsupported_format", "97-2003 .xls"),
        (
            "junk.xlsx",
            bytes(range(256)) * 8,
            "binary_file",
            "content is binary data of no known type, tên tệp/named .xlsx",
        ),
    ],
)
def test_file_type_is_decided_by_content(con, raw_dir, ref, name, data, code, says):
    (raw_dir / "submissions" / name).write_bytes(data)
    report = _ingest(con, raw_dir, ref)
    f = _file(con, f"submissions/{name}")
    assert f["status"] == "rejected" and f["reason"].startswith(f"{code}:") and says in f["reason"]
    assert report.rows_loaded == 0


# ------------------------------------------------------------------ limits


def test_csv_row_limit_rejects_before_parsing_both_paths(con, raw_dir, ref, monkeypatch):
    monkeypatch.setenv("NTM_MAX_ROWS_PER_FILE", "3")
    rows = [sub_row(submitted=f"14/09/2026 16:{i:02d}") for i in range(5)]
    (raw_dir / "submissions" / "big.csv").write_text(csv_text(SUB_HEADER, rows), encoding="utf-8")
    (raw_dir / "submissions" / "ok.csv").write_text(csv_text(SUB_HEADER, rows[:3]), encoding="utf-8")
    for fast in ("1", "0"):
        monkeypatch.setenv("NTM_INGEST_FASTPATH", fast)
        con.execute(
            "delete from audit.ingest_files; delete from audit.file_paths; delete from audit.file_stats"
        )
        con.execute("delete from raw.submission_values; delete from raw.submissions")
        _ingest(con, raw_dir, ref)
        f = _file(con, "submissions/big.csv")
        assert f["status"] == "rejected" and f["reason"].startswith("file_too_large:")
        assert "5 dòng dữ liệu / data lines > 3 (NTM_MAX_ROWS_PER_FILE)" in f["reason"]
        assert _loaded_from(con, "submissions/big.csv") == 0
        assert _file(con, "submissions/ok.csv")["loaded"] == 3


def test_file_byte_limit_rejects_without_reading(con, raw_dir, ref, monkeypatch):
    monkeypatch.setenv("NTM_MAX_FILE_BYTES", "200")
    p = _valid(raw_dir, "submissions/kt.csv")
    assert p.stat().st_size > 200
    _ingest(con, raw_dir, ref)
    f = _file(con, "submissions/kt.csv")
    assert (
        f["status"] == "rejected" and f["reason"].startswith("file_too_large:") and "not read" in f["reason"]
    )
    import hashlib

    sha = con.execute("select file_sha256 from audit.ingest_files").fetchone()[0]
    assert sha == hashlib.sha256(p.read_bytes()).hexdigest()  # a real identity: re-runs skip it


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_cell_length_limit_quarantines_the_row(con, raw_dir, ref, monkeypatch, kind):
    monkeypatch.setenv("NTM_MAX_CELL_CHARS", "60")
    rows = [sub_row(), sub_row(indicator="CDS.11", value="3", note="dài " * 40)]
    if kind == "csv":
        (raw_dir / "submissions" / "long.csv").write_text(csv_text(SUB_HEADER, rows), encoding="utf-8")
    else:
        (raw_dir / "submissions" / "long.xlsx").write_bytes(xlsx_bytes([SUB_HEADER, *rows]))
    report = _ingest(con, raw_dir, ref)
    f = _file(con, f"submissions/long.{kind}")
    assert (f["read"], f["loaded"], f["quarantined"]) == (2, 1, 1)
    q = con.execute("select row_number, column_name, reason_code, raw_value from audit.quarantine").fetchall()
    assert [r[:3] for r in q] == [(3, "note", "cell_too_long")] and "(160 ký tự/chars)" in q[0][3]
    assert report.rows_loaded == 1


def test_survey_file_with_duplicate_question_column_is_rejected(con, raw_dir, ref):
    header = [*SURVEY_HEADER, "C1. Giao thông"]
    rows = [[*survey_row(), "Không hài lòng"]]
    (raw_dir / "surveys" / "s.csv").write_text(csv_text(header, rows), encoding="utf-8")
    _ingest(con, raw_dir, ref, ingest_surveys)
    f = _file(con, "surveys/s.csv")
    assert (
        f["status"] == "rejected"
        and f["reason"].startswith("duplicate_column:")
        and "(q:1: cột/column 8" in f["reason"]
    )


def test_every_reason_code_is_documented_in_both_languages():
    from pipeline.ingest.quarantine import REASONS

    readme = (REPO / "raw" / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## 9. Mã lý do / Reason codes") :]
    for code, (vi, en) in REASONS.items():
        assert f"| `{code}` |" in section and vi in section and en in section, code


def test_accounting_is_idempotent(con, raw_dir, ref):
    _valid(raw_dir, "stray.csv")
    _valid(raw_dir, "submissions/.x.csv", value="5")
    (raw_dir / "README.md").write_text("x", encoding="utf-8")
    _run_all(con, raw_dir, ref)
    dump = "select * exclude (ingested_at) from audit.ingest_files order by path"
    paths = "select path, file_sha256, state from audit.file_paths order by all"
    before = (con.execute(dump).fetchall(), con.execute(paths).fetchall())
    _run_all(con, raw_dir, ref)
    assert (con.execute(dump).fetchall(), con.execute(paths).fetchall()) == before


def _required_cases():
    from pipeline.ingest.sources.ocop.template import OCOP
    from pipeline.ingest.sources.surveys.template import SURVEY
    from tests.ingest.ingest_builders import OCOP_HEADER, ocop_row

    out = []
    for tpl, header, row in (
        (SUBMISSION, SUB_HEADER, sub_row()),
        (OCOP, OCOP_HEADER, ocop_row()),
        (SURVEY, SURVEY_HEADER, survey_row()),
    ):
        for code in tpl.required:
            label = tpl.column(code).label_vi
            out.append(pytest.param(tpl.source, header, row, header.index(label), id=f"{tpl.source}-{code}"))
    return out


@pytest.mark.parametrize(("source", "header", "row", "col"), _required_cases())
def test_a_blank_required_cell_quarantines_the_row(con, raw_dir, ref, source, header, row, col):
    """Every required column of every template: a blank cell quarantines its row (missing_value)."""
    from pipeline.ingest.sources.ocop.validate import ingest_ocop

    fn = {"submissions": ingest_submissions, "surveys": ingest_surveys, "ocop": ingest_ocop}[source]
    blank = list(row)
    blank[col] = "  "
    (raw_dir / source / "f.csv").write_text(csv_text(header, [blank]), encoding="utf-8")
    report = fn(con, raw_dir, ref, today=TODAY, salt=SALT)
    f = _file(con, f"{source}/f.csv")
    assert (f["read"], f["loaded"], f["quarantined"]) == (1, 0, 1) and report.rows_loaded == 0
    codes = {r[0] for r in con.execute("select reason_code from audit.quarantine").fetchall()}
    assert "missing_value" in codes

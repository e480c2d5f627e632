"""Spreadsheet downloads (pipeline/site/downloads.py, csv_export.py, scorecard_xlsx.py) on tiny Parquet
files: CSV bytes and round trips through pandas, polars and DuckDB; formula neutralisation; the XLSX scorecard; a whole (tiny) release."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import unicodedata
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.site import csv_export as dl
from pipeline.site import scorecard_xlsx as xl
from pipeline.site import xlsx_rows
from pipeline.site.downloads import (
    BOM,
    ON_TRACK_RULE,
    DownloadError,
    neutralise,
    neutralise_text,
    verify_csv,
    write_csv,
    write_downloads,
    write_scorecard_xlsx,
)

NFC_NAME = unicodedata.normalize("NFC", "Thôn Đông Hà, xã Đồng Lộc")
RISKY = [
    "=1+1",
    "+84912345678",
    "-x",
    "@SUM(A1)",
    "\t=cmd",
    "  =2",
    "\r=1",
    "\tplain",
    "\n-1",
    "\u00a0@x",
    "-3.5",
]
SAFE = ["a=b", "Đồng Lộc", "", "'=already", "3-2", "x@y"]


def _parquet(path: Path, table: pa.Table) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def _mixed_table() -> pa.Table:
    return pa.table(
        {
            "name": pa.array([NFC_NAME, 'nói "có", rồi\nxuống dòng', None, "", "Ấp 5"]),
            "n": pa.array([1, None, -3, 4, 2_000_000], pa.int32()),
            "x": pa.array([0.1, -3.5, None, 1e20, 1 / 3]),
            "ok": pa.array([True, False, None, True, False]),
            "day": pa.array(
                [date(2026, 1, 2), None, date(2026, 12, 31), date(2025, 7, 1), date(2030, 2, 28)]
            ),
            "at": pa.array(
                [
                    datetime(2026, 9, 21, 14, 10),
                    None,
                    datetime(2026, 3, 1, 0, 0, 5),
                    datetime(2026, 1, 1),
                    None,
                ],
                pa.timestamp("us"),
            ),
            "amount": pa.array(
                [Decimal("1.50"), None, Decimal("-2.25"), Decimal("0.00"), Decimal("10.10")],
                pa.decimal128(10, 2),
            ),
        }
    )


def test_csv_starts_with_bom_header_and_uses_crlf(tmp_path):
    src = _parquet(tmp_path / "t.parquet", _mixed_table())
    info = write_csv([src], tmp_path / "t.csv")
    data = (tmp_path / "t.csv").read_bytes()
    assert data.startswith(BOM)
    assert data[3:].split(b"\r\n", 1)[0] == b'"name","n","x","ok","day","at","amount"'
    # every record ends with CRLF; the LF inside the quoted text cell stays as it is
    assert data.endswith(b"\r\n") and data.count(b"\r\n") == 6
    assert info["rows"] == 5 and info["bytes"] == len(data)
    assert info["sha256"] == hashlib.sha256(data).hexdigest()
    assert info["neutralised_cells"] == 0


def test_csv_round_trips_through_pandas(tmp_path):
    table = _mixed_table()
    write_csv([_parquet(tmp_path / "t.parquet", table)], tmp_path / "t.csv")
    df = pd.read_csv(
        tmp_path / "t.csv",
        encoding="utf-8-sig",
        dtype={"name": "string"},
        keep_default_na=False,
        na_values=[""],
    )
    assert list(df.columns) == table.column_names
    assert df["name"][0] == NFC_NAME and unicodedata.is_normalized("NFC", df["name"][0])
    assert df["name"][1] == 'nói "có", rồi\nxuống dòng'
    assert pd.isna(df["name"][2])
    assert df["n"].tolist()[2:] == [-3, 4, 2_000_000] and pd.isna(df["n"][1])
    assert df["x"][0] == 0.1 and df["x"][1] == -3.5 and df["x"][3] == 1e20 and df["x"][4] == 1 / 3
    assert pd.isna(df["x"][2])
    assert df["ok"].tolist()[:2] == [True, False] and pd.isna(df["ok"][2])
    assert pd.to_datetime(df["day"]).dt.date.tolist()[0] == date(2026, 1, 2) and pd.isna(df["day"][1])
    assert pd.to_datetime(df["at"])[2] == pd.Timestamp("2026-03-01 00:00:05")
    assert df["amount"].tolist()[0] == 1.5 and df["amount"][2] == -2.25


def test_csv_is_read_by_polars_and_duckdb(tmp_path):
    table = _mixed_table()
    write_csv([_parquet(tmp_path / "t.parquet", table)], tmp_path / "t.csv")
    df = pl.read_csv(tmp_path / "t.csv", try_parse_dates=True)
    assert df.columns == table.column_names  # no BOM glued to the first name
    assert df["name"].to_list() == table["name"].to_pylist()  # null and "" stay apart
    assert df["n"].to_list() == table["n"].to_pylist()
    assert df["x"].to_list() == table["x"].to_pylist()
    assert df["ok"].to_list() == table["ok"].to_pylist()
    assert df["day"].to_list() == table["day"].to_pylist()
    con = duckdb.connect()
    rel = con.sql(f"select * from read_csv('{tmp_path / 't.csv'}')")
    assert rel.columns == table.column_names
    rows = rel.fetchall()
    assert (
        rows[0][0] == NFC_NAME
        and rows[0][4] == date(2026, 1, 2)
        and rows[0][5] == datetime(2026, 9, 21, 14, 10)
    )
    assert [r[2] for r in rows] == table["x"].to_pylist()
    assert verify_csv(tmp_path / "t.csv", [tmp_path / "t.parquet"]) == []


def test_formula_cells_are_neutralised_and_numbers_are_not(tmp_path):
    n = len(RISKY) + len(SAFE)
    table = pa.table(
        {
            "note": pa.array(RISKY + SAFE),
            "value": pa.array([-3.5, -1.0, 2.0, -0.25] + [0.0] * (n - 4)),
            "count": pa.array([-7] + [1] * (n - 1), pa.int64()),
        }
    )
    info = write_csv([_parquet(tmp_path / "f.parquet", table)], tmp_path / "f.csv")
    assert info["neutralised_cells"] == len(RISKY)
    df = pl.read_csv(tmp_path / "f.csv")
    assert df["note"].to_list() == ["'" + s for s in RISKY] + SAFE
    assert df["value"].dtype == pl.Float64 and df["value"].to_list()[:4] == [-3.5, -1.0, 2.0, -0.25]
    assert df["count"].dtype == pl.Int64 and df["count"][0] == -7
    raw = (tmp_path / "f.csv").read_bytes().decode("utf-8-sig")
    assert '"\'=1+1",-3.5,-7\r\n' in raw
    # no cell of the file starts (after its opening quote and any whitespace) with a formula character
    for cell in pl.read_csv(tmp_path / "f.csv")["note"].drop_nulls().to_list():
        assert not cell.lstrip().startswith(("=", "+", "-", "@")) and not cell.startswith(("\t", "\r"))


def test_neutralise_rule_cell_by_cell():
    for s in RISKY:
        assert neutralise_text(s) == "'" + s
    for s in SAFE:
        assert neutralise_text(s) == s
    assert neutralise_text(None) is None
    arr, n = neutralise(pa.array(RISKY + SAFE + [None]))
    assert n == len(RISKY) and arr.to_pylist() == ["'" + s for s in RISKY] + SAFE + [None]


def test_timestamps_keep_their_time_zone_and_fraction(tmp_path):
    utc = datetime(2026, 9, 21, 7, 10)
    table = pa.table(
        {
            "local": pa.array([utc, None], pa.timestamp("us", "Asia/Ho_Chi_Minh")),
            "utc": pa.array([utc, utc], pa.timestamp("s", "UTC")),
            "naive": pa.array(
                [datetime(2026, 1, 1, 8, 0, 0, 250000), datetime(2026, 1, 1)], pa.timestamp("ms")
            ),
        }
    )
    write_csv([_parquet(tmp_path / "ts.parquet", table)], tmp_path / "ts.csv")
    lines = (tmp_path / "ts.csv").read_bytes().decode("utf-8-sig").split("\r\n")
    assert lines[1] == '"2026-09-21T14:10:00+07:00","2026-09-21T07:10:00+00:00","2026-01-01 08:00:00.250"'
    assert lines[2] == ',"2026-09-21T07:10:00+00:00","2026-01-01 00:00:00"'
    df = pd.read_csv(tmp_path / "ts.csv", encoding="utf-8-sig")
    assert pd.Timestamp(df["local"][0]) == pd.Timestamp("2026-09-21 07:10:00", tz="UTC")
    assert verify_csv(tmp_path / "ts.csv", [tmp_path / "ts.parquet"]) == []


def test_partitions_are_concatenated_in_order_and_bytes_are_deterministic(tmp_path, monkeypatch):
    table = _mixed_table()
    whole = _parquet(tmp_path / "whole.parquet", table)
    p1 = _parquet(tmp_path / "parts" / "2026-Q1.parquet", table.slice(0, 2))
    p2 = _parquet(tmp_path / "parts" / "2026-Q2.parquet", table.slice(2))
    a = write_csv([whole], tmp_path / "a.csv")
    b = write_csv([p1, p2], tmp_path / "b.csv")
    monkeypatch.setattr(dl, "BATCH_ROWS", 1)  # one batch per row: streaming must not change a byte
    c = write_csv([p1, p2], tmp_path / "c.csv")
    assert a["sha256"] == b["sha256"] == c["sha256"] and a["rows"] == b["rows"] == c["rows"] == 5
    reversed_ = write_csv([p2, p1], tmp_path / "d.csv")
    assert reversed_["sha256"] != a["sha256"]  # row order = the files' order
    assert not list(tmp_path.glob(".*.tmp"))


def test_empty_table_gives_the_header_alone(tmp_path):
    src = _parquet(tmp_path / "e.parquet", _mixed_table().slice(0, 0))
    info = write_csv([src], tmp_path / "e.csv")
    assert info["rows"] == 0
    assert (tmp_path / "e.csv").read_bytes() == BOM + b'"name","n","x","ok","day","at","amount"\r\n'


def test_partitions_with_other_columns_are_refused(tmp_path):
    p1 = _parquet(tmp_path / "1.parquet", pa.table({"a": [1]}))
    p2 = _parquet(tmp_path / "2.parquet", pa.table({"b": [1]}))
    with pytest.raises(DownloadError, match="differ from the first file"):
        write_csv([p1, p2], tmp_path / "x.csv")
    assert not (tmp_path / "x.csv").exists()


def test_verify_csv_finds_a_changed_cell_and_a_lost_row(tmp_path):
    src = _parquet(tmp_path / "t.parquet", _mixed_table())
    write_csv([src], tmp_path / "t.csv")
    good = (tmp_path / "t.csv").read_bytes()
    (tmp_path / "t.csv").write_bytes(good.replace(b"-3.5,", b"-3.4,"))
    assert any("not in the CSV" in p for p in verify_csv(tmp_path / "t.csv", [src]))
    (tmp_path / "t.csv").write_bytes(good[: good.rindex(b"\r\n", 0, len(good) - 2) + 2])
    assert any("rows, Parquet has 5" in p for p in verify_csv(tmp_path / "t.csv", [src]))
    (tmp_path / "t.csv").write_bytes(good[3:])
    assert any("byte-order mark" in p for p in verify_csv(tmp_path / "t.csv", [src]))


# ---------------------------------------------------------------------------------------------- XLSX

PLAN_ROWS = [
    # indicator, name_vi, period, kind, actual, target, gap, on_track, direction
    (
        "CDS.01",
        "Tỷ lệ hồ sơ xử lý trên môi trường mạng",
        "2026",
        "year",
        58.5,
        90.0,
        -31.5,
        False,
        "higher_better",
    ),
    ("CDS.04", '=HYPERLINK("http://x","bấm")', "2026", "year", 66.7, 50.0, 16.7, True, "higher_better"),
    ("CDS.09", "Tỷ lệ hộ nghèo", "2026", "year", 3.0, 4.0, -1.0, True, "lower_better"),
    (
        "CDS.01",
        "Tỷ lệ hồ sơ xử lý trên môi trường mạng",
        "2026-Q1",
        "quarter",
        None,
        90.0,
        None,
        None,
        "higher_better",
    ),
]


def _plan_targets() -> pa.Table:
    cols = list(zip(*PLAN_ROWS, strict=True))
    return pa.table(
        {
            "plan_target_key": [f"k{i}" for i in range(len(PLAN_ROWS))],
            "commune_code": ["18484"] * len(PLAN_ROWS),
            "indicator_code": list(cols[0]),
            "indicator_name_vi": list(cols[1]),
            "indicator_name_en": ["Name " + c for c in cols[0]],
            "target_year": pa.array([2026] * len(PLAN_ROWS), pa.int32()),
            "period_code": list(cols[2]),
            "period_kind": list(cols[3]),
            "period_label_vi": ["Năm 2026" if k == "year" else "Quý 1/2026" for k in cols[3]],
            "period_label_en": ["Year 2026" if k == "year" else "Q1 2026" for k in cols[3]],
            "actual_value": pa.array(cols[4], pa.float64()),
            "target_value": pa.array(cols[5], pa.float64()),
            "gap": pa.array(cols[6], pa.float64()),
            "is_on_track": pa.array(cols[7], pa.bool_()),
            "direction": list(cols[8]),
            "value_source": ["derived_from_quarters"] * len(PLAN_ROWS),
            "target_scope": ["commune"] * len(PLAN_ROWS),
            "source_vi": ["KH CĐS xã Đồng Lộc"] * len(PLAN_ROWS),
            "source_en": ["Đồng Lộc DX plan"] * len(PLAN_ROWS),
        }
    )


def _commune_indicator() -> pa.Table:
    return pa.table(
        {
            "commune_indicator_key": ["a", "b"],
            "commune_code": ["18484", "18484"],
            "commune_name": ["Xã Đồng Lộc", "Xã Đồng Lộc"],
            "period_code": ["2026-Q1", "2026"],
            "period_kind": ["quarter", "year"],
            "year": pa.array([2026, 2026], pa.int32()),
            "period_label_vi": ["Quý 1/2026", "Năm 2026"],
            "period_label_en": ["Q1 2026", "Year 2026"],
            "indicator_code": ["CDS.01", "CDS.01"],
            "indicator_name_vi": ["Tỷ lệ hồ sơ", "Tỷ lệ hồ sơ"],
            "indicator_name_en": ["Share of dossiers", "Share of dossiers"],
            "aggregation": ["ratio_of_sums", "ratio_of_sums"],
            "value": pa.array([-2.5, 58.5]),
            "numerator": pa.array([None, 117.0]),
            "denominator": pa.array([None, 200.0]),
            "hamlets_reporting": pa.array([27, 27], pa.int32()),
            "hamlets_meeting": pa.array([0, 12], pa.int32()),
            "hamlets_existing": pa.array([27, 27], pa.int32()),
            "threshold": pa.array([None, 50.0]),
            "met_threshold": pa.array([None, True]),
            "value_source": ["reported", "derived_from_quarters"],
            "last_submitted_at": pa.array([datetime(2026, 3, 11, 12, 21), None], pa.timestamp("us")),
        }
    )


@pytest.fixture
def release_data(tmp_path) -> Path:
    data = tmp_path / "release" / "data"
    _parquet(data / "mart_plan_targets.parquet", _plan_targets())
    _parquet(data / "mart_commune_indicator.parquet", _commune_indicator())
    return data


def _header_of(ws) -> list[str]:
    return [c.value for c in ws[1]]


def test_scorecard_workbook_holds_the_parquet_values_as_numbers(release_data, tmp_path):
    info = write_scorecard_xlsx(release_data, tmp_path / "s.xlsx", "20261130-abcdef0123", is_synthetic=True)
    wb = openpyxl.load_workbook(tmp_path / "s.xlsx")
    assert wb.sheetnames == [xl.SCORECARD_SHEET, xl.COMMUNE_SHEET, xl.ABOUT_SHEET]
    ws = wb[xl.SCORECARD_SHEET]
    header = _header_of(ws)
    assert all(" / " in h for h in header)
    for wanted in (
        "Chỉ tiêu / Indicator",
        "Thực hiện / Actual value",
        "Mục tiêu / Target",
        "Chênh lệch / Gap",
        "Đúng tiến độ / On track",
    ):
        assert wanted in header
    col = {h: i for i, h in enumerate(header)}
    rows = list(ws.iter_rows(min_row=2))
    assert info["rows"] == len(rows) == len(PLAN_ROWS)
    expected = {(r[0], r[2]): r for r in PLAN_ROWS}
    seen = set()
    for row in rows:
        code = row[col["Mã chỉ tiêu / Indicator code"]].value
        period = row[col["Kỳ / Period"]].value
        exp = expected[(code, period)]
        seen.add((code, period))
        for name, value in (
            ("Thực hiện / Actual value", exp[4]),
            ("Mục tiêu / Target", exp[5]),
            ("Chênh lệch / Gap", exp[6]),
        ):
            cell = row[col[name]]
            assert cell.value == value
            if value is not None:
                assert (
                    cell.data_type == "n"
                    and isinstance(cell.value, int | float)
                    and cell.number_format != "General"
                )
        year = row[col["Năm mục tiêu / Target year"]]
        assert year.value == 2026 and year.data_type == "n"
        status = row[col["Đúng tiến độ / On track"]].value
        assert (
            status
            == {
                True: "Đạt tiến độ / On track",
                False: "Chậm tiến độ / Behind",
                None: "Chưa có số liệu / No data",
            }[exp[7]]
        )
    assert seen == set(expected)
    assert info["status_counts"] == {"on_track": 2, "behind": 1, "no_data": 1}
    # the formula-like name is text with an apostrophe, never a formula
    names = [r[col["Chỉ tiêu / Indicator"]] for r in rows]
    risky = next(c for c in names if "HYPERLINK" in c.value)
    assert risky.value.startswith("'=") and risky.data_type == "s"
    assert info["neutralised_cells"] == 1
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == f"A1:M{len(PLAN_ROWS) + 1}"
    assert ws.column_dimensions["E"].width > 20


def test_commune_sheet_and_about_sheet(release_data, tmp_path):
    write_scorecard_xlsx(release_data, tmp_path / "s.xlsx", "20261130-abcdef0123", is_synthetic=True)
    wb = openpyxl.load_workbook(tmp_path / "s.xlsx")
    wc = wb[xl.COMMUNE_SHEET]
    header = _header_of(wc)
    col = {h: i for i, h in enumerate(header)}
    rows = {r[col["Kỳ / Period"]].value: r for r in wc.iter_rows(min_row=2)}
    q1 = rows["2026-Q1"]
    assert q1[col["Giá trị / Value"]].value == -2.5 and q1[col["Giá trị / Value"]].data_type == "n"
    assert q1[col["Nộp lần cuối / Last submitted at"]].value == datetime(2026, 3, 11, 12, 21)
    assert q1[col["Tử số / Numerator"]].value is None
    assert rows["2026"][col["Đạt ngưỡng / Threshold met"]].value == "Đạt / Met"
    assert rows["2026"][col["Số thôn đạt / Hamlets meeting"]].value == 12
    about = {r[0].value: r[1].value for r in wb[xl.ABOUT_SHEET].iter_rows(min_row=2)}
    assert about["Mã phát hành / Release id"] == "20261130-abcdef0123"
    assert about["Quy tắc tiến độ"] == ON_TRACK_RULE[0] and about["On-track rule"] == ON_TRACK_RULE[1]
    assert "data/mart_plan_targets.parquet" in about["Tệp nguồn / Source files"]
    assert "SYNTHETIC" in about["CẢNH BÁO / WARNING"]
    assert wb.properties.created == wb.properties.modified == datetime(2026, 11, 30)


def test_the_licence_line_names_the_release_publisher(release_data, tmp_path):
    """Another commune's release (NTM_HOME_COMMUNE) credits its own People's Committee, read from the release's
    datapackage.json; without one, the bundled sample's."""
    write_scorecard_xlsx(release_data, tmp_path / "a.xlsx", "20261130-abcdef0123")
    about = {
        r[0].value: r[1].value
        for r in openpyxl.load_workbook(tmp_path / "a.xlsx")[xl.ABOUT_SHEET].iter_rows()
    }
    assert about["Giấy phép / Licence"] == f"CC BY 4.0 — {xl.DEFAULT_PUBLISHER}"
    publisher = "Ủy ban nhân dân xã Hương Khê / People's Committee of Hương Khê commune"
    (release_data.parent / "datapackage.json").write_text(
        json.dumps({"contributors": [{"title": publisher, "role": "publisher"}]}), encoding="utf-8"
    )
    write_scorecard_xlsx(release_data, tmp_path / "b.xlsx", "20261130-abcdef0123")
    about = {
        r[0].value: r[1].value
        for r in openpyxl.load_workbook(tmp_path / "b.xlsx")[xl.ABOUT_SHEET].iter_rows()
    }
    assert about["Giấy phép / Licence"] == f"CC BY 4.0 — {publisher}"


def test_scorecard_bytes_are_deterministic(release_data, tmp_path):
    a = write_scorecard_xlsx(release_data, tmp_path / "a.xlsx", "20261130-abcdef0123")
    b = write_scorecard_xlsx(release_data, tmp_path / "b.xlsx", "20261130-abcdef0123")
    assert a["sha256"] == b["sha256"]
    with zipfile.ZipFile(tmp_path / "a.xlsx") as z:
        assert {i.date_time for i in z.infolist()} == {(2026, 11, 30, 0, 0, 0)}
    c = write_scorecard_xlsx(release_data, tmp_path / "c.xlsx", "20261201-abcdef0123")
    assert c["sha256"] != a["sha256"]


def test_scorecard_without_its_table_names_the_file(tmp_path):
    data = tmp_path / "data"
    _parquet(data / "mart_commune_indicator.parquet", _commune_indicator())
    with pytest.raises(DownloadError, match=r"mart_plan_targets\.parquet not found"):
        write_scorecard_xlsx(data, tmp_path / "s.xlsx", "x")


# ---------------------------------------------------------------------------------------------- a release


def _package(release: Path, resources: dict[str, list[str]], rows: dict[str, int]) -> None:
    res = []
    for name, paths in resources.items():
        files = [{"path": p, "rows": pq.ParquetFile(release / p).metadata.num_rows} for p in paths]
        res.append(
            {
                "name": name,
                "path": paths if len(paths) > 1 else paths[0],
                "ntm:rows": rows.get(name, sum(f["rows"] for f in files)),
                "ntm:files": files,
            }
        )
    (release / "datapackage.json").write_text(
        json.dumps({"ntm:release_id": "20261130-abcdef0123", "ntm:is_synthetic": True, "resources": res})
    )


def test_write_downloads_writes_one_csv_per_resource_and_the_scorecard(release_data, tmp_path):
    release = release_data.parent
    table = _mixed_table()
    _parquet(release / "data" / "mixed" / "2026-Q1.parquet", table.slice(0, 3))
    _parquet(release / "data" / "mixed" / "2026-Q2.parquet", table.slice(3))
    _package(
        release,
        {
            "mart_plan_targets": ["data/mart_plan_targets.parquet"],
            "mart_commune_indicator": ["data/mart_commune_indicator.parquet"],
            "mixed": ["data/mixed/2026-Q1.parquet", "data/mixed/2026-Q2.parquet"],
        },
        {},
    )
    site = tmp_path / "site"
    entries = write_downloads(release, site, "20261130-abcdef0123")
    assert [e["path"] for e in entries] == [
        "downloads/mart_plan_targets.csv",
        "downloads/mart_commune_indicator.csv",
        "downloads/mixed.csv",
        "downloads/scorecard.xlsx",
    ]
    for e in entries:
        f = site / e["path"]
        assert f.is_file() and e["bytes"] == f.stat().st_size
        assert e["sha256"] == hashlib.sha256(f.read_bytes()).hexdigest()
    assert [e["rows"] for e in entries] == [4, 2, 5, 4]
    assert entries[0]["neutralised_cells"] == 1  # the =HYPERLINK name
    parts = [release / "data" / "mixed" / f"2026-Q{q}.parquet" for q in (1, 2)]
    assert verify_csv(site / "downloads" / "mixed.csv", parts) == []
    assert (
        verify_csv(site / "downloads" / "mart_plan_targets.csv", [release_data / "mart_plan_targets.parquet"])
        == []
    )
    assert sorted(p.name for p in (site / "downloads").iterdir()) == sorted(
        Path(e["path"]).name for e in entries
    )


def test_write_downloads_refuses_a_count_mismatch_and_a_path_outside_the_release(release_data, tmp_path):
    release = release_data.parent
    _package(release, {"mart_plan_targets": ["data/mart_plan_targets.parquet"]}, {"mart_plan_targets": 99})
    with pytest.raises(DownloadError, match="datapackage.json says 99"):
        write_downloads(release, tmp_path / "site", "r")
    _parquet(tmp_path / "outside.parquet", pa.table({"a": [1]}))
    _package(release, {"evil": ["../outside.parquet"]}, {"evil": 1})
    with pytest.raises(DownloadError, match="is not inside the release"):
        write_downloads(release, tmp_path / "site", "r")


# ------------------------------------------------------------------------- the workbook's reference properties

#: written by the cell-by-cell (normal mode) writer of main@0e1b506 from the fixtures below; the write-only
#: writer must give the same workbook as read back by openpyxl
XLSX_REFERENCE = Path(__file__).with_name("data") / "scorecard_xlsx_reference.json"


def _jsonable(v):
    if isinstance(v, datetime):
        return {"datetime": v.isoformat()}
    if isinstance(v, date):
        return {"date": v.isoformat()}
    return v


def workbook_properties(path: Path) -> dict:
    """What a reader sees: sheet names and order; per sheet frozen panes, autofilter, column widths, size and
    every cell's value (with its Python type), data type, number format and header style."""
    wb = openpyxl.load_workbook(path)
    out: dict = {"sheets": wb.sheetnames}
    for ws in wb.worksheets:
        out[ws.title] = {
            "freeze_panes": ws.freeze_panes,
            "auto_filter": ws.auto_filter.ref,
            "widths": {k: d.width for k, d in sorted(ws.column_dimensions.items()) if d.width},
            "size": [ws.max_row, ws.max_column],
            "cells": [
                [
                    [
                        _jsonable(c.value),
                        type(c.value).__name__,
                        c.data_type,
                        c.number_format,
                        bool(c.font.b),
                        c.fill.fgColor.rgb if c.fill.fill_type else None,
                        bool(c.alignment.wrap_text),
                    ]
                    for c in row
                ]
                for row in ws.iter_rows()
            ],
        }
    p = wb.properties
    out["properties"] = [p.creator, p.lastModifiedBy, p.title, p.created.isoformat(), p.modified.isoformat()]
    return out


def _odd_commune_indicator() -> pa.Table:
    """The commune table with a time-zone-aware submission time (kept as text) and no English name column."""
    t = _commune_indicator()
    t = t.drop_columns(["indicator_name_en"])
    i = t.column_names.index("last_submitted_at")
    tz = pa.array([datetime(2026, 3, 11, 5, 21), None], pa.timestamp("us", tz="Asia/Ho_Chi_Minh"))
    return t.set_column(i, "last_submitted_at", tz)


def build_reference_workbooks(out_dir: Path) -> dict[str, Path]:
    """The two workbooks of the reference: the fixture release and the odd variant."""
    books = {}
    for name, commune in (("plain", _commune_indicator()), ("odd", _odd_commune_indicator())):
        data = out_dir / name / "release" / "data"
        _parquet(data / "mart_plan_targets.parquet", _plan_targets())
        _parquet(data / "mart_commune_indicator.parquet", commune)
        xl.write_scorecard_xlsx(data, out_dir / f"{name}.xlsx", "20261130-abcdef0123", is_synthetic=True)
        books[name] = out_dir / f"{name}.xlsx"
    return books


@pytest.mark.parametrize("rows_per_chunk", [20_000, 1])
def test_scorecard_workbook_equals_the_reference_properties(tmp_path, monkeypatch, rows_per_chunk):
    """Same sheets, cell values and types, number formats, frozen header, autofilter, widths and header style
    as the normal-mode writer this write-only one replaced (reference recorded in tests/site/data), whether
    the streamed rows come in one piece or one row per piece."""
    monkeypatch.setattr(xlsx_rows, "ROWS_PER_CHUNK", rows_per_chunk)
    reference = json.loads(XLSX_REFERENCE.read_text(encoding="utf-8"))
    for name, path in build_reference_workbooks(tmp_path).items():
        got = json.loads(json.dumps(workbook_properties(path)))
        assert got == reference[name], name
    # the reference is not trivially empty: numbers keep their formats, the tz-aware time is text
    cells = reference["odd"][xl.COMMUNE_SHEET]["cells"]
    assert cells[1][5][1:4] == ["float", "n", "#,##0.0#"]
    assert cells[2][15][:3] == ["2026-03-11 12:21:00+07:00", "str", "s"]
    assert reference["plain"][xl.SCORECARD_SHEET]["auto_filter"] == "A1:M5"


def test_scorecard_control_character_names_sheet_row_and_column(tmp_path):
    data = tmp_path / "data"
    _parquet(data / "mart_plan_targets.parquet", _plan_targets())
    t = _commune_indicator()
    i = t.column_names.index("commune_name")
    _parquet(
        data / "mart_commune_indicator.parquet", t.set_column(i, "commune_name", pa.array(["ok", "Xã\x01"]))
    )
    # the table sorts by period: "2026" (the second Parquet row) is the sheet's row 2
    with pytest.raises(DownloadError, match=r"row 2, column commune_name: a control character"):
        write_scorecard_xlsx(data, tmp_path / "s.xlsx", "x")
    assert not (tmp_path / "s.xlsx").exists()


# ------------------------------------------------------------------------- reuse of the previous release's CSVs


def _release_with_hashes(root: Path, release_id: str, tables: dict[str, pa.Table]) -> Path:
    """A release folder whose datapackage.json records every file's sha256 (as the publisher writes it)."""
    res = []
    for name, table in tables.items():
        path = _parquet(root / "data" / f"{name}.parquet", table)
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        files = [
            {"path": f"data/{name}.parquet", "bytes": path.stat().st_size, "sha256": sha, "rows": len(table)}
        ]
        res.append({"name": name, "path": files[0]["path"], "ntm:rows": len(table), "ntm:files": files})
    (root / "datapackage.json").write_text(
        json.dumps({"ntm:release_id": release_id, "ntm:is_synthetic": True, "resources": res})
    )
    return root


def _with_site(release: Path, previous: Path | None = None) -> list[dict]:
    """write_downloads, then the site manifest's downloads list as pipeline.site.build writes it."""
    rid = json.loads((release / "datapackage.json").read_text())["ntm:release_id"]
    entries = write_downloads(release, release / "site", rid, previous=previous)
    manifest = {"downloads": [{k: v for k, v in e.items() if k != "reused_from"} for e in entries]}
    (release / "site" / "site.json").write_text(json.dumps(manifest))
    return entries


def test_a_csv_made_from_the_same_parquet_is_linked_from_the_previous_release(tmp_path):
    tables = {"mart_plan_targets": _plan_targets(), "mart_commune_indicator": _commune_indicator()}
    old = _release_with_hashes(tmp_path / "old", "20261130-aaaaaaaaaa", tables)
    _with_site(old)
    changed = {**tables, "mart_commune_indicator": _commune_indicator().slice(1)}
    new = _release_with_hashes(tmp_path / "new", "20261201-bbbbbbbbbb", changed)
    entries = {e["name"]: e for e in _with_site(new, previous=old)}

    assert entries["mart_plan_targets"]["reused_from"] == "20261130-aaaaaaaaaa"
    assert entries["mart_commune_indicator"]["reused_from"] is None
    csv = "site/downloads/{}.csv"
    assert os.path.samefile(old / csv.format("mart_plan_targets"), new / csv.format("mart_plan_targets"))
    assert not os.path.samefile(
        old / csv.format("mart_commune_indicator"), new / csv.format("mart_commune_indicator")
    )
    # the same bytes and entries as downloads written afresh
    fresh = tmp_path / "fresh"
    shutil.copytree(new / "data", fresh / "data")
    shutil.copy(new / "datapackage.json", fresh / "datapackage.json")
    fresh_entries = {e["name"]: e for e in _with_site(fresh)}
    for name in entries:
        assert {k: v for k, v in entries[name].items() if k != "reused_from"} == {
            k: v for k, v in fresh_entries[name].items() if k != "reused_from"
        }
    for p in sorted((fresh / "site" / "downloads").iterdir()):
        assert (new / "site" / "downloads" / p.name).read_bytes() == p.read_bytes(), p.name


def test_a_tampered_or_other_code_csv_is_written_again(tmp_path, monkeypatch):
    tables = {"mart_plan_targets": _plan_targets(), "mart_commune_indicator": _commune_indicator()}
    old = _release_with_hashes(tmp_path / "old", "20261130-aaaaaaaaaa", tables)
    _with_site(old)
    target = old / "site" / "downloads" / "mart_plan_targets.csv"
    data = bytearray(target.read_bytes())
    data[-3] ^= 0x01  # same size, other bytes
    target.write_bytes(bytes(data))
    new = _release_with_hashes(tmp_path / "new", "20261201-bbbbbbbbbb", tables)
    entries = {e["name"]: e for e in _with_site(new, previous=old)}
    assert entries["mart_plan_targets"]["reused_from"] is None
    assert entries["mart_commune_indicator"]["reused_from"] == "20261130-aaaaaaaaaa"
    assert (new / "site" / "downloads" / "mart_plan_targets.csv").read_bytes() != bytes(data)

    from pipeline.site import downloads as dl_mod

    monkeypatch.setattr(dl_mod, "CSV_CODE", "another version of csv_export.py")
    newer = _release_with_hashes(tmp_path / "newer", "20261202-cccccccccc", tables)
    assert {e["reused_from"] for e in _with_site(newer, previous=new)} == {None}


# ------------------------------------------------------------------ the commune sheet taken from a workbook


@pytest.mark.parametrize("variant", ["plain", "odd"])
def test_a_taken_commune_sheet_gives_the_same_workbook_bytes(tmp_path, variant):
    """A workbook whose commune sheet is taken (compressed bytes) from the previous release's workbook is the
    workbook written in full, byte for byte, also for another release id (the About sheet and properties
    differ, the taken part does not)."""
    commune = _commune_indicator() if variant == "plain" else _odd_commune_indicator()
    data = tmp_path / "release" / "data"
    _parquet(data / "mart_plan_targets.parquet", _plan_targets())
    _parquet(data / "mart_commune_indicator.parquet", commune)
    first = xl.write_scorecard_xlsx(data, tmp_path / "first.xlsx", "20261130-abcdef0123", is_synthetic=True)
    assert not first["sheet_taken"]
    for rid in ("20261130-abcdef0123", "20261201-0123456789"):
        full = xl.write_scorecard_xlsx(data, tmp_path / f"full-{rid}.xlsx", rid, is_synthetic=True)
        taken = xl.write_scorecard_xlsx(
            data, tmp_path / f"taken-{rid}.xlsx", rid, is_synthetic=True,
            previous=(tmp_path / "first.xlsx", first["record"]),
        )  # fmt: skip
        assert taken["sheet_taken"] and not full["sheet_taken"]
        assert (tmp_path / f"taken-{rid}.xlsx").read_bytes() == (tmp_path / f"full-{rid}.xlsx").read_bytes()
        assert {k: v for k, v in taken.items() if k not in ("path", "sheet_taken")} == {
            k: v for k, v in full.items() if k not in ("path", "sheet_taken")
        }


def test_the_commune_sheet_is_not_taken_when_its_input_or_the_previous_workbook_changed(tmp_path):
    data = tmp_path / "release" / "data"
    _parquet(data / "mart_plan_targets.parquet", _plan_targets())
    _parquet(data / "mart_commune_indicator.parquet", _commune_indicator())
    first = xl.write_scorecard_xlsx(data, tmp_path / "first.xlsx", "20261130-abcdef0123", is_synthetic=True)
    previous = (tmp_path / "first.xlsx", first["record"])

    # another code version (or openpyxl, zlib, Python): another key
    other = dict(first["record"], key="0" * 64)
    assert not xl.write_scorecard_xlsx(data, tmp_path / "a.xlsx", "r", previous=(previous[0], other))[
        "sheet_taken"
    ]

    # the previous workbook damaged (same size, other bytes): not taken
    damaged = tmp_path / "damaged.xlsx"
    blob = bytearray((tmp_path / "first.xlsx").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    damaged.write_bytes(bytes(blob))
    assert not xl.write_scorecard_xlsx(data, tmp_path / "b.xlsx", "r", previous=(damaged, first["record"]))[
        "sheet_taken"
    ]

    # the commune values changed: the sheet is written from them
    changed = _commune_indicator()
    changed = changed.set_column(
        changed.column_names.index("value"), "value", pa.array([9.5] * changed.num_rows, pa.float64())
    )
    _parquet(data / "mart_commune_indicator.parquet", changed)
    fresh = xl.write_scorecard_xlsx(data, tmp_path / "c.xlsx", "r", previous=previous)
    assert not fresh["sheet_taken"]
    wb = openpyxl.load_workbook(tmp_path / "c.xlsx")
    ws = wb[xl.COMMUNE_SHEET]
    value_col = _header_of(ws).index("Giá trị / Value")
    assert {row[value_col] for row in ws.iter_rows(min_row=2, values_only=True)} == {9.5}

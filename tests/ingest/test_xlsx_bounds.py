"""XLSX files are bounded before they are expanded (issue 12, point 4): the uncompressed size of every part
(declared in the zip's central directory, and enforced again while streaming in case the directory lies)
and the rows of the workbook. The bombs are generated in a tmp dir, streaming, so the test data stays small
on disk (~0.5 MB) and in the test process; the ingest runs in a subprocess whose peak RSS is measured with
``resource.getrusage(RUSAGE_CHILDREN)`` (in a wrapper process, so no earlier child of the test session
counts)."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from pipeline.ingest.header import FileRejected
from pipeline.ingest.sources.submissions.template import SUBMISSION
from pipeline.ingest.sources.submissions.validate import ingest_submissions
from pipeline.ingest.xlsx import check_xlsx_bounds
from tests.ingest.ingest_builders import SALT, SUB_HEADER, TODAY, make_raw_dir, sub_row, xlsx_bytes

REPO = Path(__file__).resolve().parents[2]
MB = 1024 * 1024
RSS_CEILING_KB = 1024 * 1024  # 1 GiB

_CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>
<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>
</Types>"""
_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>
</Relationships>"""
_WORKBOOK = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">
<sheets><sheet name="BaoCao" sheetId="1" r:id="rId1"/></sheets></workbook>"""
_WB_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>
</Relationships>"""


def _header_row() -> str:
    cells = "".join(
        f'<c r="{chr(65 + i)}1" t="inlineStr"><is><t>{label}</t></is></c>'
        for i, label in enumerate(SUB_HEADER)
    )
    return f'<row r="1">{cells}</row>'


def write_bomb(path: Path, expands_to: int, *, lie: bool = False) -> None:
    """An XLSX whose sheet XML expands to ``expands_to`` bytes: a template header, then one text cell of
    'A's. Written streaming (1 MiB at a time). ``lie``: the central directory and the local header then
    declare 1,000 bytes for the sheet instead of its real size."""
    head = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        + _header_row()
        + '<row r="2"><c r="A2" t="inlineStr"><is><t>'
    ).encode()
    tail = b"</t></is></c></row></sheetData></worksheet>"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES)
        zf.writestr("_rels/.rels", _RELS)
        zf.writestr("xl/workbook.xml", _WORKBOOK)
        zf.writestr("xl/_rels/workbook.xml.rels", _WB_RELS)
        with zf.open("xl/worksheets/sheet1.xml", "w") as fh:
            fh.write(head)
            left = expands_to - len(head) - len(tail)
            block = b"A" * MB
            while left > 0:
                fh.write(block[: min(MB, left)])
                left -= MB
            fh.write(tail)
    if lie:
        _declare_size(path, "xl/worksheets/sheet1.xml", 1000)


def _declare_size(path: Path, name: str, size: int) -> None:
    """Overwrite the uncompressed size of one entry in its local header and in the central directory."""
    data = bytearray(path.read_bytes())
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo(name)
    data[info.header_offset + 22 : info.header_offset + 26] = struct.pack("<I", size)
    encoded = name.encode()
    pos = 0
    while (pos := data.find(b"PK\x01\x02", pos)) >= 0:
        n = struct.unpack("<H", data[pos + 28 : pos + 30])[0]
        if bytes(data[pos + 46 : pos + 46 + n]) == encoded:
            data[pos + 24 : pos + 28] = struct.pack("<I", size)
            break
        pos += 4
    path.write_bytes(bytes(data))
    assert zipfile.ZipFile(path).getinfo(name).file_size == size


_CHILD = textwrap.dedent(
    """
    import json, sys
    from datetime import date
    from pathlib import Path
    import duckdb
    from pipeline.ingest import ensure_warehouse_schema, load_reference
    from pipeline.ingest.sources.submissions.validate import ingest_submissions
    raw, seeds, db = map(Path, sys.argv[1:4])
    con = duckdb.connect(str(db))
    ensure_warehouse_schema(con)
    ref = load_reference(con, raw, seeds)
    ingest_submissions(con, raw, ref, today=date(2026, 11, 20), salt="s")
    rows = con.execute("select path, status, reason, rows_loaded from audit.ingest_files").fetchall()
    n = con.execute("select count(*) from raw.submission_values").fetchone()[0]
    print(json.dumps({"files": rows, "values": n}))
    """
)
_WRAPPER = textwrap.dedent(
    """
    import json, resource, subprocess, sys
    r = subprocess.run([sys.executable, "-c", sys.argv[1], *sys.argv[2:]], capture_output=True, text=True)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"rc": r.returncode, "out": r.stdout, "err": r.stderr[-3000:], "maxrss_kb": peak}))
    """
)


def _ingest_in_subprocess(tmp_path: Path, raw: Path) -> tuple[dict, int]:
    seeds = tmp_path / "dbt_project" / "seeds"
    out = subprocess.run(
        [sys.executable, "-c", _WRAPPER, _CHILD, str(raw), str(seeds), str(tmp_path / "w.duckdb")],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    wrapped = json.loads(out.stdout)
    assert wrapped["rc"] == 0, wrapped["err"]
    return json.loads(wrapped["out"]), int(wrapped["maxrss_kb"])


@pytest.mark.parametrize("lie", [False, True], ids=["declared", "lying_directory"])
def test_xlsx_expanding_to_500mb_is_rejected_before_expanding(tmp_path, lie):
    raw = make_raw_dir(tmp_path)
    bomb = raw / "submissions" / "bomb.xlsx"
    write_bomb(bomb, 500 * MB, lie=lie)
    assert bomb.stat().st_size < 3 * MB
    result, maxrss_kb = _ingest_in_subprocess(tmp_path, raw)
    [(path, status, reason, loaded)] = result["files"]
    assert (path, status, loaded) == ("submissions/bomb.xlsx", "rejected", 0)
    assert reason.startswith("file_too_large:") and "xl/worksheets/sheet1.xml" in reason
    if lie:
        assert "declared 1000" in reason  # caught while streaming, cut at the limit
    else:
        assert f"{500 * MB} byte" in reason  # caught from the central directory, nothing expanded
    assert result["values"] == 0
    assert maxrss_kb < RSS_CEILING_KB, f"peak RSS {maxrss_kb / 1024:.0f} MiB"


def test_xlsx_rows_limit_rejects_the_file(con, raw_dir, ref, monkeypatch):
    monkeypatch.setenv("NTM_MAX_ROWS_PER_FILE", "4")
    rows = [sub_row(submitted=f"14/09/2026 16:{i:02d}") for i in range(5)]
    (raw_dir / "submissions" / "big.xlsx").write_bytes(xlsx_bytes([SUB_HEADER, *rows]))
    (raw_dir / "submissions" / "ok.xlsx").write_bytes(xlsx_bytes([SUB_HEADER, *rows[:3]]))
    report = ingest_submissions(con, raw_dir, ref, today=TODAY, salt=SALT)
    got = dict(con.execute("select path, reason from audit.ingest_files").fetchall())
    assert got["submissions/big.xlsx"].startswith("file_too_large:")
    assert "> 4 dòng/rows (NTM_MAX_ROWS_PER_FILE)" in got["submissions/big.xlsx"]
    assert got["submissions/ok.xlsx"] is None and report.rows_loaded == 3
    assert con.execute(
        "select count(*) from raw.submission_values where _source_file = 'submissions/big.xlsx'"
    ).fetchone() == (0,)


def test_xlsx_part_limit_is_configurable(monkeypatch):
    data = xlsx_bytes([SUB_HEADER, sub_row()])
    check_xlsx_bounds(data)  # the defaults take a normal file
    monkeypatch.setenv("NTM_XLSX_MAX_PART_BYTES", "600")
    with pytest.raises(FileRejected) as e:
        check_xlsx_bounds(data)
    assert e.value.code == "file_too_large" and "NTM_XLSX_MAX_PART_BYTES" in e.value.detail


def test_lying_directory_below_the_limit_is_still_refused(tmp_path):
    """A directory that under-declares a part that stays under the limit: the stream does not match the
    declared size, so the file is refused as corrupt (never handed to the XLSX parser)."""
    path = tmp_path / "small_lie.xlsx"
    write_bomb(path, 2 * MB, lie=True)
    with pytest.raises(FileRejected) as e:
        check_xlsx_bounds(path.read_bytes())
    assert e.value.code == "truncated_file" and "the zip declares 1000" in e.value.detail
    assert SUBMISSION.sheet == "BaoCao"


def test_damaged_zip_containers_are_rejected_never_crash():
    """Random byte flips and truncations of a valid XLSX: every outcome is a read or a FileRejected (a
    damaged header used to escape as NotImplementedError from zipfile)."""
    import random

    from pipeline.ingest.readers import read_any

    good = xlsx_bytes([SUB_HEADER, sub_row()])
    rng = random.Random(2)
    codes = set()
    for _ in range(400):
        d = bytearray(good)
        for _ in range(rng.randint(1, 8)):
            d[rng.randrange(len(d))] = rng.getrandbits(8)
        if rng.random() < 0.3:
            d = d[: rng.randrange(len(d))]
        try:
            read_any(bytes(d), ".xlsx", SUBMISSION)
        except FileRejected as e:
            codes.add(e.code)
    assert "truncated_file" in codes and codes <= {
        "truncated_file",
        "file_too_large",
        "unsupported_format",
        "no_header",
        "missing_required_columns",
        "header_only",
        "binary_file",
        "undecodable_text",
        "empty_file",
        "duplicate_column",
    }

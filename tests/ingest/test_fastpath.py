"""The batched CSV fast path (``manifest.FASTPATH``) gives exactly what the per-file reader gives.

The bad-input corpus plus CSV edge cases (blank lines, short rows, quoted newlines, stray quotes, CR line
ends, extra fields, BOM, permuted headers, NUL, non-NFC text) are ingested twice, fast path off and on,
and every ``raw.*`` and ``audit.*`` table is compared row for row in insertion order (ingestion
timestamps excluded).
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import duckdb
import pytest

from pipeline.ingest import fastcsv, load_reference, manifest
from pipeline.ingest.fastcsv import read_csv_fast
from pipeline.ingest.sources.submissions.template import SUBMISSION
from pipeline.ingest.tables import CACHE_TABLES
from pipeline.lib.text import cp1258_encode
from tests.ingest.ingest_builders import SALT, SUB_HEADER, TODAY, csv_text, make_raw_dir, sub_row, task_row
from tests.ingest.test_corpus import CASES, INGEST

_TS = {"ingested_at", "quarantined_at", "first_seen", "last_seen"}
HEADER = csv_text(SUB_HEADER, [])
ROW = csv_text(SUB_HEADER, [sub_row()]).split("\n", 1)[1]
ROW2 = csv_text(SUB_HEADER, [sub_row(indicator="CDS.07", value="Có")]).split("\n", 1)[1]
TASK = csv_text(SUB_HEADER, [task_row()]).split("\n", 1)[1]

EDGE: dict[str, bytes | str] = {
    "a_plain.csv": HEADER + ROW + ROW2 + TASK,
    "b_blank_mid_end.csv": HEADER + ROW + "\n   \n" + ROW2 + "\n\n",
    "c_short_rows.csv": HEADER + "18484-KT,2026-Q3\n" + ROW,
    "d_quoted_newline.csv": HEADER + ROW.replace("Số liệu ước tính", '"dòng 1\ndòng 2, có phẩy"') + ROW2,
    "e_quote_mid_field.csv": HEADER + ROW.replace("Số liệu", 'Số "liệu'),
    "f_text_after_quote.csv": HEADER + ROW.replace("Số liệu ước tính", '"Số liệu"x'),
    "g_doubled_quotes.csv": HEADER + ROW.replace("Số liệu ước tính", '"Số ""liệu"""'),
    "h_cr_only.csv": (HEADER + ROW + ROW2).replace("\n", "\r"),
    "i_crlf.csv": (HEADER + ROW + ROW2).replace("\n", "\r\n"),
    "j_extra_field_later.csv": HEADER + ROW + ROW2.rstrip("\n") + ",x,y\n",
    "k_extra_field_first.csv": HEADER + ROW.rstrip("\n") + ",x\n" + ROW2,
    "l_bom.csv": "\ufeff" + HEADER + ROW,
    "m_header_only_blanks.csv": HEADER + "\n,,,\n",
    "n_nul.csv": HEADER + ROW.replace("ước", "\x00ước"),
    "o_u2028.csv": HEADER + ROW.replace("ước", "\u2028ước"),
    "p_permuted.csv": csv_text(SUB_HEADER[::-1], [sub_row()[::-1], sub_row(period="2026-Q2")[::-1]]),
    "q_extra_column.csv": csv_text([*SUB_HEADER, "Ghi chú khác"], [[*sub_row(), "x"], sub_row()]),
    "r_nfd.csv": unicodedata.normalize("NFD", HEADER + ROW + ROW2),
    "s_cp1258.csv": cp1258_encode(HEADER + ROW),
    "t_bad_values.csv": HEADER
    + ROW
    + ROW
    + csv_text(SUB_HEADER, [sub_row(value="abc", indicator="X.1")]).split("\n", 1)[1],
    "u_quoted_header.csv": csv_text(SUB_HEADER, [sub_row()]).replace(SUB_HEADER[0], f'"{SUB_HEADER[0]}"', 1),
    "v_header_no_newline.csv": HEADER.rstrip("\n"),
    "w_title_row.csv": "BÁO CÁO\n" + HEADER + ROW,
    "x_semicolon.csv": csv_text(SUB_HEADER, [sub_row()], sep=";"),
    "y_header_crlf_blank.csv": HEADER.replace("\n", "\r\n") + "\r\n" + ROW,
    "z_plain_again.csv": HEADER + TASK + ROW.replace("2026-Q3", "2026-Q2"),
    # issue 12 point 4: the fast path declines, the general reader decides (same result both ways)
    "za_duplicate_column.csv": csv_text([*SUB_HEADER, "unit_code"], [[*sub_row(), "18484-VP"]]),
    "zb_duplicate_nfd.csv": csv_text(
        [*SUB_HEADER, unicodedata.normalize("NFD", "Giá trị")], [[*sub_row(), "9"]]
    ),
    "zc_blank_row_type.csv": HEADER + ROW + ROW2.replace(",CT,", ",,", 1),
    "zd_yesno_minus_one.csv": HEADER + ROW2.replace("Có", "-1") + ROW,
    "ze_csv_named.xlsx": HEADER + ROW + ROW2,
    "zf_json_named.csv": '{"Mã đơn vị": "18484-KT"}\n',
    "zg_cr_only_crlf_header.csv": (HEADER + ROW).replace("\n", "\r") + ROW2.replace("\n", "\r"),
    "zh_long_cell.csv": HEADER + ROW.replace("Số liệu ước tính", "x" * 40_000) + ROW2,
}


def _build(base: Path, with_corpus: bool) -> Path:
    raw = make_raw_dir(base)
    if with_corpus:
        for case in CASES:
            case.build(raw)
    for name, data in EDGE.items():
        p = raw / "submissions" / "edge" / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return raw


def _ingest(
    base: Path, raw: Path, fast: bool, batch_files: int | None, monkeypatch
) -> duckdb.DuckDBPyConnection:
    monkeypatch.setattr(manifest, "FASTPATH", fast)
    con = duckdb.connect(str(base / f"w{int(fast)}.duckdb"))
    ref = load_reference(con, raw, raw.parent / "dbt_project" / "seeds")
    for fn in INGEST.values():
        kw = {"batch_files": batch_files} if batch_files else {}
        fn(con, raw, ref, today=TODAY, salt=SALT, **kw)
    return con


def _dump(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    out = {}
    tables = con.execute(
        "select table_schema || '.' || table_name from information_schema.tables "
        "where table_schema in ('raw', 'audit') order by 1"
    ).fetchall()
    for (t,) in tables:
        if t in CACHE_TABLES:  # file identities, timing-dependent (filestats.RACY_SECONDS)
            continue
        cols = [r[0] for r in con.execute(f"describe {t}").fetchall() if r[0] not in _TS]
        out[t] = con.execute(f"select {', '.join(cols)} from {t}").fetchall()
    return out


@pytest.mark.parametrize("batch_files", [None, 3])
@pytest.mark.parametrize("large", [False, True], ids=["csv-module", "pandas-split"])
def test_fastpath_equals_per_file_reader(tmp_path, monkeypatch, batch_files, large):
    if large:  # every file takes the large-file split (pandas' C parser) of the fast path
        monkeypatch.setattr(fastcsv, "PANDAS_MIN_CHARS", 0)
    raw = _build(tmp_path, with_corpus=True)
    slow = _dump(_ingest(tmp_path, raw, False, batch_files, monkeypatch))
    joint: list[bool] = []  # each joint split of a batch's files of one header: taken or not

    def spy(parts, width):
        joint.append(fastcsv.split_together(parts, width))
        return joint[-1]

    monkeypatch.setattr(manifest, "split_together", spy)
    fast = _dump(_ingest(tmp_path, raw, True, batch_files, monkeypatch))
    # both ways are compared below: joint splits taken (small batches of clean files) and refused (a batch
    # holding a bad line or an open quote: each file split on its own, or read by the general reader)
    if large:
        assert not joint  # a large file is split at once, never deferred
    else:
        assert False in joint
        if batch_files:
            assert True in joint
    assert slow.keys() == fast.keys()
    for t in slow:
        assert slow[t] == fast[t], t
    assert len(slow["audit.file_paths"]) >= len(CASES) + len(EDGE)


def test_fastpath_takes_the_common_files_only(tmp_path):
    raw = _build(tmp_path, with_corpus=False)
    taken = {
        p.name
        for p in (raw / "submissions" / "edge").iterdir()
        if read_csv_fast(p.read_bytes(), p.suffix, SUBMISSION) is not None
    }
    assert {"a_plain.csv", "b_blank_mid_end.csv", "d_quoted_newline.csv", "l_bom.csv", "i_crlf.csv"} <= taken
    assert not taken & {
        "f_text_after_quote.csv",
        "j_extra_field_later.csv",
        "k_extra_field_first.csv",
        "m_header_only_blanks.csv",
        "n_nul.csv",
        "s_cp1258.csv",
        "w_title_row.csv",
        "x_semicolon.csv",
        "v_header_no_newline.csv",
    }


def test_fastpath_env_switch(monkeypatch):
    monkeypatch.setattr(manifest, "FASTPATH", None)
    monkeypatch.setenv("NTM_INGEST_FASTPATH", "0")
    assert not manifest.fastpath_enabled()
    monkeypatch.setenv("NTM_INGEST_FASTPATH", "1")
    assert manifest.fastpath_enabled()
    monkeypatch.delenv("NTM_INGEST_FASTPATH")
    assert manifest.fastpath_enabled()


def test_fastpath_splits_a_large_file_with_pandas_and_keeps_every_record(monkeypatch):
    body = ROW + "\n" + "18484-KT,2026-Q3\n" + ROW2
    monkeypatch.setattr(fastcsv, "PANDAS_MIN_CHARS", 0)
    big = read_csv_fast((HEADER + body).encode(), ".csv", SUBMISSION)
    monkeypatch.setattr(fastcsv, "PANDAS_MIN_CHARS", 10**9)
    small = read_csv_fast((HEADER + body).encode(), ".csv", SUBMISSION)
    assert big is not None and small is not None
    assert big.records is None and big.cells is not None and small.cells is None
    assert len(big) == len(small) == 4  # the blank line and the short row are records too
    frame_big, sizes_big = fastcsv.fast_frame([big, small], SUBMISSION)
    frame_small, sizes_small = fastcsv.fast_frame([small, small], SUBMISSION)
    assert sizes_big == sizes_small == [4, 4]
    assert frame_big.equals(frame_small)
    monkeypatch.setattr(fastcsv, "PANDAS_MIN_CHARS", 0)
    extra = HEADER + ROW + ROW2.rstrip("\n") + ",x,y\n"
    assert read_csv_fast(extra.encode(), ".csv", SUBMISSION) is None  # a bad line: the general reader


def _deferred(text: str) -> fastcsv.FastCSV:
    p = read_csv_fast(text.encode(), ".csv", SUBMISSION, defer=True)
    assert p is not None and p.body is not None
    return p


def test_files_of_one_header_are_split_together_into_their_own_records(monkeypatch):
    texts = [
        HEADER + ROW + "\n" + "18484-KT,2026-Q3\n" + ROW2,  # blank line, short row
        HEADER
        + ROW.replace("Số liệu ước tính", '"dòng 1\ndòng 2, có phẩy"')
        + TASK.rstrip("\n"),  # no last \n
        (HEADER + ROW + ROW2).replace("\n", "\r\n"),
        HEADER + ROW.rstrip("\n") + "\r",  # ends with a bare CR
    ]
    width = fastcsv.fast_header(HEADER.rstrip("\n"), SUBMISSION)[1]
    together = [_deferred(t) for t in texts]
    assert fastcsv.split_together(together, width)
    monkeypatch.setattr(fastcsv, "PANDAS_MIN_CHARS", 10**9)
    alone = [read_csv_fast(t.encode(), ".csv", SUBMISSION) for t in texts]
    assert [len(p) for p in together] == [len(p) for p in alone] == [4, 2, 2, 1]
    for t, a in zip(together, alone, strict=True):
        assert t.body is None
        frame_t, _ = fastcsv.fast_frame([t], SUBMISSION)
        frame_a, _ = fastcsv.fast_frame([a], SUBMISSION)
        assert frame_t.equals(frame_a)


@pytest.mark.parametrize(
    "bad",
    [
        HEADER + ROW.replace("Số liệu ước tính", '"mở ngoặc không đóng'),  # swallows the next file
        HEADER + ROW + ROW2.rstrip("\n") + ",x,y\n",  # an extra field: a bad line
    ],
    ids=["open-quote", "extra-field"],
)
def test_a_joint_split_that_fails_changes_nothing(bad):
    width = fastcsv.fast_header(HEADER.rstrip("\n"), SUBMISSION)[1]
    parts = [_deferred(HEADER + ROW), _deferred(bad), _deferred(HEADER + ROW2)]
    bodies = [p.body for p in parts]
    assert not fastcsv.split_together(parts, width)
    assert [p.body for p in parts] == bodies and all(p.cells is None for p in parts)


def test_a_body_with_a_bom_or_the_sentinel_character_is_split_on_its_own():
    for body in (ROW.replace("Số", "\ufeffSố"), ROW.replace("Số", "\ue000Số")):
        p = read_csv_fast((HEADER + body).encode(), ".csv", SUBMISSION, defer=True)
        assert p is not None and p.body is None and len(p) == 1


def test_the_ingest_limits_are_read_once_per_run_not_per_file(con, raw_dir, ref, monkeypatch):
    """The limits come from the environment; reading them per file cost 2.4 of 29.7 profiled seconds of the
    province submission ingest (bench/results/ingest_s8.md). Plain CSVs: none read on their own."""
    from pipeline import config
    from pipeline.ingest import files, readers
    from pipeline.ingest.sources.submissions.validate import ingest_submissions

    calls: list[int] = []

    def counted():
        calls.append(1)
        return config.ingest_limits()

    for mod in (files, fastcsv, manifest, readers):
        monkeypatch.setattr(mod, "ingest_limits", counted)
    for i in range(12):
        (raw_dir / "submissions" / f"f{i:02d}.csv").write_text(HEADER + ROW.replace("Số liệu", f"Tệp {i}"))
    report = ingest_submissions(con, raw_dir, ref, today=TODAY, salt=SALT)
    assert report.files_new == 12 and report.rows_loaded == 12
    assert len(calls) <= 2  # the runner's and the file reader's, once each

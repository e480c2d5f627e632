"""Personal data in published text (pipeline.lib.pii, pipeline.publish.pii): names inside longer text,
diacritics-insensitive; phone / ID numbers with separators; e-mail; keys and hashes are not hits."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.ingest.sources.surveys.validate import name_fold_hash, name_hash
from pipeline.lib.pii import NameIndex, key_hash, mask_text, name_key
from pipeline.publish import scan_pii
from pipeline.publish.pii import cells_with_names, flag_formula_fields, formula_cells, mask, name_index

CLEAN = [
    "2026-Q3",
    "2025",
    "18484-T07",
    "18484-HTX2",
    "CDS.01",
    "QD51.7.2",
    "TC8.4",
    "2026-03-15",
    "2026-03-15 10:30:00",
    "1.234,5",
    "1.234.567.890 đồng",  # a money amount with thousands dots is not an ID number
    "85%",
    "Thôn Trung Thượng",
    "Hội Liên hiệp Phụ nữ",
    "12345678",  # 8 digits
    "1234567890123",  # 13 digits
    "Nguyễn Văn Anh Tuấn",  # holds "Nguyễn Văn An"? no: whole words only
    "Bình An",  # holds the one-word name "An": one-word names match whole cells only
    "mã 0123456789",  # 10 digits starting 01: not a Vietnamese phone prefix
    "123/QĐ-UBND",
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",  # sha256 hex
    "a1234567890b",
    "https://ocop.gov.vn/truy-xuat/123456",
]
PHONES = [
    "0912345678",
    "SĐT: 0912 345 678",
    "gọi 091.234.5678",
    "+84 912 345 678",
    "+84912345678",
    "(+84) 912-345-678",
    "84-912-345-678",
    "84912345678",
    "0239 3855 123",  # Hà Tĩnh landline (02 + 9 digits)
    "(0239) 3855.123",
    "liên hệ 0389-123-456.",
    "ĐT 024.3825.1234",
]
IDS = [
    "042095001234",
    "CMND 183456789",
    "CCCD: 042 095 001 234",
    "số 183 456 789",
    "CCCD 042.095.001.234",
    "CCCD 0420-9500-1234",
    "CMND số 183-456-789 cấp 2015",
]
EMAILS = ["liên hệ an.nguyen@gmail.com", "Email: HTX_DongLoc@yahoo.com.vn.", "x+y@sub.domain.org"]
DENY = ["Nguyễn Văn An", "Trần Thị Bình", "Lê\u0301 Hoa", "An"]  # the third NFD; the last one word
NAMES_INSIDE = [
    "Nguyễn Văn An",
    "  nguyễn   văn AN ",
    "ông Nguyễn Văn An, thôn 3",
    "TRẦN THỊ BÌNH",
    "Bánh Nguyễn Văn An",  # issue 12: a name inside a product name
    "Bánh Nguyen Van An",  # without diacritics
    "Mật ong NGUYEN VAN AN - 500g",
    "Bánh đa Trần-Thị-Bình",  # hyphenated
    "Chè Lế Hoa",  # NFD deny-list entry vs NFC cell
    "An",  # a one-word name alone in a cell
]


def scan_values(values, denylist=DENY, names=None):
    con = duckdb.connect()
    con.execute("create table t (k varchar, s varchar)")
    con.executemany("insert into t values (?, ?)", [[f"K{i:04d}", v] for i, v in enumerate(values)])
    return scan_pii(
        con, {"t": "select * from t"}, denylist, names=names, exempt={"t": ["k"]}, keys={"t": ["k"]}
    )


def test_clean_values_pass():
    assert scan_values(CLEAN) == []


@pytest.mark.parametrize("value", PHONES)
def test_phone_numbers_with_separators_found(value):
    assert [h.kind for h in scan_values([value])] == ["phone"], value


@pytest.mark.parametrize("value", IDS)
def test_id_numbers_with_separators_found(value):
    assert [h.kind for h in scan_values([value])] == ["id_number"], value


@pytest.mark.parametrize("value", EMAILS)
def test_emails_found(value):
    assert [h.kind for h in scan_values([value])] == ["email"], value


@pytest.mark.parametrize("value", NAMES_INSIDE)
def test_names_found_inside_longer_text(value):
    assert [h.kind for h in scan_values([value])] == ["name"], value


def test_hashed_respondent_names_found_inside_text_diacritics_insensitive():
    """The issue-12 case: respondent names are stored only hashed; main compared whole cells only."""
    salt = "s"
    con = duckdb.connect()
    con.execute("create schema raw")
    names = pd.Series(["Nguyễn Văn An", "Trần Thị Bình", None], dtype=object)
    con.execute(
        "create table raw.survey_answers (respondent_name_hash varchar, respondent_name_fold_hash varchar)"
    )
    con.executemany(
        "insert into raw.survey_answers values (?, ?)",
        list(zip(name_hash(names, salt).tolist(), name_fold_hash(names, salt).tolist(), strict=True)),
    )
    con.execute(
        "create table pub as select * from (values ('P1', 'Bánh Nguyễn Văn An'), ('P2', 'Bánh Nguyen Van An'),"
        " ('P3', 'Nước mắm TRẦN THỊ BÌNH 500ml'), ('P4', 'Bánh đa Đồng Lộc'), ('P5', 'Bình An')) v(k, product)"
    )
    index = name_index(con, salt)
    (hit,) = scan_pii(
        con, {"pub": "select * from pub"}, names=index, exempt={"pub": ["k"]}, keys={"pub": ["k"]}
    )
    assert (hit.table, hit.column, hit.kind, hit.count) == ("pub", "product", "name", 3)
    assert [k.split("=")[0] for k in hit.row_keys] == ["k", "k", "k"]
    assert (
        scan_pii(
            con, {"pub": "select * from pub"}, names=name_index(con, "other salt"), exempt={"pub": ["k"]}
        )
        == []
    )
    # a warehouse ingested before the fold hash existed: the older NFC hash still finds names inside text
    con.execute("update raw.survey_answers set respondent_name_fold_hash = null")
    (hit,) = scan_pii(con, {"pub": "select * from pub"}, names=name_index(con, salt), exempt={"pub": ["k"]})
    assert hit.count == 2  # the two spelt with diacritics


def test_household_owner_names_come_from_ocop_and_match_without_diacritics():
    con = duckdb.connect()
    con.execute("create schema raw")
    con.execute("create table raw.ocop_products (producer_name varchar, producer_type varchar)")
    con.execute(
        "insert into raw.ocop_products values ('Hộ kinh doanh Lê Thị Mai', 'household'), ('HTX Đồng Lộc', 'cooperative')"
    )
    index = name_index(con, "s")
    assert mask_text("Chè xanh của LE THI MAI", index)[1] == {"name": 1}  # the owner without the prefix
    assert mask_text("Hộ kinh doanh Le Thi Mai, Đồng Lộc", index)[1] == {"name": 1}
    assert mask_text("HTX Đồng Lộc", index)[1] == {}  # not a household: not personal


def test_every_published_text_column_is_scanned_and_the_message_is_bilingual_and_masked():
    con = duckdb.connect()
    con.execute(
        "create table a as select * from (values ('HK-18484-T03', 'thôn 1', 'Bánh Nguyễn Văn An', 'ok')) v(a_key, x, y, z)"
    )
    con.execute("create table b as select * from (values (1, 'gọi 0912.345.678')) v(id, note)")
    hits = scan_pii(
        con,
        {"a": "select * from a", "b": "select * from b"},
        DENY,
        exempt={"a": ["a_key"]},
        keys={"a": ["a_key"], "b": ["id"]},
    )
    assert [(h.table, h.column, h.kind) for h in hits] == [("a", "y", "name"), ("b", "note", "phone")]
    from pipeline.publish.pii import PIIFoundError

    msg = str(PIIFoundError(hits))
    assert "Dữ liệu mở chứa dữ liệu cá nhân" in msg and "Personal data found" in msg
    assert "bảng/table a, cột/column y, dòng/row a_key=H•-•••••-T03:" in msg and "18484" not in msg
    assert "tên người" in msg and "personal name" in msg
    assert "345.678" not in msg and "Nguyễn Văn An" not in msg and "Văn" not in msg


def test_hit_counts_rows_of_repeated_cells_and_masks_samples():
    hits = scan_values(["0912345678", "0987654321", "0912345678", "ok", None])
    (h,) = hits
    assert h.count == 3 and h.table == "t" and h.column == "s" and len(h.samples) == 2
    assert all("•" in s and "345" not in s for s in h.samples)
    assert mask("Nguyễn Văn An") == "N••••• V•• A•"


def test_exempt_columns_and_parquet_source(tmp_path):
    con = duckdb.connect()
    path = tmp_path / "x.parquet"
    con.execute(f"copy (select '042095001234' as submission_id, 'x' as note) to '{path}'")
    assert [h.column for h in scan_pii(con, {"x": [path]})] == ["submission_id"]
    assert scan_pii(con, {"x": [path]}, exempt={"x": ["submission_id"]}) == []


# ---------------------------------------------------------------------------------------------------------
# Masking (the same rule at ingest)
# ---------------------------------------------------------------------------------------------------------


def test_mask_text_tokens_and_counts():
    index = NameIndex("s", names=["Nguyễn Văn An"])
    text = "Ông Nguyen Van An (0912.345.678, CCCD 042 095 001 234, an@gmail.com) đã xác nhận"
    masked, counts = mask_text(text, index)
    assert masked == "Ông [TÊN] ([SĐT], CCCD [CCCD], [EMAIL]) đã xác nhận"
    assert counts == {"name": 1, "phone": 1, "id_number": 1, "email": 1}
    assert mask_text("Số liệu ước tính, thôn 3 năm 2025", index) == ("Số liệu ước tính, thôn 3 năm 2025", {})


@given(st.text(alphabet="0123456789 .-abcđĐăâêôơưÁẢ@", max_size=40))
def test_masked_text_holds_no_pii_and_masking_is_idempotent(text):
    masked, _ = mask_text(text)
    assert mask_text(masked) == (masked, {})


def test_name_key_folds_case_marks_and_separators():
    assert name_key("  Nguyễn  VĂN-Ân ") == "nguyen van an"
    assert name_key("Đặng Thị Ðào") == "dang thi dao"
    assert name_key("Le\u0301 Hoa") == name_key("Lế Hoa") == "le hoa"


# ---------------------------------------------------------------------------------------------------------
# Formula-like cells
# ---------------------------------------------------------------------------------------------------------


def test_formula_like_cells_counted_and_flagged():
    con = duckdb.connect()
    con.execute(
        "create table t as select * from (values ('=1+2', 'a'), ('+84', 'b'), ('-x', '@y'), ('ok', 'c')) v(p, q)"
    )
    counts = formula_cells(con, {"t": "select * from t"})
    assert counts == {"t": {"p": 3, "q": 1}}
    fields = flag_formula_fields({"p": ("Tên", "Name"), "q": ("Q", "Q")}, counts["t"])
    assert fields["p"][0].startswith("Tên Cảnh báo: 3 ô") and "formula" in fields["p"][1]


_VOCAB = [
    "Bánh",
    "nguyen",
    "Nguyễn",
    "Văn",
    "VAN",
    "An",
    "Trần",
    "Thị",
    "Bình",
    "thôn",
    "3",
    "T03",
    "x1",
    ",",
    "-",
]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from(_VOCAB), min_size=1, max_size=9).map(" ".join), max_size=20))
def test_duckdb_name_join_finds_the_same_cells_as_the_python_index(cells):
    """The publish scan joins n-gram hashes in DuckDB; ingest masking uses NameIndex.spans: same rule."""
    index = NameIndex(
        "s", names=["Nguyễn Văn An", "Trần Thị Bình", "An"], legacy=[key_hash("trần thị bình", "t")]
    )
    index.legacy.add(key_hash("văn an", "s"))  # an older-warehouse NFC hash (diacritics exact)
    con = duckdb.connect()
    assert cells_with_names(con, cells, index) == {c for c in cells if index.spans(c)}

"""pipeline.lib.text (keys, folding, the TCVN3/VNI/cp1258 tables) and pipeline.lib.decoding (encoding detection)."""

from __future__ import annotations

import os
import shutil
import subprocess
import unicodedata

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.lib.decoding import Decoded, UndecodableError, decode_bytes, is_vietnamese_syllable
from pipeline.lib.text import (
    VIETNAMESE_LETTERS,
    VIETNAMESE_LOWER,
    VIETNAMESE_UPPER,
    cp1258_decode,
    cp1258_encode,
    fold,
    fold_series,
    nfc,
    nfc_key,
    nfc_key_series,
    tcvn3_decode,
    tcvn3_encode,
    vni_decode,
    vni_encode,
)

SENTENCE = "Thôn Trung Hòa, xã Đồng Lộc, tỉnh Hà Tĩnh; Phòng Kinh tế báo cáo quý 3/2026"
CSV_TEXT = (
    "Mã đơn vị,Kỳ báo cáo,Thời điểm gửi,Loại dòng,Mã thôn,Mã chỉ tiêu,Giá trị\n"
    "18484-KT,2026-Q3,14/09/2026 16:30,CT,18484-T07,CDS.05,85%\n"
    '18484-T07,Quý 3/2026,15/09/2026 08:00,CT,18484-T07,TC8.4,"1.234,5"\n'
    "18484-VH,2026-Q3,15/09/2026 09:10,NV,,,Đang thực hiện\n"
)
HEADER_ONLY = "Mã đơn vị,Kỳ báo cáo,Thời điểm gửi,Loại dòng,Mã thôn,Mã chỉ tiêu,Giá trị\n"
PARAGRAPH = (
    "Căn cứ Quyết định của Thủ tướng Chính phủ về Bộ tiêu chí quốc gia xã nông thôn mới, Ủy ban nhân dân "
    "xã Đồng Lộc báo cáo: tỷ lệ người dân hài lòng đạt chín mươi phần trăm; chưa đạt tiêu chí thủy lợi. "
    "NGƯỜI LẬP BIỂU: Nguyễn Thị Thủy."
)
ENCODERS = {"tcvn3": tcvn3_encode, "vni": vni_encode, "cp1258": cp1258_encode}
DECODERS = {"tcvn3": tcvn3_decode, "vni": vni_decode, "cp1258": cp1258_decode}


# ------------------------------------------------------------------------------------------------ keys


@pytest.mark.parametrize(
    ("new", "old"),
    [("hoà", "hòa"), ("thuý", "thúy"), ("khoẻ", "khỏe"), ("Thuỷ", "Thủy"), ("HOÀ", "HÒA"), ("hoạ", "họa")],
)
def test_nfc_key_tone_placement_old_style(new, old):
    assert nfc_key(new) == nfc_key(old) == old


@pytest.mark.parametrize(
    "word", ["hoàng", "ngoài", "khuya", "khuỷu", "quý", "tuyển", "thuở", "hoặc", "Quỳnh"]
)
def test_nfc_key_leaves_other_clusters(word):
    assert nfc_key(word) == word


def test_nfc_key_normalises_and_collapses():
    decomposed = unicodedata.normalize("NFD", "  Thôn   Trung\u00a0Hoà\u200b ")
    assert nfc_key(decomposed) == "Thôn Trung Hòa"
    assert nfc_key("18484-KT") == "18484-KT"  # case and codes untouched


def test_nfc_key_series_keeps_index_and_na():
    s = pd.Series(["Hoà", None, "hòa ", 7], index=[10, 11, 12, 13], dtype=object)
    out = nfc_key_series(s)
    assert list(out.index) == [10, 11, 12, 13]
    assert out[10] == "Hòa" and pd.isna(out[11]) and out[12] == "hòa" and out[13] == "7"


def test_nfc():
    assert nfc("Ho\u0300a") == "Hòa"


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("Mã đơn vị", "ma don vi"),
        (" Mã  đơn vị: ", "ma don vi"),
        ("*Thời điểm gửi*", "thoi diem gui"),
        ("ĐƯỜNG", "duong"),
        ("% hoàn thành", "% hoan thanh"),
        (unicodedata.normalize("NFD", "Kỳ báo cáo"), "ky bao cao"),
    ],
)
def test_fold(raw, folded):
    assert fold(raw) == folded


def test_fold_series():
    assert fold_series(pd.Series(["Mã thôn", None])).tolist()[0] == "ma thon"


# ----------------------------------------------------------------------------------------- tables


def test_alphabet():
    assert len(VIETNAMESE_LOWER) == len(VIETNAMESE_UPPER) == 12 * 6 - 6 + 1
    assert all(len(ch) == 1 and unicodedata.is_normalized("NFC", ch) for ch in VIETNAMESE_LETTERS)


@pytest.mark.parametrize(
    ("char", "byte"),
    [
        ("ă", 0xA8),
        ("â", 0xA9),
        ("ê", 0xAA),
        ("ô", 0xAB),
        ("ơ", 0xAC),
        ("ư", 0xAD),
        ("đ", 0xAE),
        ("Đ", 0xA7),
        ("à", 0xB5),
        ("á", 0xB8),
        ("ạ", 0xB9),
        ("ộ", 0xE9),
        ("ờ", 0xEA),
        ("ý", 0xFD),
        ("ỵ", 0xFE),
    ],
)
def test_tcvn3_known_positions(char, byte):
    assert tcvn3_encode(char) == bytes([byte])
    assert tcvn3_decode(bytes([byte])) == char


def test_tcvn3_known_words():
    assert tcvn3_decode("B¶o Th¾ng".encode("latin-1")) == "Bảo Thắng"
    assert tcvn3_decode("M\xadêng Kh\xad¬ng".encode("latin-1")) == "Mường Khương"
    assert tcvn3_encode("Đồng Lộc") == b"\xa7\xe5ng L\xe9c"


def test_tcvn3_uppercase_modes():
    assert tcvn3_decode(tcvn3_encode("ĐỒNG LỘC")) == "ĐỒNG LỘC"  # VN1 capitals
    abc = tcvn3_encode("ĐỒNG LỘC", uppercase="lower")
    assert b"\x97" not in abc and tcvn3_decode(abc) == "ĐồNG LộC"  # ABC: only Ă Â Ê Ô Ơ Ư Đ have capitals


def test_tcvn3_rejects_unmappable():
    with pytest.raises(UnicodeEncodeError):
        tcvn3_encode("\u201c")
    assert tcvn3_encode("a\u201cb", errors="replace") == b"a?b"


@pytest.mark.skipif(shutil.which("iconv") is None, reason="glibc iconv not available")
def test_tcvn3_matches_glibc_tcvn5712_1():
    probe = subprocess.run(["iconv", "-f", "TCVN5712-1", "-t", "UTF-8"], input=b"a", capture_output=True)
    if probe.returncode != 0:
        pytest.skip("iconv has no TCVN5712-1")
    positions = [*range(0x80, 0x100), 0x01, 0x02, 0x04, 0x05, 0x06, *range(0x11, 0x18)]
    table = b"\n".join(bytes([b]) for b in positions)
    ref = subprocess.run(["iconv", "-f", "TCVN5712-1", "-t", "UTF-8"], input=table, capture_output=True)
    expected = [nfc(x) for x in ref.stdout.decode("utf-8").split("\n")]
    assert [tcvn3_decode(bytes([b])) for b in positions] == expected
    text = VIETNAMESE_LETTERS + " " + SENTENCE
    ref = subprocess.run(
        ["iconv", "-f", "UTF-8", "-t", "TCVN5712-1"], input=text.encode(), capture_output=True
    )
    assert ref.returncode == 0
    assert tcvn3_encode(text) == ref.stdout


@pytest.mark.parametrize(
    ("vni", "text"),
    [
        ("Vieät Nam", "Việt Nam"),
        ("Ñoàng Loäc", "Đồng Lộc"),
        ("Haø Tónh", "Hà Tĩnh"),
        ("Thoân Trung Hoøa", "Thôn Trung Hòa"),
        ("Ñöôøng", "Đường"),
        ("Naêm", "Năm"),
        ("khuyeán khích", "khuyến khích"),
        ("VIEÄT NAM", "VIỆT NAM"),
        ("kyû", "kỷ"),
        ("î", "ỵ"),
    ],
)
def test_vni_known_words(vni, text):
    assert vni_decode(vni.encode("latin-1")) == text
    assert vni_encode(text) == vni.encode("latin-1")


def test_vni_two_modifier_sequence_and_stray_marks():
    assert vni_decode("a\xe2\xf9".encode("latin-1")) == "ấ"  # base + circumflex + tone
    assert vni_decode(b"b\xf9") == nfc("b\u0301")  # a tone after a consonant stays a combining mark


def test_vni_cp1252_punctuation():
    assert vni_decode(vni_encode("“Đồng Lộc” – 5 €")) == "“Đồng Lộc” – 5 €"


def test_cp1258_decomposes_and_decodes_to_nfc():
    raw = cp1258_encode("Kỳ")
    assert raw == b"Ky\xcc"  # ỳ has no cp1258 byte: y + combining grave
    assert cp1258_decode(raw) == "Kỳ"
    assert cp1258_decode("Ho\u0300a".encode("cp1258")) == "Hòa"
    with pytest.raises(UnicodeDecodeError):
        cp1258_decode(b"ab\x81")


def test_cp1258_fast_decoder_matches_codec_plus_nfc():
    data = bytes(
        x
        for a in range(256)
        for b in range(256)
        for x in (a, b, 0x20)
        if x not in b"\x81\x8a\x8d\x8e\x8f\x90\x9a\x9d\x9e"
    )
    assert cp1258_decode(data) == unicodedata.normalize("NFC", data.decode("cp1258"))


# ---------------------------------------------------------------------------------- round trips

LOWER_WORDS = st.text(alphabet=st.sampled_from(VIETNAMESE_LOWER + "bcdghklmnpqrstvx"), min_size=1, max_size=8)
ANY_CASE_WORDS = st.text(
    alphabet=st.sampled_from(VIETNAMESE_LETTERS + "bcdghklmnpqrstvxBCDGHKLMNPQRSTVX"), min_size=1, max_size=8
)
SEPARATORS = st.sampled_from([" ", ", ", "; ", "\n", " 12/2026 ", "-"])


def _texts(words):
    return st.lists(st.tuples(words, SEPARATORS), min_size=1, max_size=12).map(
        lambda pairs: "".join(w + s for w, s in pairs)
    )


@settings(max_examples=100, deadline=None)
@given(_texts(LOWER_WORDS))
def test_roundtrip_lowercase_all_encodings(text):
    for name, enc in ENCODERS.items():
        assert DECODERS[name](enc(text)) == text, name
    assert tcvn3_decode(tcvn3_encode(text, uppercase="lower")) == text


@settings(max_examples=100, deadline=None)
@given(_texts(ANY_CASE_WORDS))
def test_roundtrip_any_case(text):
    assert vni_decode(vni_encode(text)) == text
    assert cp1258_decode(cp1258_encode(text)) == text
    assert tcvn3_decode(tcvn3_encode(text)) == text  # VN1 capitals


@settings(max_examples=50, deadline=None)
@given(_texts(ANY_CASE_WORDS))
def test_tcvn3_abc_mode_keeps_letters_case_folds_toned_capitals(text):
    out = tcvn3_decode(tcvn3_encode(text, uppercase="lower"))
    assert len(out) == len(text)
    assert out.lower() == text.lower()


@settings(max_examples=50, deadline=None)
@given(_texts(ANY_CASE_WORDS))
def test_decomposed_input_encodes_like_nfc(text):
    nfd = unicodedata.normalize("NFD", text)
    for enc in ENCODERS.values():
        assert enc(nfd) == enc(text)


# ------------------------------------------------------------------------------------- detection


@pytest.mark.parametrize("name", ["tcvn3", "vni", "cp1258"])
@pytest.mark.parametrize("text", [SENTENCE, CSV_TEXT, HEADER_ONLY, PARAGRAPH, SENTENCE.upper()])
def test_detect_legacy(name, text):
    data = ENCODERS[name](text)  # TCVN3 capitals: VN1 positions
    assert decode_bytes(data) == Decoded(text, name)


@pytest.mark.parametrize("text", [SENTENCE, CSV_TEXT])
def test_detect_unicode(text):
    assert decode_bytes(text.encode("utf-8")) == Decoded(text, "utf-8")
    assert decode_bytes(text.encode("utf-8-sig")) == Decoded(text, "utf-8-sig")
    assert decode_bytes(text.encode("utf-16")) == Decoded(text, "utf-16")
    assert decode_bytes(text.encode("utf-16-le")) == Decoded(text, "utf-16")
    assert decode_bytes(text.encode("utf-16-be")) == Decoded(text, "utf-16")
    nfd = unicodedata.normalize("NFD", text)
    assert decode_bytes(nfd.encode("utf-8")) == Decoded(text, "utf-8")


def test_detect_plain_ascii_and_empty():
    assert decode_bytes(b"a,b\n1,2\n") == Decoded("a,b\n1,2\n", "utf-8")
    assert decode_bytes(b"") == Decoded("", "utf-8")


def test_detect_tcvn3_vn1_capitals_in_control_range():
    data = tcvn3_encode("Ý KIẾN CỬ TRI")
    assert b"\x16" in data
    assert decode_bytes(data) == Decoded("Ý KIẾN CỬ TRI", "tcvn3")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.sampled_from(sorted(set(PARAGRAPH.translate(str.maketrans("", "", ",:;.")).split()))),
        min_size=6,
        max_size=20,
        unique=True,
    )
)
def test_detect_generated_sentences(words):
    text = " ".join(words)
    if text.isascii():
        return
    for name, enc in ENCODERS.items():
        got = decode_bytes(enc(text))
        assert got.text == text, (name, got)


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
        b"PK\x03\x04\x14\x00\x06\x00",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00",
        b"\x89PNG\r\n\x1a\n",
        bytes(range(256)) * 8,
        b"abc\x00\x00\x00\x01\x02\x03" * 50,
    ],
)
def test_binary_raises(data):
    with pytest.raises(UndecodableError) as exc:
        decode_bytes(data)
    assert exc.value.reason_code == "binary_file"


def test_random_bytes_raise():
    rnd = bytes(b for b in os.urandom(6000) if b)[:4000]
    with pytest.raises(UndecodableError) as exc:
        decode_bytes(rnd)
    assert exc.value.reason_code in ("binary_file", "undecodable")


@pytest.mark.parametrize(
    ("text", "codec"),
    [
        ("中华人民共和国国家统计局发布的数据显示，今年经济增长稳定。", "gbk"),
        ("Министерство сельского хозяйства опубликовало данные о развитии", "cp1251"),
    ],
)
def test_foreign_encodings_raise_undecodable(text, codec):
    with pytest.raises(UndecodableError) as exc:
        decode_bytes(text.encode(codec))
    assert exc.value.reason_code == "undecodable"


def test_western_8bit_reads_as_cp1258():
    got = decode_bytes("Société Générale, café crème, naïve façade".encode("cp1252"))
    assert got == Decoded("Société Générale, café crème, naïve façade", "cp1258")


def test_undecodable_error_fields():
    err = UndecodableError("binary_file", "PDF")
    assert err.reason_code == "binary_file" and err.message == "PDF" and isinstance(err, ValueError)


@pytest.mark.parametrize("word", ["người", "quốc", "giếng", "gì", "khuỷu", "Thủy", "thuỷ", "hoà", "ĐỒNG"])
def test_syllable_validator_accepts(word):
    assert is_vietnamese_syllable(word)


@pytest.mark.parametrize("word", ["ChƯnh", "Bé̀", "hoèa", "kú", "maị", "viũ", "Khoõng", "ång", "tặng̣", "cệ"])
def test_syllable_validator_rejects(word):
    assert not is_vietnamese_syllable(word)


def test_decode_5mb_exactly():
    """Large inputs decode exactly in every legacy encoding (how fast: ``python -m bench.decode_speed``)."""
    line = CSV_TEXT + PARAGRAPH + "\n"
    repeat = 5_000_000 // len(line.encode())
    text = line * repeat
    for name, enc in ENCODERS.items():
        got = decode_bytes(enc(line) * repeat)
        assert got.encoding == name and got.text == text

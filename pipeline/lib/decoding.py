"""Encoding detection of landed text files (:func:`decode_bytes`) and the Vietnamese syllable check it
scores candidates with.

Legacy encodings
    Python has no codec for TCVN3 (ABC) or VNI, so both are mapping tables in :mod:`pipeline.lib.legacy_codecs`.

    * TCVN3 follows TCVN 5712:1993. Its VN3 subset ("ABC", the .VnTime fonts) has single bytes for every
      lower-case letter and for the seven upper-case base letters Ă Â Ê Ô Ơ Ư Đ; the full VN1 table also
      places the upper-case toned capitals in 0x80-0x9F, a few spare high positions and twelve C0 control
      positions (0x01, 0x02, 0x04-0x06, 0x11-0x17). The decoder accepts the whole VN1 table (a superset of
      ABC). The encoder writes VN1 by default (lossless, byte-identical to glibc ``iconv -t TCVN5712-1``
      for precomposed text); ``uppercase="lower"`` writes strict ABC instead, where toned capitals fall
      back to their lower-case byte (that is how ABC users type capitals: with the ".VnTimeH" capital
      font, which draws the lower-case positions as capitals), so that text decodes back in lower case.
    * VNI (VNI-Windows) writes a base letter followed by one modifier byte that carries the shape and/or
      the tone ("Ñoàng Loäc" = "Đồng Lộc"); ơ, ư, đ and the toned i's and ỵ are single bytes. The decoder
      maps every modifier byte to Unicode combining marks and lets NFC compose them, which is a fast
      table lookup plus one normalisation.
    * Windows-1258 decodes with Python's ``cp1258`` codec into partly decomposed text (tone marks are
      combining characters); the result is always NFC-normalised.

Detection (``decode_bytes``)
    BOM first (UTF-8, UTF-16 LE/BE), then binary signatures and NUL analysis (UTF-16 without BOM, or a
    binary file), then strict UTF-8, then the three legacy candidates scored by how Vietnamese the
    decoded words look (each word containing a non-ASCII letter must be a well-formed Vietnamese
    syllable: known onset, vowel cluster and coda, at most one tone, tone on the right vowel, only sắc or
    nặng before c/ch/p/t), with control characters and stray combining marks counted against.
    charset-normalizer is consulted only when no candidate looks Vietnamese, to tell a foreign text
    encoding (rejected) from Western text that cp1258 reads fine.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

from pipeline.lib.legacy_codecs import DECOMPOSED, cp1258_decode, tcvn3_decode, vni_decode

__all__ = ["Decoded", "UndecodableError", "decode_bytes", "is_vietnamese_syllable"]

# --------------------------------------------------------------------------------------------------
# How Vietnamese does a text look?
# --------------------------------------------------------------------------------------------------

_SYLLABLE_RE = re.compile(
    r"(?P<on>ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdđghklmnprstvx])?"
    r"(?P<nu>[aăâeêioôơuưy]{1,3})"
    r"(?P<co>ch|ng|nh|[cmnpt])?"
)
_NUCLEI = frozenset(
    """a ă â e ê i o ô ơ u ư y ai ao au ay âu ây eo êu ia iê iu oa oă oe oi oo ôi ơi ua uâ uê ui uô uơ
    uy ưa ưi ươ ưu yê iêu yêu oai oao oay oeo uây uôi uya uyê uyu ươi ươu""".split()  # noqa: SIM905
)
_OPEN_ONLY = frozenset(
    """ai ao au ay âu ây eo êu ia iu oi ôi ơi ui ưi ưu ưa ua iêu yêu oai oao oay oeo uây uôi uya uyu
    ươi ươu""".split()  # noqa: SIM905
)
# these never end a syllable: a final consonant (or a glide, listed as a longer nucleus) must follow
_NEEDS_CODA = frozenset(["ă", "â", "oă", "uâ", "iê", "yê", "uô", "ươ", "uyê"])
_SHAPED = set("ăâêôơư")
_FRONT = ("i", "e", "ê", "y")  # k, gh, ngh only before these; c, g, ng never (g + i is the onset gi)


def is_vietnamese_syllable(word: str) -> bool:
    """True when ``word`` (NFC, any case) is a well-formed Vietnamese syllable: onset + vowel cluster +
    coda from the standard inventories, the spelling rules (k/gh/ngh before i e ê y only, c/g/ng never
    there, q only as qu), at most one tone, the tone on an accepted vowel (old or new style for oa/oe/uy),
    and only sắc/nặng before a final c, ch, p or t."""
    if not (word.islower() or word.isupper() or word[1:].islower() or len(word) == 1):
        return False  # mixed case inside a word ("ChƯnh") is a decoding artefact
    bases = []
    tone_at, tone = -1, 0
    for i, ch in enumerate(word.lower()):
        d = DECOMPOSED.get(ch)
        if d is None:
            return False
        bases.append(d[0])
        if d[1]:
            if tone:
                return False
            tone_at, tone = i, d[1]
    m = _SYLLABLE_RE.fullmatch("".join(bases))
    if m is None:
        return False
    nucleus, coda, nu_start = m.group("nu"), m.group("co") or "", m.start("nu")
    if m.group("on") == "gi" and nucleus[0] == "ê":  # giếng, giêng: g + iê
        nucleus, nu_start = "i" + nucleus, nu_start - 1
    if nucleus not in _NUCLEI or (coda and nucleus in _OPEN_ONLY) or (not coda and nucleus in _NEEDS_CODA):
        return False
    onset = "g" if nu_start < m.start("nu") else (m.group("on") or "")
    if coda in ("ch", "nh") and nucleus[-1] not in "aêiy":
        return False  # -ch/-nh only after a, ê, i, y (anh, ếch, inh, uynh)
    if coda in ("c", "ng") and nucleus in ("ê", "i", "y", "uy"):
        return False  # -c/-ng never after these (ếch/inh are written with -ch/-nh)
    if onset == "qu" and nucleus[0] in "ouư":
        return False
    if onset in ("k", "gh", "ngh") and not nucleus.startswith(_FRONT):
        return False
    if onset in ("c", "ng", "g") and nucleus.startswith(_FRONT) and not (onset == "g" and nucleus[0] == "i"):
        return False
    if not tone:
        return True
    if (coda in ("c", "ch", "p", "t") and tone not in (2, 5)) or nucleus == "oo":
        return False
    pos = tone_at - nu_start
    shaped = [i for i, c in enumerate(nucleus) if c in _SHAPED]
    if shaped:
        allowed = {shaped[-1]}
    elif len(nucleus) == 1:
        allowed = {0}
    elif len(nucleus) == 3 or coda:
        allowed = {1}
    elif nucleus in ("oa", "oe", "uy"):
        allowed = {0, 1}
    else:
        allowed = {0}
    return pos in allowed


_WORD_RE = re.compile(r"[^\W\d_]+")
_BAD_CHAR_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u0300-\u036f\ufffd\ue000-\uf8ff]")


# Frequent syllables of administrative Vietnamese and of this domain: a tie-breaker between two decodings
# that are both well-formed (a single word like "Có" reads as "Cú" in the wrong code page).
_COMMON = frozenset(
    """của và các có là được trong cho không người năm một những với đã này để theo về khi đến từ tại
    như ra nhiều cũng thì sẽ nhà nước hai ba bốn sáu bảy tám chín mười còn phải làm đi đó thể việc
    sau trên động chính phủ hội hiện mới bị ngày số tháng quan điều thực chỉ vào lại nhưng do nên
    đồng tỉnh huyện xã thôn xóm tổ phố dân nhân ủy ban báo cáo kết quả tiêu chí đạt chưa hoàn thành
    thời gian gửi mã đơn vị kỳ quý giá trị loại dòng ghi chú tử mẫu nhiệm vụ trạng thái đang chậm
    tiến độ hài lòng rất phiếu họ tên điện thoại khảo sát sản phẩm hạng sao chứng nhận cấp hiệu lực
    vùng nguyên liệu truy xuất nguồn gốc hợp tác hộ kinh doanh nông chuyển đổi giao thông thủy lợi
    trường học văn hóa môi y tế giáo dục an ninh quốc phòng nghèo thu nhập bình quân đầu tỷ lệ hỗ
    trợ phát triển xây dựng kế hoạch tổng chung ý kiến lý do tốt khá trung kém lộc hà tĩnh hòa
    thượng hạ bắc nam đông tây sơn phú thái minh tân long hưng thịnh nguyễn trần lê phạm hoàng huỳnh
    phan vũ võ đặng bùi đỗ hồ ngô dương thị chống bộ tướng đường cứu ủy sở phòng ký biểu mục nội
    dung đề nghị tiêu chuẩn cơ sở chỉ tiêu""".split()  # noqa: SIM905
)


@dataclass(frozen=True)
class _Score:
    good: int  # occurrences of non-ASCII words that are valid syllables
    bad: int  # invalid non-ASCII words + control characters + stray combining marks
    common: int  # occurrences of non-ASCII words among the frequent syllables

    @property
    def value(self) -> float:
        return (self.good - 2 * self.bad) / max(1, self.good + self.bad)


def _score(text: str) -> _Score:
    words = Counter(w for w in _WORD_RE.findall(text) if not w.isascii())
    good = bad = common = 0
    for w, n in words.items():
        if is_vietnamese_syllable(w):
            good += n
            common += n if w.lower() in _COMMON else 0
        else:
            bad += n
    bad += len(_BAD_CHAR_RE.findall(text))
    return _Score(good, bad, common)


# --------------------------------------------------------------------------------------------------
# Detection
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decoded:
    text: str  # NFC
    encoding: str  # utf-8 | utf-8-sig | utf-16 | cp1258 | tcvn3 | vni


class UndecodableError(ValueError):
    """The bytes are not a text file in an encoding we read. ``reason_code``: binary_file | undecodable."""

    def __init__(self, reason_code: str, message: str):
        super().__init__(f"{reason_code}: {message}")
        self.reason_code = reason_code
        self.message = message


_BINARY_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "PDF document"),
    (b"PK\x03\x04", "ZIP archive (XLSX/DOCX?)"),
    (b"PK\x05\x06", "empty ZIP archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "OLE2 document (XLS/DOC)"),
    (b"\x89PNG", "PNG image"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"\x1f\x8b", "gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
    (b"Rar!", "RAR archive"),
    (b"BZh", "bzip2 archive"),
    (b"\x7fELF", "ELF executable"),
    (b"SQLite format 3\x00", "SQLite database"),
    (b"PAR1", "Parquet file"),
)
# in order of preference on a tie: TCVN3 (ABC) is the government standard of the 8-bit era, VNI the
# common alternative; real Windows-1258 files are rare
_LEGACY: tuple[tuple[str, object], ...] = (
    ("tcvn3", tcvn3_decode),
    ("vni", vni_decode),
    ("cp1258", cp1258_decode),
)
_SAMPLE_BYTES = 64 * 1024  # scored per candidate
_SCAN_BYTES = 2 * 1024 * 1024  # where the sample lines are looked for
_VN1_CONTROL_RE = re.compile(rb"[\x01\x02\x04-\x06\x11-\x17]")
# control bytes no text file holds (TAB LF FF CR and the VN1 capitals of TCVN3 excluded)
_CONTROL_BYTES = (
    bytes(i for i in range(32) if i not in (9, 10, 12, 13, 1, 2, 4, 5, 6, *range(0x11, 0x18))) + b"\x7f"
)


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _utf16_without_bom(data: bytes) -> str | None:
    """'utf-16-le'/'utf-16-be' when the NUL bytes sit on one side of each code unit."""
    head = data[:8192]
    if len(head) < 4 or b"\x00" not in head:
        return None
    head = head[: len(head) // 2 * 2]
    half = len(head) // 2
    even_nul = head[0::2].count(0) / half
    odd_nul = head[1::2].count(0) / half
    if odd_nul >= 0.3 and even_nul <= 0.05:
        return "utf-16-le"
    if even_nul >= 0.3 and odd_nul <= 0.05:
        return "utf-16-be"
    return None


def decode_bytes(data: bytes) -> Decoded:
    """Detect the encoding of a text file and return its NFC text.

    Raises ``UndecodableError`` with reason ``binary_file`` (known binary signature, NUL or control
    bytes) or ``undecodable`` (broken BOM/UTF-16, or text that reads as no Vietnamese encoding)."""
    if not data:
        return Decoded("", "utf-8")
    # 1. byte order marks
    if data.startswith(codecs.BOM_UTF8):
        try:
            return Decoded(_nfc(data[3:].decode("utf-8")), "utf-8-sig")
        except UnicodeDecodeError as exc:
            raise UndecodableError(
                "undecodable", f"UTF-8 BOM but invalid UTF-8 at byte {exc.start + 3}"
            ) from exc
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return Decoded(_nfc(data.decode("utf-16")), "utf-16")
        except UnicodeDecodeError as exc:
            raise UndecodableError("undecodable", f"UTF-16 BOM but invalid UTF-16: {exc.reason}") from exc
    # 2. binary signatures
    for sig, what in _BINARY_SIGNATURES:
        if data.startswith(sig):
            raise UndecodableError("binary_file", f"binary content: {what}")
    # 3. NUL bytes: UTF-16 without BOM; NUL or control bytes: binary
    sample = data[:_SAMPLE_BYTES]
    if b"\x00" in sample:
        utf16 = _utf16_without_bom(data)
        if utf16 is not None:
            try:
                return Decoded(_nfc(data.decode(utf16)), "utf-16")
            except UnicodeDecodeError as exc:
                raise UndecodableError("undecodable", f"looks like {utf16} but is not valid") from exc
    nul_share = sample.count(0) / len(sample)
    ctrl_share = (len(sample) - len(sample.translate(None, _CONTROL_BYTES))) / len(sample)
    if nul_share > 0.01 or ctrl_share > 0.03:
        raise UndecodableError(
            "binary_file", f"binary content: {nul_share:.1%} NUL bytes, {ctrl_share:.1%} control bytes"
        )
    # 4. strict UTF-8 (plain ASCII included)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        # 7-bit bytes can still be TCVN3 when they use the VN1 capitals in the C0 range (0x01 = Ú ...)
        if data.isascii() and _VN1_CONTROL_RE.search(data):
            vn1 = _score(tcvn3_decode(data))
            if vn1.good and not vn1.bad:
                return Decoded(tcvn3_decode(data), "tcvn3")
        return Decoded(_nfc(text), "utf-8")
    # 5. legacy 8-bit: score the candidates on the lines that hold non-ASCII bytes
    high_lines = [ln for ln in data[:_SCAN_BYTES].split(b"\n") if not ln.isascii()]
    sample = b"\n".join(high_lines)[:_SAMPLE_BYTES] or data[:_SAMPLE_BYTES]
    best: tuple[float, int, str] | None = None
    for rank, (name, decoder) in enumerate(_LEGACY):
        try:
            text = decoder(sample)  # type: ignore[operator]
        except UnicodeDecodeError:
            continue  # bytes the code page does not define
        sc = _score(text)
        key = (round(sc.value, 9), sc.common, -rank, name)
        if best is None or key > best:
            best = key
            best_score = sc
    if best is None:  # pragma: no cover - tcvn3 and vni decode every byte
        raise UndecodableError("undecodable", "no candidate encoding decodes the bytes")
    if best_score.value < 0:  # more broken words than Vietnamese ones under every candidate
        _latin_or_reject(sample)
        try:
            return Decoded(cp1258_decode(data), "cp1258")
        except UnicodeDecodeError as exc:
            raise UndecodableError("undecodable", "8-bit text in no supported encoding") from exc
    name = best[3]
    decoder = dict(_LEGACY)[name]
    return Decoded(decoder(data), name)  # type: ignore[operator]


_LATIN_8BIT = re.compile(
    r"^(cp125[02478]|latin_1|iso8859_(1|2|3|4|9|10|13|14|15|16)|mac_(roman|latin2|iceland)|cp850|cp858)$"
)


def _latin_or_reject(sample: bytes) -> None:
    """Nothing reads as Vietnamese. Western (Latin-script) 8-bit text is accepted and read as cp1258,
    its closest supported code page; any other encoding charset-normalizer recognises is rejected."""
    from charset_normalizer import from_bytes

    guess = from_bytes(sample).best()
    if guess is None:
        raise UndecodableError("undecodable", "the bytes read as no known text encoding")
    if not _LATIN_8BIT.match(guess.encoding):
        raise UndecodableError(
            "undecodable",
            f"text looks like {guess.encoding}, not Vietnamese (UTF-8, UTF-16, Windows-1258, TCVN3, VNI)",
        )

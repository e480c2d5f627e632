"""Legacy Vietnamese 8-bit encodings, with no Python codec: TCVN3 (TCVN 5712:1993, VN1 table, of which
ABC/VN3 is a subset) and VNI, both as explicit mapping tables, plus Windows-1258 (Python's codec decodes to
decomposed text; these helpers compose to NFC and encode the way Windows writes it).

Also the Vietnamese alphabet (base letters x tones) the tables are built from. ``pipeline.lib.text``
re-exports the public functions; ``pipeline.lib.decoding.decode_bytes`` uses them.
"""

from __future__ import annotations

import codecs
import contextlib
import unicodedata
from typing import Literal

import numpy as np

# --------------------------------------------------------------------------------------------------
# The alphabet
# --------------------------------------------------------------------------------------------------

GRAVE, ACUTE, HOOK, TILDE, DOT = "\u0300", "\u0301", "\u0309", "\u0303", "\u0323"
# tone index: 0 none (ngang), 1 huyền, 2 sắc, 3 hỏi, 4 ngã, 5 nặng
TONES: tuple[str, ...] = ("", GRAVE, ACUTE, HOOK, TILDE, DOT)
_VOWELS = "aăâeêioôơuưy"


def compose_tone(base: str, tone: str) -> str:
    return unicodedata.normalize("NFC", base + tone)


#: every lower-case Vietnamese letter that is not plain ASCII: 12 vowels x 6 tones (minus the 6 bare
#: ASCII vowels) plus đ, all precomposed (NFC).
VIETNAMESE_LOWER: str = (
    "".join(compose_tone(v, t) for v in _VOWELS for t in TONES if (v + t) not in "aeiouy") + "đ"
)
VIETNAMESE_UPPER: str = VIETNAMESE_LOWER.upper()
VIETNAMESE_LETTERS: str = VIETNAMESE_LOWER + VIETNAMESE_UPPER

# lower-case letter -> (shaped base vowel or consonant, tone index)
DECOMPOSED: dict[str, tuple[str, int]] = {}
for _v in _VOWELS:
    for _i, _t in enumerate(TONES):
        DECOMPOSED[compose_tone(_v, _t)] = (_v, _i)
for _c in "bcdđghklmnpqrstvxfjwz":
    DECOMPOSED[_c] = (_c, 0)
TONED_VOWELS = "".join(ch for ch, (b, t) in DECOMPOSED.items() if b in _VOWELS)
TONED_VOWELS += TONED_VOWELS.upper()

# --------------------------------------------------------------------------------------------------
# TCVN3 (TCVN 5712:1993, VN1 table; the ABC/VN3 subset is the lower-case part plus Ă Â Ê Ô Ơ Ư Đ)
# --------------------------------------------------------------------------------------------------

# C0 control positions that VN1 reuses for capitals (VN3/ABC leaves them as controls)
_TCVN3_CONTROL = {
    0x01: "Ú",
    0x02: "Ụ",
    0x04: "Ừ",
    0x05: "Ử",
    0x06: "Ữ",
    0x11: "Ứ",
    0x12: "Ự",
    0x13: "Ỳ",
    0x14: "Ỷ",
    0x15: "Ỹ",
    0x16: "Ý",
    0x17: "Ỵ",
}
# 0x80-0xFF, 16 positions a line. Capitals with a tone (VN1 only) are 0x80-0x9F, 0xAF, 0xBA, 0xBF-0xC5,
# 0xCD, 0xD9-0xDB, 0xE0, 0xF0, 0xFF; 0xB0-0xB4 are the five combining tone marks (VN1).
_TCVN3_HIGH = (
    "ÀẢÃÁẠẶẬÈẺẼÉẸỆÌỈĨ"  # 0x80-0x8F
    "ÍỊÒỎÕÓỌỘỜỞỠỚỢÙỦŨ"  # 0x90-0x9F
    "\u00a0ĂÂÊÔƠƯĐăâêôơưđẰ"  # 0xA0-0xAF  (0xA0 no-break space; ă=A8 â=A9 ê=AA ô=AB ơ=AC ư=AD đ=AE)
    "\u0300\u0309\u0303\u0301\u0323àảãáạẲằẳẵắẴ"  # 0xB0-0xBF  (B0-B4: combining ` ? ~ ' .)
    "ẮẦẨẪẤỀặầẩẫấậèỂẻẽ"  # 0xC0-0xCF
    "éẹềểễếệìỉỄẾỒĩíịò"  # 0xD0-0xDF
    "Ổỏõóọồổỗốộờởỡớợù"  # 0xE0-0xEF
    "ỖủũúụừửữứựỳỷỹýỵỐ"  # 0xF0-0xFF
)
_TCVN3_DECODING_TABLE = "".join(_TCVN3_CONTROL.get(i, chr(i)) for i in range(128)) + _TCVN3_HIGH
assert len(_TCVN3_DECODING_TABLE) == 256 and len(set(_TCVN3_DECODING_TABLE)) == 256
_TCVN3_ENCODING_VN1: dict[int, int] = {ord(ch): i for i, ch in enumerate(_TCVN3_DECODING_TABLE)}
# ABC/VN3: toned capitals (the VN1-only positions) fall back to their lower-case byte
_TCVN3_VN1_ONLY = set(_TCVN3_CONTROL) | {
    i
    for i in range(0x80, 0x100)
    if _TCVN3_HIGH[i - 0x80].isupper() and _TCVN3_HIGH[i - 0x80] not in "ĂÂÊÔƠƯĐ"
}
_TCVN3_ENCODING_ABC: dict[int, int] = {
    ord(ch): (_TCVN3_ENCODING_VN1[ord(ch.lower())] if i in _TCVN3_VN1_ONLY else i)
    for i, ch in enumerate(_TCVN3_DECODING_TABLE)
}


def tcvn3_decode(b: bytes) -> str:
    """Decode TCVN3 (ABC / TCVN 5712 VN1) bytes to NFC text."""
    text, _ = codecs.charmap_decode(b, "strict", _TCVN3_DECODING_TABLE)
    return unicodedata.normalize("NFC", text)


def tcvn3_encode(s: str, errors: str = "strict", uppercase: Literal["vn1", "lower"] = "vn1") -> bytes:
    """Encode text as TCVN3. ``uppercase="vn1"`` (default) keeps toned capitals at their VN1 positions
    (lossless); ``uppercase="lower"`` writes strict ABC/VN3, where toned capitals become the lower-case
    byte (only Ă Â Ê Ô Ơ Ư Đ keep a capital). Characters outside the table raise ``UnicodeEncodeError``
    (``errors="replace"`` writes '?')."""
    table = _TCVN3_ENCODING_VN1 if uppercase == "vn1" else _TCVN3_ENCODING_ABC
    data, _ = codecs.charmap_encode(unicodedata.normalize("NFC", s), errors, table)
    return data


# --------------------------------------------------------------------------------------------------
# Composing byte decoder (VNI and Windows-1258 write a base letter followed by modifier bytes)
# --------------------------------------------------------------------------------------------------


class _ComposingDecoder:
    """Vectorised decoder for "base byte + modifier byte(s)" encodings.

    ``single[b]`` is the code point of byte ``b`` on its own; ``pair[b1, b2]`` the precomposed letter for a
    base byte followed by a modifier byte (0 = no such letter); ``triple`` optionally adds a tone byte to
    a letter composed from base + shape modifier (VNI "a" + "â" + "ù" = "ấ"). A modifier that follows no
    base keeps its combining mark(s) (two-mark modifiers via a private-use placeholder), so the text stays
    faithful and such stray marks count against the candidate in detection. The result is NFC."""

    def __init__(
        self,
        single: list[str],
        pairs: dict[tuple[int, int], str],
        triples: dict[tuple[str, int], str] | None = None,
        undefined: tuple[int, ...] = (),
        shape_bytes: tuple[int, ...] = (),
    ):
        self.placeholders: dict[str, str] = {}
        cps = []
        for text in single:
            if len(text) > 1:
                ph = chr(0xE000 + len(self.placeholders))
                self.placeholders[ph] = text
                text = ph
            cps.append(ord(text))
        self.single = np.array(cps, dtype="<u2")  # every code point involved is in the BMP
        self.pair = np.zeros((256, 256), dtype="<u2")
        for (b1, b2), ch in pairs.items():
            self.pair[b1, b2] = ord(ch)
        items = sorted((ord(c) * 256 + b, ord(r)) for (c, b), r in (triples or {}).items())
        self.triple_keys = np.array([k for k, _ in items], dtype=np.uint64)
        self.triple_values = np.array([v for _, v in items], dtype="<u2")
        self.is_shape = np.zeros(256, dtype=bool)
        self.is_shape[list(shape_bytes)] = True
        self.undefined_bytes = tuple(undefined)
        self.is_modifier = np.zeros(256, dtype=bool)
        self.is_modifier[sorted({b2 for _, b2 in pairs})] = True

    def decode(self, data: bytes, codec_for_errors: str | None = None) -> str:
        if codec_for_errors and any(bytes([b]) in data for b in self.undefined_bytes):
            data.decode(codec_for_errors)  # raises UnicodeDecodeError with the exact position
        a = np.frombuffer(data, dtype=np.uint8)
        cp = self.single[a]
        mod = np.flatnonzero(self.is_modifier[a[1:]])  # modifier at mod + 1, candidate base at mod
        if mod.size:
            composed = self.pair[a[mod], a[mod + 1]]
            hit = composed != 0
            idx = mod[hit]
            cp[idx] = composed[hit]
            drop = idx + 1
            if self.triple_keys.size:
                j = idx[(idx + 2 < a.size) & self.is_shape[a[idx + 1]]]
                key = cp[j].astype(np.uint64) * 256 + a[j + 2]
                pos = np.minimum(np.searchsorted(self.triple_keys, key), self.triple_keys.size - 1)
                hit3 = self.triple_keys[pos] == key
                cp[j[hit3]] = self.triple_values[pos[hit3]]
                drop = np.concatenate([drop, j[hit3] + 2])
            if drop.size:
                cp = np.delete(cp, drop)
        has_placeholder = bool(self.placeholders) and bool((cp >= 0xE000).any())
        text = cp.tobytes().decode("utf-16-le")
        if has_placeholder:
            for ph, marks in self.placeholders.items():
                text = text.replace(ph, marks)
        if not unicodedata.is_normalized("NFC", text):
            text = unicodedata.normalize("NFC", text)
        return text


def _single_vietnamese_letter(text: str) -> str | None:
    ch = unicodedata.normalize("NFC", text)
    return ch if len(ch) == 1 and ch in VIETNAMESE_LETTERS else None


# --------------------------------------------------------------------------------------------------
# VNI (VNI-Windows): base letter + modifier byte; bytes 0x80-0x9F are Windows-1252 punctuation
# --------------------------------------------------------------------------------------------------

# lower-case byte; the capital form of each byte is 0x20 lower (Ù=0xD9 for ù=0xF9 ...)
_VNI_TONE_BYTES = {GRAVE: 0xF8, ACUTE: 0xF9, HOOK: 0xFB, TILDE: 0xF5, DOT: 0xEF}  # ø ù û õ ï
_VNI_CIRCUMFLEX_BYTES = {
    "": 0xE2,
    GRAVE: 0xE0,
    ACUTE: 0xE1,
    HOOK: 0xE5,
    TILDE: 0xE3,
    DOT: 0xE4,
}  # â à á å ã ä
_VNI_BREVE_BYTES = {"": 0xEA, GRAVE: 0xE8, ACUTE: 0xE9, HOOK: 0xFA, TILDE: 0xFC, DOT: 0xEB}  # ê è é ú ü ë
_VNI_I_BYTES = {GRAVE: 0xEC, ACUTE: 0xED, HOOK: 0xE6, TILDE: 0xF3, DOT: 0xF2}  # ì í æ ó ò = ì í ỉ ĩ ị
_VNI_LETTER_BYTES = {"ơ": 0xF4, "ư": 0xF6, "đ": 0xF1, "ỵ": 0xEE}  # ô ö ñ î


def _vni_decoder() -> _ComposingDecoder:
    single = [chr(i) for i in range(256)]
    for i in range(0x80, 0xA0):
        with contextlib.suppress(UnicodeDecodeError):  # undefined in cp1252: the C1 control stays
            single[i] = bytes([i]).decode("cp1252")
    modifiers: dict[int, str] = {}  # modifier byte -> combining marks

    def put_single(byte: int, text: str) -> None:
        single[byte], single[byte - 0x20] = text, text.upper()

    for marks_prefix, table in (
        ("", _VNI_TONE_BYTES),
        ("\u0302", _VNI_CIRCUMFLEX_BYTES),
        ("\u0306", _VNI_BREVE_BYTES),
    ):
        for tone, b in table.items():
            modifiers[b] = modifiers[b - 0x20] = marks_prefix + tone
            put_single(b, marks_prefix + tone)
    for tone, b in _VNI_I_BYTES.items():
        put_single(b, compose_tone("i", tone))
    for letter, b in _VNI_LETTER_BYTES.items():
        put_single(b, letter)
    bases = {ord(c): c for c in "aeiouyAEIOUY"}
    for letter in ("ơ", "ư"):
        b = _VNI_LETTER_BYTES[letter]
        bases[b], bases[b - 0x20] = letter, letter.upper()
    pairs: dict[tuple[int, int], str] = {}
    for b1, base in bases.items():
        for b2, marks in modifiers.items():
            ch = _single_vietnamese_letter(base + marks)
            if ch is not None:
                pairs[(b1, b2)] = ch
    triples: dict[tuple[str, int], str] = {}
    for shaped in "âăêôÂĂÊÔ":
        for b, marks in modifiers.items():
            if marks in TONES[1:]:
                triples[(shaped, b)] = compose_tone(shaped, marks)
    shape_bytes = tuple(b for v in (0xE2, 0xEA) for b in (v, v - 0x20))  # â ê Â Ê: circumflex, breve
    return _ComposingDecoder(single, pairs, triples, shape_bytes=shape_bytes)


_VNI = _vni_decoder()
_VNI_DECODING_SINGLE = [chr(int(c)) if int(c) < 0xE000 else "" for c in _VNI.single]


def _vni_sequence(ch: str) -> str | None:
    """VNI byte string (as latin-1 text) for one Vietnamese letter, None if not a Vietnamese letter."""
    low = ch.lower()
    if low not in DECOMPOSED or low.isascii():
        return None
    upper = ch != low
    base, tone_i = DECOMPOSED[low]
    tone = TONES[tone_i]

    def byte(b: int) -> str:
        return chr(b - 0x20 if upper else b)

    def letter(c: str) -> str:
        return c.upper() if upper else c

    if base == "đ":
        return byte(_VNI_LETTER_BYTES["đ"])
    if base == "i":
        return byte(_VNI_I_BYTES[tone]) if tone else letter("i")
    if base == "y" and tone == DOT:
        return byte(_VNI_LETTER_BYTES["ỵ"])
    if base in "âêô":
        return letter({"â": "a", "ê": "e", "ô": "o"}[base]) + byte(_VNI_CIRCUMFLEX_BYTES[tone])
    if base == "ă":
        return letter("a") + byte(_VNI_BREVE_BYTES[tone])
    head = byte(_VNI_LETTER_BYTES[base]) if base in "ơư" else letter(base)
    return head + (byte(_VNI_TONE_BYTES[tone]) if tone else "")


def _vni_encoding_map() -> dict[int, bytes]:
    enc: dict[int, bytes] = {i: bytes([i]) for i in range(128)}
    for i in range(0x80, 0xA0):  # Windows-1252 punctuation
        ch = _VNI_DECODING_SINGLE[i]
        if len(ch) == 1 and ord(ch) > 0x9F:
            enc[ord(ch)] = bytes([i])
    for i in range(0xA0, 0xC0):  # Latin-1 symbols are not used by VNI
        enc[i] = bytes([i])
    for i in range(0xC0, 0x100):  # the few Latin-1 letters VNI does not reuse (Ç Ð × Þ ß ç ð ÷ þ ÿ)
        if _VNI_DECODING_SINGLE[i] == chr(i) and chr(i).lower() not in DECOMPOSED:
            enc[i] = bytes([i])
    for ch in VIETNAMESE_LETTERS:
        seq = _vni_sequence(ch)
        if seq is not None:
            enc[ord(ch)] = seq.encode("latin-1")
    return enc


_VNI_ENCODING = _vni_encoding_map()


def vni_decode(b: bytes) -> str:
    """Decode VNI-Windows bytes to NFC text."""
    return _VNI.decode(b)


def vni_encode(s: str, errors: str = "strict") -> bytes:
    """Encode text as VNI-Windows (capital letters get the capital modifier bytes). Characters VNI cannot
    hold raise ``UnicodeEncodeError`` (``errors="replace"`` writes '?')."""
    data, _ = codecs.charmap_encode(unicodedata.normalize("NFC", s), errors, _VNI_ENCODING)
    return data


# --------------------------------------------------------------------------------------------------
# Windows-1258
# --------------------------------------------------------------------------------------------------


def _cp1258_prep() -> dict[int, str]:
    """Letters the cp1258 codec has no byte for -> base (with its shape) + combining tone mark."""
    prep: dict[int, str] = {}
    for ch in VIETNAMESE_LETTERS:
        try:
            ch.encode("cp1258")
        except UnicodeEncodeError:
            low = ch.lower()
            base, tone_i = DECOMPOSED[low]
            base = base.upper() if ch != low else base
            prep[ord(ch)] = base + TONES[tone_i]
    return prep


_CP1258_PREP = _cp1258_prep()


def _cp1258_decoder() -> _ComposingDecoder:
    single, undefined = [], []
    for i in range(256):
        try:
            single.append(bytes([i]).decode("cp1258"))
        except UnicodeDecodeError:
            single.append("\ufffd")
            undefined.append(i)
    marks = {b: single[b] for b in range(256) if single[b] in TONES[1:]}  # 0xCC 0xEC 0xD2 0xDE 0xF2
    pairs: dict[tuple[int, int], str] = {}
    for b1 in range(256):
        if single[b1].lower() in _VOWELS:
            for b2, mark in marks.items():
                ch = _single_vietnamese_letter(single[b1] + mark)
                if ch is not None:
                    pairs[(b1, b2)] = ch
    return _ComposingDecoder(single, pairs, undefined=tuple(undefined))


_CP1258 = _cp1258_decoder()


def cp1258_decode(b: bytes) -> str:
    """Decode Windows-1258 bytes to NFC text (same result as ``b.decode("cp1258")`` + NFC, faster)."""
    return _CP1258.decode(b, codec_for_errors="cp1258")


def cp1258_encode(s: str, errors: str = "strict") -> bytes:
    """Encode text as Windows-1258 the way Windows writes it: precomposed where the code page has the
    letter, otherwise the base letter (with its circumflex/breve/horn) followed by a combining tone."""
    return unicodedata.normalize("NFC", s).translate(_CP1258_PREP).encode("cp1258", errors)

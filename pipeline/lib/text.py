"""Vietnamese text helpers: Unicode keys and accent folding (encoding detection: :mod:`pipeline.lib.decoding`;
the legacy 8-bit code pages: :mod:`pipeline.lib.legacy_codecs`).

Keys
    ``nfc_key`` is the one normaliser for every text used as a key (hamlet names, codes, labels):
    Unicode NFC, zero-width characters removed, whitespace collapsed and stripped, and one tone-placement
    rule. Case is kept.

Tone placement rule (old style, "kiểu cũ")
    Vietnamese has two accepted placements of the tone mark in the open clusters ``oa``, ``oe`` and
    ``uy``: on the second vowel ("new style": hoà, khoẻ, thuỷ) or on the first ("old style": hòa, khỏe,
    thủy). Keys use the **old style**, the one the official administrative lists use (Thanh Hóa,
    Khánh Hòa, Thôn Trung Hòa), so a key displays the way people expect. The rule moves the tone from the
    second to the first vowel only when the cluster ends the word (no final consonant, no third vowel) and
    the ``u`` of ``uy`` is not part of ``qu``: "hoàng", "ngoài", "khuya", "quý" and "tuyển" are unchanged.
"""

from __future__ import annotations

import re
import unicodedata

import pandas as pd

from pipeline.lib.decoding import decode_bytes  # noqa: F401 (bench/decode_speed.py imports it from here)
from pipeline.lib.legacy_codecs import (  # noqa: F401 (re-exported: the public API of this module)
    TONED_VOWELS,
    TONES,
    VIETNAMESE_LETTERS,
    VIETNAMESE_LOWER,
    VIETNAMESE_UPPER,
    compose_tone,
    cp1258_decode,
    cp1258_encode,
    tcvn3_decode,
    tcvn3_encode,
    vni_decode,
    vni_encode,
)

__all__ = [
    "VIETNAMESE_LETTERS",
    "VIETNAMESE_LOWER",
    "VIETNAMESE_UPPER",
    "cp1258_decode",
    "cp1258_encode",
    "fold",
    "fold_series",
    "nfc",
    "nfc_key",
    "nfc_key_series",
    "tcvn3_decode",
    "tcvn3_encode",
    "vni_decode",
    "vni_encode",
]

# --------------------------------------------------------------------------------------------------
# NFC keys
# --------------------------------------------------------------------------------------------------

_ZERO_WIDTH_RE = re.compile("[\u200b-\u200d\u2060\ufeff\u00ad]")
_WS_RE = re.compile(r"\s+")


def nfc(s: str) -> str:
    """Unicode NFC of ``s`` (nothing else changed)."""
    return unicodedata.normalize("NFC", s)


def _old_style_pairs() -> dict[str, str]:
    """'oà' -> 'òa', 'uý' -> 'úy' ... for every tone and case combination."""
    pairs: dict[str, str] = {}
    for first, seconds in (("o", "ae"), ("u", "y")):
        for second in seconds:
            for tone in TONES[1:]:
                for f in (first, first.upper()):
                    for s in (second, second.upper()):
                        pairs[f + compose_tone(s, tone)] = compose_tone(f, tone) + s
    return pairs


_OLD_STYLE = _old_style_pairs()
_TONED_AE = "".join(compose_tone(c, t) for c in "aeAE" for t in TONES[1:])
_TONED_Y = "".join(compose_tone(c, t) for c in "yY" for t in TONES[1:])
# the cluster must start the vowel run (no vowel before), not be "qu"+y, and end the word
_NEW_STYLE_RE = re.compile(rf"(?<![{TONED_VOWELS}qQ])(?:[oO][{_TONED_AE}]|[uU][{_TONED_Y}])(?![^\W\d_])")


def nfc_key(s: str) -> str:
    """Key form of a text: NFC, zero-width characters removed, whitespace collapsed and stripped,
    tone moved to the old-style position in word-final oa/oe/uy ("hoà" -> "hòa"). Case is kept."""
    s = unicodedata.normalize("NFC", s)
    s = _ZERO_WIDTH_RE.sub("", s)
    s = _WS_RE.sub(" ", s).strip()
    return _NEW_STYLE_RE.sub(lambda m: _OLD_STYLE[m.group(0)], s)


def _map_unique(s: pd.Series, fn) -> pd.Series:
    """Apply a scalar text function once per distinct value; NA stays NA; result dtype ``string``."""
    values = s.dropna()
    mapping = {u: fn(u if isinstance(u, str) else str(u)) for u in pd.unique(values)}
    out = pd.Series(pd.NA, index=s.index, dtype="string")
    if len(values):
        out.loc[values.index] = values.map(mapping).astype("string")
    return out


def nfc_key_series(s: pd.Series) -> pd.Series:
    """``nfc_key`` over a Series (computed once per distinct value). Non-string values are ``str()``-ed;
    NA stays NA. Returns dtype ``string`` with the same index."""
    return _map_unique(s, nfc_key)


# --------------------------------------------------------------------------------------------------
# Accent folding (header matching)
# --------------------------------------------------------------------------------------------------

_COMBINING_RE = re.compile("[\u0300-\u036f]")
# stripped from both ends of a folded header; '%', '#' and brackets are kept ("% hoàn thành")
_FOLD_STRIP = " :*.,;!?-_\u2013\u2014\"'`\u2022\u00b7"


def fold(s: str) -> str:
    """Accent-folded lower-case form for matching headers: "Mã đơn vị:" -> "ma don vi".

    Diacritics removed (đ -> d), lower case, zero-width characters removed, whitespace collapsed, and
    surrounding punctuation (``: * . , ; ! ? - _`` dashes, quotes, bullets) stripped."""
    s = unicodedata.normalize("NFD", s)
    s = _COMBINING_RE.sub("", s).replace("đ", "d").replace("Đ", "D").lower()
    s = _ZERO_WIDTH_RE.sub("", s)
    s = _WS_RE.sub(" ", s)
    return s.strip(_FOLD_STRIP)


def fold_series(s: pd.Series) -> pd.Series:
    """``fold`` over a Series (once per distinct value); NA stays NA; dtype ``string``."""
    return _map_unique(s, fold)

"""Personal data in free text: what counts (phone numbers, 9/12-digit ID numbers, e-mail addresses, names of
respondents and household-business owners) and how it is found. One rule, used twice: the ingest masks it
in kept free text (:func:`mask_text`), the publish step refuses a release that holds it (:func:`find_pii`);
both read the names to look for from the warehouse with :func:`name_index`.

Names are compared as *name keys*: NFC, diacritics removed (``đ`` -> ``d``), lower case, words of letters
and digits joined by one space ("Nguyễn  Văn-An" -> "nguyen van an"). Respondent names are never stored in
clear, only as ``sha256(salt + "name:" + key)``; so a text is searched by hashing every run of 2-6
consecutive all-letter words of it (a 2-6 word name as a phrase inside longer text) and the whole text (a
name of any length alone in a cell), and looking the hashes up in a set. A one-word name is found only
as a whole cell: a single given name ("An", "Hoa") is also an ordinary word and place name.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

KIND_PHONE = "phone"
KIND_ID = "id_number"
KIND_EMAIL = "email"
KIND_NAME = "name"
KINDS = (KIND_EMAIL, KIND_PHONE, KIND_ID, KIND_NAME)  # masking order: an e-mail may hold digits

#: the replacement written into masked free text (Decree 13/2023/NĐ-CP: keep only what the purpose needs)
TOKENS = {KIND_PHONE: "[SĐT]", KIND_ID: "[CCCD]", KIND_EMAIL: "[EMAIL]", KIND_NAME: "[TÊN]"}
LABELS = {  # (vi, en)
    KIND_PHONE: ("số điện thoại", "phone number"),
    KIND_ID: ("số CMND/CCCD", "ID number"),
    KIND_EMAIL: ("địa chỉ e-mail", "e-mail address"),
    KIND_NAME: (
        "tên người (người trả lời / chủ hộ kinh doanh)",
        "personal name (respondent / business owner)",
    ),
}

# --------------------------------------------------------------------------------------------------------
# Numbers and e-mail
# --------------------------------------------------------------------------------------------------------

_SEP = (
    r"\)?[ .\-]{0,2}"  # between digits: ")" then up to two of space . - ("(024) 3825 1234", "0912.345.678")
)
_D = "(?:" + _SEP + "[0-9])"
# Mobile 0[35789]+8 digits, landline 02+9 digits; the leading 0 may be written +84 / 84 / (+84).
PHONE_RE = re.compile(
    r"(?<![0-9A-Za-z+])(?<![0-9][.\-])"
    r"(?:\(\+?84\)|\+84|84|0)" + _SEP + r"(?:[35789]" + _D + "{8}|2" + _D + "{9})"
    r"(?![0-9])(?![.\-][0-9])"
)
# CMND 9 / CCCD 12 digits, contiguous or with single space/dot/dash separators ("042 095 001 234").
# Not part of a longer number ("1.234.567.890 đồng") nor of a word or hex string ("a1234567890b").
ID_RE = re.compile(
    r"(?<![0-9A-Za-z])(?<![0-9][ .\-])"
    r"(?:[0-9](?:[ .\-]?[0-9]){11}|[0-9](?:[ .\-]?[0-9]){8})"
    r"(?![0-9A-Za-z])(?![ .\-][0-9])"
)
EMAIL_RE = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
_MIN_DIGITS = 9  # a phone or ID number has 9 digits or more: texts with fewer skip those regexes

# --------------------------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------------------------

MAX_NAME_WORDS = 6
WORD_RE = re.compile(r"[^\W_]+")


@cache
def _fold_table() -> dict[int, str]:
    """Character-for-character fold of Latin letters (Vietnamese included): no marks, lower case, đ -> d.
    One character in, one out, so that positions in the folded text are positions in the original."""
    table: dict[int, str] = {}
    for cp in [*range(0x41, 0x5B), *range(0xC0, 0x250), *range(0x1E00, 0x1F00)]:
        c = chr(cp)
        base = [x for x in unicodedata.normalize("NFD", c) if not unicodedata.combining(x)]
        out = (base[0] if len(base) == 1 else c).lower()
        out = {"đ": "d", "ð": "d"}.get(out, out)
        if len(out) == 1 and out != c:
            table[cp] = out
    return table


def fold_text(s: str) -> str:
    """NFC text -> folded text of the same length (see :func:`_fold_table`)."""
    t = s.translate(_fold_table())
    low = t.lower()
    return low if len(low) == len(t) else t


def name_key(s: str) -> str:
    """The form names are compared in: "  Nguyễn  VĂN-An " -> "nguyen van an"."""
    return " ".join(WORD_RE.findall(fold_text(unicodedata.normalize("NFC", s))))


def legacy_name_key(s: str) -> str:
    """The key of ``respondent_name_hash`` (NFC, lower case, with diacritics), words of letters/digits."""
    return " ".join(WORD_RE.findall(unicodedata.normalize("NFC", s).lower()))


def key_hash(key: str, salt: str) -> str:
    return hashlib.sha256((salt + "name:" + key).encode("utf-8")).hexdigest()


def _digest(base, key: str) -> str:
    """``key_hash`` from a hash object already fed with salt + "name:"."""
    h = base.copy()
    h.update(key.encode("utf-8"))
    return h.hexdigest()


class NameIndex:
    """Salted hashes of name keys; finds the names as whole words or phrases inside a text."""

    def __init__(
        self, salt: str, hashes: Iterable[str] = (), names: Iterable[str] = (), legacy: Iterable[str] = ()
    ):
        self.salt = salt
        self.hashes: set[str] = {h for h in hashes if h}  # hashes of name keys
        self.legacy: set[str] = {h for h in legacy if h}  # hashes of NFC lower-case keys (older warehouses)
        self._base = hashlib.sha256((salt + "name:").encode("utf-8"))
        self.add_names(names)

    def copy(self) -> NameIndex:
        return NameIndex(self.salt, self.hashes, legacy=self.legacy)

    def add_names(self, names: Iterable[str | None]) -> None:
        for n in names:
            if isinstance(n, str) and (k := name_key(n)):
                self.hashes.add(key_hash(k, self.salt))

    def add_owner_names(self, producer_names: Iterable[str | None]) -> None:
        for n in producer_names:
            if isinstance(n, str):
                self.hashes.update(key_hash(k, self.salt) for k in owner_name_keys(n))

    def __len__(self) -> int:
        return len(self.hashes) + len(self.legacy)

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Non-overlapping (start, end) of the names found in NFC ``text``, longest first."""
        if not self.hashes and not self.legacy:
            return []
        folded = fold_text(text)
        found = self._find(folded, self.hashes)
        if self.legacy and found != "whole":
            low = text.lower()
            if len(low) == len(text) and low != folded:
                more = self._find(low, self.legacy)
                found = more if more == "whole" else [*found, *more]
        if found == "whole":
            words = list(WORD_RE.finditer(folded))
            return [(words[0].start(), words[-1].end())]
        return _merge(found)

    def _find(self, folded: str, hashes: set[str]):
        words = [(m.start(), m.end(), m.group()) for m in WORD_RE.finditer(folded)]
        if not words or not hashes:
            return []
        base = self._base
        if _digest(base, " ".join(w[2] for w in words)) in hashes:  # a name alone in the cell (any length)
            return "whole"
        return self._phrases(words, hashes)

    def _phrases(self, words: list[tuple[int, int, str]], hashes: set[str]) -> list[tuple[int, int]]:
        out = []
        # a name is a run of all-letter words: split at words holding a digit ("T03", "2024")
        runs, run = [], []
        for w in words:
            if any(ch.isdigit() for ch in w[2]):
                if len(run) > 1:
                    runs.append(run)
                run = []
            else:
                run.append(w)
        if len(run) > 1:
            runs.append(run)
        for run in runs:
            keys = [w[2] for w in run]
            for n in range(min(MAX_NAME_WORDS, len(run)), 1, -1):
                for i in range(len(run) - n + 1):
                    if _digest(self._base, " ".join(keys[i : i + n])) in hashes:
                        out.append((run[i][0], run[i + n - 1][1]))
        return out


# what precedes an owner's name in a household business's producer name ("Hộ kinh doanh Lê Thị Mai")
_OWNER_PREFIX_RE = re.compile(
    r"^(?:ho kinh doanh|hkd|ho san xuat|ho gia dinh|co so san xuat|co so|chu ho|chu co so|ho|ong|ba)\s+"
)


def owner_name_keys(producer_name: str) -> list[str]:
    """Name keys of a household producer: the whole name, and the owner's name without the business prefix
    when two words or more remain ("Hộ kinh doanh Lê Thị Mai" -> "ho kinh doanh le thi mai", "le thi mai")."""
    key = name_key(producer_name)
    out = [key] if key else []
    rest = key
    while (m := _OWNER_PREFIX_RE.match(rest)) is not None:
        rest = rest[m.end() :]
    if rest != key and len(rest.split()) >= 2:
        out.append(rest)
    return out


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(set(spans)):
        if out and s < out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


# --------------------------------------------------------------------------------------------------------
# Find and mask
# --------------------------------------------------------------------------------------------------------


def _regex_spans(text: str) -> dict[str, list[tuple[int, int]]]:
    out: dict[str, list[tuple[int, int]]] = {}
    emails = [m.span() for m in EMAIL_RE.finditer(text)] if "@" in text else []
    if emails:
        out[KIND_EMAIL] = emails
    if sum(ch.isdigit() for ch in text) >= _MIN_DIGITS:
        rest = _blank(text, emails)
        phones = [m.span() for m in PHONE_RE.finditer(rest)]
        if phones:
            out[KIND_PHONE] = phones
        ids = [m.span() for m in ID_RE.finditer(_blank(rest, phones))]
        if ids:
            out[KIND_ID] = ids
    return out


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    for s, e in spans:
        text = text[:s] + " " * (e - s) + text[e:]
    return text


def find_pii(text: str, names: NameIndex | None = None) -> dict[str, list[tuple[int, int]]]:
    """kind -> spans of personal data in ``text`` (NFC). Empty dict: nothing found."""
    text = unicodedata.normalize("NFC", text)
    out = _regex_spans(text)
    if names is not None and len(names):
        sp = names.spans(text)
        if sp:
            out[KIND_NAME] = sp
    return out


def mask_text(text: str, names: NameIndex | None = None) -> tuple[str, dict[str, int]]:
    """(text with every finding replaced by its token, kind -> number of replacements)."""
    text = unicodedata.normalize("NFC", text)
    found = find_pii(text, names)
    if not found:
        return text, {}
    spans: list[tuple[int, int, str]] = []
    for kind in KINDS:  # earlier kinds win an overlap
        for s, e in found.get(kind, []):
            if all(e <= s2 or s >= e2 for s2, e2, _ in spans):
                spans.append((s, e, kind))
    counts: dict[str, int] = {}
    for s, e, kind in sorted(spans, reverse=True):
        text = text[:s] + TOKENS[kind] + text[e:]
        counts[kind] = counts.get(kind, 0) + 1
    return text, counts


#: a text cell starting with one of these is run as a formula by a spreadsheet opening a CSV/XLSX file
FORMULA_PREFIXES = ("=", "+", "-", "@")


def mask_for_message(value: str) -> str:
    """Mask a cell for an error message: digits except the last two, letters after the first of each word."""
    out = []
    digits_left = sum(ch.isdigit() for ch in value)
    for i, ch in enumerate(value):
        if ch.isdigit():
            digits_left -= 1
            out.append(ch if digits_left < 2 else "•")
        elif ch.isalpha() and i > 0 and value[i - 1].isalpha():
            out.append("•")
        else:
            out.append(ch)
    s = "".join(out)
    return s if len(s) <= 60 else s[:57] + "..."


def name_index(con: duckdb.DuckDBPyConnection, salt: str, names=()) -> NameIndex:
    """The names that must not be kept in free text nor published: respondents (stored only as salted
    hashes of the name key, and of the older NFC key) and owners of household businesses (OCOP producers of
    type household, with and without the business prefix "Hộ kinh doanh ...")."""
    index = NameIndex(salt, names=names)
    cols = {
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'raw' and table_name = 'survey_answers'"
        ).fetchall()
    }
    if "respondent_name_fold_hash" in cols:
        index.hashes.update(
            r[0]
            for r in con.execute(
                "select distinct respondent_name_fold_hash from raw.survey_answers "
                "where respondent_name_fold_hash is not null"
            ).fetchall()
        )
    # rows ingested before the fold hash existed: their NFC hash (exact diacritics) is searched instead
    fold = "respondent_name_fold_hash is null and " if "respondent_name_fold_hash" in cols else ""
    if "respondent_name_hash" in cols:
        index.legacy.update(
            r[0]
            for r in con.execute(
                "select distinct respondent_name_hash from raw.survey_answers "
                f"where {fold}respondent_name_hash is not null"
            ).fetchall()
        )
    has_ocop = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'raw' and table_name = 'ocop_products'"
    ).fetchone()[0]
    if has_ocop:
        index.add_owner_names(
            r[0]
            for r in con.execute(
                "select distinct producer_name from raw.ocop_products "
                "where producer_type = 'household' and producer_name is not null"
            ).fetchall()
        )
    return index

"""Statistical disclosure control for the open-data release.

Two independent guards:

* Cell suppression of the satisfaction-survey results lives in :mod:`pipeline.publish.suppression`
  (:func:`suppress_satisfaction`, re-exported here): primary cells (``0 < respondents < min_count``,
  ``NTM_SUPPRESSION_MIN_COUNT``, default 5) and complementary cells chosen so that every hidden ``satisfied``
  count keeps at least two possible values given every published cell and margin; the exact rule is in that
  module's docstring and in the release README. :mod:`pipeline.publish.disclosure_audit` is the attacker
  that recomputes each hidden cell's feasible interval from the released files (linear programming) and
  blocks the release if one is exact.
* :func:`scan_pii` - a scan of every published text column for Vietnamese phone numbers, 9/12-digit ID
  numbers (CMND/CCCD) and names from a deny list (the respondents' names, supplied by the caller from the
  raw data). Any hit blocks the publish (:class:`PIIFoundError`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# Suppression lives in its own module; the names stay importable from here.
from .suppression import COMPLEMENTARY, PRIMARY, suppress_satisfaction  # noqa: F401

# ---------------------------------------------------------------------------------------------------------
# PII scan
# ---------------------------------------------------------------------------------------------------------

_SEP = r"[ .\-]?"
# Vietnamese phone numbers: mobile 0[35789] + 8 digits, landline 02 + 9 digits, or the same after +84 / 84,
# with optional single space / dot / hyphen separators between digits. Not adjacent to other digits.
PHONE_RE = (
    r"(?:^|[^0-9+])"
    r"(?:\+84|84|0)" + _SEP + r"(?:[35789](?:" + _SEP + r"[0-9]){8}|2(?:" + _SEP + r"[0-9]){9})"
    r"(?:$|[^0-9])"
)
# CMND (9 digits) / CCCD (12 digits): a standalone digit run, or groups of 3 separated by single spaces.
ID_RE = r"(?:^|[^0-9])(?:[0-9]{12}|[0-9]{9}|[0-9]{3}(?: [0-9]{3}){3}|[0-9]{3}(?: [0-9]{3}){2})(?:$|[^0-9])"

KIND_PHONE = "phone"
KIND_ID = "id_number"
KIND_NAME = "denylisted_name"


@dataclass(frozen=True)
class Hit:
    table: str
    column: str
    kind: str  # phone | id_number | denylisted_name
    count: int
    samples: tuple[str, ...] = field(default=())  # masked

    def __str__(self) -> str:
        return f"{self.table}.{self.column}: {self.count} x {self.kind} (e.g. {', '.join(self.samples)})"


class PIIFoundError(RuntimeError):
    """Raised when a published text column contains personal data; publishing is blocked."""

    def __init__(self, hits: Sequence[Hit]):
        self.hits = list(hits)
        super().__init__(
            "personal data found in the release, publish blocked:\n  " + "\n  ".join(map(str, hits))
        )


def norm_name(s: str) -> str:
    """NFC, lower case, collapsed spaces: the form names are compared in."""
    return " ".join(unicodedata.normalize("NFC", s).lower().split())


def mask(value: str) -> str:
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


def name_pattern(denylist: Iterable[str]) -> str | None:
    """One RE2 alternation matching any deny-listed name as a whole-word sequence of a normalised cell."""
    names = sorted({norm_name(n) for n in denylist if n and norm_name(n)}, key=lambda s: (-len(s), s))
    if not names:
        return None
    alts = "|".join(re.escape(n).replace("\\ ", " ") for n in names)
    return r"(?:^|[^\p{L}\p{N}])(?:" + alts + r")(?:$|[^\p{L}\p{N}])"


def _qi(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _ql(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def scan_pii(
    con,
    tables: Mapping[str, str | Path | Sequence[str | Path]],
    denylist: Iterable[str] = (),
    *,
    exempt: Mapping[str, Iterable[str]] | None = None,
    max_samples: int = 3,
) -> list[Hit]:
    """Scan every VARCHAR column of every table; return the hits (empty list = clean).

    ``tables`` maps a table name to a SQL relation: a Parquet path / list of paths (scanned with
    ``read_parquet``) or a SQL string (``select ...`` or a table name). The scan runs in DuckDB (vectorised,
    streaming, RE2 regexes); one pass per table counts every (column, kind), samples are fetched only for
    hits. ``exempt``: table -> columns not scanned (structured code columns validated elsewhere, e.g. a
    hash-derived id whose hex can contain long digit runs); keep it short and justified.
    """
    exempt = {k: set(v) for k, v in (exempt or {}).items()}
    denied = {norm_name(n) for n in denylist if n and norm_name(n)}
    names_re = name_pattern(denied)
    # every deny-listed name has two words or more: a cell without whitespace cannot hold one
    name_prefilter = "regexp_matches({c}, '\\s')" if denied and all(" " in n for n in denied) else "true"
    patterns = [(KIND_PHONE, PHONE_RE, False), (KIND_ID, ID_RE, False)]
    hits: list[Hit] = []
    for tname, source in tables.items():
        rel = _relation_sql(source)
        cols = con.execute(f"describe select * from {rel}").fetchall()
        text_cols = [
            c[0]
            for c in cols
            if str(c[1]).upper() in ("VARCHAR", "TEXT", "STRING") and c[0] not in exempt.get(tname, set())
        ]
        if not text_cols:
            continue
        exprs, keys = [], []
        for col in text_cols:
            for kind, pat, normalise in patterns:
                e = _match_expr(col, pat, normalise)
                exprs.append(f"count(*) filter (where {e})")
                keys.append((col, kind, e))
        row = con.execute(f"select {', '.join(exprs)} from {rel}").fetchall()[0]
        if names_re:
            # The name alternation (thousands of names at national scale) costs ~30 us a cell: it runs once
            # per distinct cell that has whitespace, and the hit count is summed over the cells' rows.
            e = _match_expr("v", names_re, True)
            for col in text_cols:
                c = _qi(col)
                found = con.execute(
                    f"select v, n from (select {c} as v, count(*) as n from {rel} "
                    f"where {name_prefilter.format(c=c)} group by 1) where {e} order by n desc, v"
                ).fetchall()
                if found:
                    samples = tuple(mask(str(v)) for v, _ in found[: int(max_samples)])
                    hits.append(Hit(tname, col, KIND_NAME, int(sum(n for _, n in found)), samples))
        for (col, kind, e), n in zip(keys, row, strict=True):
            if n:
                samples = con.execute(
                    f"select {_qi(col)} from {rel} where {e} limit {int(max_samples)}"
                ).fetchall()
                hits.append(Hit(tname, col, kind, int(n), tuple(mask(str(s[0])) for s in samples)))
    return hits


def _match_expr(col: str, pattern: str, normalise: bool) -> str:
    c = _qi(col)
    if normalise:
        c = f"lower(nfc_normalize({c}))"
        # collapse runs of whitespace the same way norm_name does
        c = f"regexp_replace(trim({c}), '\\s+', ' ', 'g')"
    return f"coalesce(regexp_matches({c}, {_ql(pattern)}), false)"


def _relation_sql(source: str | Path | Sequence[str | Path]) -> str:
    if isinstance(source, Path) or (isinstance(source, str) and source.endswith(".parquet")):
        return f"read_parquet({_ql(str(source))})"
    if isinstance(source, str):
        s = source.strip()
        return f"({s})" if s.lower().startswith(("select", "with", "from")) else s
    return "read_parquet([" + ", ".join(_ql(str(p)) for p in source) + "])"

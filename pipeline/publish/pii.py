"""The release's personal-data gate: every published text column is scanned (once per distinct cell) for
phone numbers, ID numbers, e-mail addresses and respondents' / household-business owners' names, also
inside longer text (the rule: pipeline.lib.pii). A hit blocks publishing (:class:`PIIFoundError`) with a
bilingual message naming table, column and the row key, masked. Formula-like cells do not block; they are
counted (:func:`formula_cells`) and flagged in the column's description.
"""

from __future__ import annotations

import secrets
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from pipeline.lib.pii import (
    FORMULA_PREFIXES,
    KIND_ID,
    KIND_NAME,
    KIND_PHONE,
    LABELS,
    MAX_NAME_WORDS,
    WORD_RE,
    NameIndex,
    find_pii,
    fold_text,
    mask_for_message,
    name_index,
)

NO_PHRASE = "#"  # stands for a word holding a digit (never a word itself): no phrase runs across it

mask = mask_for_message
Source = str | Path | Sequence[str | Path]
_TEXT_TYPES = ("VARCHAR", "TEXT", "STRING")


@dataclass(frozen=True)
class Hit:
    table: str
    column: str
    kind: str  # phone | id_number | email | name
    count: int  # rows
    samples: tuple[str, ...] = field(default=())  # masked cells
    row_keys: tuple[str, ...] = field(default=())  # masked "key=value" of the rows of the samples

    def __str__(self) -> str:
        vi, en = LABELS.get(self.kind, (self.kind, self.kind))
        rows = "; ".join(self.row_keys) or "?"
        return (
            f"bảng/table {self.table}, cột/column {self.column}, dòng/row {rows}: "
            f"{self.count} × {vi} / {en} (vd./e.g. {', '.join(self.samples)})"
        )


class PIIFoundError(RuntimeError):
    """Raised when a published text column contains personal data; publishing is blocked."""

    def __init__(self, hits: Sequence[Hit]):
        self.hits = list(hits)
        super().__init__(
            "Dữ liệu mở chứa dữ liệu cá nhân, không công bố; hãy sửa hoặc xoá các ô dưới đây ở dữ liệu nguồn rồi "
            "chạy lại. / Personal data found in the release, nothing published; fix or remove these cells at "
            "the source and run again:\n  " + "\n  ".join(map(str, hits))
        )


def _qi(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _ql(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def relation_sql(source: Source) -> str:
    if isinstance(source, Path) or (isinstance(source, str) and source.endswith(".parquet")):
        return f"read_parquet({_ql(str(source))})"
    if isinstance(source, str):
        s = source.strip()
        return f"({s})" if s.lower().startswith(("select", "with", "from")) else s
    return "read_parquet([" + ", ".join(_ql(str(p)) for p in source) + "])"


def text_columns(con, rel: str, exempt: Iterable[str] = ()) -> list[str]:
    skip = set(exempt)
    return [
        c[0]
        for c in con.execute(f"describe select * from {rel}").fetchall()
        if str(c[1]).upper() in _TEXT_TYPES and c[0] not in skip
    ]


def scan_pii(
    con: duckdb.DuckDBPyConnection,
    tables: Mapping[str, Source],
    denylist: Iterable[str] = (),
    *,
    names: NameIndex | None = None,
    exempt: Mapping[str, Iterable[str]] | None = None,
    keys: Mapping[str, Sequence[str]] | None = None,
    max_samples: int = 3,
) -> list[Hit]:
    """Scan every text column of every table; return the hits (empty list = clean).

    ``tables``: name -> Parquet path(s) or SQL. ``denylist``: names in clear, added to ``names``.
    ``exempt``: table -> columns not scanned (surrogate keys / hashes; keep it short and justified).
    ``keys``: table -> primary-key columns shown (masked) for the rows of a hit.
    """
    if denylist:
        index = names.copy() if names else NameIndex("")
        index.add_names(denylist)
    else:
        index = names
    exempt = {k: set(v) for k, v in (exempt or {}).items()}
    keys = keys or {}
    hits: list[Hit] = []
    for tname, source in tables.items():
        rel = relation_sql(source)
        for col in text_columns(con, rel, exempt.get(tname, ())):
            c = _qi(col)
            found: dict[str, list[tuple[str, int]]] = {}
            rows = con.execute(
                f"select {c}, count(*) from {rel} where {c} is not null group by 1 order by 2 desc, 1"
            ).fetchall()
            with_names = cells_with_names(con, [v for v, _ in rows], index) if index is not None else set()
            for value, n in rows:
                kinds = [*find_pii(value), *([KIND_NAME] if value in with_names else [])]
                for kind in kinds:
                    found.setdefault(kind, []).append((value, int(n)))
            for kind, cells in found.items():
                samples = [v for v, _ in cells[:max_samples]]
                hits.append(
                    Hit(
                        tname,
                        col,
                        kind,
                        sum(n for _, n in cells),
                        tuple(mask(v) for v in samples),
                        _row_keys(con, rel, col, samples, keys.get(tname, ())),
                    )
                )
    order = {KIND_NAME: 0, KIND_PHONE: 1, KIND_ID: 2}
    return sorted(hits, key=lambda h: (h.table, h.column, order.get(h.kind, 3)))


def cells_with_names(con: duckdb.DuckDBPyConnection, values: Sequence[str], index: NameIndex) -> set[str]:
    """The values holding a name of ``index``: ``NameIndex.spans`` (same words, same n-grams, same hashes)
    with the n-grams hashed and joined inside DuckDB - faster at province scale (bench/pii_scan.py).
    Python folds each value and splits it into words; a word holding a digit breaks a phrase."""
    if not values or not (index.hashes or index.legacy):
        return set()
    v_col, kind_col, whole_col, words_col = [], [], [], []
    for v in values:
        nfc = unicodedata.normalize("NFC", v)
        folded = fold_text(nfc)
        forms = [("k", folded)]
        low = nfc.lower()
        if index.legacy and len(low) == len(nfc) and low != folded:
            forms.append(("l", low))
        for kind, text in forms:
            words = WORD_RE.findall(text)
            if not words:
                continue
            v_col.append(v)
            kind_col.append(kind)
            whole_col.append(" ".join(words))
            words_col.append([NO_PHRASE if any(ch.isdigit() for ch in w) else w for w in words])
    if not v_col:
        return set()
    cells = pa.table(
        {
            "v": pa.array(v_col, pa.string()),
            "kind": pa.array(kind_col, pa.string()),
            "whole": pa.array(whole_col, pa.string()),
            "w": pa.array(words_col, pa.list_(pa.string())),
        }
    )
    hashes = pa.table(
        {
            "h": pa.array([*index.hashes, *index.legacy], pa.string()),
            "kind": pa.array(["k"] * len(index.hashes) + ["l"] * len(index.legacy), pa.string()),
        }
    )
    tag = secrets.token_hex(4)
    con.register(f"_pii_cells_{tag}", cells)
    con.register(f"_pii_hashes_{tag}", hashes)
    try:
        rows = con.execute(
            f"""
            with grams as (
                select v, kind, whole as gram from _pii_cells_{tag}
                union all
                select v, kind, gram from (
                    select v, kind, array_to_string(w[i:i + k - 1], ' ') as gram
                    from (select v, kind, w, unnest(range(1, len(w))) as i from _pii_cells_{tag} where len(w) > 1),
                        range(2, {MAX_NAME_WORDS + 1}) as r(k)
                    where i + k - 1 <= len(w)
                ) where not contains(gram, {_ql(NO_PHRASE)})
            )
            select distinct g.v from grams as g
            semi join _pii_hashes_{tag} as h on h.kind = g.kind and h.h = sha256(? || 'name:' || g.gram)
            """,
            [index.salt],
        ).fetchall()
    finally:
        con.unregister(f"_pii_cells_{tag}")
        con.unregister(f"_pii_hashes_{tag}")
    return {r[0] for r in rows}


def _row_keys(con, rel: str, col: str, samples: list[str], key_cols: Sequence[str]) -> tuple[str, ...]:
    if not key_cols:
        return ()
    out = []
    for v in samples:
        row = con.execute(
            f"select {', '.join(_qi(k) for k in key_cols)} from {rel} where {_qi(col)} = ? "
            f"order by {', '.join(_qi(k) for k in key_cols)} limit 1",
            [v],
        ).fetchone()
        if row is not None:
            out.append(", ".join(f"{k}={mask(str(x))}" for k, x in zip(key_cols, row, strict=True)))
    return tuple(out)


def formula_cells(
    con: duckdb.DuckDBPyConnection,
    tables: Mapping[str, Source],
    exempt: Mapping[str, Iterable[str]] | None = None,
) -> dict[str, dict[str, int]]:
    """table -> {column: number of cells starting with = + - @} (only columns that have some)."""
    exempt = {k: set(v) for k, v in (exempt or {}).items()}
    prefixes = ", ".join(_ql(p) for p in FORMULA_PREFIXES)
    out: dict[str, dict[str, int]] = {}
    for tname, source in tables.items():
        rel = relation_sql(source)
        cols = text_columns(con, rel, exempt.get(tname, ()))
        if not cols:
            continue
        exprs = [f"count(*) filter (where left({_qi(c)}, 1) in ({prefixes}))" for c in cols]
        row = con.execute(f"select {', '.join(exprs)} from {rel}").fetchone()
        found = {c: int(n) for c, n in zip(cols, row, strict=True) if n}
        if found:
            out[tname] = found
    return out


FORMULA_NOTE = (
    "Cảnh báo: {n} ô bắt đầu bằng = + - hoặc @, bảng tính có thể hiểu là công thức; khi xuất ra CSV/XLSX "
    "hãy thêm dấu nháy ' ở đầu ô.",
    "Warning: {n} cell(s) start with = + - or @ and a spreadsheet may run them as a formula; when exporting "
    "to CSV/XLSX, prefix such a cell with an apostrophe '.",
)


def flag_formula_fields(fields: Mapping[str, tuple[str, str]], counts: Mapping[str, int]) -> dict:
    """Column descriptions (vi, en) with the formula warning appended to the columns in ``counts``."""
    out = dict(fields)
    for col, n in counts.items():
        vi, en = out.get(col, ("", ""))
        out[col] = (
            (vi + " " + FORMULA_NOTE[0].format(n=n)).strip(),
            (en + " " + FORMULA_NOTE[1].format(n=n)).strip(),
        )
    return out


__all__ = [
    "KIND_ID",
    "KIND_NAME",
    "KIND_PHONE",
    "Hit",
    "NameIndex",
    "PIIFoundError",
    "flag_formula_fields",
    "formula_cells",
    "name_index",
    "scan_pii",
]

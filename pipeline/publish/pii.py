"""The release's personal-data gate: every published text column is scanned (once per distinct cell) for
phone numbers, ID numbers, e-mail addresses and respondents' / household-business owners' names, also
inside longer text (the rule: pipeline.lib.pii). A hit blocks publishing (:class:`PIIFoundError`) with a
bilingual message naming table, column and the row key, masked. Formula-like cells do not block; they are
counted (:func:`formula_cells`) and flagged in the column's description.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipeline.ingest.masking import name_index
from pipeline.lib.pii import (
    FORMULA_PREFIXES,
    KIND_ID,
    KIND_NAME,
    KIND_PHONE,
    LABELS,
    NameIndex,
    find_pii,
    mask_for_message,
)

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
            for value, n in con.execute(
                f"select {c}, count(*) from {rel} where {c} is not null group by 1 order by 2 desc, 1"
            ).fetchall():
                for kind in find_pii(value, index):
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

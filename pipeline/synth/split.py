"""Split one landing zone into one landing zone per commune: ``out/<commune_code>/`` (the federation test).

A province that runs one instance per commune gives each commune its own files only. From a landing zone that
holds several communes (``python -m pipeline.synth scale --scale province --communes ...``), each commune's
folder gets:

* ``reference/``: ``hamlets.csv`` and ``reporting_units.csv`` rows of the commune (``commune_code``; the
  ``hamlet_key`` of each hamlet is kept, not renumbered), ``hamlet_population.csv`` rows of its hamlets,
  ``hamlet_crosswalk.csv`` rows with a predecessor or successor among its hamlets, ``dhis2_mapping.csv`` without
  the org units of other communes (rows whose ``code`` starts with another commune's 5-digit code),
  ``hamlet_boundaries.geojson`` features of its hamlets;
* ``submissions/``, ``surveys/``, ``ocop/``: every CSV file under the same relative path and name, with the
  commune's rows only (the commune of a row: survey ``Mã xã``, else the 5-digit prefix of ``Mã đơn vị`` (unit),
  else of ``Mã thôn`` (hamlet)), each row's text kept as it was (quoting, line ending); a file whose rows are all
  the commune's is copied byte for byte, a file with none of its rows is left out.

Only what the synthetic generators write is handled: UTF-8 CSV sources (no XLSX, JSON lines or ``dhis2/``
folder; such a file stops the split naming it). Deterministic: the same input gives the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path

SOURCES = ("submissions", "surveys", "ocop")
#: the column that gives a source row's commune, in this order (first one present in the header)
ROW_COMMUNE_COLUMNS = ("Mã xã", "Mã đơn vị", "Mã thôn")
_CODE = re.compile(r"^(\d{5})(?:-|$)")


def _read(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        return [], []
    return rows[0], rows[1:]


def _text(header: list[str], rows: list[list[str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _prefix(code: str) -> str | None:
    m = _CODE.match(code.strip())
    return m.group(1) if m else None


def _reference(src: Path, dst: Path, commune: str, hamlets_of: dict[str, str]) -> None:
    ref, out = src / "reference", dst / "reference"
    mine = {h for h, c in hamlets_of.items() if c == commune}
    for path in sorted(ref.iterdir()):
        name = path.name
        if name in ("hamlets.csv", "reporting_units.csv"):
            header, rows = _read(path)
            i = header.index("commune_code")
            _write(out / name, _text(header, [r for r in rows if r[i].zfill(5) == commune]))
        elif name == "hamlet_population.csv":
            header, rows = _read(path)
            i = header.index("hamlet_code")
            _write(out / name, _text(header, [r for r in rows if r[i] in mine]))
        elif name == "hamlet_crosswalk.csv":
            header, rows = _read(path)
            a, b = header.index("predecessor_code"), header.index("successor_code")
            _write(out / name, _text(header, [r for r in rows if r[a] in mine or r[b] in mine]))
        elif name == "dhis2_mapping.csv":
            header, rows = _read(path)
            i = header.index("code")
            keep = [r for r in rows if _prefix(r[i]) in (None, commune)]
            _write(out / name, _text(header, keep))
        elif name == "hamlet_boundaries.geojson":
            gj = json.loads(path.read_text(encoding="utf-8"))
            gj["features"] = [
                f for f in gj.get("features", []) if (f.get("properties") or {}).get("hamlet_code") in mine
            ]
            _write(out / name, json.dumps(gj, ensure_ascii=False, indent=1) + "\n")
        elif path.is_file() and not name.startswith(".") and not name.lower().endswith(".md"):
            raise ValueError(
                f"{path}: tệp danh mục không biết cách tách theo xã / a reference file split does not know "
                "how to split by commune"
            )


def _records(text: str) -> list[str]:
    """The CSV records of ``text`` as their own text (line ending included; a quoted field may span lines)."""
    records, pending = [], ""
    for line in text.splitlines(keepends=True):
        pending += line
        if pending.count('"') % 2 == 0:
            records.append(pending)
            pending = ""
    if pending:
        records.append(pending)
    return records


def _fields(record: str) -> list[str]:
    return next(csv.reader([record.lstrip("\ufeff")]), [])


def _row_commune(header: list[str], path: Path):
    for col in ROW_COMMUNE_COLUMNS:
        if col in header:
            i = header.index(col)
            return lambda r: _prefix(r[i]) if i < len(r) else None
    raise ValueError(
        f"{path}: không có cột {', '.join(ROW_COMMUNE_COLUMNS)} để biết dòng của xã nào / no column "
        f"{', '.join(ROW_COMMUNE_COLUMNS)} to tell a row's commune"
    )


def split_by_commune(src: Path, out: Path) -> dict[str, Path]:
    """Write ``out/<commune_code>/`` for every commune of ``src/reference/hamlets.csv``; returns them by code."""
    src, out = Path(src), Path(out)
    header, rows = _read(src / "reference" / "hamlets.csv")
    h, c = header.index("hamlet_code"), header.index("commune_code")
    hamlets_of = {r[h]: r[c].zfill(5) for r in rows}
    communes = sorted(set(hamlets_of.values()))
    dirs = {code: out / code for code in communes}
    for code, dst in dirs.items():
        if dst.exists():
            shutil.rmtree(dst)
        _reference(src, dst, code, hamlets_of)
    for source in SOURCES:
        for path in sorted((src / source).rglob("*")) if (src / source).is_dir() else []:
            if not path.is_file() or path.name.startswith("."):
                continue
            if path.suffix.lower() != ".csv":
                raise ValueError(f"{path}: chỉ tách được tệp CSV / only CSV files can be split")
            rel = path.relative_to(src)
            records = _records(path.read_bytes().decode("utf-8"))
            if not records:
                continue
            commune_of = _row_commune(_fields(records[0]), path)
            by_commune: dict[str | None, list[str]] = {}
            for r in records[1:]:
                if r.strip():
                    by_commune.setdefault(commune_of(_fields(r)), []).append(r)
            unknown = sorted(k for k in by_commune if k not in dirs)
            if unknown:
                raise ValueError(
                    f"{path}: có dòng của xã không có trong reference/hamlets.csv / rows of a commune not in "
                    f"reference/hamlets.csv: {unknown}"
                )
            for code, part in by_commune.items():
                dst = dirs[code] / rel
                if len(by_commune) == 1:
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, dst)
                else:
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    dst.write_bytes((records[0] + "".join(part)).encode("utf-8"))
    return dirs

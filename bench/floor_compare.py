"""Compare the whole-release floor's Parquet with a published release, table by table, column by column.

``python -m bench.floor_compare FLOOR_DIR RELEASE_DATA_DIR`` prints one line per difference.
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb

from pipeline.constants import PUBLISHED

#: relative tolerance for floating-point columns (the floor and the pipeline sum in different orders)
FLOAT_RTOL = 1e-9
#: published columns the floor cannot reproduce by construction: none today (the release id, the run time
#: and the file hashes live in datapackage.json, not in the data files)
NOT_REPRODUCIBLE: dict[str, frozenset[str]] = {}


def _files(data_dir: Path, name: str) -> str:
    p = data_dir / f"{name}.parquet"
    if p.exists():
        return f"'{p.as_posix()}'"
    return f"'{(data_dir / name).as_posix()}/**/*.parquet'"  # partitioned tables


def compare_table(con, name: str, floor_dir: Path, release_dir: Path) -> list[str]:
    """Differences between the floor's and the release's table ``name`` (empty list = equal)."""
    key = list(PUBLISHED[name][0])
    a = f"(select * from read_parquet({_files(floor_dir, name)}, union_by_name = true))"
    b = f"(select * from read_parquet({_files(release_dir, name)}, union_by_name = true))"
    cols_a = [d[0] for d in con.execute(f"select * from {a} limit 0").description]
    cols_b = [d[0] for d in con.execute(f"select * from {b} limit 0").description]
    types = dict(con.execute(f"select column_name, column_type from (describe select * from {b})").fetchall())
    out = []
    skip = NOT_REPRODUCIBLE.get(name, frozenset())
    missing = [c for c in cols_b if c not in cols_a and c not in skip]
    if missing:
        out.append(f"{name}: columns missing from the floor: {missing}")
    na, nb = (con.execute(f"select count(*) from {x}").fetchone()[0] for x in (a, b))
    if na != nb:
        out.append(f"{name}: {na} rows in the floor, {nb} published")
    on = " and ".join(f"f.{k} is not distinct from p.{k}" for k in key)
    only = con.execute(
        f"select count(*) filter (where p.{key[0]} is null), count(*) filter (where f.{key[0]} is null) "
        f"from {a} f full join {b} p on {on}"
    ).fetchone()
    if only[0] or only[1]:
        out.append(f"{name}: {only[0]} keys only in the floor, {only[1]} only published")
    for c in cols_b:
        if c in missing or c in skip or c in key:
            continue
        t = types[c].upper()
        if t in ("DOUBLE", "FLOAT", "REAL") or t.startswith("DECIMAL"):
            diff = (
                f"not (f.{c} is null and p.{c} is null) and (f.{c} is null or p.{c} is null or "
                f"abs(f.{c} - p.{c}) > {FLOAT_RTOL} * greatest(1, abs(p.{c})))"
            )
        else:
            diff = f"f.{c}::varchar is distinct from p.{c}::varchar"
        row = con.execute(
            f"select count(*), any_value(f.{key[0]}::varchar), any_value(f.{c}::varchar), any_value(p.{c}::varchar) "
            f"from {a} f join {b} p on {on} where {diff}"
        ).fetchone()
        if row[0]:
            out.append(
                f"{name}.{c}: {row[0]} rows differ (e.g. {key[0]}={row[1]}: floor {row[2]!r}, published {row[3]!r})"
            )
    return out


def compare(floor_dir: Path, release_dir: Path, tables=None) -> dict[str, list[str]]:
    con = duckdb.connect()
    return {t: compare_table(con, t, Path(floor_dir), Path(release_dir)) for t in (tables or PUBLISHED)}


def main(argv: list[str] | None = None) -> int:
    a = argv if argv is not None else sys.argv[1:]
    res = compare(Path(a[0]), Path(a[1]))
    bad = 0
    for t, diffs in res.items():
        print(f"{t}: {'equal' if not diffs else 'DIFFERENT'}")
        for d in diffs:
            print("   ", d)
        bad += bool(diffs)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())

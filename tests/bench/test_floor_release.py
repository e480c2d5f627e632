"""The whole-release floor (bench/floor_release.py) produces every published table of the session's build,
row for row and column for column (bench/README.md, "The whole-release floor").

The floor runs on the session build's own landing zone (a copy of raw/) with the build's NTM_TODAY; it shares
the session build (`built_release`) and runs no pipeline itself: `dbt compile` (~10 s) plus the floor (~10 s).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from bench.floor_compare import FLOAT_RTOL, compare_table
from bench.floor_release import compile_models, run
from pipeline.constants import PUBLISHED


@pytest.fixture(scope="module")
def floor_out(pipeline_build, built_release, tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("floor_release")
    manifest = compile_models(base / "dbt")
    out = base / "out"
    counts = run(pipeline_build.base / "raw", out, manifest=manifest, today=pipeline_build.env["NTM_TODAY"])
    assert set(counts) == set(PUBLISHED)
    return out


@pytest.mark.parametrize("table", sorted(PUBLISHED))
def test_floor_release_equals_published(floor_out, built_release, table):
    diffs = compare_table(duckdb.connect(), table, floor_out, built_release / "data")
    assert diffs == [], "\n".join(diffs)


# ------------------------------------------------------------------ the comparison itself can fail
def _write(con, path: Path, rows: list[tuple]) -> None:
    con.execute(
        "create or replace temp table t (province_code varchar, name varchar, n integer, share double, "
        "ts timestamp)"
    )
    con.executemany("insert into t values (?, ?, ?, ?, ?)", rows)
    path.mkdir(parents=True, exist_ok=True)
    con.execute(f"copy t to '{(path / 'dim_province.parquet').as_posix()}' (format parquet)")


BASE = [
    ("01", "Hà Nội", 1, 0.5, "2026-01-01 10:00:00"),
    ("42", "Hà Tĩnh", 2, 1 / 3, "2026-06-15 23:59:59"),
]


@pytest.mark.parametrize(
    ("perturbed", "expected"),
    [
        ([BASE[0], ("42", "Ha Tinh", 2, 1 / 3, "2026-06-15 23:59:59")], "dim_province.name"),
        ([BASE[0], ("42", "Hà Tĩnh", 3, 1 / 3, "2026-06-15 23:59:59")], "dim_province.n"),
        ([BASE[0], ("42", "Hà Tĩnh", 2, 1 / 3 + 1e-6, "2026-06-15 23:59:59")], "dim_province.share"),
        ([BASE[0], ("42", "Hà Tĩnh", 2, None, "2026-06-15 23:59:59")], "dim_province.share"),
        ([BASE[0], ("42", "Hà Tĩnh", 2, 1 / 3, "2026-06-15 23:59:58")], "dim_province.ts"),
        ([BASE[0]], "1 rows in the floor, 2 published"),
        ([BASE[0], ("43", "Hà Tĩnh", 2, 1 / 3, "2026-06-15 23:59:59")], "1 keys only in the floor"),
    ],
)
def test_compare_catches_a_perturbed_floor(tmp_path, perturbed, expected):
    con = duckdb.connect()
    _write(con, tmp_path / "published", BASE)
    _write(con, tmp_path / "floor", perturbed)
    diffs = compare_table(con, "dim_province", tmp_path / "floor", tmp_path / "published")
    assert any(expected in d for d in diffs), diffs


def test_compare_accepts_float_noise_within_tolerance(tmp_path):
    con = duckdb.connect()
    _write(con, tmp_path / "published", BASE)
    noisy = [BASE[0], ("42", "Hà Tĩnh", 2, 1 / 3 * (1 + FLOAT_RTOL / 10), "2026-06-15 23:59:59")]
    _write(con, tmp_path / "floor", noisy)
    assert compare_table(con, "dim_province", tmp_path / "floor", tmp_path / "published") == []

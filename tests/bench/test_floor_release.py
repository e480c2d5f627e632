"""The whole-release floor (bench/floor_release.py) produces every published table of the session's build,
row for row and column for column (bench/README.md, "The whole-release floor").

The floor runs on the session build's own landing zone (a copy of raw/) with the build's NTM_TODAY; it shares
the session build (`built_release`) and runs no pipeline itself: `dbt compile` (~10 s) plus the floor (~10 s).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from bench.floor_compare import FLOAT_RTOL, compare_table
from bench.floor_release import compile_models, run
from bench.floor_suppression import suppress
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


# ------------------------------------------------------------------ the floor's own suppression (raw/README.md 8)
def _group(cells: list[tuple[str | None, int, int]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"commune_code": "18484", "period_code": "2026", "form_code": "F", "question_code": "Q01",
             "hamlet_code": h, "respondents": n, "satisfied": s, "satisfied_rate": 100.0 * s / n if n else None,
             "meets_90": (s / n >= 0.9) if n else None}
            for h, n, s in cells
        ]
    )  # fmt: skip


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        # raw/README.md section 8, first example: primary 3 and 4, then the 20 complementary
        (
            [("A", 3, 3), ("B", 4, 4), ("C", 20, 15), ("D", 30, 20), (None, 57, 42)],
            {"A": "primary", "B": "primary", "C": "complementary"},
        ),
        # second example: hiding the 5 would give L = 6 = T, so the 20 is complementary
        ([("A", 1, 0), ("B", 5, 3), ("C", 20, 10), (None, 26, 13)], {"A": "primary", "C": "complementary"}),
        # nothing under the threshold: nothing hidden
        ([("A", 5, 5), ("B", 6, 3), (None, 11, 8)], {}),
    ],
)
def test_floor_suppression_follows_the_documented_examples(cells, expected):
    out = suppress(_group(cells))
    got = {h: r for h, r in zip(out["hamlet_code"], out["suppression_reason"], strict=True) if pd.notna(r)}
    assert got == expected
    assert (
        out.loc[out["suppressed"], ["respondents", "satisfied", "satisfied_rate", "meets_90"]]
        .isna()
        .all()
        .all()
    )


def test_floor_suppression_hides_a_location_on_every_question_of_the_form():
    q1 = _group([("A", 3, 3), ("B", 4, 4), ("C", 20, 15), ("D", 30, 20), (None, 57, 42)])
    q2 = _group([("A", 6, 6), ("B", 7, 4), ("C", 20, 15), ("D", 30, 20), (None, 63, 45)]).assign(
        question_code="Q02"
    )
    out = suppress(pd.concat([q1, q2], ignore_index=True))
    q2_out = out[out["question_code"] == "Q02"]
    # A and B are primary on Q01 (n < 5): hidden on Q02 as well, where n >= 5 makes them complementary
    assert dict(zip(q2_out["hamlet_code"], q2_out["suppression_reason"], strict=True))["A"] == "complementary"
    assert q2_out.set_index("hamlet_code").loc[["A", "B"], "suppressed"].all()

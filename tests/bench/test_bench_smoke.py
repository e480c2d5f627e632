"""Benchmark smoke run (small): commune scale, two quarters, one repetition.

The generator must be deterministic and write files the ingest accepts (the pipeline run succeeds and
loads values); the floor script must produce the same grain as the marts; the harness must write its JSON
and Markdown results. The full benchmarks (`make bench SCALE=province|national`) are not part of the tests.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from bench.floor import render
from pipeline.synth import generate_scale

REPO = Path(__file__).resolve().parents[2]


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(root).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bench") / "raw"
    generate_scale(out, "commune", seed=11, first="2026-Q1", last="2026-Q2")
    return out


def test_generator_is_deterministic_and_has_every_reference_file(raw, tmp_path):
    again = tmp_path / "raw"
    generate_scale(again, "commune", seed=11, first="2026-Q1", last="2026-Q2")
    assert _digest(raw) == _digest(again)
    for name in ("hamlets.csv", "hamlet_population.csv", "hamlet_crosswalk.csv", "reporting_units.csv"):
        assert (raw / "reference" / name).is_file(), name


def test_floor_script_writes_both_tables(raw, tmp_path):
    con = duckdb.connect()
    con.execute(render(raw, tmp_path))
    fact = con.execute(
        f"select count(*), count(distinct (location_code, period_code, indicator_code)) "
        f"from '{tmp_path.as_posix()}/fact_indicator_value.parquet'"
    ).fetchone()
    assert fact[0] > 0 and fact[0] == fact[1]
    mart = con.execute(
        f"select count(*) from '{tmp_path.as_posix()}/mart_commune_indicator.parquet'"
    ).fetchone()
    assert mart[0] > 0


@pytest.mark.slow
def test_harness_smoke(raw, tmp_path):
    results = tmp_path / "results"
    cmd = [sys.executable, "-m", "bench", "--scale", "commune", "--reps", "1", "--raw", str(raw)]
    cmd += ["--work", str(tmp_path / "work"), "--results", str(results), "--scenarios", "floor,full"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    res = json.loads((results / "commune.json").read_text())
    assert res["scenarios"]["full"]["all_ok"] and res["scenarios"]["floor"]["all_ok"]
    assert res["scenarios"]["full"]["peak_rss_mb"] > 0
    assert res["warehouse_rows"]["marts.fact_indicator_value"] > 0
    assert res["machine"]["cores"] and res["machine"]["versions"]["duckdb"]
    assert "| full |" in (results / "commune.md").read_text()


def test_verdicts_of_a_floor_only_run():
    """`--scenarios floor` (how the national floor was measured) has no pipeline run to judge: no crash."""
    from bench.report import verdicts

    assert verdicts("national", {"scenarios": {"floor": {"median_s": 950.7, "peak_rss_mb": 4365.3}}}) == []


def test_merge_of_partial_runs_keeps_each_scenario_and_judges_them_together(tmp_path):
    """National is measured in parts (floor; full and no-op; new quarter): `--merge` makes one result."""
    from bench.__main__ import main

    def part(tag, scenarios, date):
        machine = {
            "date": date,
            "load_avg_at_start": [0.1, 0.2, 0.3],
            "cpu": "x",
            "cores": 2,
            "ram_gb": 1,
            "python": "3.11",
            "versions": {"duckdb": "2"},
        }
        sc = {
            k: {
                "median_s": v,
                "runs_s": [v],
                "peak_rss_mb": 100.0,
                "rows": 10,
                "rows_per_s": 1,
                "all_ok": True,
                "runs": [],
            }
            for k, v in scenarios.items()
        }
        data = {
            "scale": "national",
            "reps": 1,
            "machine": machine,
            "input": {"scale": "national"},
            "scenarios": sc,
        }
        (tmp_path / f"national-{tag}.json").write_text(json.dumps(data))

    part("floor", {"floor": 100.0}, "d1")
    part("run", {"full": 400.0, "noop": 5.0}, "d2")
    part("quarter", {"quarter": 80.0}, "d3")
    assert (
        main(["--scale", "national", "--results", str(tmp_path), "--merge", "floor", "run", "quarter"]) == 0
    )
    res = json.loads((tmp_path / "national.json").read_text())
    assert list(res["scenarios"]) == ["floor", "full", "noop", "quarter"]
    assert res["scenarios"]["quarter"]["measured_on"] == "d3"
    verdicts = {a: c for a, _, c in res["verdicts"]}
    assert verdicts["full ≤ 1.3 × floor"] == "MISSED" and verdicts["full ≤ 10 min"] == "met"
    assert verdicts["new quarter ≤ 15 % of full"] == "MISSED" and verdicts["nightly no-op ≤ 15 s"] == "met"
    md = (tmp_path / "national.md").read_text()
    assert "Merged from runs" in md and "| quarter | 80.0 |" in md


def test_decode_speed_benchmark_runs_and_checks_its_output():
    from bench.decode_speed import ENCODERS, SAMPLE, measure

    got = measure(mb=0.05, reps=1)  # raises SystemExit if a run does not decode exactly
    repeat = 50_000 // len(SAMPLE.encode())
    assert {n: r["bytes"] for n, r in got.items()} == {
        n: len(e(SAMPLE)) * repeat for n, e in ENCODERS.items()
    }
    assert all(r["mb_per_s"] > 0 for r in got.values())

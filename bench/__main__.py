"""Benchmark: ``python -m bench --scale commune|province|national`` (what ``make bench SCALE=...`` calls).

From the raw files of ``bench/work/<scale>/raw`` (generated with ``python -m pipeline.synth scale`` when
missing) it measures, each in a subprocess running the real command:

  full     ``python -m pipeline run`` from an empty warehouse (ingest -> dbt -> checks -> release)
  noop     the same command again with nothing changed (the nightly refresh)
  quarter  one new quarter: a warehouse built on every quarter but the last is restored, the last
           quarter's submission files are added, and the run is timed
  survey   a survey-only change: a warehouse built without the last year's survey export is restored, that
           export is added, and the run is timed
  floor_release  ``bench/floor_release.py``: every published table from the same raw files (one DuckDB
           connection), compared with the full build's release
  floor    ``bench/floor.sql`` in one DuckDB connection: same raw files -> fact_indicator_value and the
           commune roll-up as Parquet

Peak RSS is the sum of the RSS of the process and all its children, sampled every 100 ms. Wall times are
medians over ``--reps`` runs. Results: ``bench/results/<scale>.json`` and ``<scale>.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from bench.measure import measure, steps
from bench.report import input_rows, machine, markdown, merge, summary, verdicts, warehouse_rows

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
FLOOR_SQL = BENCH / "floor.sql"
DEFAULT_REPS = {"commune": 3, "province": 3, "national": 1}


class Bench:
    def __init__(self, scale: str, raw: Path, work: Path, reps: int, today: str, timeout: float | None):
        self.scale, self.raw, self.work, self.reps, self.today, self.timeout = (
            scale,
            raw,
            work,
            reps,
            today,
            timeout,
        )
        self.py = sys.executable
        self.logs = work / "logs"

    def env(self, raw: Path, home: Path) -> dict:
        env = dict(os.environ)
        env.update(
            NTM_RAW_DIR=str(raw),
            NTM_WAREHOUSE=str(home / "warehouse" / "ntm.duckdb"),
            NTM_OPEN_DATA_DIR=str(home / "open_data"),
            DAGSTER_HOME=str(home / "dagster"),
            NTM_TODAY=self.today,
            PYTHONUNBUFFERED="1",
        )
        env.setdefault("NTM_PII_SALT", "bench")
        return env

    def fresh(self, home: Path) -> None:
        shutil.rmtree(home, ignore_errors=True)
        (home / "dagster").mkdir(parents=True)
        src = ROOT / ".dagster" / "dagster.yaml"
        if src.is_file():
            shutil.copy(src, home / "dagster" / "dagster.yaml")

    def pipeline(self, raw: Path, home: Path, name: str) -> dict:
        log = self.logs / f"{name}.log"
        r = measure([self.py, "-m", "pipeline", "run"], self.env(raw, home), log, self.timeout)
        r["steps_s"] = steps(log)
        if r["rc"] != 0:
            tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
            print(f"  !! {name} exited {r['rc']}; see {r['log']}\n    " + "\n    ".join(tail), flush=True)
        return r

    def full(self) -> tuple[list[dict], Path]:
        home = self.work / "full"
        runs = []
        for i in range(self.reps):
            self.fresh(home)
            r = self.pipeline(self.raw, home, f"full_{i + 1}")
            print(f"  full #{i + 1}: {r['wall_s']} s, peak {r['peak_rss_mb']} MB, rc {r['rc']}", flush=True)
            runs.append(r)
        return runs, home

    def noop(self, home: Path) -> list[dict]:
        runs = []
        for i in range(self.reps):
            r = self.pipeline(self.raw, home, f"noop_{i + 1}")
            print(f"  noop #{i + 1}: {r['wall_s']} s, peak {r['peak_rss_mb']} MB, rc {r['rc']}", flush=True)
            runs.append(r)
        return runs

    def quarter(self) -> tuple[list[dict], str, dict]:
        last = last_quarter(self.raw)
        runs, info = self.added("quarter", lambda rel: _in_quarter(rel, last), f"without {last}")
        return runs, last, info

    def survey(self) -> tuple[list[dict], str, dict]:
        year = last_survey_year(self.raw)
        runs, info = self.added("survey", lambda rel: survey_of_year(rel, year), f"without the {year} survey")
        return runs, year, info

    def added(self, name: str, skip, label: str) -> tuple[list[dict], dict]:
        """A warehouse built on the raw files but those ``skip`` selects is restored, those files are
        hard-linked in, and the run is timed (each repetition from the same restored base)."""
        partial = self.work / f"raw_{name}_base"
        shutil.rmtree(partial, ignore_errors=True)
        new_files = link_tree(self.raw, partial, skip=skip)
        if not new_files:
            raise SystemExit(f"{name}: no file to add under {self.raw}")
        base, home = self.work / f"{name}_base", self.work / name
        # the base is built where the timed run runs, then kept aside: what a build records with its absolute
        # path stays true for the timed run, as for a warehouse that does not move (dbt's partial-parse state
        # beside the warehouse names its path: built elsewhere and copied, every timed run parsed the whole
        # project again, 3-4 s at province)
        self.fresh(home)
        b = self.pipeline(partial, home, f"{name}_base")
        print(f"  base build {label}: {b['wall_s']} s, rc {b['rc']}", flush=True)
        shutil.rmtree(base, ignore_errors=True)
        shutil.copytree(home, base, symlinks=True)
        runs = []
        for i in range(self.reps):
            shutil.rmtree(home, ignore_errors=True)
            shutil.copytree(base, home, symlinks=True)
            link_files(self.raw, partial, new_files)
            r = self.pipeline(partial, home, f"{name}_{i + 1}")
            print(f"  {name} #{i + 1}: {r['wall_s']} s, peak {r['peak_rss_mb']} MB, rc {r['rc']}", flush=True)
            runs.append(r)
            for rel in new_files:
                (partial / rel).unlink(missing_ok=True)
        return runs, {"files": len(new_files), "base_build": b}

    def floor(self) -> list[dict]:
        runs = []
        threads = os.environ.get("NTM_DUCKDB_THREADS", "2")
        mem = os.environ.get("NTM_DUCKDB_MEMORY_LIMIT", "4GB")
        for i in range(self.reps):
            out = self.work / "floor_out"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            cmd = [
                self.py,
                "-m",
                "bench.floor",
                "--raw",
                str(self.raw),
                "--out",
                str(out),
                "--threads",
                threads,
                "--memory-limit",
                mem,
            ]
            r = measure(cmd, dict(os.environ), self.logs / f"floor_{i + 1}.log", self.timeout)
            print(f"  floor #{i + 1}: {r['wall_s']} s, peak {r['peak_rss_mb']} MB, rc {r['rc']}", flush=True)
            runs.append(r)
        return runs

    def floor_release(self) -> list[dict]:
        """The whole-release floor (bench/floor_release.py): every published table. The dbt models are compiled
        once before the timed runs (``dbt compile`` is not part of the floor's work)."""
        from bench.floor_release import compile_models

        manifest = compile_models(self.work / "floor_release_dbt")
        runs = []
        for i in range(self.reps):
            out = self.work / "floor_release_out"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            cmd = [self.py, "-m", "bench.floor_release", "--raw", str(self.raw), "--out", str(out),
                   "--today", self.today, "--manifest", str(manifest),
                   "--threads", os.environ.get("NTM_DUCKDB_THREADS", "2"),
                   "--memory-limit", os.environ.get("NTM_DUCKDB_MEMORY_LIMIT", "4GB")]  # fmt: skip
            r = measure(cmd, dict(os.environ), self.logs / f"floor_release_{i + 1}.log", self.timeout)
            print(
                f"  floor_release #{i + 1}: {r['wall_s']} s, peak {r['peak_rss_mb']} MB, rc {r['rc']}",
                flush=True,
            )
            runs.append(r)
        return runs


def floor_release_equal(work: Path, home: Path) -> dict:
    """The whole-release floor's tables against the full build's release: {table: [differences]}."""
    from bench.floor_compare import compare

    data = home / "open_data" / "latest" / "data"
    out = work / "floor_release_out"
    if not data.is_dir() or not out.is_dir():
        return {}
    return compare(out, data)


def _in_quarter(rel: str, period: str) -> bool:
    return rel.startswith("submissions/") and f"_{period}" in Path(rel).name


def survey_of_year(rel: str, year: str) -> bool:
    return rel.startswith("surveys/") and re.search(rf"(?<!\d){year}(?!\d)", Path(rel).name) is not None


def last_survey_year(raw: Path) -> str:
    """The latest year named in a survey export's file name (``khao_sat_hai_long_42_2030.csv``)."""
    years = set()
    for p in (raw / "surveys").rglob("*"):
        if p.is_file():
            years.update(re.findall(r"(?<!\d)(20\d\d)(?!\d)", p.name))
    if not years:
        raise SystemExit(f"no survey export with a year in its name under {raw}/surveys")
    return max(years)


def last_quarter(raw: Path) -> str:
    periods = set()
    for p in (raw / "submissions").rglob("*.csv"):
        m = re.search(r"_(\d{4}-Q[1-4])", p.name)
        if m:
            periods.add(m.group(1))
    if not periods:
        raise SystemExit(f"no quarterly submission files under {raw}/submissions")
    return max(periods)


def link_tree(src: Path, dst: Path, skip) -> list[str]:
    """Hard-link (or copy) every file of src into dst except those ``skip`` selects; return the skipped."""
    skipped = []
    for dirpath, _dirs, files in os.walk(src):
        for name in files:
            p = Path(dirpath) / name
            rel = p.relative_to(src).as_posix()
            if skip(rel):
                skipped.append(rel)
                continue
            _link(p, dst / rel)
    return sorted(skipped)


def link_files(src: Path, dst: Path, rels: list[str]) -> None:
    for rel in rels:
        _link(src / rel, dst / rel)


def _link(a: Path, b: Path) -> None:
    b.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(a, b)  # a hard link is an ordinary file to the ingest (symlinks would be checked)
    except OSError:
        shutil.copy2(a, b)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    ap.add_argument("--scale", choices=("commune", "province", "national"), default="commune")
    ap.add_argument("--reps", type=int, default=None)
    ap.add_argument("--raw", type=Path, default=None, help="raw dir (default bench/work/<scale>/raw)")
    ap.add_argument("--work", type=Path, default=None, help="work dir (default bench/work/<scale>)")
    ap.add_argument("--results", type=Path, default=BENCH / "results")
    ap.add_argument("--scenarios", default="floor,floor_release,full,noop,quarter")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--first", default="2026-Q1")
    ap.add_argument("--last", default="2030-Q4")
    ap.add_argument(
        "--today", default="2031-12-31", help="NTM_TODAY for the runs (periods after it are future)"
    )
    ap.add_argument("--timeout", type=float, default=None, help="seconds per run")
    ap.add_argument("--tag", default="", help="suffix of the result file names")
    ap.add_argument(
        "--merge",
        nargs="+",
        metavar="TAG",
        help="measure nothing: merge bench/results/<scale>-<TAG>.json files (e.g. floor run quarter) "
        "into <scale>.json and .md, later tags winning a scenario",
    )
    a = ap.parse_args(argv)
    if a.merge:
        parts = [json.loads((a.results / f"{a.scale}-{t}.json").read_text("utf-8")) for t in a.merge]
        res = merge(a.scale, parts)
        (a.results / f"{a.scale}.json").write_text(
            json.dumps(res, indent=1, ensure_ascii=False) + "\n", "utf-8"
        )
        (a.results / f"{a.scale}.md").write_text(markdown(res), "utf-8")
        print(markdown(res))
        return 0 if all(v["all_ok"] for v in res["scenarios"].values()) else 1

    work = (a.work or BENCH / "work" / a.scale).resolve()
    raw = (a.raw or work / "raw").resolve()
    reps = a.reps or DEFAULT_REPS[a.scale]
    if not (raw / "scale_manifest.json").is_file():
        cmd = [sys.executable, "-m", "pipeline.synth", "scale", "--scale", a.scale, "--out", str(raw)]
        cmd += ["--first", a.first, "--last", a.last] + (
            ["--seed", str(a.seed)] if a.seed is not None else []
        )
        print("generating:", " ".join(cmd), flush=True)
        subprocess.run(cmd, cwd=ROOT, check=True)
    b = Bench(a.scale, raw, work, reps, a.today, a.timeout)
    shutil.rmtree(b.logs, ignore_errors=True)
    manifest = input_rows(raw)
    rows_in = sum(int(manifest.get(k, 0)) for k in ("value_rows", "survey_rows", "ocop_rows")) or None
    res: dict = {"scale": a.scale, "reps": reps, "machine": machine(), "input": manifest, "scenarios": {}}
    wanted = [s.strip() for s in a.scenarios.split(",") if s.strip()]
    print(f"bench {a.scale}: raw {raw}, reps {reps}, scenarios {wanted}", flush=True)
    home = None
    if "floor" in wanted:
        res["scenarios"]["floor"] = summary(b.floor(), rows_in)
    if "full" in wanted or "noop" in wanted:
        runs, home = b.full()
        res["scenarios"]["full"] = summary(runs, rows_in)
        res["warehouse_rows"] = warehouse_rows(home)
    if "floor_release" in wanted:
        res["scenarios"]["floor_release"] = summary(b.floor_release(), rows_in)
        if home is not None:  # every published table equal to the floor's (bench/floor_compare.py)
            diffs = floor_release_equal(work, home)
            res["floor_release_differences"] = {t: d for t, d in diffs.items() if d}
            print(
                f"  floor_release vs full build: {sum(not d for d in diffs.values())}/{len(diffs)} tables equal"
            )
    if "noop" in wanted and home is not None:
        res["scenarios"]["noop"] = summary(b.noop(home), rows_in)
    if "quarter" in wanted:
        runs, last, info = b.quarter()
        q_rows = None
        if manifest.get("periods") and manifest.get("value_rows"):
            q_rows = round(int(manifest["value_rows"]) / int(manifest["periods"]))
        res["scenarios"]["quarter"] = summary(runs, q_rows)
        res["quarter"] = {"period": last, **info}
    if "survey" in wanted:
        runs, year, info = b.survey()
        res["scenarios"]["survey"] = summary(runs, None)
        res["survey"] = {"year": year, **info}
    res["verdicts"] = verdicts(a.scale, res)
    a.results.mkdir(parents=True, exist_ok=True)
    stem = a.scale + (f"-{a.tag}" if a.tag else "")
    (a.results / f"{stem}.json").write_text(json.dumps(res, indent=1, ensure_ascii=False) + "\n", "utf-8")
    (a.results / f"{stem}.md").write_text(markdown(res), "utf-8")
    print(markdown(res))
    failed = [k for k, v in res["scenarios"].items() if not v["all_ok"]]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The benchmark's report: the machine, medians, target verdicts and the Markdown table
(``bench/results/<scale>.md``). The measuring is in ``bench.__main__``."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
from importlib import metadata
from pathlib import Path

import duckdb
import psutil

TARGETS = {
    "full_vs_floor": 1.3,  # national full build <= 1.3 x floor
    "full_vs_release_floor": 1.5,  # issue 17: full build <= 1.5 x the whole-release floor
    "full_s_national": 600.0,
    "peak_rss_gb": 6.0,
    "noop_s": 15.0,
    "quarter_share": 0.15,
    "commune_full_s": 30.0,
}


# ------------------------------------------------------------------------------------ report


def machine() -> dict:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for pkg in ("duckdb", "dbt-core", "dbt-duckdb", "dagster", "great-expectations", "pandas", "pyarrow"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {
        "hostname": platform.node(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    }


def summary(runs: list[dict], rows: int | None) -> dict:
    ok = [r for r in runs if r["rc"] == 0]
    walls = [r["wall_s"] for r in ok] or [r["wall_s"] for r in runs]
    med = statistics.median(walls) if walls else None
    return {
        "median_s": round(med, 2) if med is not None else None,
        "runs_s": [r["wall_s"] for r in runs],
        "peak_rss_mb": max((r["peak_rss_mb"] for r in runs), default=None),
        "rows": rows,
        "rows_per_s": round(rows / med) if rows and med else None,
        "all_ok": all(r["rc"] == 0 for r in runs),
        "runs": runs,
    }


def input_rows(raw: Path) -> dict:
    m = raw / "scale_manifest.json"
    data = json.loads(m.read_text()) if m.is_file() else {}
    return data


def warehouse_rows(home: Path) -> dict:
    wh = home / "warehouse" / "ntm.duckdb"
    if not wh.is_file():
        return {}
    con = duckdb.connect(str(wh), read_only=True)
    try:
        out = {}
        for t in ("raw.submission_values", "marts.fact_indicator_value", "marts.mart_commune_indicator"):
            try:
                out[t] = con.execute(f"select count(*) from {t}").fetchone()[0]
            except duckdb.Error:
                out[t] = None
        return out
    finally:
        con.close()


def verdicts(scale: str, res: dict) -> list[tuple[str, str, str]]:
    s = res["scenarios"]
    full = s.get("full", {}).get("median_s")
    out = []
    if full and s.get("floor", {}).get("median_s"):
        ratio = full / s["floor"]["median_s"]
        out.append(("full ≤ 1.3 × floor", f"{ratio:.1f} ×", _ok(ratio <= TARGETS["full_vs_floor"])))
    if full and s.get("floor_release", {}).get("median_s"):
        ratio = full / s["floor_release"]["median_s"]
        out.append(
            (
                "full ≤ 1.5 × whole-release floor",
                f"{ratio:.1f} ×",
                _ok(ratio <= TARGETS["full_vs_release_floor"]),
            )
        )
    if res.get("floor_release_differences") is not None:
        n = len(res["floor_release_differences"])
        out.append(("every published table = whole-release floor", f"{n} tables differ", _ok(n == 0)))
    if scale == "national" and full:
        out.append(("full ≤ 10 min", f"{full:.0f} s", _ok(full <= TARGETS["full_s_national"])))
    if scale == "commune" and full:
        out.append(("commune end to end ≤ 30 s", f"{full:.1f} s", _ok(full <= TARGETS["commune_full_s"])))
    peak = max(
        ((v.get("peak_rss_mb") or 0) for k, v in s.items() if k not in ("floor", "floor_release")),
        default=None,
    )
    if peak is not None:  # a floor-only run has no pipeline peak to judge
        out.append(("peak RSS ≤ 6 GB", f"{peak / 1024:.2f} GB", _ok(peak / 1024 <= TARGETS["peak_rss_gb"])))
    if s.get("noop", {}).get("median_s") is not None:
        v = s["noop"]["median_s"]
        out.append(("nightly no-op ≤ 15 s", f"{v:.1f} s", _ok(v <= TARGETS["noop_s"])))
    if full and s.get("quarter", {}).get("median_s") is not None:
        share = s["quarter"]["median_s"] / full
        out.append(
            ("new quarter ≤ 15 % of full", f"{100 * share:.0f} %", _ok(share <= TARGETS["quarter_share"]))
        )
    if full and s.get("survey", {}).get("median_s") is not None:
        # no number in the issue: a survey-only change must not rebuild the indicator branch (dbt's selection
        # is in the run's log); its share of a full build is reported beside the quarter's
        share = s["survey"]["median_s"] / full
        out.append(("survey-only change, share of full (no target)", f"{100 * share:.0f} %", "—"))
    return out


def merge(scale: str, parts: list[dict]) -> dict:
    """One result from several partial runs of the same scale (e.g. the floor, the full build and no-op,
    and the new quarter measured one after the other on an otherwise idle machine). Each scenario keeps
    the machine block of the run that measured it (``measured_on``); later parts win a scenario."""
    if not parts:
        raise ValueError("nothing to merge")
    for p in parts:
        if p.get("scale") != scale:
            raise ValueError(f"a {p.get('scale')} result cannot be merged into {scale}")
    res: dict = {
        "scale": scale,
        "reps": max(int(p.get("reps") or 1) for p in parts),
        "machine": parts[-1]["machine"],
        "input": parts[-1].get("input", {}),
        "scenarios": {},
        "merged_from": [],
    }
    for p in parts:
        res["merged_from"].append({"scenarios": list(p["scenarios"]), "machine": p["machine"]})
        for name, sc in p["scenarios"].items():
            res["scenarios"][name] = {**sc, "measured_on": p["machine"].get("date")}
        for key in ("warehouse_rows", "quarter", "survey", "floor_release_differences"):
            if key in p:
                res[key] = p[key]
    order = ["floor", "floor_release", "full", "noop", "quarter", "survey"]
    res["scenarios"] = dict(sorted(res["scenarios"].items(), key=lambda kv: order.index(kv[0])))
    res["verdicts"] = verdicts(scale, res)
    return res


STEP_ROWS = 15


def step_table(scenarios: dict) -> list[str]:
    """Markdown: the Dagster step durations of the first run of each pipeline scenario, side by side (the
    cheap profile of where each spends its time), slowest steps of any scenario first."""
    firsts = {
        name: (sc.get("runs") or [{}])[0]
        for name, sc in scenarios.items()
        if name not in ("floor", "floor_release", "noop")
    }
    cols = [(n, r.get("steps_s") or {}) for n, r in firsts.items()]
    cols = [(n, st) for n, st in cols if st]
    if not cols:
        return []
    names = sorted({k for _, st in cols for k in st}, key=lambda k: -max(st.get(k, 0) for _, st in cols))
    out = ["", "## Where each run spends its time (Dagster steps of its first run, s)", ""]
    out.append("| step | " + " | ".join(n for n, _ in cols) + " |")
    out.append("| --- |" + " ---: |" * len(cols))
    for k in names[:STEP_ROWS]:
        out.append(f"| {k} | " + " | ".join(f"{st[k]:g}" if k in st else "" for _, st in cols) + " |")
    out.append("| sum of steps | " + " | ".join(f"{sum(st.values()):.1f}" for _, st in cols) + " |")
    walls = [firsts[n].get("wall_s") for n, _ in cols]
    if all(w is not None for w in walls):
        out.append("| run wall time | " + " | ".join(f"{w:g}" for w in walls) + " |")
        # start-up (imports, pre-flight, change check), Dagster between steps, the run summary
        rest = [w - sum(st.values()) for w, (_, st) in zip(walls, cols, strict=True)]
        out.append("| outside the steps | " + " | ".join(f"{r:.1f}" for r in rest) + " |")
    return out


def _ok(b: bool) -> str:
    return "met" if b else "MISSED"


def markdown(res: dict) -> str:
    m = res["machine"]
    floor = res["scenarios"].get("floor", {}).get("median_s")
    rfloor = res["scenarios"].get("floor_release", {}).get("median_s")
    lines = [
        f"# Benchmark · scale `{res['scale']}`",
        "",
        f"{m['date']} · {m['cpu']} · {m['cores']} cores · {m['ram_gb']} GB RAM · Python {m['python']} · "
        + " · ".join(f"{k} {v}" for k, v in m["versions"].items() if v)
        + f" · load average at start {m['load_avg_at_start']}",
        "",
        f"Input: {json.dumps(res['input'], ensure_ascii=False)}",
        "",
        f"Repetitions: {res['reps']} (median wall time; peak RSS = max over runs of the process-tree sum).",
        "",
        "| scenario | median s | runs s | peak RSS MB | rows | rows/s | × floor | × release floor | ok |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, s in res["scenarios"].items():
        floors = ("floor", "floor_release")
        ratio = f"{s['median_s'] / floor:.2f}" if floor and s.get("median_s") and name not in floors else ""
        rratio = (
            f"{s['median_s'] / rfloor:.2f}" if rfloor and s.get("median_s") and name not in floors else ""
        )
        lines.append(
            f"| {name} | {s['median_s']} | {', '.join(map(str, s['runs_s']))} | {s['peak_rss_mb']} | "
            f"{s['rows'] or ''} | {s['rows_per_s'] or ''} | {ratio} | {rratio} | {'yes' if s['all_ok'] else 'NO'} |"
        )
    if res.get("merged_from"):
        lines += ["", "Merged from runs measured one after the other:", ""]
        for part in res["merged_from"]:
            pm = part["machine"]
            lines.append(
                f"- {', '.join(part['scenarios'])}: {pm['date']}, load average at start {pm['load_avg_at_start']}"
            )
    lines += ["", "## Targets", "", "| target | measured | verdict |", "| --- | ---: | --- |"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in res["verdicts"]]
    lines += step_table(res["scenarios"])
    lines += [
        "",
        "rows: raw value + survey + OCOP rows of the input (quarter: rows of the new quarter's files; "
        "survey: not counted).",
        "",
    ]
    return "\n".join(lines)

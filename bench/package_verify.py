"""Time ``exchange verify`` on a report package: ``python -m bench.package_verify PACKAGE [--reps 5]``
(the .zip, its folder or a release's ``exchange/upward``).

In one process, after one untimed call (imports, the admin registry), the median of ``--reps`` calls of:
``verify_package`` as it is (CSV by Frictionless, each Parquet against its CSV twin); the same with no twin
found, i.e. every Parquet and CSV resource through Frictionless (what ``verify_dir`` did before the twin
check); and, on the unzipped folder, its parts: Frictionless on the CSV resources, Frictionless on the
Parquet resources, the twin checks. One process, alternating, so the shared machine's load weighs on
each the same. Prints the machine line of bench/results/*.md and a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from bench.report import machine
from pipeline.exchange import verify as vf


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("package", type=Path)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    m = machine()
    versions = " · ".join(f"{k} {v}" for k, v in m["versions"].items())
    print(
        f"{m['date']} · {m['cpu']} · {m['cores']} cores · {m['ram_gb']} GB RAM · Python {m['python']} · "
        f"{versions} · load average at start {m['load_avg_at_start']}"
    )
    path = vf.find_package(args.package)
    assert vf.verify_package(path).ok, vf.verify_package(path).problems

    real_find_twins = vf.find_twins

    def without_twins() -> None:
        vf.find_twins = lambda dp: {}
        try:
            assert vf.verify_package(path).ok
        finally:
            vf.find_twins = real_find_twins

    with tempfile.TemporaryDirectory() as tmp:
        pkg = vf.safe_extract(path, Path(tmp)) if path.suffix == ".zip" else path
        dp = json.loads((pkg / "datapackage.json").read_text(encoding="utf-8"))
        by_name = {r["name"]: r for r in dp["resources"]}
        twins = vf.find_twins(dp)
        cases = {
            "verify_package (twin check)": lambda: vf.verify_package(path),
            "verify_package, every Parquet through Frictionless (before)": without_twins,
            "  Frictionless, CSV resources": lambda: vf.validate_frictionless(pkg, ("csv",)),
            "  Frictionless, Parquet resources": lambda: vf.validate_frictionless(pkg, ("parquet",)),
            "  twin checks, every Parquet resource": lambda: [
                vf.check_twin(pkg, by_name[p], by_name[c]) for p, c in twins.items()
            ],
        }
        times: dict[str, list[float]] = {k: [] for k in cases}
        for fn in cases.values():
            fn()  # untimed: imports, caches
        for _ in range(args.reps):
            for name, fn in cases.items():
                times[name].append(_timed(fn))
    print(f"\n{len(twins)} Parquet resources with a CSV twin; median of {args.reps} calls, seconds\n")
    print("| what | median s | calls s |\n| --- | ---: | --- |")
    for name, ts in times.items():
        print(f"| {name} | {statistics.median(ts):.3f} | {', '.join(f'{t:.2f}' for t in ts)} |")


if __name__ == "__main__":
    main()

"""CLI: python -m pipeline.synth sample|templates|scale|split (see pipeline/synth/__init__.py)."""

from __future__ import annotations

import argparse
import json
import time

from pipeline.synth import DEFAULT_SEED, generate_sample, generate_scale, generate_templates, split_by_commune


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pipeline.synth", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sample", help="the bundled SYNTHETIC commune sample (18484) into raw/")
    s.add_argument("--out", default="raw")
    s.add_argument("--seed", type=int, default=DEFAULT_SEED)
    t = sub.add_parser("templates", help="blank templates (CSV + XLSX)")
    t.add_argument("--out", default="raw/templates")
    c = sub.add_parser("scale", help="benchmark volumes")
    c.add_argument("--scale", choices=("commune", "province", "national"), default="commune")
    c.add_argument("--out", required=True)
    c.add_argument("--seed", type=int, default=DEFAULT_SEED)
    c.add_argument("--first", default="2026-Q1")
    c.add_argument("--last", default="2030-Q4")
    c.add_argument(
        "--communes", default=None, help="only these communes of the scale, e.g. 18481,18484,18496"
    )
    c.add_argument(
        "--hamlets",
        default=None,
        help="hamlets per commune: N, or LO-HI = LO, LO+1, ..., HI in code order (default 20..30)",
    )
    sp = sub.add_parser("split", help="one landing zone per commune (out/<commune_code>/) of a generated one")
    sp.add_argument("--src", required=True)
    sp.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    if a.cmd == "sample":
        res = generate_sample(a.out, a.seed)
        print(
            f"{res['submission_files']} submission files, {len(res['defects'])} deliberate defects, "
            f"synthetic boundaries {res['boundaries']} -> {a.out}"
        )
    elif a.cmd == "templates":
        for p in generate_templates(a.out):
            print(p)
    elif a.cmd == "split":
        for code, path in split_by_commune(a.src, a.out).items():
            print(f"{code} -> {path}")
    else:
        only = [c.strip() for c in a.communes.split(",") if c.strip()] if a.communes else None
        hamlets = None
        if a.hamlets:
            lo, _, hi = a.hamlets.partition("-")
            hamlets = (int(lo), int(hi or lo))
        res = generate_scale(a.out, a.scale, a.seed, a.first, a.last, communes=only, hamlets=hamlets)
        print(json.dumps(res, indent=1))
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

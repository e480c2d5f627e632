"""The quality gate's first (full) validation with one version of the gate's code, for before/after
comparisons of that code: ``python bench/gate_code_ab.py REPO_ROOT WAREHOUSE WORK_COPY OUTCOMES.json
[table,...]``.

``REPO_ROOT`` is the checkout whose ``pipeline`` package is imported (e.g. ``git archive <commit> pipeline
expectations pyproject.toml | tar -x -C /tmp/before``); ``WAREHOUSE`` is copied to ``WORK_COPY`` (never
written) and the copy's stored gate results (``audit.gate_results``, ``gate_period_results``,
``gate_fingerprints``) are dropped, so nothing is reused: every suite runs as in a full build, through
``pipeline.quality.gate.run_gate`` with ``run_suite(..., build_docs=False)`` as the ``quality_gate`` asset
check calls it, then the Data Docs are built once. GX is imported and its context made before the timing
(the dbt step pre-warms it in a run). Prints one JSON line: import, suites and docs seconds, the suites'
CPU seconds (user + system, steadier than wall time on a loaded machine), peak RSS (MB), load average and
seconds per table; writes every table's outcomes (passed, each expectation's success, counts, unexpected
values, sample rows, each SQL check's result) to ``OUTCOMES.json`` so two versions can be compared with
``cmp``. Run it under ``/usr/bin/time -v`` for the process's peak RSS as the OS sees it.
"""

import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path

repo, pristine, work, out = sys.argv[1:5]
only = sys.argv[5].split(",") if len(sys.argv) > 5 and sys.argv[5] else None
sys.path.insert(0, repo)
os.chdir(repo)
shutil.copyfile(pristine, work)

import duckdb  # noqa: E402

t0 = time.perf_counter()
from pipeline.lib.gx_context import get_context  # noqa: E402
from pipeline.quality.gate import run_gate  # noqa: E402
from pipeline.quality.gx_runner import build_data_docs, run_suite  # noqa: E402
from pipeline.quality.sql_base import json_safe  # noqa: E402
from pipeline.quality.suites import list_suites, load_suite_dict  # noqa: E402

get_context()
t_import = time.perf_counter() - t0
con = duckdb.connect(work)
for t in ("audit.gate_results", "audit.gate_period_results", "audit.gate_fingerprints"):
    con.execute(f"drop table if exists {t}")
suites = {t: load_suite_dict(p) for t, p in list_suites().items() if not only or t in only}
docs = Path(work).parent / ("docs_" + Path(work).stem)
shutil.rmtree(docs, ignore_errors=True)


def validate(rel, suite):
    return run_suite(con, rel, suite, docs_dir=docs, run_id="bench", build_docs=False)


times, outcomes = {}, {}
ru0 = resource.getrusage(resource.RUSAGE_SELF)
started = last = time.perf_counter()
for o in run_gate(con, suites, "bench", validate=validate):
    now = time.perf_counter()
    times[o.table] = round(now - last, 2)
    last = now
    keys = ("type", "column", "success", "unexpected_count", "element_count", "partial_unexpected_list")
    outcomes[o.table] = {
        "passed": o.passed,
        "success": o.result.success,
        "expectations": [
            {
                **{k: getattr(e, k) for k in keys},
                "sample_rows": e.sample_rows,
                "observed_value": e.observed_value,
            }
            for e in o.result.expectations
        ],
        "sql": [
            {"name": s.name, "passed": s.passed, "failed_count": s.failed_count, "sample_rows": s.sample_rows}
            for s in o.sql_outcomes
        ],
    }
t_suites = time.perf_counter() - started
ru1 = resource.getrusage(resource.RUSAGE_SELF)
t1 = time.perf_counter()
build_data_docs(docs)
t_docs = time.perf_counter() - t1
Path(out).write_text(json.dumps(json_safe(outcomes), indent=1, sort_keys=True, default=str))
print(
    json.dumps(
        {
            "import_s": round(t_import, 2),
            "suites_s": round(t_suites, 2),
            "suites_cpu_s": round(ru1.ru_utime - ru0.ru_utime + ru1.ru_stime - ru0.ru_stime, 2),
            "docs_s": round(t_docs, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "load": os.getloadavg(),
            "tables": times,
        }
    )
)

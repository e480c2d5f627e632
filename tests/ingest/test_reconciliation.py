"""Reconciliation on the bundled sample (``raw/`` of the repository): every file of audit.ingest_files
satisfies rows_read = rows_loaded + rows_quarantined, the quarantined row count matches audit.quarantine,
and a second run is a no-op."""

from __future__ import annotations

import shutil
import time
from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipeline.ingest import load_reference
from pipeline.ingest.sources.ocop.validate import ingest_ocop
from pipeline.ingest.sources.submissions.validate import ingest_submissions
from pipeline.ingest.sources.surveys.validate import ingest_surveys

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "raw"
TODAY = date(2026, 11, 20)

pytestmark = pytest.mark.skipif(
    not any((SAMPLE / s).is_dir() for s in ("submissions", "surveys", "ocop"))
    or not (SAMPLE / "reference" / "hamlets.csv").is_file(),
    reason="bundled sample not present",
)

COUNTS = """select
    (select count(*) from audit.ingest_files),
    (select count(*) from audit.quarantine),
    (select count(*) from raw.submission_values),
    (select count(*) from raw.submission_tasks),
    (select count(*) from raw.submissions),
    (select count(*) from raw.survey_answers),
    (select count(*) from raw.ocop_products)"""


def _ingest_all(con, raw):
    ref = load_reference(con, raw)
    return [
        fn(con, raw, ref, today=TODAY, salt="reconciliation-salt")
        for fn in (ingest_submissions, ingest_surveys, ingest_ocop)
    ]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    base = tmp_path_factory.mktemp("sample")
    raw = base / "raw"
    shutil.copytree(SAMPLE, raw, symlinks=True)
    shutil.copytree(REPO / "dbt_project" / "seeds", base / "dbt_project" / "seeds")
    con = duckdb.connect(str(base / "ntm.duckdb"))
    t0 = time.perf_counter()
    reports = _ingest_all(con, raw)
    seconds = time.perf_counter() - t0
    print(
        f"\nbundled sample ingested in {seconds:.2f}s: "
        + "; ".join(
            f"{r.source} files={r.files_new} read={r.rows_read} loaded={r.rows_loaded} quarantined={r.rows_quarantined}"
            for r in reports
        )
    )
    yield con, raw, reports
    con.close()


def test_every_file_reconciles(warehouse):
    con, _, reports = warehouse
    assert sum(r.files_seen for r in reports) > 0
    bad = con.execute(
        """select path, rows_read, rows_loaded, rows_quarantined from audit.ingest_files
           where rows_read <> rows_loaded + rows_quarantined"""
    ).fetchall()
    assert bad == []
    mismatch = con.execute(
        """select f.path, f.rows_quarantined, coalesce(q.n, 0)
           from audit.ingest_files f
           left join (select file_sha256, count(distinct row_number) as n from audit.quarantine
                      group by file_sha256) q using (file_sha256)
           where f.rows_quarantined <> coalesce(q.n, 0)"""
    ).fetchall()
    assert mismatch == []


def test_loaded_rows_match_raw_tables(warehouse):
    con, _, _ = warehouse
    got = con.execute(
        """select f.source, sum(f.rows_loaded) from audit.ingest_files f group by f.source order by 1"""
    ).fetchall()
    loaded = dict(got)
    if "submissions" in loaded:
        n = con.execute(
            "select (select count(*) from raw.submission_values) + (select count(*) from raw.submission_tasks)"
        ).fetchall()[0][0]
        assert n == loaded["submissions"]
    if "ocop" in loaded:
        assert con.execute("select count(*) from raw.ocop_products").fetchall()[0][0] == loaded["ocop"]


def test_rerun_is_noop(warehouse):
    con, raw, _ = warehouse
    before = con.execute(COUNTS).fetchall()
    reports = _ingest_all(con, raw)
    assert all(r.files_new == 0 for r in reports)
    assert con.execute(COUNTS).fetchall() == before

"""The per-run quality report (pipeline.quality.report), its pruning to keep_runs, and the rewriting of GX
Data Docs to vendored assets (pipeline.quality.gx_offline). No pipeline build: pure functions on tmp dirs."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from pipeline.quality.gx_offline import VENDOR, make_offline, remote_urls
from pipeline.quality.gx_results import ExpectationOutcome, SuiteResult
from pipeline.quality.report import prune_reports, render_report, suite_section, write_report
from pipeline.quality.sql_base import CheckOutcome


def _runs(root: Path, n: int) -> list[Path]:
    """n run folders with a report, oldest first (mtimes one hour apart)."""
    runs = []
    for i in range(n):
        d = root / f"run-{i:02d}"
        (d / "gx").mkdir(parents=True)
        (d / "index.html").write_text("<html></html>")
        (d / "gx" / "index.html").write_text("<html></html>")
        os.utime(d, (1_700_000_000 + 3600 * i, 1_700_000_000 + 3600 * i))
        runs.append(d)
    return runs


def test_prune_keeps_the_ten_newest_of_twelve(tmp_path):
    runs = _runs(tmp_path, 12)
    deleted = prune_reports(tmp_path, 10, current="run-11")
    assert deleted == runs[:2]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"run-{i:02d}" for i in range(2, 12)]


def test_prune_never_deletes_the_current_run_even_when_oldest(tmp_path):
    runs = _runs(tmp_path, 12)
    deleted = prune_reports(tmp_path, 10, current="run-00")
    assert runs[0].exists() and (runs[0] / "gx" / "index.html").exists()
    # the current run counts as one of the ten: the 9 newest others stay
    assert deleted == runs[1:3]
    assert len([p for p in tmp_path.iterdir()]) == 10


def test_prune_leaves_what_is_not_a_run_report_alone(tmp_path):
    root = tmp_path / "data_docs"
    runs = _runs(root, 3)
    (root / "notes").mkdir()  # no index.html: not a report
    (root / "README.txt").write_text("keep me")
    outside = tmp_path / "outside"
    (outside / "index.html").parent.mkdir()
    (outside / "index.html").write_text("<html></html>")
    os.utime(outside, (1_000, 1_000))
    (root / "linked").symlink_to(outside, target_is_directory=True)
    deleted = prune_reports(root, 1, current="run-02")
    assert deleted == runs[:2]
    assert (root / "notes").is_dir() and (root / "README.txt").exists()
    assert (outside / "index.html").exists() and (root / "linked").is_symlink()
    assert prune_reports(tmp_path / "missing", 1) == []
    with pytest.raises(ValueError):
        prune_reports(root, 0)


def _suite_result() -> SuiteResult:
    ok = ExpectationOutcome(
        type="expect_column_values_to_not_be_null",
        column="commune_code",
        kwargs={},
        severity="error",
        success=True,
    )
    bad = ExpectationOutcome(
        type="expect_column_pair_values_a_to_be_greater_than_b",
        column="numerator",
        kwargs={},
        severity="warn",
        success=False,
        unexpected_count=107,
        sample_rows=[{"numerator": 12, "denominator": 10}],
        description_vi="Tử số không vượt mẫu số",
        description_en="Numerator not above denominator",
    )
    return SuiteResult(
        table="marts.mart_commune_indicator",
        suite_name="mart_commune_indicator",
        success=True,
        error_failures=[],
        warn_failures=[bad],
        expectations=[ok, bad],
        statistics={},
        batches=["all"],
        row_count=4210,
    )


def test_report_lists_every_check_with_its_outcome_and_fetches_nothing(tmp_path):
    sql = [
        CheckOutcome(
            name="grain_unique",
            passed=False,
            severity="error",
            message_vi="Trùng khoá",
            message_en="Duplicate keys",
            failed_count=3,
            sample_rows=[{"commune_code": "18484", "n": 2}],
        )
    ]
    section = suite_section("mart_commune_indicator", _suite_result(), sql)
    assert [c.outcome for c in section.checks] == ["passed", "warning", "failed"]
    assert section.outcome == "failed"
    other = [
        {
            "table": "dim_hamlet",
            "check": "row_count_vs_previous_release",
            "severity": "warn",
            "passed": False,
            "details": "9 rows",
        }
    ]
    path = write_report(tmp_path / "run-1", "run-1", [section], other, gx_index="gx/index.html")
    html = path.read_text(encoding="utf-8")
    assert path == tmp_path / "run-1" / "index.html"
    for text in (
        "mart_commune_indicator",
        "expect_column_pair_values_a_to_be_greater_than_b",
        "numerator",
        "107",
        "grain_unique",
        "Duplicate keys",
        "&#34;commune_code&#34;: &#34;18484&#34;",  # the sample, escaped
        "row_count_vs_previous_release",
        'href="gx/index.html"',
    ):
        assert text in html, text
    # 4 checks: 1 passed, 1 blocking failure, 2 warnings (the warn expectation and the row-count drop)
    assert 'id="n-checks">4<' in html and 'id="n-passed">1<' in html
    assert 'id="n-failed">1<' in html and 'id="n-warnings">2<' in html
    assert remote_urls(html) == []
    assert "<script" not in html and "<link" not in html


def test_remote_urls_finds_what_a_page_would_fetch_and_ignores_plain_links():
    html = """<link rel="stylesheet" href="https://cdn.example/x.css"><script src='//cdn.example/y.js'></script>
    <img alt="l" src="http://img.example/z.png"><style>b { background: url("https://s3.example/a.png") }</style>
    <a href="https://docs.example/page">docs</a><script src="static/vendor/jquery.min.js"></script>"""
    assert remote_urls(html) == [
        "https://cdn.example/x.css",
        "//cdn.example/y.js",
        "http://img.example/z.png",
        "https://s3.example/a.png",
    ]


GX_HEAD = """<html><head>
<link rel="stylesheet" href="https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css">
<link rel="stylesheet" href="https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css"/>
<link rel="stylesheet" type="text/css" href="https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css">
<link rel="stylesheet" type="text/css" href="https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css">
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css" />
<style>.logo { background: url('https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/full_logo_dark.png') }</style>
<script src="https://cdn.jsdelivr.net/npm/vega@5"></script>
<script src="https://cdn.jsdelivr.net/npm/vega-lite@5"></script>
<script src="https://cdn.jsdelivr.net/npm/vega-embed@6"></script>
<link rel="stylesheet" href="https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css">
<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>
<script src="https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js" integrity="sha384-x" crossorigin="anonymous"></script>
<script src="https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js" integrity="sha384-y" crossorigin="anonymous"></script>
<script src="https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js"></script>
<script src="https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js"></script>
<script src="https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js"></script>
</head><body><img src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png?d=20261130T143344.031680Z">
<a href="https://greatexpectations.io">GX</a></body></html>"""


def test_gx_pages_are_rewritten_to_the_vendored_copies(tmp_path):
    site = tmp_path / "gx"
    page = site / "validations" / "t" / "run" / "20261130T000000Z" / "page.html"
    page.parent.mkdir(parents=True)
    page.write_text(GX_HEAD, encoding="utf-8")
    (site / "index.html").write_text(
        GX_HEAD.replace("<body>", "<body><script src='https://new.cdn/x.js'></script>")
    )
    (site / "static" / "styles").mkdir(parents=True)
    (site / "static" / "styles" / "s.css").write_text(
        ".x{background:url('https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/full_logo_dark.png')}"
    )
    images = site / "static" / "images"
    images.mkdir()
    (images / "logo-long.png").write_bytes(b"png")
    (images / "glossary_scroller.gif").write_bytes(b"gif" * 1000)  # GX copies it, no page shows it
    left = make_offline(site)
    assert (images / "logo-long.png").exists() and not (images / "glossary_scroller.gif").exists()
    # an unknown CDN is reported, not silently kept
    assert left == ["index.html: https://new.cdn/x.js"]
    text = page.read_text(encoding="utf-8")
    assert remote_urls(text) == []
    assert "integrity=" not in text and "crossorigin" not in text and "bootstrap-prefers-dark" not in text
    assert 'href="https://greatexpectations.io"' in text  # a link to click stays
    assert '<script src="../../../../static/vendor/jquery.min.js">' in text
    assert "url('../../../../static/images/logo-long.png')" in text
    assert "url('../images/logo-long.png')" in (site / "static" / "styles" / "s.css").read_text()
    # every local file a rewritten page names exists in the site's static/vendor/
    for rel in re.findall(r'(?:src|href)="(\.\./[^"]+)"', text):
        if "/vendor/" in rel:
            assert (page.parent / rel).resolve().is_file(), rel
    assert (site / "static" / "vendor" / "fontawesome" / "webfonts" / "fa-solid-900.woff2").is_file()
    assert (site / "static" / "vendor" / "vega.min.js").is_file()
    assert (VENDOR / "README.md").is_file()
    # idempotent: a second pass changes nothing
    before = text
    assert make_offline(site) == ["index.html: https://new.cdn/x.js"]
    assert page.read_text(encoding="utf-8") == before


def test_report_sample_is_capped():
    long = ExpectationOutcome(
        type="expect_x",
        column="c",
        kwargs={},
        severity="warn",
        success=False,
        partial_unexpected_list=["x" * 500],
    )
    result = _suite_result()
    result.expectations = [long]
    row = suite_section("t", result, []).checks[0]
    assert len(row.sample) == 300 and row.sample.endswith("…")
    assert render_report("r", []).count("<section") == 0

"""The quality report of a real run (the session's pipeline build) opens with no network: its own page and
the GX Data Docs beside it load nothing but local files, their styles apply, and the page lists every suite
with its outcome. The report read is the copy taken right after the build (tests/shared_build.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from pipeline.quality.gx_offline import remote_urls
from pipeline.quality.suites import list_suites
from tests.site.chromium import Guard, new_context

OUTCOMES = {"đạt / passed", "cảnh báo / warning", "lỗi / failed"}


@pytest.fixture(scope="module")
def report(pipeline_build) -> Path:
    assert pipeline_build.quality_report is not None, "the session's build wrote no data_docs/<run_id>/"
    assert (pipeline_build.quality_report / "index.html").is_file()
    return pipeline_build.quality_report


@pytest.fixture
def offline(browser) -> Iterator[tuple[Page, Guard]]:
    """A fresh context where every request that is not file:// is blocked, recorded, and fails the test."""
    guard = Guard(allowed=("file://",))
    context = new_context(browser, guard)
    try:
        yield context.new_page(), guard
    finally:
        context.close()
    assert not guard.problems(), "\n".join(guard.problems())


def test_gate_metadata_points_at_the_offline_report(pipeline_build):
    run_id = pipeline_build.result.run_id
    expected = Path(pipeline_build.env["NTM_WAREHOUSE"]).parent / "data_docs" / run_id / "index.html"
    paths = {
        ev.metadata["data_docs"].value
        for ev in pipeline_build.result.get_asset_check_evaluations()
        if "data_docs" in ev.metadata
    }
    assert paths == {str(expected)}


def test_no_written_page_names_a_remote_asset(report):
    """src/href of <link>/<script>/<img> and CSS url() in every HTML and CSS file of the report."""
    files = [*report.rglob("*.html"), *report.rglob("*.css")]
    assert len([f for f in files if f.suffix == ".html"]) > len(list_suites())  # own page + GX index + pages
    found = {str(f.relative_to(report)): remote_urls(f.read_text(encoding="utf-8")) for f in files}
    assert {k: v for k, v in found.items() if v} == {}


def test_report_page_lists_every_suite_with_its_outcome_offline(report, offline):
    page, guard = offline
    page.goto((report / "index.html").as_uri(), wait_until="load")
    rows = page.locator("#suites tbody tr")
    listed = {rows.nth(i).get_attribute("data-suite"): rows.nth(i) for i in range(rows.count())}
    assert set(listed) == set(list_suites())
    for suite, row in listed.items():
        assert row.locator(".badge").inner_text() in OUTCOMES, suite
        section = page.locator(f'section.suite[data-suite="{suite}"]')
        assert section.locator("tbody tr").count() >= 1, suite
    # the inline stylesheet applies (header colour, badge background)
    assert page.evaluate("getComputedStyle(document.querySelector('header.top')).backgroundColor") == (
        "rgb(11, 61, 92)"
    )
    assert page.evaluate("getComputedStyle(document.querySelector('.badge.passed')).backgroundColor") == (
        "rgb(217, 235, 247)"
    )
    assert int(page.locator("#n-checks").inner_text()) >= rows.count()
    assert not guard.problems(), "\n".join(guard.problems())


def test_gx_data_docs_render_from_vendored_assets_offline(report, offline):
    page, guard = offline
    gx = report / "gx"
    pages = [gx / "index.html", *sorted((gx / "validations").rglob("*.html"))]
    assert len(pages) > len(list_suites()) // 2
    for p in pages:
        page.goto(p.as_uri(), wait_until="load")
        page.wait_for_function("() => document.fonts.status === 'loaded'")
        # Bootstrap's body colour (#212529), jQuery with bootstrap-table, Vega-Embed: all from static/vendor
        assert page.evaluate("getComputedStyle(document.body).color") == "rgb(33, 37, 41)", p
        assert page.evaluate(
            "typeof jQuery === 'function' && typeof jQuery.fn.bootstrapTable === 'function'"
            " && typeof vegaEmbed === 'function'"
        ), p
        assert not guard.problems(), f"{p}:\n" + "\n".join(guard.problems())
    # Font Awesome's icons draw with its webfont (vendored woff2)
    page.goto(pages[-1].as_uri(), wait_until="load")
    icon = page.locator(".fas, .fa").first
    assert "Font Awesome" in icon.evaluate("e => getComputedStyle(e).fontFamily")
    assert page.evaluate("document.fonts.check('900 16px \"Font Awesome 6 Free\"')")

"""Browser-test fixtures: one Chromium per session, one fresh context (own localStorage) per test, every
request that is not file:// or our 127.0.0.1 server blocked, and any blocked request, console error, page
error, failed load or HTTP error fails the test.

The site tested is the one of the session's pipeline build (tests/conftest.py ``pipeline_build``), copied
right after that build. NTM_TEST_RELEASE=<release dir> tests an existing release instead (e.g.
open_data/latest) without building; NTM_SKIP_BROWSER=1 skips these tests; otherwise a missing Chromium is
a failure that says to run `make browser`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.site.chromium import (
    Guard,
    Site,
    chromium_path,
    launch,
    missing_chromium_message,
    new_context,
    serve,
)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if os.environ.get("NTM_SKIP_BROWSER") == "1":
        pytest.skip("NTM_SKIP_BROWSER=1: browser tests skipped / bỏ qua kiểm thử trình duyệt")
    if not chromium_path().exists():
        pytest.fail(missing_chromium_message(chromium_path()), pytrace=False)
    with sync_playwright() as pw:
        chromium = launch(pw)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def release(request) -> Path:
    """The release directory under test (holds datapackage.json, data/, downloads under site/, site/)."""
    given = os.environ.get("NTM_TEST_RELEASE")
    if given:
        root = Path(given).resolve()
    else:
        build = request.getfixturevalue("pipeline_build")
        assert build.result.success, "the session's pipeline build failed; see tests/e2e for the details"
        assert build.release is not None, "the session's pipeline build published no release"
        root = build.release
    assert (root / "site" / "index.html").is_file(), (
        f"{root} has no site/index.html: the release was published without its site"
    )
    return root


@pytest.fixture(scope="session")
def http_base(release) -> Iterator[str]:
    """http://127.0.0.1:<port>/ serving the release directory, so the site's ../data links resolve."""
    with serve(release) as base:
        yield base


def _site(browser: Browser, release: Path, http_base: str, width: int, height: int) -> Iterator[Site]:
    guard = Guard(allowed=("file://", http_base))
    context = new_context(browser, guard, width=width, height=height)
    try:
        yield Site(context.new_page(), guard, release, http_base)
    finally:
        context.close()
    assert not guard.problems(), "\n".join(guard.problems())


@pytest.fixture
def site(browser, release, http_base) -> Iterator[Site]:
    """A desktop-sized (1366x768) fresh context; the test fails on any blocked request or browser error."""
    yield from _site(browser, release, http_base, 1366, 768)


@pytest.fixture
def phone(browser, release, http_base) -> Iterator[Site]:
    """A phone-sized (390x844) fresh context."""
    yield from _site(browser, release, http_base, 390, 844)

"""The browser tests' own guards can fail: a page that reaches for the network, logs an error, throws or
loads a missing file is reported, and a link leaving the release is caught (no pipeline build needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.site.chromium import Guard, new_context, serve
from tests.site.links import broken_link

PAGE = """<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="missing.css"></head><body><h1>x</h1>
<img src="https://tiles.example.org/0/0/0.png">
<script>
  console.error("boom");
  fetch("https://cdn.example.com/lib.js").catch(() => {});
  fetch("%(other)s").catch(() => {});
  new WebSocket("ws://127.0.0.1:9/socket");
  setTimeout(() => { throw new Error("uncaught"); }, 0);
</script></body></html>"""


@pytest.mark.parametrize("via", ["file", "http"])
def test_guard_blocks_and_reports_everything_outside_the_site(browser, tmp_path, via):
    with serve(tmp_path) as base, serve(tmp_path) as other:
        (tmp_path / "page.html").write_text(PAGE % {"other": other + "x.json"}, encoding="utf-8")
        (tmp_path / "x.json").write_text("{}")
        guard = Guard(allowed=("file://", base))
        context = new_context(browser, guard)
        page = context.new_page()
        page.goto((tmp_path / "page.html").as_uri() if via == "file" else base + "page.html")
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(200)
        context.close()
    # another port on 127.0.0.1 is the network too: only our own server is allowed
    assert {"https://tiles.example.org/0/0/0.png", "https://cdn.example.com/lib.js", other + "x.json"} <= set(
        guard.blocked
    )
    assert "ws://127.0.0.1:9/socket" in guard.blocked
    text = "\n".join(guard.errors)
    assert "boom" in text and "uncaught" in text and "missing.css" in text
    assert len(guard.problems()) >= 6


def test_broken_link_names_links_that_leave_or_miss_the_release(tmp_path):
    release = tmp_path / "r"
    (release / "site" / "indicators").mkdir(parents=True)
    (release / "data").mkdir()
    (release / "data" / "t.parquet").write_bytes(b"PAR1")
    (tmp_path / "outside.csv").write_text("x")
    page = release / "site" / "indicators" / "A.html"
    assert broken_link(release, page, "../../data/t.parquet") is None
    assert broken_link(release, page, "#chart") is None
    assert "outside the release" in broken_link(release, page, "../../../outside.csv")
    assert "no such file" in broken_link(release, page, "../../data/u.parquet")
    assert "no such file" in broken_link(release, page, "../../data/")
    assert "absolute URL" in broken_link(release, page, "https://example.com/t.csv")
    assert "absolute URL" in broken_link(release, page, "//example.com/t.csv")
    assert "absolute URL" in broken_link(release, page, "mailto:a@b.c")
    assert broken_link(release, page, Path("../../data/t.parquet?v=1").as_posix()) is None

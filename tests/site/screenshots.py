"""Screenshots of a release's site for the README: the overview, the map and one indicator page, at
1366x768 (meeting-room screen) and 390x844 (phone), as docs/screenshots/<page>-<width>x<height>.png.

    make screenshots            # open_data/latest/site -> docs/screenshots/
    python -m tests.site.screenshots --release open_data/latest --out docs/screenshots [--indicator CODE]

Taken in Debian's Chromium with the network blocked, like the browser tests; a page that tries to reach the
network or logs an error is not photographed (the script fails instead).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.site.chromium import Guard, launch, new_context, settle

SIZES = [(1366, 768), (390, 844)]
# The indicator page shown: a plan indicator reported by every hamlet, so its chart has commune and hamlets.
DEFAULT_INDICATOR = "CDS.25"


def shots(site: Path, indicator: str) -> list[tuple[str, Path, str | None]]:
    """(name, page, selector scrolled to the top of the picture or None for the page's top)."""
    page = site / "indicators" / f"{indicator}.html"
    if not page.is_file():
        raise SystemExit(f"Không có trang chỉ tiêu / no indicator page: {page}")
    return [
        ("overview", site / "index.html", None),
        ("map", site / "map.html", None),
        (f"indicator-{indicator}", page, ".chart"),  # its chart and the table beneath, below the definition
    ]


def take(release: Path, out: Path, indicator: str) -> list[Path]:
    site = release.resolve() / "site"
    if not (site / "index.html").is_file():
        raise SystemExit(
            f"Không có trang web trong bản phát hành / no site in the release: {site}/index.html "
            "(chạy / run `make run`)"
        )
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            for width, height in SIZES:
                guard = Guard(allowed=("file://",))
                context = new_context(browser, guard, width=width, height=height)
                page = context.new_page()
                for name, path, scroll_to in shots(site, indicator):
                    page.goto(path.as_uri(), wait_until="load")
                    settle(page)
                    if scroll_to:  # the chart with its heading above it
                        page.eval_on_selector(
                            scroll_to, "e => window.scrollTo(0, e.getBoundingClientRect().top + scrollY - 64)"
                        )
                    if guard.problems():
                        raise SystemExit(f"{path}:\n" + "\n".join(guard.problems()))
                    target = out / f"{name}-{width}x{height}.png"
                    page.screenshot(path=target, animations="disabled", caret="hide")
                    written.append(target)
                context.close()
        finally:
            browser.close()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--release", type=Path, default=Path("open_data/latest"))
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--indicator", default=DEFAULT_INDICATOR)
    args = parser.parse_args(argv)
    for path in take(args.release, args.out, args.indicator):
        print(f"{path}  {path.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

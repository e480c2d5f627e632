"""Debian's Chromium driven by Playwright with every network request outside the site blocked and recorded.

Shared by the browser tests (tests/site/conftest.py) and the screenshot script (tests/site/screenshots.py).
Playwright's own browser download does not work offline, so we launch the Debian package (`make browser`).
"""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from urllib.parse import quote

from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Route, WebSocketRoute

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Requests that never leave the browser process: inline data, object URLs, blank frames.
_LOCAL_SCHEMES = ("data:", "blob:", "about:")


def chromium_path() -> Path:
    return Path(os.environ.get("NTM_CHROMIUM", "/usr/bin/chromium"))


def missing_chromium_message(path: Path) -> str:
    return (
        f"Không tìm thấy Chromium tại {path}: chạy `make browser` (cài gói chromium của Debian) hoặc đặt "
        "NTM_CHROMIUM; NTM_SKIP_BROWSER=1 bỏ qua các kiểm thử trình duyệt. / "
        f"Chromium not found at {path}: run `make browser` (installs Debian's chromium) or set NTM_CHROMIUM; "
        "NTM_SKIP_BROWSER=1 skips the browser tests."
    )


def launch(playwright: Playwright) -> Browser:
    path = chromium_path()
    if not path.exists():
        raise FileNotFoundError(missing_chromium_message(path))
    return playwright.chromium.launch(executable_path=str(path), args=CHROMIUM_ARGS, headless=True)


@dataclass
class Guard:
    """Blocks and records every request of a browser context that is not file:// or one of the allowed
    http origins, and records console errors, uncaught page errors, failed loads and HTTP errors."""

    allowed: tuple[str, ...]  # URL prefixes: "file://", "http://127.0.0.1:PORT/"
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def allows(self, url: str) -> bool:
        return url.startswith(self.allowed + _LOCAL_SCHEMES)

    def install(self, context: BrowserContext) -> None:
        context.route("**/*", self._route)
        context.route_web_socket(lambda url: True, self._web_socket)
        context.on("page", self.watch)

    def watch(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        page.on("request", self._request)
        page.on("requestfailed", self._request_failed)
        page.on("response", self._response)

    def _route(self, route: Route) -> None:
        url = route.request.url
        if self.allows(url):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort("blockedbyclient")

    def _web_socket(self, ws: WebSocketRoute) -> None:
        self.blocked.append(ws.url)  # never connected to a server: the site must not open web sockets
        ws.close()

    def _request(self, request) -> None:
        # belt and braces: anything that reached the network layer without passing our route
        if not self.allows(request.url) and request.url not in self.blocked:
            self.blocked.append(request.url)

    def _request_failed(self, request) -> None:
        if self.allows(request.url):
            self.errors.append(f"failed to load {request.url}: {request.failure}")

    def _response(self, response) -> None:
        if response.status >= 400:
            self.errors.append(f"HTTP {response.status} for {response.url}")

    def _console(self, msg) -> None:
        if msg.type == "error":
            loc = msg.location or {}
            self.errors.append(
                f"console error: {msg.text} ({loc.get('url', '')}:{loc.get('lineNumber', '')})"
            )

    def problems(self) -> list[str]:
        return [
            f"blocked request (the site tried to reach the network): {u}" for u in self.blocked
        ] + self.errors

    def clear(self) -> None:
        self.blocked.clear()
        self.errors.clear()


def settle(page: Page) -> None:
    """Wait until the page's scripts have drawn: the page loaded (its scripts and data are <script src>, no
    fetch), every chart the page has data for (``.chart[data-chart]`` with an entry in ``window.NTM_CHARTS``)
    and every Vega view rendered, and the map (when the page has one) marked with the number of shapes it
    drew. (Not "networkidle": it waits 500 ms of quiet per page, a third of the suite's time; a request made
    later is still blocked and recorded until the context closes.)"""
    page.wait_for_load_state("load")
    page.wait_for_function(
        """() => {
            const drawn = e => e.querySelector('svg, canvas') !== null;
            const map = document.querySelector('#map');
            if (map && !(map.hasAttribute('data-shapes') && drawn(map))) return false;
            const specs = window.NTM_CHARTS || {};
            const charts = [...document.querySelectorAll('.chart[data-chart]')].filter(e => specs[e.dataset.chart]);
            return charts.every(drawn) && [...document.querySelectorAll('.vega-embed')].every(drawn);
        }""",
        timeout=15_000,
    )


def new_context(browser: Browser, guard: Guard, *, width: int = 1366, height: int = 768) -> BrowserContext:
    """A fresh context (own localStorage) with the guard installed. Browser locale English and the
    commune's timezone: the site must default to Vietnamese by itself, not from the browser's language."""
    context = browser.new_context(
        viewport={"width": width, "height": height},
        locale="en-US",
        timezone_id="Asia/Ho_Chi_Minh",
        service_workers="block",
        reduced_motion="reduce",
    )
    guard.install(context)
    return context


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args) -> None:  # noqa: A002 (the base class's name)
        pass


@contextmanager
def serve(root: Path) -> Iterator[str]:
    """A static HTTP server for root on 127.0.0.1 (free port) in a thread; yields its base URL (with /)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


VIAS = ("file", "http")  # how a test opens a site page: file:// or our 127.0.0.1 server


@dataclass
class Site:
    """A page of one fresh browser context, opening site pages of the release by file:// or http."""

    page: Page
    guard: Guard
    release: Path
    http_base: str

    def url(self, rel: str, via: str = "file") -> str:
        if via == "file":
            return (self.release / "site" / rel).as_uri()
        return f"{self.http_base}site/{quote(rel)}"

    def open(self, rel: str, via: str = "file") -> Page:
        self.page.goto(self.url(rel, via), wait_until="load")
        self.settle()
        return self.page

    def settle(self) -> None:
        settle(self.page)

    def assert_clean(self) -> None:
        """Fail on what the guard recorded so far (then forgotten, so the teardown does not report it twice)."""
        problems = self.guard.problems()
        self.guard.clear()
        assert not problems, "\n".join(problems)

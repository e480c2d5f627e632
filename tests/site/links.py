"""Links of the site's pages: every one must resolve to a file inside the release."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

_LINKING = {("a", "href"), ("link", "href"), ("script", "src"), ("img", "src"), ("source", "src")}


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []  # (tag, attribute, value)

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value is not None and (tag, name) in _LINKING:
                self.refs.append((tag, name, value))


def broken_link(release: Path, page: Path, href: str) -> str | None:
    """Why href (as written in page) does not resolve to an existing file inside the release, or None."""
    parts = urlsplit(href)
    if parts.scheme or parts.netloc:
        return "leaves the release (absolute URL)"
    if not parts.path:
        return None  # "#section" on the same page
    target = (page.parent / unquote(parts.path)).resolve()
    if not target.is_relative_to(release.resolve()):
        return f"resolves outside the release: {target}"
    if not target.is_file():
        return f"no such file in the release: {target.relative_to(release.resolve())}"
    return None


def references(html: str) -> list[tuple[str, str, str]]:
    """(tag, attribute, value) of every a/link href and script/img/source src in html."""
    parser = _References()
    parser.feed(html)
    return parser.refs

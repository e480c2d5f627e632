"""GX Data Docs that open offline: the pages Great Expectations writes load Bootstrap, jQuery, Font Awesome,
bootstrap-table, Vega and its logo from CDNs (blank without a network). :func:`make_offline` copies the
vendored files (``static/gx_vendor/``, Vega from the release site's ``static/vendor/``) into the site's own
``static/vendor/`` and rewrites every such URL to a relative path. What it cannot map is returned, so a GX
upgrade that adds a CDN is seen (the gate logs it, a test fails on it).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENDOR = HERE / "static" / "gx_vendor"
VEGA_VENDOR = HERE.parent / "site" / "static" / "vendor"
VEGA_FILES = ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js")
LOGO = "images/logo-long.png"  # in GX's own static/ folder

# CDN URL pattern -> file under the site's static/vendor/ (``\1`` keeps the css/js suffix)
_URLS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"https://maxcdn\.bootstrapcdn\.com/bootstrap/[\w.]+/css/bootstrap\.min\.css"),
        "bootstrap.min.css",
    ),
    (
        re.compile(r"https://stackpath\.bootstrapcdn\.com/bootstrap/[\w.]+/js/bootstrap\.min\.js"),
        "bootstrap.min.js",
    ),
    (re.compile(r"https://code\.jquery\.com/jquery-[\d.]+\.min\.js"), "jquery.min.js"),
    (
        re.compile(r"https://cdnjs\.cloudflare\.com/ajax/libs/popper\.js/[\w.]+/umd/popper\.min\.js"),
        "popper.min.js",
    ),
    (
        re.compile(r"https://cdnjs\.cloudflare\.com/ajax/libs/font-awesome/[\w.]+/css/all\.min\.css"),
        "fontawesome/css/all.min.css",
    ),
    (
        re.compile(r"https://unpkg\.com/bootstrap-table@[\w.]+/dist/bootstrap-table\.min\.(css|js)"),
        r"bootstrap-table.min.\1",
    ),
    (
        re.compile(
            r"https://unpkg\.com/bootstrap-table@[\w.]+/dist/extensions/filter-control/"
            r"bootstrap-table-filter-control(?:\.min)?\.(css|js)"
        ),
        r"bootstrap-table-filter-control.min.\1",
    ),
    (
        re.compile(
            r"https://cdnjs\.cloudflare\.com/ajax/libs/bootstrap-datepicker/[\w.]+/(?:css|js)/bootstrap-datepicker\.min\.(css|js)"
        ),
        r"bootstrap-datepicker.min.\1",
    ),
    (re.compile(r"https://cdn\.jsdelivr\.net/npm/(vega|vega-lite|vega-embed)@\d+"), r"\1.min.js"),
]
_LOGO_URL = re.compile(
    r"https://great-expectations-web-assets\.s3[\w.-]*\.amazonaws\.com/[\w-]+\.png(?:\?[^\"')\s]*)?"
)
# tag dropped: dark-mode colours only (883 KB)
_DROPPED = re.compile(r"<link\b[^>]*bootstrap-prefers-dark[^>]*>\s*")
_SRI = re.compile(r"""\s+(?:integrity|crossorigin)=(?:"[^"]*"|'[^']*')""")
_TAG = re.compile(r"<(?:script|link|img)\b[^>]*>")
# what must not remain: a remote URL a page needs to render (src/href of script, link, img; CSS url())
REMOTE = re.compile(
    r"""<(?:script|link|img)\b[^>]*\b(?:src|href)\s*=\s*["']?((?:https?:)?//[^"'\s>]+)"""
    r"""|url\(\s*["']?((?:https?:)?//[^"')\s]+)""",
    re.IGNORECASE,
)


def remote_urls(text: str) -> list[str]:
    """Remote URLs in ``text`` that a page would fetch to render (links a reader clicks are not counted)."""
    return [a or b for a, b in REMOTE.findall(text)]


def _vendor_files() -> list[tuple[Path, str]]:
    files = [(p, p.relative_to(VENDOR).as_posix()) for p in sorted(VENDOR.rglob("*")) if p.is_file()]
    return files + [(VEGA_VENDOR / name, name) for name in VEGA_FILES]


def _copy_vendor(site_dir: Path) -> None:
    target = site_dir / "static" / "vendor"
    for src, rel in _vendor_files():
        dst = target / rel
        if dst.exists() and dst.stat().st_size == src.stat().st_size:
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)


def _rewrite(text: str, static_prefix: str) -> str:
    text = _DROPPED.sub("", text)
    text = _TAG.sub(lambda m: _SRI.sub("", m.group(0)), text)
    for pattern, local in _URLS:
        text = pattern.sub(lambda m, local=local: f"{static_prefix}vendor/{m.expand(local)}", text)
    return _LOGO_URL.sub(f"{static_prefix}{LOGO}", text)


def _drop_unreferenced(static: Path, texts: list[str]) -> None:
    """GX copies 4 MB of images and fonts into every site that no page names (tutorial GIFs, a font its
    CSS does not load): delete those whose file name no page or stylesheet of the site mentions."""
    for folder in (static / "images", static / "fonts"):
        for path in [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []:
            if not any(path.name in text for text in texts):
                path.unlink()


def make_offline(site_dir: Path) -> list[str]:
    """Rewrite the GX Data Docs site in ``site_dir`` to use local copies only; returns the remote URLs
    still needed to render (``[]`` when the site is fully offline)."""
    site_dir = Path(site_dir)
    _copy_vendor(site_dir)
    static = site_dir / "static"
    left: list[str] = []
    texts: list[str] = []
    for path in [*site_dir.rglob("*.html"), *(static / "styles").glob("*.css")]:
        prefix = os.path.relpath(static, path.parent).replace(os.sep, "/") + "/"
        text = path.read_text(encoding="utf-8")
        new = _rewrite(text, prefix)
        if new != text:
            path.write_text(new, encoding="utf-8")
        texts.append(new)
        left.extend(f"{path.relative_to(site_dir)}: {u}" for u in remote_urls(new))
    _drop_unreferenced(static, texts)
    return left

"""`make serve`: the latest release's site on http://127.0.0.1:<port>/latest/site/index.html.

Serves the whole open-data folder (NTM_OPEN_DATA_DIR), not only site/, so the site's links to
../data/*.parquet resolve. Loopback only: this is a viewer for one person, not a public web server.
"""

from __future__ import annotations

import argparse
import ipaddress
import signal
import sys
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from pipeline.config import get_settings

SITE_PATH = "latest/site/index.html"

MIME_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".geojson": "application/geo+json",
    ".parquet": "application/vnd.apache.parquet",
    ".csv": "text/csv; charset=utf-8",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".md": "text/markdown; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".woff2": "font/woff2",
}


class NoSiteError(RuntimeError):
    """There is no release with a site to serve yet."""


class SiteHandler(SimpleHTTPRequestHandler):
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, **MIME_TYPES}

    def end_headers(self) -> None:
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        sys.stderr.write(f"{self.address_string()} {format % args}\n")


def check_site(open_data_dir: Path) -> Path:
    """The latest release's site/index.html, or :class:`NoSiteError` with what to do."""
    index = open_data_dir / SITE_PATH
    if not (open_data_dir / "latest").exists():
        raise NoSiteError(
            f"Chưa có bản phát hành nào trong {open_data_dir}: hãy chạy `make run` trước.\n"
            f"No release yet in {open_data_dir}: run `make run` first."
        )
    if not index.is_file():
        raise NoSiteError(
            f"Bản phát hành mới nhất ({(open_data_dir / 'latest').resolve().name}) chưa có trang web "
            f"{SITE_PATH}: hãy chạy lại `make run`.\n"
            f"The latest release ({(open_data_dir / 'latest').resolve().name}) has no {SITE_PATH}: run `make run` "
            "again."
        )
    return index


def make_server(open_data_dir: Path, host: str = "127.0.0.1", port: int = 8765) -> ThreadingHTTPServer:
    """A server of open_data_dir on host:port (port 0: any free port); loopback addresses only."""
    host = "127.0.0.1" if host == "localhost" else host
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is None or ip.version != 4 or not ip.is_loopback:
        raise ValueError(
            f"Chỉ phục vụ trên địa chỉ loopback (127.0.0.1), không phải {host}; để công bố, hãy chép thư mục "
            f"site lên một máy chủ web.\nServes on a loopback address (127.0.0.1) only, not {host}; to publish, "
            "copy the site folder to a web server."
        )
    check_site(open_data_dir)
    handler = partial(SiteHandler, directory=str(open_data_dir))
    return ThreadingHTTPServer((host, port), handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.site.serve", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 = any free port")
    args = parser.parse_args(argv)
    open_data_dir = get_settings().open_data_dir
    try:
        server = make_server(open_data_dir, args.host, args.port)
    except (NoSiteError, ValueError) as e:
        print(e, file=sys.stderr)
        return 2
    except OSError as e:
        print(
            f"Không mở được cổng {args.port} trên {args.host}: {e.strerror}; chọn cổng khác: make serve "
            f"SITE_PORT=8766\nCannot listen on {args.host}:{args.port}: {e.strerror}; pick another port: "
            "make serve SITE_PORT=8766",
            file=sys.stderr,
        )
        return 2
    host, port = server.server_address[:2]
    url = f"http://{host}:{port}/{SITE_PATH}"
    print(f"Trang web của bản phát hành mới nhất / The latest release's site: {url}", flush=True)
    print(
        "Mở địa chỉ trên trong trình duyệt; Ctrl+C để dừng. / Open it in a browser; Ctrl+C to stop.",
        flush=True,
    )
    # SIGTERM stops the server even when the parent ignored it (an ignored signal is inherited across exec:
    # a shell's background job ignores SIGINT, and Dagster maps SIGTERM to SIGINT's disposition)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`make serve` (pipeline/site/serve.py): a real server process on a free loopback port over a temporary
open-data folder; index.html, a Parquet file under ../data and the MIME types; the bilingual errors."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.site.serve import make_server

REPO = Path(__file__).resolve().parents[2]


def _open_data(tmp_path: Path) -> Path:
    od = tmp_path / "open_data"
    rel = od / "releases" / "20261130-abcdef0123"
    (rel / "site" / "assets").mkdir(parents=True)
    (rel / "site" / "downloads").mkdir()
    (rel / "data").mkdir()
    (rel / "site" / "index.html").write_text(
        '<!doctype html><html data-lang="vi"><a class="download" href="../data/t.parquet">Tải về</a></html>',
        encoding="utf-8",
    )
    (rel / "site" / "assets" / "site.js").write_text("window.NTM = {};\n")
    (rel / "site" / "assets" / "site.css").write_text("body { margin: 0 }\n")
    (rel / "site" / "downloads" / "t.csv").write_bytes(b'\xef\xbb\xbf"a"\r\n1\r\n')
    (rel / "site" / "downloads" / "scorecard.xlsx").write_bytes(b"PK\x03\x04")
    (rel / "data" / "hamlets.geojson").write_text('{"type": "FeatureCollection", "features": []}')
    (rel / "datapackage.json").write_text("{}")
    pq.write_table(pa.table({"a": [1, 2, 3]}), rel / "data" / "t.parquet")
    (od / "latest").symlink_to(Path("releases") / rel.name)
    return od


def _start(open_data: Path) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "NTM_OPEN_DATA_DIR": str(open_data), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.site.serve", "--port", "0"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    lines = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        m = re.search(r"(http://127\.0\.0\.1:\d+/)latest/site/index\.html", line)
        if m:
            return proc, m.group(1)
    proc.kill()
    raise AssertionError(f"no URL printed: {lines!r} {proc.stderr.read()!r}")


def _get(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, r.headers["Content-Type"], r.read()


def test_serves_the_latest_site_and_the_data_it_links(tmp_path):
    od = _open_data(tmp_path)
    proc, base = _start(od)
    try:
        status, ctype, body = _get(base + "latest/site/index.html")
        assert status == 200 and ctype == "text/html; charset=utf-8" and b'href="../data/t.parquet"' in body
        # the relative link from site/index.html resolves to the release's Parquet file
        link = urllib.request.urljoin(base + "latest/site/index.html", "../data/t.parquet")
        status, ctype, body = _get(link)
        assert ctype == "application/vnd.apache.parquet"
        assert body == (od / "latest" / "data" / "t.parquet").read_bytes()
        assert pq.read_table(pa.BufferReader(body)).column("a").to_pylist() == [1, 2, 3]
        expected = {
            "latest/site/assets/site.js": "text/javascript; charset=utf-8",
            "latest/site/assets/site.css": "text/css; charset=utf-8",
            "latest/site/downloads/t.csv": "text/csv; charset=utf-8",
            "latest/site/downloads/scorecard.xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "latest/datapackage.json": "application/json",
            "latest/data/hamlets.geojson": "application/geo+json",
        }
        for path, mime in expected.items():
            assert _get(base + path)[1] == mime, path
        with pytest.raises(urllib.error.HTTPError) as e:
            _get(base + "latest/site/nope.html")
        assert e.value.code == 404
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_no_release_yet_is_a_bilingual_error(tmp_path):
    env = {**os.environ, "NTM_OPEN_DATA_DIR": str(tmp_path / "empty")}
    r = subprocess.run(
        [sys.executable, "-m", "pipeline.site.serve", "--port", "0"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert "Chưa có bản phát hành" in r.stderr and "run `make run` first" in r.stderr


def test_a_release_without_a_site_says_to_run_again(tmp_path):
    od = _open_data(tmp_path)
    (od / "latest" / "site" / "index.html").unlink()
    with pytest.raises(RuntimeError, match="has no latest/site/index.html: run `make run` again"):
        make_server(od, "127.0.0.1", 0)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "example.org"])
def test_only_loopback(tmp_path, host):
    with pytest.raises(ValueError, match="loopback"):
        make_server(_open_data(tmp_path), host, 0)

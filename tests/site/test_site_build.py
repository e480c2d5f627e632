"""The site as files (no browser): built from the release only, small, listed in site.json, offline by
construction, a tile grid without boundaries, and rebuilt in place when its generator changed."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import duckdb
import pytest

from pipeline.site import build as site_build
from pipeline.site import release_data

MAX_BYTES = 5_000_000  # issue 13: <= 5 MB for the commune sample


def test_the_site_is_small_and_site_json_lists_every_file(release: Path):
    site = release / "site"
    manifest = json.loads((site / "site.json").read_text(encoding="utf-8"))
    files = {p.relative_to(site).as_posix(): p for p in site.rglob("*") if p.is_file()}
    listed = {f["path"]: f for f in manifest["files"]}
    assert set(listed) == set(files) - {"site.json"}
    for path, f in listed.items():
        data = files[path].read_bytes()
        assert len(data) == f["bytes"] and hashlib.sha256(data).hexdigest() == f["sha256"], path
    total = sum(p.stat().st_size for p in files.values())
    assert total <= MAX_BYTES, f"site is {total:,} bytes, over {MAX_BYTES:,}"
    assert manifest["release_id"] == json.loads((release / "datapackage.json").read_text())["ntm:release_id"]
    assert manifest["generator"] == site_build.SITE_VERSION
    assert manifest["map_geometry"] == "boundaries"  # the bundled sample ships (synthetic) boundaries


def test_no_page_or_style_loads_anything_from_the_network(release: Path):
    site = release / "site"
    offenders = []
    for p in site.rglob("*"):
        if p.suffix in {".html", ".css"} or (p.suffix == ".js" and "vendor" not in p.parts):
            text = p.read_text(encoding="utf-8")
            offenders += [
                f"{p.relative_to(site)}: {m.group(0)}"
                for m in re.finditer(
                    r"""(?:src|href)\s*=\s*["']?(?:https?:)?//[^"' >]+|url\(\s*["']?(?:https?:)?//[^)]+\)|@import[^;]+https?:|fetch\(""",
                    text,
                )
            ]
    assert offenders == []


def test_the_site_reads_only_the_release(tmp_path: Path, release: Path, monkeypatch):
    """Built from a copy of the release alone: the only database it opens is DuckDB in memory, and every
    file it reads through DuckDB is a Parquet file listed in the release's datapackage.json."""
    copy = tmp_path / "release"
    shutil.copytree(release, copy, ignore=shutil.ignore_patterns("site"))
    opened: list[str] = []
    real_connect = duckdb.connect

    def connect(database=":memory:", *a, **kw):
        opened.append(str(database))
        return real_connect(database, *a, **kw)

    monkeypatch.setattr(release_data.duckdb, "connect", connect)
    result = site_build.build_site(copy, copy / "site")
    assert opened == [":memory:"]
    assert result.metadata()["pages"] == len(result.pages) >= 9
    rel = release_data.open_release(copy)
    try:
        listed = {str(copy / p) for paths in rel.resources.values() for p in paths}
        views = rel.rows("select sql from duckdb_views() where not internal")
        read = {m for v in views for m in re.findall(r"'([^']+\.parquet)'", v["sql"])}
        assert read and read <= listed
    finally:
        rel.close()


def test_without_boundaries_the_map_is_a_tile_grid_not_an_error(tmp_path: Path, release: Path):
    copy = tmp_path / "release"
    shutil.copytree(release, copy, ignore=shutil.ignore_patterns("site"))
    dp = json.loads((copy / "datapackage.json").read_text(encoding="utf-8"))
    dp["resources"] = [r for r in dp["resources"] if r["name"] != "dim_hamlet_boundary"]
    (copy / "datapackage.json").write_text(json.dumps(dp, ensure_ascii=False), encoding="utf-8")
    shutil.rmtree(copy / "data" / "dim_hamlet_boundary.parquet", ignore_errors=True)
    (copy / "data" / "dim_hamlet_boundary.parquet").unlink(missing_ok=True)
    result = site_build.build_site(copy, copy / "site")
    assert result.geo_kind == "tiles"
    page = (copy / "site" / "map.html").read_text(encoding="utf-8")
    assert (
        'id="map-fallback"' in page
        and "mỗi ô vuông là một thôn" in page
        and "each square is one hamlet" in page
    )
    payload = (copy / "site" / "assets" / "data" / "map.js").read_text(encoding="utf-8")
    data = json.loads(payload.split("=", 1)[1].strip().rstrip(";"))
    con = duckdb.connect()
    versions = con.execute(f"select count(*) from '{copy}/data/dim_hamlet.parquet'").fetchone()[0]
    assert data["geo"] == "tiles" and len(data["hamlets"]) == versions
    assert all(h["geometry"]["type"] == "Polygon" for h in data["hamlets"])


def test_a_stale_site_is_rebuilt_and_swapped_in_and_a_current_one_is_left(tmp_path: Path, release: Path):
    copy = tmp_path / "release"
    shutil.copytree(release, copy)
    assert site_build.site_is_current(copy)
    assert site_build.ensure_site(copy, tmp_path / "scratch") is None
    manifest = copy / "site" / "site.json"
    m = json.loads(manifest.read_text(encoding="utf-8"))
    m["generator"] = "an-older-generator"
    manifest.write_text(json.dumps(m), encoding="utf-8")
    (copy / "site" / "stray.txt").write_text("from the old site", encoding="utf-8")
    result = site_build.ensure_site(copy, tmp_path / "scratch")
    assert result is not None and result.path == copy / "site"
    assert site_build.site_is_current(copy)
    assert not (copy / "site" / "stray.txt").exists()  # the whole old site was replaced
    assert list((tmp_path / "scratch").iterdir()) == []


@pytest.mark.parametrize(
    ("value", "vi", "en"),
    [(1234.5, "1.234,5", "1,234.5"), (-0.25, "-0,3", "-0.3"), (1_000_000, "1.000.000,0", "1,000,000.0")],
)
def test_server_side_number_format(value, vi, en):
    from pipeline.site.i18n import fmt_en, fmt_vi

    assert fmt_vi(value, 1) == vi and fmt_en(value, 1) == en


def test_indicator_series_read_at_once_equal_one_query_per_indicator(release: Path):
    """pages.indicator_series reads every indicator's rows in one query (per table) and groups them: the
    same rows, in the same order, as the query of one indicator it replaced."""
    from pipeline.site import pages

    rel = release_data.open_release(release)
    try:
        codes = [r["indicator_code"] for r in pages.indicators(rel)]
        assert codes
        for code in codes:
            got = pages.indicator_series(rel, code)
            assert got["commune"] == rel.rows(pages.COMMUNE_SERIES_SQL, [code]), code
            assert got["hamlets"] == rel.rows(pages.HAMLET_SERIES_SQL, [code]), code
        assert pages.indicator_series(rel, "NO-SUCH-CODE")["commune"] == []
    finally:
        rel.close()

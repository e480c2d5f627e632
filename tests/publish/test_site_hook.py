"""The publisher and the site: the site is written inside the staging folder (so it appears with its release,
atomically), a failing site build publishes nothing, and an unchanged release gets a missing or stale site
rebuilt and swapped in. The builder here is a small stand-in that records what it was given; the real site
(pipeline.site) is tested on the real release in tests/site."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import pytest

from tests.publish import _synth

T1 = datetime(2026, 7, 1, 9, 0)
T2 = datetime(2026, 7, 2, 9, 0)


class RecordingBuilder:
    def __init__(self, fail: bool = False):
        self.calls: list[tuple[Path, Path]] = []
        self.previous: list[Path | None] = []
        self.ensured: list[Path] = []
        self.fail = fail

    def __call__(self, release_dir: Path, site_dir: Path, previous: Path | None = None):
        self.calls.append((release_dir, site_dir))
        self.previous.append(previous)
        # the site is built from the staged release: its datapackage.json and data files already exist
        assert (release_dir / "datapackage.json").is_file()
        assert any((release_dir / "data").rglob("*.parquet"))
        assert ".staging" in release_dir.parts
        if self.fail:
            raise RuntimeError("site build failed")
        site_dir.mkdir()
        rid = json.loads((release_dir / "datapackage.json").read_text())["ntm:release_id"]
        (site_dir / "index.html").write_text(f"<p>{rid}</p>", encoding="utf-8")
        return "built"

    def ensure(self, release_dir: Path, scratch_dir: Path):
        self.ensured.append(release_dir)
        return None


def test_site_is_written_in_staging_and_lands_with_the_release(warehouse, open_data):
    builder = RecordingBuilder()
    result = _synth.publish(warehouse, open_data, now=T1, site_builder=builder)
    assert len(builder.calls) == 1 and result.site == "built"
    index = open_data / "latest" / "site" / "index.html"
    assert index.read_text(encoding="utf-8") == f"<p>{result.release_id}</p>"
    assert not list((open_data / ".staging").iterdir())  # nothing left behind


def test_a_failing_site_build_publishes_nothing_and_keeps_latest(warehouse, open_data):
    first = _synth.publish(warehouse, open_data, now=T1, site_builder=RecordingBuilder())
    _synth_execute(
        warehouse, "update marts.fact_indicator_value set value = 99 where indicator_code = 'CDS.01'"
    )
    with pytest.raises(RuntimeError, match="site build failed"):
        _synth.publish(warehouse, open_data, now=T2, site_builder=RecordingBuilder(fail=True))
    assert os.readlink(open_data / "latest") == f"releases/{first.release_id}"
    assert [p.name for p in (open_data / "releases").iterdir()] == [first.release_id]
    assert not list((open_data / ".staging").iterdir())


def test_an_unchanged_release_asks_for_its_site_to_be_current(warehouse, open_data):
    first = _synth.publish(warehouse, open_data, now=T1, site_builder=RecordingBuilder())
    builder = RecordingBuilder()
    again = _synth.publish(warehouse, open_data, now=T2, site_builder=builder)
    assert not again.changed and builder.calls == []
    assert builder.ensured == [first.path]


def _synth_execute(db: Path, sql: str) -> None:
    import duckdb

    con = duckdb.connect(str(db))
    try:
        con.execute(sql)
    finally:
        con.close()

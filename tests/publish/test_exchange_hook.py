"""The publisher and the report-package hook (pipeline.exchange.package on the real release is tested in
tests/exchange): the package is written inside the staging folder into exchange/upward and lands with the
release, an unchanged release only asks for it to be current (same release id, whatever the date), and
verify_release (the release_integrity check) covers the files its manifest lists."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime
from pathlib import Path

import pytest

from pipeline.publish.release import verify_release
from tests.publish import _synth

T1 = datetime(2026, 7, 1, 9, 0)
T2 = datetime(2026, 7, 2, 9, 0)


class StandInPackage:
    """Writes one file and a manifest.json listing it, as the real builder does."""

    def __init__(self, fail: bool = False):
        self.calls: list[tuple[Path, Path]] = []
        self.ensured: list[Path] = []
        self.fail = fail

    def __call__(self, release_dir: Path, out_dir: Path, previous: Path | None = None):
        self.calls.append((release_dir, out_dir))
        assert ".staging" in release_dir.parts and (release_dir / "datapackage.json").is_file()
        if self.fail:
            raise RuntimeError("package build failed")
        out_dir.mkdir(parents=True)
        rid = json.loads((release_dir / "datapackage.json").read_text())["ntm:release_id"]
        data = f"report of {rid}".encode()
        (out_dir / "report.zip").write_bytes(data)
        files = [{"path": "report.zip", "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}]
        (out_dir / "manifest.json").write_text(json.dumps({"files": files}), encoding="utf-8")
        return "built"

    def ensure(self, release_dir: Path, scratch_dir: Path):
        self.ensured.append(release_dir)
        return None


def test_the_package_is_written_in_staging_and_lands_with_the_release(warehouse, open_data):
    builder = StandInPackage()
    result = _synth.publish(warehouse, open_data, now=T1, exchange_builder=builder)
    assert result.exchange == "built" and len(builder.calls) == 1
    stage, out = builder.calls[0]
    assert out == stage / "exchange" / "upward"
    latest = open_data / "latest"
    assert (latest / "exchange" / "upward" / "report.zip").read_text() == f"report of {result.release_id}"
    assert verify_release(latest) == []
    assert not list((open_data / ".staging").iterdir())


def test_an_unchanged_release_keeps_its_id_and_asks_for_its_package_to_be_current(warehouse, open_data):
    first = _synth.publish(warehouse, open_data, now=T1, exchange_builder=StandInPackage())
    builder = StandInPackage()
    again = _synth.publish(warehouse, open_data, now=T2, exchange_builder=builder)
    assert not again.changed and again.release_id == first.release_id
    assert builder.calls == [] and builder.ensured == [first.path]


def test_a_failing_package_build_publishes_nothing(warehouse, open_data):
    with pytest.raises(RuntimeError, match="package build failed"):
        _synth.publish(warehouse, open_data, now=T1, exchange_builder=StandInPackage(fail=True))
    assert not (open_data / "latest").exists()
    assert not list((open_data / ".staging").iterdir())


def test_verify_release_covers_the_package_files(warehouse, open_data):
    result = _synth.publish(warehouse, open_data, now=T1, exchange_builder=StandInPackage())
    z = result.path / "exchange" / "upward" / "report.zip"
    z.write_bytes(z.read_bytes().replace(b"report", b"REPORT"))
    assert verify_release(result.path) == ["exchange/upward/report.zip size or sha256 mismatch"]
    os.remove(z)
    assert verify_release(result.path) == ["missing exchange/upward/report.zip"]

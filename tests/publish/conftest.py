from __future__ import annotations

from pathlib import Path

import pytest

from tests.publish import _synth


@pytest.fixture(scope="session")
def warehouse_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("wh") / "ntm.duckdb"
    _synth.build_warehouse(path)
    return path


@pytest.fixture
def warehouse(warehouse_template, tmp_path) -> Path:
    """A private copy of the synthetic warehouse (tests may modify it)."""
    dst = tmp_path / "ntm.duckdb"
    dst.write_bytes(warehouse_template.read_bytes())
    return dst


@pytest.fixture
def open_data(tmp_path) -> Path:
    return tmp_path / "open_data"

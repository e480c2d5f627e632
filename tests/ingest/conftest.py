"""Fixtures for the ingest tests: a tmp raw dir (``ingest_builders.make_raw_dir``), a tmp DuckDB warehouse
and the reference data loaded from them. Builders for template files are in ``ingest_builders``."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipeline.ingest import ensure_warehouse_schema, load_reference
from tests.ingest.ingest_builders import make_raw_dir


@pytest.fixture
def raw_dir(tmp_path: Path) -> Path:
    return make_raw_dir(tmp_path)


@pytest.fixture
def con(tmp_path: Path):
    c = duckdb.connect(str(tmp_path / "ntm.duckdb"))
    ensure_warehouse_schema(c)
    yield c
    c.close()


@pytest.fixture
def ref(con, raw_dir):
    return load_reference(con, raw_dir, raw_dir.parent / "dbt_project" / "seeds")

"""tests/dbt_parse_cache.py computes the profile hash dbt itself stores, so a seeded state is one dbt reuses
(a partial parse) instead of parsing the project in full in every pipeline run of the suite."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests import dbt_parse_cache


def _dbt_parse(target: Path, warehouse: Path) -> str:
    dbt = Path(sys.executable).with_name("dbt")
    out = subprocess.run(
        [str(dbt), "parse", "--project-dir", ".", "--profiles-dir", ".", "--target-path", str(target)],
        cwd=dbt_parse_cache.DBT_PROJECT,
        env={**os.environ, "NTM_WAREHOUSE_PATH": str(warehouse)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout


def test_the_file_name_is_the_one_the_pipeline_reads():
    from pipeline.transform.assets import PARSE_CACHE

    assert dbt_parse_cache.PARSE_CACHE == PARSE_CACHE


def test_a_seeded_state_is_reused_by_dbt_and_its_hash_is_the_one_dbt_writes(tmp_path):
    warehouse = tmp_path / "warehouse" / "ntm.duckdb"
    assert dbt_parse_cache.seed(warehouse), "make manifest's state is missing or its hash is not dbt's"
    seeded = dbt_parse_cache._unpack((warehouse.parent / dbt_parse_cache.PARSE_CACHE).read_bytes())
    target = tmp_path / "target"
    target.mkdir()
    shutil.copy(warehouse.parent / dbt_parse_cache.PARSE_CACHE, target / "partial_parse.msgpack")
    out = _dbt_parse(target, warehouse)
    assert "Unable to do partial parsing" not in out, out
    # the state dbt wrote back for this path carries the hash the helper computed
    written = dbt_parse_cache._unpack((target / "partial_parse.msgpack").read_bytes())
    assert written["state_check"]["profile_hash"] == seeded["state_check"]["profile_hash"]
    assert seeded["state_check"]["profile_hash"]["checksum"] == dbt_parse_cache.profile_hash(str(warehouse))


def test_a_state_whose_hash_is_not_the_templates_path_is_not_seeded(tmp_path):
    """The self-check: a template whose stored hash is not the one for the path it is said to be for is left
    alone (dbt would parse in full, as before), never written under a new hash."""
    warehouse = tmp_path / "warehouse" / "ntm.duckdb"
    assert not dbt_parse_cache.seed(warehouse, template_path=str(tmp_path / "elsewhere.duckdb"))
    assert not (warehouse.parent / dbt_parse_cache.PARSE_CACHE).exists()

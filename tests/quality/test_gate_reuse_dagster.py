"""The ``quality_gate`` asset check with reuse, run by Dagster on a one-table warehouse (dim_province and its
real suite): the check metadata says what was reused, the row count against the previous release is
evaluated in every run, and the run tag ``ntm/gate_reuse=0`` validates again."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipeline.quality import checks, gx_runner
from pipeline.resources import WarehouseResource

KEY = dg.AssetKey(["marts", "dim_province"])
SELECTED = dg.AssetSelection.checks(
    dg.AssetCheckKey(KEY, checks.GX_CHECK), dg.AssetCheckKey(KEY, checks.ROWS_CHECK)
)


@pytest.fixture
def env(tmp_path, monkeypatch):
    wh = tmp_path / "warehouse" / "ntm.duckdb"
    wh.parent.mkdir()
    con = duckdb.connect(str(wh))
    con.execute("create schema marts")
    con.execute(
        "create table marts.dim_province as select * from (values ('42', 'Hà Tĩnh', 12), ('40', 'Nghệ An', 9)) "
        "v(province_code, province_name, communes_count)"
    )
    con.close()
    monkeypatch.setenv("NTM_WAREHOUSE", str(wh))
    monkeypatch.setenv("NTM_OPEN_DATA_DIR", str(tmp_path / "open_data"))
    monkeypatch.delenv("NTM_GATE_REUSE", raising=False)
    return tmp_path


def run(tags=None) -> tuple[dict[str, dg.AssetCheckEvaluation], str]:
    result = dg.materialize(
        [checks.quality_gate],
        selection=SELECTED,
        resources={"warehouse": WarehouseResource()},
        instance=dg.DagsterInstance.ephemeral(),
        tags=tags or {},
    )
    assert result.success
    return {e.check_name: e for e in result.get_asset_check_evaluations()}, result.run_id


def publish_previous(base, rows: int) -> None:
    latest = base / "open_data" / "latest"
    latest.mkdir(parents=True)
    (latest / "datapackage.json").write_text(
        json.dumps({"resources": [{"name": "dim_province", "ntm:rows": rows}]}), encoding="utf-8"
    )


def test_the_check_says_what_it_reused_and_the_release_comparison_always_runs(env, monkeypatch):
    first, run_1 = run()
    assert first[checks.GX_CHECK].passed
    assert first[checks.GX_CHECK].metadata["reused"].value is False

    # the previous release had many more rows: the comparison must see it although the table is reused
    publish_previous(env, 10)
    monkeypatch.setattr(gx_runner, "run_suite", lambda *a, **k: pytest.fail("GX ran on a reused table"))
    second, _ = run()
    gx = second[checks.GX_CHECK]
    assert gx.passed and gx.metadata["reused"].value is True
    assert gx.metadata["reused_from_run"].value == run_1
    assert gx.metadata["validated_at"].value and gx.metadata["content_fingerprint"].value
    report = Path(gx.metadata["data_docs"].value).read_text(encoding="utf-8")
    assert f"Reused the passed result of run {run_1}" in report  # the offline report says so too
    rows = second[checks.ROWS_CHECK]
    assert not rows.passed  # evaluated in this run: 2 rows against the release's 10
    assert rows.metadata["rows"].value == 2 and "10" in rows.metadata["details"].value


def test_the_run_tag_turns_reuse_off(env, monkeypatch):
    run()
    calls = []
    real = gx_runner.run_suite
    monkeypatch.setattr(gx_runner, "run_suite", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    again, _ = run(tags={"ntm/gate_reuse": "0"})
    assert calls == ["marts.dim_province"]
    assert again[checks.GX_CHECK].metadata["reused"].value is False
    assert "ntm/gate_reuse=0" in again[checks.GX_CHECK].metadata["validated_because"].value

"""The fourth landing source as a Dagster step: raw/dhis2/** → raw/dhis2_values, one import summary per file in
the run's folder, the blocking reconciliation check passes, and a second run reads nothing again."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dagster as dg
import duckdb

from pipeline.exchange.dhis2 import load_mapping

REPO = Path(__file__).resolve().parents[2]


def test_dhis2_asset_loads_quarantines_summarises_and_reconciles(tmp_path, monkeypatch):
    from pipeline.exchange.dhis2_assets import defs, dhis2_assets
    from pipeline.resources import WarehouseResource

    raw = tmp_path / "raw"
    shutil.copytree(REPO / "raw" / "reference", raw / "reference")
    (raw / "dhis2").mkdir()
    m = load_mapping(raw / "reference" / "dhis2_mapping.csv")
    de, coc, _ = m.data_elements["CDS.01"]
    good = {
        "dataElement": de,
        "period": "2026Q1",
        "orgUnit": m.org_units["18484"],
        "categoryOptionCombo": coc,
        "value": "50",
    }
    bad = {**good, "period": "2026M01"}
    (raw / "dhis2" / "from_dhis2.json").write_text(json.dumps({"dataValues": [good, bad]}), encoding="utf-8")
    warehouse = tmp_path / "warehouse" / "ntm.duckdb"
    monkeypatch.setenv("NTM_RAW_DIR", str(raw))
    monkeypatch.setenv("NTM_WAREHOUSE", str(warehouse))
    [check] = defs.asset_checks
    result = dg.materialize(
        [dhis2_assets, check], resources={"warehouse": WarehouseResource(path=str(warehouse))}
    )
    assert result.success
    [mat] = result.asset_materializations_for_node("ingest_dhis2")
    assert mat.metadata["values_imported"].value == 1 and mat.metadata["conflicts"].value == 1
    assert [(c.check_name, c.passed) for c in result.get_asset_check_evaluations()] == [
        ("dhis2_rows_reconcile", True)
    ]
    summary = (
        warehouse.parent / "runs" / result.run_id / "dhis2" / "dhis2__from_dhis2.json.import_summary.json"
    )
    doc = json.loads(summary.read_text(encoding="utf-8"))
    assert doc["importCount"] == {"imported": 1, "updated": 0, "ignored": 1, "deleted": 0}
    assert doc["conflicts"][0]["errorCode"] == "malformed_period" and doc["conflicts"][0]["indexes"] == [1]
    again = dg.materialize([dhis2_assets], resources={"warehouse": WarehouseResource(path=str(warehouse))})
    assert again.asset_materializations_for_node("ingest_dhis2")[0].metadata["files_new"].value == 0
    con = duckdb.connect(str(warehouse), read_only=True)
    assert con.execute("select count(*) from raw.dhis2_values").fetchone()[0] == 1
    assert con.execute(
        "select rows_read, rows_loaded, rows_quarantined from audit.ingest_files"
    ).fetchall() == [(2, 1, 1)]

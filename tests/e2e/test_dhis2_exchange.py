"""DHIS2 exchange of a real release (the session's pipeline build, ``Build.release``, untouched copy): the
publish step wrote ``exchange/dhis2/`` (JSON + CSV + mapping), the payload follows DHIS2's documented rules,
and export → import into an empty warehouse gives back the published values at the grain data element x org
unit x period x category option combo (no new pipeline run)."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import duckdb
import pytest

from pipeline.exchange.dhis2 import JSON_KEYS, check_payload, load_mapping, published_values, to_dhis2_period
from pipeline.exchange.dhis2_import import ingest_dhis2, values_in_force
from pipeline.exchange.dhis2_values import Catalog

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def release(built_release) -> Path:
    return built_release


@pytest.fixture(scope="module")
def exported(release) -> Path:
    out = release / "exchange" / "dhis2"
    assert out.is_dir(), "the release has no exchange/dhis2/ (publish step 5c)"
    return out


def test_release_payload_follows_dhis2_rules(exported):
    mapping = load_mapping(exported / "mapping.csv")
    payload = json.loads((exported / "datavaluesets.json").read_text(encoding="utf-8"))
    assert len(payload["dataValues"]) > 1000
    assert check_payload(payload, {de: vt for de, _, vt in mapping.data_elements.values()}) == []
    rows = list(csv.reader(io.StringIO((exported / "datavaluesets.csv").read_text(encoding="utf-8"))))
    assert rows[1:] == [[dv[k] for k in JSON_KEYS] for dv in payload["dataValues"]]


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_round_trip_into_an_empty_warehouse_gives_the_published_values(release, exported, tmp_path, fmt):
    mapping = load_mapping(exported / "mapping.csv")
    raw = tmp_path / "raw"
    (raw / "dhis2").mkdir(parents=True)
    shutil.copy(exported / f"datavaluesets.{fmt}", raw / "dhis2")
    con = duckdb.connect(str(tmp_path / "empty.duckdb"))
    catalog = Catalog.from_files(
        REPO / "dbt_project/seeds/indicators.csv", REPO / "raw/reference/hamlets.csv"
    )
    [s] = ingest_dhis2(con, raw, mapping, catalog, summary_dir=tmp_path / "run")
    assert s.conflicts == [] and s.updated == s.ignored == s.deleted == 0
    loaded = values_in_force(con)
    # what the release publishes (its Parquet marts), keyed the DHIS2 way
    expected = {}
    for _level, place, period, indicator, value in published_values(release):
        de, coc, _ = mapping.data_elements[indicator]
        expected[
            (de, mapping.org_units[place], to_dhis2_period(period), coc, mapping.attribute_option_combo)
        ] = value
    assert s.imported == len(expected) == len(loaded)
    assert loaded.keys() == expected.keys()
    assert all(abs(loaded[k] - expected[k]) <= 1e-9 * max(1.0, abs(expected[k])) for k in expected)

"""DHIS2 dataValueSets exchange (pipeline.exchange.dhis2, pipeline.exchange.dhis2_import): UIDs, periods,
value strings, the mapping, the export of a (small, hand-built) release against DHIS2's payload rules, the
round trip export → import into an empty warehouse, and an import with conflicts (DHIS2-style summary)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import duckdb
import pytest

from pipeline.exchange import dhis2, dhis2_mapping
from pipeline.exchange.dhis2 import (
    UID_RE,
    MappingError,
    check_payload,
    export_release,
    format_value,
    from_dhis2_period,
    load_mapping,
    make_uid,
    to_dhis2_period,
)
from pipeline.exchange.dhis2_import import ingest_dhis2, values_in_force
from pipeline.exchange.dhis2_values import Catalog, parse_datavalueset

REPO = Path(__file__).resolve().parents[2]
MAPPING = REPO / "raw" / "reference" / "dhis2_mapping.csv"
INDICATORS = REPO / "dbt_project" / "seeds" / "indicators.csv"
HAMLETS = REPO / "raw" / "reference" / "hamlets.csv"


@pytest.fixture(scope="module")
def mapping():
    return load_mapping(MAPPING)


@pytest.fixture(scope="module")
def catalog():
    return Catalog.from_files(INDICATORS, HAMLETS)


def test_uid_is_dhis2_shaped_and_deterministic():
    uids = {make_uid("org_unit", f"18484-T{i:02d}") for i in range(1, 200)}
    assert len(uids) == 199
    assert all(UID_RE.match(u) for u in uids)
    assert make_uid("data_element", "CDS.01") == make_uid("data_element", "CDS.01")
    assert make_uid("data_element", "CDS.01") != make_uid("org_unit", "CDS.01")
    assert (
        not UID_RE.match("1abcdefghij") and not UID_RE.match("abcdefghij") and not UID_RE.match("abc-efghijk")
    )


@pytest.mark.parametrize(("ours", "theirs"), [("2026-Q1", "2026Q1"), ("2025-Q4", "2025Q4"), ("2026", "2026")])
def test_periods_both_ways(ours, theirs):
    assert to_dhis2_period(ours) == theirs
    assert from_dhis2_period(theirs) == ours


@pytest.mark.parametrize("bad", ["2026-Q1", "202601", "2026Q5", "2026W1", "Q1 2026", "", "1850"])
def test_dhis2_periods_we_refuse(bad):
    assert from_dhis2_period(bad) is None


@pytest.mark.parametrize(
    ("value", "vt", "text"),
    [
        (50.0, "NUMBER", "50"),
        (73.42962963, "NUMBER", "73.42962963"),
        (2.38, "NUMBER", "2.38"),
        (1234567.5, "NUMBER", "1234567.5"),
        (1e-7, "NUMBER", "0.0000001"),
        (-0.0, "NUMBER", "0"),
        (285.0, "INTEGER_ZERO_OR_POSITIVE", "285"),
        (1.0, "BOOLEAN", "true"),
        (0.0, "BOOLEAN", "false"),
        (None, "NUMBER", None),
        (float("nan"), "BOOLEAN", None),
    ],
)
def test_value_strings_dhis2_accepts(value, vt, text):
    assert format_value(value, vt) == text


@pytest.mark.parametrize(
    ("value", "vt"),
    [
        (0.5, "BOOLEAN"),
        (2.5, "INTEGER_ZERO_OR_POSITIVE"),
        (-1.0, "INTEGER_ZERO_OR_POSITIVE"),
        (float("inf"), "NUMBER"),
    ],
)
def test_value_the_type_cannot_hold_is_an_error(value, vt):
    with pytest.raises(ValueError):
        format_value(value, vt)


def test_sample_mapping_covers_the_catalog_and_registry_and_is_synthetic(mapping):
    with open(INDICATORS, encoding="utf-8") as fh:
        indicators = {r["indicator_code"]: r["value_type"] for r in csv.DictReader(fh)}
    with open(HAMLETS, encoding="utf-8") as fh:
        places = {r["hamlet_code"] for r in csv.DictReader(fh)} | {"18484"}
    assert set(mapping.data_elements) == set(indicators)
    assert set(mapping.org_units) == places
    assert mapping.synthetic
    for code, (_, _, vt) in mapping.data_elements.items():
        assert vt == dhis2_mapping.VALUE_TYPES[indicators[code]]
    # the file is exactly what the generator writes (deterministic)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(dhis2.MAPPING_COLUMNS), lineterminator="\n")
    w.writeheader()
    w.writerows(dhis2.sample_mapping_rows(INDICATORS, HAMLETS))
    assert MAPPING.read_text(encoding="utf-8") == buf.getvalue()


@pytest.mark.parametrize(
    ("row", "column"),
    [
        ("data_element,X.01,1badUid0000,ZcjuYJAT4GX,NUMBER,x,true", "dhis2_uid"),
        ("data_element,X.01,abcdefghijk,short,NUMBER,x,true", "category_option_combo"),
        ("data_element,X.01,abcdefghijk,ZcjuYJAT4GX,TEXT,x,true", "value_type"),
        ("place,X.01,abcdefghijk,,,x,true", "kind"),
    ],
)
def test_bad_mapping_row_names_file_row_and_column(tmp_path, row, column):
    p = tmp_path / "dhis2_mapping.csv"
    p.write_text(
        ",".join(dhis2.MAPPING_COLUMNS)
        + "\nattribute_option_combo,default,ALOgqkVZYVI,,,default,true\n"
        + row
        + "\n",
        encoding="utf-8",
    )
    with pytest.raises(MappingError, match=rf"dhis2_mapping\.csv, row 3, column {column}"):
        load_mapping(p)


# ---------------------------------------------------------------------------------------------------------
# A small release, built by hand in the published layout (datapackage.json + Parquet)
# ---------------------------------------------------------------------------------------------------------


def _mini_release(root: Path) -> Path:
    rel = root / "release"
    (rel / "data").mkdir(parents=True)
    con = duckdb.connect()
    tables = {
        "dim_indicator": """select * from (values ('CDS.01','commune'), ('CDS.23','hamlet'), ('CDS.25','hamlet'),
            ('CDS.28','hamlet'), ('CDS.05','commune')) t(indicator_code, level)""",
        "dim_commune": """select * from (values ('18484', true), ('18485', false)) t(commune_code, is_home_commune)""",
        "mart_hamlet_indicator": """select * from (values
            ('18484','18484-T01','2026-Q1','CDS.23', 1.0::double, 'reported'),
            ('18484','18484-T02','2026-Q1','CDS.23', 0.0, 'reported'),
            ('18484','18484-T01','2026-Q1','CDS.25', 2.38, 'reported'),
            ('18484','18484-T01','2026-Q2','CDS.28', 7.0, 'reported'),
            ('18484','18484-T02','2026-Q2','CDS.28', null, 'reported'),
            ('18484','18484-T01','2026','CDS.28', 7.0, 'derived_from_quarters'),
            ('18484','18484-T01','2025','CDS.23', 1.0, 'reported'),
            ('18485','18485-T01','2026-Q1','CDS.23', 1.0, 'reported'))
            t(commune_code, hamlet_code, period_code, indicator_code, value, value_source)""",
        "mart_commune_indicator": """select * from (values
            ('18484','2026-Q1','CDS.01', 50.0::double, 'reported'),
            ('18484','2026-Q1','CDS.23', 92.592592593, 'reported'),
            ('18484','2026','CDS.01', 61.25, 'derived_from_quarters'),
            ('18484','2026-Q2','CDS.05', 12.0, 'reported'))
            t(commune_code, period_code, indicator_code, value, value_source)""",
    }
    resources = []
    for name, sql in tables.items():
        con.execute(f"copy ({sql}) to '{rel / 'data' / (name + '.parquet')}' (format parquet)")
        resources.append({"name": name, "path": f"data/{name}.parquet"})
    (rel / "datapackage.json").write_text(json.dumps({"resources": resources}), encoding="utf-8")
    return rel


EXPECTED = {  # (indicator, place, period) -> value: reported, non-null, home commune, level-matching only
    ("CDS.23", "18484-T01", "2026-Q1"): 1.0,
    ("CDS.23", "18484-T02", "2026-Q1"): 0.0,
    ("CDS.25", "18484-T01", "2026-Q1"): 2.38,
    ("CDS.28", "18484-T01", "2026-Q2"): 7.0,
    ("CDS.23", "18484-T01", "2025"): 1.0,
    ("CDS.01", "18484", "2026-Q1"): 50.0,
    ("CDS.05", "18484", "2026-Q2"): 12.0,
}


def _by_ours(values: dict[tuple, float], mapping) -> dict[tuple, float]:
    ind, loc = mapping.indicator_of, mapping.location_of
    return {(ind[k[0]], loc[k[1]], from_dhis2_period(k[2])): v for k, v in values.items()}


def test_export_follows_the_payload_rules_and_exports_only_what_it_documents(tmp_path, mapping):
    rel = _mini_release(tmp_path)
    res = export_release(rel, MAPPING)
    assert res.values == len(EXPECTED) and res.by_level == {"hamlet": 5, "commune": 2}
    payload = json.loads((rel / "exchange/dhis2/datavaluesets.json").read_text(encoding="utf-8"))
    value_types = {de: vt for de, _, vt in mapping.data_elements.values()}
    assert check_payload(payload, value_types) == []
    for dv in payload["dataValues"]:
        assert set(dv) == set(dhis2.JSON_KEYS)  # no comment, no storedBy
        assert dv["categoryOptionCombo"] == make_uid("category_option_combo", "default")
        assert dv["attributeOptionCombo"] == mapping.attribute_option_combo
    got = {
        (
            mapping.indicator_of[dv["dataElement"]],
            mapping.location_of[dv["orgUnit"]],
            from_dhis2_period(dv["period"]),
        ): dv["value"]
        for dv in payload["dataValues"]
    }
    assert got == {
        ("CDS.23", "18484-T01", "2026-Q1"): "true",
        ("CDS.23", "18484-T02", "2026-Q1"): "false",
        ("CDS.25", "18484-T01", "2026-Q1"): "2.38",
        ("CDS.28", "18484-T01", "2026-Q2"): "7",
        ("CDS.23", "18484-T01", "2025"): "true",
        ("CDS.01", "18484", "2026-Q1"): "50",
        ("CDS.05", "18484", "2026-Q2"): "12",
    }
    # the CSV carries the same values, header first, DHIS2's column order
    rows = list(
        csv.reader(io.StringIO((rel / "exchange/dhis2/datavaluesets.csv").read_text(encoding="utf-8")))
    )
    assert tuple(rows[0]) == dhis2.CSV_HEADER
    assert rows[1:] == [[dv[k] for k in dhis2.JSON_KEYS] for dv in payload["dataValues"]]
    assert (rel / "exchange/dhis2/mapping.csv").read_bytes() == MAPPING.read_bytes()
    readme = (rel / "exchange/dhis2/README.md").read_text(encoding="utf-8")
    assert "7 giá trị / values (thôn / hamlets: 5" in readme and "SYNTHETIC UIDs" in readme


def test_no_mapping_no_export(tmp_path):
    rel = _mini_release(tmp_path)
    assert export_release(rel, tmp_path / "missing.csv") is None
    assert not (rel / "exchange").exists()


@pytest.mark.parametrize(
    ("dv", "fragment"),
    [
        ({"comment": "Nguyễn Văn An"}, "comment must not be exported"),
        ({"storedBy": "an.nguyen"}, "storedBy must not be exported"),
        ({"orgUnit": "18484-T01"}, "orgUnit: '18484-T01' is not a UID"),
        ({"period": "2026-Q1"}, "is not a quarterly/yearly ISO period"),
        ({"value": 7}, "is not a non-empty string"),
        ({"value": "1,234"}, "is not a plain decimal number"),
        ({"value": "50.0"}, "is not a plain decimal number"),
        ({"value": "1e3"}, "is not a plain decimal number"),
    ],
)
def test_payload_rule_violations_are_found(mapping, dv, fragment):
    de, coc, _ = mapping.data_elements["CDS.01"]
    base = {"dataElement": de, "period": "2026Q1", "orgUnit": mapping.org_units["18484"], "categoryOptionCombo": coc,
            "attributeOptionCombo": mapping.attribute_option_combo, "value": "50"}  # fmt: skip
    value_types = {d: vt for d, _, vt in mapping.data_elements.values()}
    assert check_payload({"dataValues": [base]}, value_types) == []
    problems = check_payload({"dataValues": [{**base, **dv}]}, value_types)
    assert any(fragment in p for p in problems), problems


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_round_trip_export_import_into_an_empty_warehouse(tmp_path, mapping, catalog, fmt):
    rel = _mini_release(tmp_path)
    export_release(rel, MAPPING)
    raw = tmp_path / "raw"
    (raw / "dhis2").mkdir(parents=True)
    src = rel / "exchange/dhis2" / f"datavaluesets.{fmt}"
    (raw / "dhis2" / src.name).write_bytes(src.read_bytes())
    con = duckdb.connect()
    [s] = ingest_dhis2(con, raw, mapping, catalog, summary_dir=tmp_path / "summaries")
    assert (s.imported, s.updated, s.ignored, s.deleted, s.conflicts) == (len(EXPECTED), 0, 0, 0, [])
    assert _by_ours(values_in_force(con), mapping) == EXPECTED


# ---------------------------------------------------------------------------------------------------------
# Import with conflicts, on a hand-made file
# ---------------------------------------------------------------------------------------------------------


def _dv(mapping, indicator, place, period, value, **kw):
    de, coc, _ = mapping.data_elements.get(indicator, (indicator, "ZcjuYJAT4GX", ""))
    return {"dataElement": de, "period": period, "orgUnit": mapping.org_units.get(place, place),
            "categoryOptionCombo": coc, "value": value, **kw}  # fmt: skip


def test_import_with_conflicts_reports_like_dhis2_and_quarantines_each(tmp_path, mapping, catalog):
    raw = tmp_path / "raw"
    (raw / "dhis2").mkdir(parents=True)
    values = [
        _dv(mapping, "CDS.01", "18484", "2026Q1", "50"),  # 0 imported
        _dv(mapping, "CDS.23", "18484-T01", "2026Q1", "True"),  # 1 imported (BOOLEAN, any case)
        _dv(mapping, "CDS.28", "18484-T01", "2026Q2", "7"),  # 2 imported
        {**_dv(mapping, "CDS.01", "18484", "2026Q1", "1"), "dataElement": "Zzzzzzzzzzz"},  # 3 unknown DE
        _dv(mapping, "CDS.01", "Yyyyyyyyyyy", "2026Q1", "50"),  # 4 unknown org unit
        _dv(mapping, "CDS.01", "18484", "2026-Q1", "50"),  # 5 bad period (ours, not DHIS2's)
        _dv(mapping, "CDS.01", "18484", "2026Q2", "12,5"),  # 6 not a number
        _dv(mapping, "CDS.28", "18484-T02", "2026Q2", "2.5"),  # 7 not a whole number
        _dv(mapping, "CDS.01", "18484", "2026Q3", "150"),  # 8 percent out of range
        _dv(mapping, "CDS.01", "18484-T01", "2026Q1", "50"),  # 9 commune indicator on a hamlet
        _dv(mapping, "CDS.01", "18484", "2026Q1", "50"),  # 10 duplicate, same value: ignored
        _dv(mapping, "CDS.28", "18484-T01", "2026Q2", "8"),  # 11 duplicate, other value: updated
        _dv(mapping, "CDS.05", "18484", "2026Q2", ""),  # 12 empty = delete, nothing to delete
    ]
    (raw / "dhis2" / "hand_made.json").write_text(json.dumps({"dataValues": values}), encoding="utf-8")
    con = duckdb.connect()
    summaries = tmp_path / "run"
    [s] = ingest_dhis2(con, raw, mapping, catalog, summary_dir=summaries)
    assert (s.imported, s.updated, s.ignored, s.deleted) == (3, 1, 9, 0)  # ignored: 8 conflicts + 1 repeat
    by_index = {c["indexes"][0]: c["errorCode"] for c in s.conflicts}
    assert by_index == {
        3: "unknown_data_element",
        4: "unknown_org_unit",
        5: "malformed_period",
        6: "invalid_value_type",
        7: "invalid_value_type",
        8: "value_out_of_range",
        9: "org_unit_level_mismatch",
        12: "missing_value",
    }
    assert {c["object"] for c in s.conflicts if c["indexes"] == [3]} == {"Zzzzzzzzzzz"}
    # the summary file, DHIS2's shape
    doc = json.loads((summaries / "dhis2__hand_made.json.import_summary.json").read_text(encoding="utf-8"))
    assert doc["responseType"] == "ImportSummary" and doc["status"] == "WARNING"
    assert doc["importCount"] == {"imported": 3, "updated": 1, "ignored": 9, "deleted": 0}
    assert doc["rejectedIndexes"] == sorted(by_index)
    assert all({"object", "value", "errorCode", "property", "indexes"} <= set(c) for c in doc["conflicts"])
    # nothing lost: loaded + quarantined = read, each conflict one bilingual quarantine row
    read, loaded, quarantined, status = con.execute(
        "select rows_read, rows_loaded, rows_quarantined, status from audit.ingest_files"
    ).fetchone()
    assert (read, loaded, quarantined, status) == (13, 5, 8, "partial")
    assert con.execute("select count(*) from raw.dhis2_values").fetchone()[0] == loaded
    q = con.execute(
        "select row_number, reason_code, message_vi, message_en from audit.quarantine order by 1"
    ).fetchall()
    assert [(r[0], r[1]) for r in q] == sorted(by_index.items())
    assert all(vi and en and vi != en for _, _, vi, en in q)
    # the value in force is the last one of the file
    assert _by_ours(values_in_force(con), mapping) == {
        ("CDS.01", "18484", "2026-Q1"): 50.0,
        ("CDS.23", "18484-T01", "2026-Q1"): 1.0,
        ("CDS.28", "18484-T01", "2026-Q2"): 8.0,
    }
    # idempotent: the same file again (even renamed) is not read a second time
    (raw / "dhis2" / "hand_made_copy.json").write_bytes((raw / "dhis2" / "hand_made.json").read_bytes())
    assert ingest_dhis2(con, raw, mapping, catalog, summary_dir=summaries) == []
    assert con.execute("select count(*) from raw.dhis2_values").fetchone()[0] == loaded
    assert con.execute("select count(*) from audit.quarantine").fetchone()[0] == 8
    # a later CSV file: an update, an unchanged value, a deletion
    (raw / "dhis2" / "later.csv").write_text(
        '"dataelement","period","orgunit","categoryoptioncombo","attributeoptioncombo","value"\n'
        + "\n".join(
            ",".join([v["dataElement"], v["period"], v["orgUnit"], v["categoryOptionCombo"], "", v["value"]])
            for v in (
                _dv(mapping, "CDS.01", "18484", "2026Q1", "55.5"),
                _dv(mapping, "CDS.23", "18484-T01", "2026Q1", "1"),
                _dv(mapping, "CDS.28", "18484-T01", "2026Q2", ""),
            )
        )
        + "\n",
        encoding="utf-8",
    )
    [s2] = ingest_dhis2(con, raw, mapping, catalog, summary_dir=summaries)
    assert (s2.imported, s2.updated, s2.ignored, s2.deleted, s2.conflicts) == (0, 1, 1, 1, [])
    assert _by_ours(values_in_force(con), mapping) == {
        ("CDS.01", "18484", "2026-Q1"): 55.5,
        ("CDS.23", "18484-T01", "2026-Q1"): 1.0,
    }


def test_a_file_that_is_not_a_datavalueset_is_rejected_whole(tmp_path, mapping, catalog):
    raw = tmp_path / "raw"
    (raw / "dhis2").mkdir(parents=True)
    (raw / "dhis2" / "notes.json").write_text('{"rows": []}', encoding="utf-8")
    con = duckdb.connect()
    [s] = ingest_dhis2(con, raw, mapping, catalog)
    assert s.status == "ERROR"
    status, reason = con.execute("select status, reason from audit.ingest_files").fetchone()
    assert (
        status == "rejected"
        and reason.startswith("not_datavalueset: The file is not")
        and "/ Tệp không phải" in reason
    )
    assert con.execute("select path, state from audit.file_paths").fetchall() == [
        ("dhis2/notes.json", "present")
    ]


def test_without_a_mapping_every_file_is_rejected_with_the_reason(tmp_path, catalog):
    raw = tmp_path / "raw"
    (raw / "dhis2").mkdir(parents=True)
    (raw / "dhis2" / "values.json").write_text('{"dataValues": []}', encoding="utf-8")
    con = duckdb.connect()
    [s] = ingest_dhis2(con, raw, None, catalog)
    assert s.status == "ERROR"
    status, reason = con.execute("select status, reason from audit.ingest_files").fetchone()
    assert status == "rejected" and reason.startswith("no_dhis2_mapping: There is no DHIS2 mapping")


def test_set_level_defaults_apply_to_each_value():
    data = json.dumps(
        {
            "period": "2026Q1",
            "orgUnit": "abcdefghijk",
            "dataValues": [{"dataElement": "bcdefghijkl", "value": 3}],
        }
    )
    [r] = parse_datavalueset(data.encode())
    assert (r["period"], r["orgUnit"], r["value"]) == ("2026Q1", "abcdefghijk", "3")


def test_an_unchanged_release_gets_a_missing_or_stale_export(tmp_path):
    from pipeline.exchange.dhis2 import Dhis2Exporter

    rel = _mini_release(tmp_path)
    mapping = tmp_path / "dhis2_mapping.csv"
    mapping.write_bytes(MAPPING.read_bytes())
    exporter = Dhis2Exporter(mapping)
    first = exporter.ensure(rel, tmp_path / "scratch")  # published before the feature: no export yet
    assert first is not None and first.values == len(EXPECTED)
    assert (rel / "exchange/dhis2/datavaluesets.json").is_file()
    assert exporter.ensure(rel, tmp_path / "scratch") is None  # current: left alone
    # the commune replaces a synthetic UID with its instance's: the export follows
    text = mapping.read_text(encoding="utf-8")
    old = make_uid("org_unit", "18484")
    mapping.write_text(text.replace(old, "Abcdefghij1"), encoding="utf-8")
    assert exporter.ensure(rel, tmp_path / "scratch") is not None
    payload = (rel / "exchange/dhis2/datavaluesets.json").read_text(encoding="utf-8")
    assert "Abcdefghij1" in payload and old not in payload
    assert not (tmp_path / "scratch" / "dhis2").exists()


def test_a_file_over_the_limits_is_rejected_before_loading(tmp_path, mapping, catalog, monkeypatch):
    raw = tmp_path / "raw"
    (raw / "dhis2").mkdir(parents=True)
    values = [_dv(mapping, "CDS.01", "18484", f"2026Q{q}", "50") for q in (1, 2, 3)]
    (raw / "dhis2" / "big.json").write_text(json.dumps({"dataValues": values}), encoding="utf-8")
    monkeypatch.setenv("NTM_MAX_ROWS_PER_FILE", "2")
    con = duckdb.connect()
    [s] = ingest_dhis2(con, raw, mapping, catalog)
    assert s.status == "ERROR"
    status, reason = con.execute("select status, reason from audit.ingest_files").fetchone()
    assert status == "rejected" and reason.startswith("file_too_large: The file exceeds")
    assert con.execute("select count(*) from raw.dhis2_values").fetchone()[0] == 0

"""Hamlet boundaries (raw/reference/hamlet_boundaries.geojson): load, one quarantine reason per small file with
its message and reconciled counts, CRS conversion to WGS84, no file, landing-zone accounting, the synthetic
sample. Uses the tiny reference set of ``ingest_builders`` (T01, T05, T09 in two versions, T21 until
2025-06-30)."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from pyproj import Transformer
from shapely.geometry import shape

from pipeline.ingest.files import BOUNDARY_FILE
from pipeline.ingest.landing import account_landing_zone
from pipeline.ingest.reference import ReferenceData
from pipeline.ingest.sources.reference.boundaries import load_boundaries, parse_boundaries

REPO = Path(__file__).resolve().parents[2]
REL = f"reference/{BOUNDARY_FILE}"
LON, LAT = 105.72, 18.45


def square(lon: float = LON, lat: float = LAT, d: float = 0.01) -> dict:
    ring = [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def feature(code: str | None = "18484-T01", geometry: dict | None = None, **props) -> dict:
    p = {"hamlet_code": code} if code is not None else {}
    p.update(props)
    return {"type": "Feature", "properties": p, "geometry": square() if geometry is None else geometry}


def write(raw_dir: Path, features: list | None = None, **members) -> Path:
    doc = {"type": "FeatureCollection", **members, "features": features or []}
    path = raw_dir / "reference" / BOUNDARY_FILE
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def load(con, raw_dir, ref):
    parsed = load_boundaries(con, raw_dir, ref.hamlets)
    account_landing_zone(con, raw_dir)
    return parsed


def audit_row(con) -> dict:
    cols = ["status", "reason", "rows_read", "rows_loaded", "rows_quarantined"]
    row = con.execute(f"select {', '.join(cols)} from audit.ingest_files where path = ?", [REL]).fetchone()
    return dict(zip(cols, row, strict=True))


def quarantine(con) -> list[tuple]:
    return con.execute(
        "select row_number, column_name, reason_code, message_vi, message_en, raw_value from audit.quarantine "
        "where source_file = ? order by row_number, reason_code",
        [REL],
    ).fetchall()


def assert_reconciles(con, parsed) -> None:
    a = audit_row(con)
    loaded = con.execute("select count(*) from raw.hamlet_boundaries").fetchone()[0]
    in_quarantine = con.execute(
        "select count(distinct row_number) from audit.quarantine where source_file = ?", [REL]
    ).fetchone()[0]
    assert a["rows_read"] == parsed.features_read == a["rows_loaded"] + a["rows_quarantined"]
    assert a["rows_loaded"] == loaded == parsed.features_loaded
    assert a["rows_quarantined"] == in_quarantine == parsed.features_quarantined


def test_a_good_file_loads_every_feature_with_versions_area_and_centroid(con, raw_dir, ref):
    write(
        raw_dir,
        [
            feature("18484-T01"),
            # lower-case code, upper-case property names (QGIS), decomposed Vietnamese in another property
            {
                "type": "Feature",
                "properties": {"HAMLET_CODE": " 18484-t05 ", "name": "Tho\u0302n"},
                "geometry": square(LON + 0.01),
            },  # fmt: skip
            # T09: one boundary for each version, dates in two accepted formats
            feature("18484-T09", square(LON + 0.02), valid_from="2020-01-01", valid_to="30/09/2025"),
            feature("18484-T09", square(LON + 0.02), valid_from="2025/10/01"),
            feature(
                "18484-T21", {"type": "MultiPolygon", "coordinates": [square(LON + 0.03)["coordinates"]]}
            ),
        ],
        synthetic=True,
    )
    parsed = load(con, raw_dir, ref)
    assert parsed.features_read == 5 and parsed.features_quarantined == 0 and parsed.rejected is None
    rows = con.execute(
        "select hamlet_code, valid_from::varchar, valid_to::varchar, geometry_type, is_synthetic, source_crs, "
        "feature_index, _source_row, _source_file from raw.hamlet_boundaries order by feature_index"
    ).fetchall()
    assert [r[:3] for r in rows] == [
        ("18484-T01", None, None),
        ("18484-T05", None, None),
        ("18484-T09", "2020-01-01", "2025-09-30"),
        ("18484-T09", "2025-10-01", None),
        ("18484-T21", None, None),
    ]
    assert [r[3] for r in rows] == ["Polygon"] * 4 + ["MultiPolygon"]
    assert all(r[4] is True and r[5] == "OGC:CRS84" and r[6] == r[7] and r[8] == REL for r in rows)
    geom, lon, lat, area = con.execute(
        "select geometry_geojson, centroid_lon, centroid_lat, area_km2 from raw.hamlet_boundaries "
        "where feature_index = 0"
    ).fetchone()
    g = json.loads(geom)
    assert g["type"] == "Polygon" and shape(g).exterior.is_ccw  # RFC 7946 winding
    assert (lon, lat) == (pytest.approx(LON + 0.005, abs=1e-9), pytest.approx(LAT + 0.005, abs=1e-9))
    # 0.01° × 0.01° at 18.45° N: 1.0562 km (lon: 111.32 km × cos 18.455°) × 1.1070 km (lat), on WGS84
    assert area == pytest.approx(1.0562 * 1.1070, abs=2e-3)
    assert_reconciles(con, parsed)
    assert audit_row(con)["status"] == "reference"


def test_loading_twice_gives_the_same_tables(con, raw_dir, ref):
    write(raw_dir, [feature(), feature("18484-T99")])
    load(con, raw_dir, ref)
    first = (
        con.execute("select * exclude (quarantined_at) from audit.quarantine order by all").fetchall(),
        con.execute("select * from raw.hamlet_boundaries order by all").fetchall(),
        con.execute("select * exclude (ingested_at) from audit.ingest_files order by all").fetchall(),
    )
    load(con, raw_dir, ref)
    again = (
        con.execute("select * exclude (quarantined_at) from audit.quarantine order by all").fetchall(),
        con.execute("select * from raw.hamlet_boundaries order by all").fetchall(),
        con.execute("select * exclude (ingested_at) from audit.ingest_files order by all").fetchall(),
    )
    assert again == first and len(first[0]) == 1 and len(first[1]) == 1


BOWTIE = {"type": "Polygon", "coordinates": [[[LON, LAT], [LON + 0.01, LAT + 0.01], [LON + 0.01, LAT],
                                               [LON, LAT + 0.01], [LON, LAT]]]}  # fmt: skip

CASES = {
    # name: (features, file members, [(feature index, property, reason code, text in message_en)])
    "unknown hamlet": ([feature("18484-T77")], {}, [(0, "hamlet_code", "unknown_hamlet", "Unknown hamlet")]),
    "missing code": (
        [feature(None)],
        {},
        [(0, "hamlet_code", "missing_value", "A required value is missing")],
    ),
    "invalid polygon": (
        [feature(geometry=BOWTIE)],
        {},
        [(0, "geometry", "invalid_geometry", "Self-intersection")],
    ),
    "not a polygon": (
        [feature(geometry={"type": "Point", "coordinates": [LON, LAT]})],
        {},
        [(0, "geometry", "not_a_polygon", "not a Polygon or MultiPolygon")],
    ),
    "no geometry": (
        [{"type": "Feature", "properties": {"hamlet_code": "18484-T01"}, "geometry": None}],
        {},
        [(0, "geometry", "not_a_polygon", "not a Polygon")],
    ),  # fmt: skip
    "bad coordinates": (
        [feature(geometry={"type": "Polygon", "coordinates": [[[LON, LAT], [LON, LAT]]]})],
        {},
        [(0, "geometry", "invalid_geometry", "Invalid polygon")],
    ),
    "unreadable date": (
        [feature(valid_from="31/02/2026")],
        {},
        [(0, "valid_from", "unparseable_date", "The date cannot be read")],
    ),
    "reversed dates": (
        [feature(valid_from="2026-01-01", valid_to="2025-01-01")],
        {},
        [(0, "valid_to", "invalid_date_range", "valid_to is before valid_from")],
    ),
    "no such version": (
        [feature("18484-T21", valid_from="2026-01-01")],  # T21 ended 2025-06-30 (merged)
        {},
        [(0, "valid_from", "boundary_no_hamlet_version", "overlaps no version")],
    ),
    "two for one version": (
        [feature("18484-T05"), feature("18484-T01"), feature("18484-T05", valid_from="2024-01-01")],
        {},
        [
            (0, "hamlet_code", "duplicate_boundary", "same hamlet version as features[2]"),
            (2, "hamlet_code", "duplicate_boundary", "same hamlet version as features[0]"),
        ],
    ),
    "unparseable crs": (
        [feature(), feature("18484-T05")],
        {"crs": {"type": "name", "properties": {"name": "EPSG:999999"}}},
        [(0, "crs", "unparseable_crs", "cannot be recognised"), (1, "crs", "unparseable_crs", "EPSG:999999")],
    ),
    "wrong crs: projected metres read as degrees": (
        [feature(geometry=square(590000, 2040000, 500))],
        {},
        [(0, "geometry", "invalid_geometry", "outside lon [-180, 180]")],
    ),
    "not a feature": (
        [feature(), {"type": "Polygon"}],
        {},
        [(1, "type", "malformed_geojson", 'not a "Feature"')],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_bad_feature_is_quarantined_with_its_reason_and_counts_reconcile(con, raw_dir, ref, case):
    features, members, expected = CASES[case]
    write(raw_dir, features, **members)
    parsed = load(con, raw_dir, ref)
    got = quarantine(con)
    assert [(r[0], r[1], r[2]) for r in got] == [(i, col, code) for i, col, code, _ in expected]
    for (i, col, _code, text), (_, _, _, vi, en, _) in zip(expected, got, strict=True):
        where = f"({REL}, features[{i}], {col}"
        assert text in vi + en and where in en and where in vi  # file, feature index and property named
        assert vi.split(" (")[0] != en.split(" (")[0]  # Vietnamese and English
    bad = {i for i, *_ in expected}
    assert parsed.features_quarantined == len(bad)
    assert parsed.features_loaded == len(features) - len(bad)
    assert_reconciles(con, parsed)
    assert audit_row(con)["status"] == "reference"


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        (b"{not json", "not JSON"),
        (b'{"type": "Feature", "properties": {}, "geometry": null}', 'expected "FeatureCollection"'),
        (b'{"type": "FeatureCollection", "features": {}}', '"features" is missing or not a list'),
    ],
)
def test_a_malformed_file_is_rejected_whole_with_a_bilingual_reason(con, raw_dir, ref, content, detail):
    (raw_dir / "reference" / BOUNDARY_FILE).write_bytes(content)
    parsed = load(con, raw_dir, ref)
    assert parsed.rejected and detail in parsed.rejected
    a = audit_row(con)
    assert a["status"] == "rejected" and a["rows_read"] == a["rows_loaded"] == a["rows_quarantined"] == 0
    assert a["reason"].startswith("malformed_geojson: The boundary file is not valid GeoJSON")
    assert "Tệp ranh giới không đúng GeoJSON" in a["reason"] and REL in a["reason"] and detail in a["reason"]
    assert con.execute("select count(*) from raw.hamlet_boundaries").fetchone()[0] == 0


def test_no_file_gives_an_empty_table_and_no_error(con, raw_dir, ref):
    write(raw_dir, [feature()])
    load(con, raw_dir, ref)
    assert con.execute("select count(*) from raw.hamlet_boundaries").fetchone()[0] == 1
    (raw_dir / "reference" / BOUNDARY_FILE).unlink()
    parsed = load(con, raw_dir, ref)
    assert parsed.features_read == 0 and parsed.rejected is None
    assert con.execute("select count(*) from raw.hamlet_boundaries").fetchone()[0] == 0
    assert con.execute("select state from audit.file_paths where path = ?", [REL]).fetchone() == ("missing",)


def test_a_symbolic_link_is_not_followed_and_is_recorded_with_the_reason(con, raw_dir, ref, tmp_path):
    (tmp_path / "reference").mkdir()
    target = write(tmp_path, [feature()])  # a good file outside the raw dir
    (raw_dir / "reference" / BOUNDARY_FILE).symlink_to(target)
    parsed = load(con, raw_dir, ref)
    assert parsed.features_read == 0
    assert con.execute("select count(*) from raw.hamlet_boundaries").fetchone()[0] == 0
    a = audit_row(con)
    assert "symbolic link" in a["reason"] and "not followed" in a["reason"]
    assert a["rows_read"] == a["rows_loaded"] == a["rows_quarantined"] == 0


# ------------------------------------------------------------------ CRS


def _as_crs(lon: float, lat: float, epsg: int, d: float = 0.01) -> tuple[dict, list[list[float]]]:
    """A square around (lon, lat) in ``epsg`` (its corners projected with pyproj) and the WGS84 corners."""
    to = Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)
    corners = [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]
    projected = [list(to.transform(x, y)) for x, y in corners]
    return {"type": "Polygon", "coordinates": [projected]}, corners


@pytest.mark.parametrize(
    ("member", "epsg"),
    [
        ({"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3405"}}, 3405),  # VN-2000 / UTM 48N
        ({"type": "name", "properties": {"name": "EPSG:9210"}}, 9210),  # VN-2000 / TM-3 105°45'
        (
            {"type": "EPSG", "properties": {"code": 32648}},
            32648,
        ),  # WGS 84 / UTM 48N, GeoJSON 2008 linked form
    ],
)
def test_a_projected_feature_lands_at_the_right_lon_lat(con, raw_dir, ref, member, epsg):
    geometry, corners = _as_crs(LON, LAT, epsg)
    write(raw_dir, [feature(geometry=geometry)], crs=member)
    parsed = load(con, raw_dir, ref)
    assert parsed.features_loaded == 1, quarantine(con)
    geom, src = con.execute("select geometry_geojson, source_crs from raw.hamlet_boundaries").fetchone()
    assert src == f"EPSG:{epsg}"
    ring = json.loads(geom)["coordinates"][0]
    for want in corners[:4]:  # every corner back within 1e-4° of the pyproj reference
        assert min(abs(x - want[0]) + abs(y - want[1]) for x, y in ring) < 1e-4, (want, ring)


def test_a_known_point_utm_zone_48n_false_origin_is_105e_on_the_equator(con, raw_dir, ref):
    """UTM 48N: easting 500,000 m on the equator is the central meridian 105° E, latitude 0, by definition;
    a feature-level crs member is honoured too."""
    ring = [[500000, 0], [501000, 0], [501000, 1000], [500000, 1000], [500000, 0]]
    f = feature(geometry={"type": "Polygon", "coordinates": [ring]}, valid_from="2020-01-01")
    f["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32648"}}
    write(raw_dir, [f])
    load(con, raw_dir, ref)
    coords = json.loads(con.execute("select geometry_geojson from raw.hamlet_boundaries").fetchone()[0])
    assert [105.0, 0.0] in coords["coordinates"][0]


# ------------------------------------------------------------------ landing zone, asset, sample


def test_the_registry_asset_loads_boundaries_and_its_reconciliation_check_passes(
    tmp_path, raw_dir, monkeypatch
):
    from pipeline.ingest.sources.reference.assets import reference_registry, reference_rows_reconcile
    from pipeline.resources import WarehouseResource

    write(raw_dir, [feature(), feature("18484-T77")])
    monkeypatch.setenv("NTM_RAW_DIR", str(raw_dir))
    result = dg.materialize(
        [reference_registry, reference_rows_reconcile],
        resources={"warehouse": WarehouseResource(path=str(tmp_path / "w.duckdb"))},
    )
    assert result.success
    meta = {
        m.asset_key.path[-1]: m.metadata for m in result.asset_materializations_for_node("reference_registry")
    }["hamlet_boundaries"]
    assert (
        meta["features_read"].value,
        meta["features_loaded"].value,
        meta["features_quarantined"].value,
    ) == (
        2,
        1,
        1,
    )
    assert meta["dagster/row_count"].value == 1
    checks = result.get_asset_check_evaluations()
    assert [(c.check_name, c.passed) for c in checks] == [("reference_rows_reconcile", True)]


def test_the_bundled_synthetic_boundaries_load_whole_and_match_a_fresh_generation(tmp_path):
    from pipeline.synth.boundaries import write_boundaries

    raw = REPO / "raw"
    committed = raw / "reference" / BOUNDARY_FILE
    fresh = write_boundaries(tmp_path, 18484)
    assert fresh.read_bytes() == committed.read_bytes(), "regenerate with: python -m pipeline.synth sample"
    doc = json.loads(committed.read_text(encoding="utf-8"))
    assert doc["synthetic"] is True and "giả lập" in doc["name"] and "synthetic" in doc["name"]
    ref = ReferenceData.from_files(raw)
    parsed = parse_boundaries(committed.read_bytes(), REL, "sha", ref.hamlets)
    assert parsed.features_quarantined == 0 and parsed.features_loaded == len(ref.hamlets) == 31
    rows = parsed.rows.set_index(["hamlet_code", "valid_from"])
    geoms = {k: shape(json.loads(g)) for k, g in rows["geometry_geojson"].items()}
    by_code = {code: g for (code, _), g in geoms.items()}
    # merge: T28 = T21 ∪ T22; split: T29 ∪ T30 = T17, about 55 % / 45 %; rename: T09 keeps its polygon
    assert (
        by_code["18484-T28"].symmetric_difference(by_code["18484-T21"].union(by_code["18484-T22"])).area
        < 1e-9
    )
    t29, t30, t17 = by_code["18484-T29"], by_code["18484-T30"], by_code["18484-T17"]
    assert t29.union(t30).symmetric_difference(t17).area < 1e-9 and t29.intersection(t30).area < 1e-9
    assert t29.area / t17.area == pytest.approx(0.55, abs=0.01)
    t09 = [g for (code, _), g in geoms.items() if code == "18484-T09"]
    assert len(t09) == 2 and t09[0].equals(t09[1])
    # around Đồng Lộc, hamlets of one day do not overlap
    assert (
        rows["centroid_lon"].between(105.6, 105.8).all() and rows["centroid_lat"].between(18.35, 18.55).all()
    )
    current = [geoms[k] for k in rows.index[rows["valid_to"].isna()]]
    assert len(current) == 27  # 31 versions - T09 old name, T17, T21, T22
    total = sum(g.area for g in current)
    from shapely.ops import unary_union

    assert unary_union(current).area == pytest.approx(total, rel=1e-6)
    assert rows["is_synthetic"].all()


def test_bundled_sample_boundary_file_is_a_reference_file_not_a_stray(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    raw = REPO / "raw"
    from pipeline.ingest.reference import load_reference

    ref = load_reference(con, raw)
    load_boundaries(con, raw, ref.hamlets)
    landing = account_landing_zone(con, raw)
    files = {f.path: f for f in landing.files}
    assert (
        files[REL].status == "reference" and files[REL].rows_loaded == 31 and files[REL].rows_quarantined == 0
    )
    assert landing.attention() == []
    con.close()


# ------------------------------------------------------------------ the release README


def test_release_readme_explains_the_boundaries_and_says_synthetic_or_absent():
    from pipeline.publish.reuser_readme import boundary_lines

    def dp(rows: int, synthetic: bool) -> dict:
        return {
            "ntm:is_synthetic": synthetic,
            "resources": [{"name": "dim_hamlet_boundary", "ntm:rows": rows}],
        }

    text = "\n".join(boundary_lines(dp(31, True)))
    assert "GIẢ LẬP" in text and "SYNTHETIC" in text
    assert "pyproj `Geod`" in text and "6 decimals" in text and "6 chữ số" in text
    assert "SYNTHETIC" not in "\n".join(boundary_lines(dp(31, False)))
    absent = "\n".join(boundary_lines(dp(0, True)))
    assert "không có ranh giới thôn" in absent and "no hamlet boundaries" in absent

"""Hamlet boundaries: ``raw/reference/hamlet_boundaries.geojson`` → ``raw.hamlet_boundaries`` (full replace).

The file is a GeoJSON FeatureCollection (RFC 7946, WGS84 lon/lat; an old-style ``crs`` member, on the
collection or on a feature, is converted to WGS84 with pyproj). One feature per hamlet version, with
properties ``hamlet_code`` (required), ``valid_from`` and ``valid_to`` (optional; inclusive end date, empty =
still valid). The rules are written out in raw/README.md ("Ranh giới thôn / Hamlet boundaries").

Nothing is dropped silently: every feature is loaded or quarantined (``audit.quarantine``, source
``reference``, ``row_number`` = the 0-based index in ``features``) with one record per problem, so
``features read = loaded + quarantined``. A file that is not a FeatureCollection at all is rejected whole
(one quarantine record with ``row_number`` null; :func:`pipeline.ingest.landing.account_landing_zone`
records it as ``rejected``). No file: the table is emptied, no error (the map falls back to a tile grid).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from pipeline.ingest import quarantine as q
from pipeline.ingest.files import BOUNDARY_FILE, BOUNDARY_FILE_REASONS, BOUNDARY_TABLE
from pipeline.ingest.tables import ensure_warehouse_schema, insert_frame
from pipeline.lib.text import nfc

TABLE = BOUNDARY_TABLE
SOURCE = "reference"
DECIMALS = 6  # coordinates (about 0.1 m), centroid and area_km2 are rounded to 6 decimals
#: file-level rejections (row_number null in audit.quarantine)
FILE_REASONS = BOUNDARY_FILE_REASONS
ROW_COLUMNS = [
    "hamlet_code",
    "valid_from",
    "valid_to",
    "geometry_geojson",
    "geometry_type",
    "centroid_lon",
    "centroid_lat",
    "area_km2",
    "source_crs",
    "is_synthetic",
    "feature_index",
]
POLYGON_TYPES = ("Polygon", "MultiPolygon")
WGS84 = "OGC:CRS84"


@dataclass
class Problem:
    code: str
    column: str | None
    raw_value: str | None = None
    detail: str | None = None


@dataclass
class ParsedBoundaries:
    """What one boundary file holds: rows to load, quarantine records, and the counts that reconcile."""

    rows: pd.DataFrame
    quarantine: pd.DataFrame
    features_read: int = 0
    is_synthetic: bool = False
    rejected: str | None = None  # bilingual reason when the whole file is rejected
    problems: dict[int, list[Problem]] = field(default_factory=dict)

    @property
    def features_loaded(self) -> int:
        return len(self.rows)

    @property
    def features_quarantined(self) -> int:
        return len(self.problems)


def _empty_rows() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in ROW_COLUMNS})


def _text(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return nfc(str(v)).strip()


def parse_date(v: object) -> tuple[dt.date | None, bool]:
    """(date, ok): empty → (None, True); yyyy-mm-dd, yyyy/mm/dd or dd/mm/yyyy (a timestamp's time is
    ignored) → (date, True); anything else → (None, False)."""
    s = _text(v)
    if not s:
        return None, True
    s = s.split("T")[0].split(" ")[0]
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(s, fmt).date(), True
        except ValueError:
            continue
    return None, False


def crs_name(member: object) -> str:
    """The CRS an old-style ``crs`` member names: {"type": "name", "properties": {"name": "..."}}, an
    EPSG-linked form {"type": "EPSG", "properties": {"code": 3405}}, or a bare string."""
    if isinstance(member, str):
        return member.strip()
    if isinstance(member, dict):
        props = member.get("properties") if isinstance(member.get("properties"), dict) else {}
        if props.get("name"):
            return str(props["name"]).strip()
        if props.get("code") is not None:
            return f"EPSG:{props['code']}"
    raise ValueError(f"crs member of unknown form: {json.dumps(member, ensure_ascii=False)[:120]}")


def _transformer(name: str):
    """(transformer to WGS84 lon/lat or None for WGS84 itself, canonical name). Raises on an unknown CRS."""
    from pyproj import CRS, Transformer

    crs = CRS.from_user_input(name)
    if crs.equals(CRS.from_user_input(WGS84), ignore_axis_order=True):
        return None, WGS84
    if crs.is_geocentric or crs.is_vertical:
        raise ValueError(f"not a horizontal CRS: {crs.name}")
    auth = crs.to_authority()
    label = f"{auth[0]}:{auth[1]}" if auth else crs.name
    return Transformer.from_crs(crs, WGS84, always_xy=True), label


def _geometry(geom: object, transformer) -> tuple[object | None, Problem | None]:
    """A valid WGS84 (Multi)Polygon, rounded to 6 decimals and oriented as RFC 7946 says (exterior rings
    counter-clockwise), or the problem."""
    import shapely
    from shapely.geometry import shape
    from shapely.validation import explain_validity

    if not isinstance(geom, dict) or geom.get("type") not in POLYGON_TYPES:
        kind = (
            geom.get("type") if isinstance(geom, dict) else ("null" if geom is None else type(geom).__name__)
        )
        return None, Problem("not_a_polygon", "geometry", str(kind))
    try:
        g = shape(geom)
        if transformer is not None:
            g = shapely.transform(g, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))
        g = shapely.transform(g, lambda xy: np.round(xy, DECIMALS))
    except Exception as exc:  # bad coordinate arrays, too few points, infinite values
        return None, Problem("invalid_geometry", "geometry", geom.get("type"), f"{type(exc).__name__}: {exc}")
    if g.is_empty:
        return None, Problem("invalid_geometry", "geometry", geom.get("type"), "empty geometry")
    minx, miny, maxx, maxy = g.bounds
    if not all(map(math.isfinite, g.bounds)) or minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        detail = f"bounds {[round(b, 3) for b in g.bounds]} outside lon [-180, 180] / lat [-90, 90]"
        return None, Problem("invalid_geometry", "geometry", geom.get("type"), detail)
    if not g.is_valid:
        return None, Problem("invalid_geometry", "geometry", geom.get("type"), explain_validity(g))
    return shapely.orient_polygons(g, exterior_cw=False), None


def _measures(g) -> tuple[float, float, float]:
    """(centroid_lon, centroid_lat, area_km2): the planar centroid of the lon/lat polygon and the geodesic
    area on the WGS84 ellipsoid (pyproj.Geod), rounded to 6 decimals."""
    from pyproj import Geod

    area, _ = Geod(ellps="WGS84").geometry_area_perimeter(g)
    c = g.centroid
    return round(c.x, DECIMALS), round(c.y, DECIMALS), round(abs(area) / 1e6, DECIMALS)


def _props(feature: dict) -> dict[str, object]:
    """Properties with their names NFC-normalised, trimmed and lower-cased (QGIS may upper-case them)."""
    props = feature.get("properties") or {}
    return {nfc(str(k)).strip().lower(): v for k, v in props.items()}


def _truthy(v: object) -> bool:
    return v is True or _text(v).lower() in ("true", "1", "yes", "có", "co")


def parse_boundaries(data: bytes, rel: str, sha: str, hamlets: pd.DataFrame) -> ParsedBoundaries:
    """Check and convert one boundary file. ``hamlets``: the registry (hamlet_code upper-case, valid_from,
    valid_to as timestamps; NaT valid_to = current), as :class:`pipeline.ingest.reference.ReferenceData`
    holds it."""
    out = ParsedBoundaries(rows=_empty_rows(), quarantine=q.empty_frame())

    def reject(column: str | None, detail: str) -> ParsedBoundaries:
        out.rejected = (
            f"malformed_geojson: {q.REASONS['malformed_geojson'][1]} / {q.REASONS['malformed_geojson'][0]}"
        )
        out.rejected += f" ({rel}: {detail})"
        out.quarantine = _records(rel, sha, {None: [Problem("malformed_geojson", column, None, detail)]})
        return out

    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return reject(None, f"not JSON: {exc}")
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        kind = doc.get("type") if isinstance(doc, dict) else type(doc).__name__
        return reject("type", f'"type" is {kind!r}, expected "FeatureCollection"')
    features = doc.get("features")
    if not isinstance(features, list):
        return reject("features", '"features" is missing or not a list')
    out.features_read = len(features)
    out.is_synthetic = _truthy(doc.get("synthetic"))

    file_crs: tuple | None = None  # (transformer, label) or None when the member is unreadable
    file_crs_problem: Problem | None = None
    if "crs" in doc and doc["crs"] is not None:
        try:
            name = crs_name(doc["crs"])
            file_crs = _transformer(name)
        except Exception as exc:
            file_crs_problem = Problem(
                "unparseable_crs", "crs", _short(doc["crs"]), f"{type(exc).__name__}: {exc}"
            )
    else:
        file_crs = (None, WGS84)

    hamlets = hamlets.copy()
    hamlets["hamlet_code"] = hamlets["hamlet_code"].astype(str).map(lambda s: nfc(s).strip().upper())
    versions = {code: grp for code, grp in hamlets.groupby("hamlet_code")}

    problems: dict[int, list[Problem]] = {}
    good: list[dict] = []
    claims: dict[tuple[str, pd.Timestamp], list[int]] = {}
    for i, feature in enumerate(features):
        probs: list[Problem] = []
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            problems[i] = [Problem("malformed_geojson", "type", _short(feature), 'not a "Feature" object')]
            continue
        if feature.get("properties") is not None and not isinstance(feature.get("properties"), dict):
            problems[i] = [
                Problem("malformed_geojson", "properties", _short(feature["properties"]), "not an object")
            ]
            continue
        props = _props(feature)
        code = _text(props.get("hamlet_code")).upper()
        if not code:
            probs.append(Problem("missing_value", "hamlet_code"))
        elif code not in versions:
            probs.append(Problem("unknown_hamlet", "hamlet_code", code))
        valid_from, ok_from = parse_date(props.get("valid_from"))
        valid_to, ok_to = parse_date(props.get("valid_to"))
        if not ok_from:
            probs.append(Problem("unparseable_date", "valid_from", _text(props.get("valid_from"))))
        if not ok_to:
            probs.append(Problem("unparseable_date", "valid_to", _text(props.get("valid_to"))))
        if valid_from and valid_to and valid_to < valid_from:
            probs.append(Problem("invalid_date_range", "valid_to", f"{valid_from} > {valid_to}"))
        crs = file_crs
        if "crs" in feature and feature["crs"] is not None:
            try:
                crs = _transformer(crs_name(feature["crs"]))
            except Exception as exc:
                crs = None
                probs.append(
                    Problem("unparseable_crs", "crs", _short(feature["crs"]), f"{type(exc).__name__}: {exc}")
                )
        elif file_crs_problem is not None:
            probs.append(file_crs_problem)
        geom = None
        if crs is not None:
            geom, problem = _geometry(feature.get("geometry"), crs[0])
            if problem:
                probs.append(problem)
        matched: list[pd.Timestamp] = []
        if code in versions and ok_from and ok_to and not any(p.code == "invalid_date_range" for p in probs):
            v = versions[code]
            lo = pd.Timestamp(valid_from) if valid_from else pd.Timestamp.min
            hi = pd.Timestamp(valid_to) if valid_to else pd.Timestamp.max
            hit = (v["valid_from"] <= hi) & (v["valid_to"].isna() | (v["valid_to"] >= lo))
            matched = list(v.loc[hit, "valid_from"])
            if not matched:
                shown = f"{valid_from or '…'} – {valid_to or '…'}"
                probs.append(Problem("boundary_no_hamlet_version", "valid_from", shown))
        if probs:
            problems[i] = probs
            continue
        for version in matched:
            claims.setdefault((code, version), []).append(i)
        lon, lat, area = _measures(geom)
        good.append(
            {
                "hamlet_code": code,
                "valid_from": valid_from,
                "valid_to": valid_to,
                "geometry_geojson": json.dumps(_mapping(geom), separators=(",", ":")),
                "geometry_type": geom.geom_type,
                "centroid_lon": lon,
                "centroid_lat": lat,
                "area_km2": area,
                "source_crs": crs[1],
                "is_synthetic": out.is_synthetic or _truthy(props.get("synthetic")),
                "feature_index": i,
            }
        )
    clashing: dict[int, set[int]] = {}
    for idx in claims.values():
        if len(idx) > 1:
            for i in idx:
                clashing.setdefault(i, set()).update(set(idx) - {i})
    for i, others in sorted(clashing.items()):
        row = next(r for r in good if r["feature_index"] == i)
        detail = "same hamlet version as " + ", ".join(f"features[{j}]" for j in sorted(others))
        problems[i] = [Problem("duplicate_boundary", "hamlet_code", row["hamlet_code"], detail)]
    good = [r for r in good if r["feature_index"] not in clashing]
    out.problems = dict(sorted(problems.items()))
    out.quarantine = _records(rel, sha, out.problems)
    if good:
        out.rows = pd.DataFrame(good, columns=ROW_COLUMNS)
    return out


def _mapping(g) -> dict:
    from shapely.geometry import mapping

    return mapping(g)


def _short(v: object, limit: int = 200) -> str:
    s = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _records(rel: str, sha: str, problems: dict[int | None, list[Problem]]) -> pd.DataFrame:
    """audit.quarantine rows: one per problem; the message names file, feature index and property."""
    rows = []
    for i, probs in problems.items():
        where = f"{rel}, features[{i}]" if i is not None else rel
        for p in probs:
            vi, en = q.message(p.code, p.column)
            place = (
                f" ({where}"
                + (f", {p.column}" if p.column else "")
                + (f": {p.detail}" if p.detail else "")
                + ")"
            )
            rows.append(
                {
                    "file_sha256": sha,
                    "source_file": rel,
                    "source": SOURCE,
                    "row_number": i,
                    "column_name": p.column,
                    "raw_value": _short(p.raw_value) if p.raw_value is not None else None,
                    "reason_code": p.code,
                    "message_vi": vi + place,
                    "message_en": en + place,
                }
            )
    if not rows:
        return q.empty_frame()
    return pd.DataFrame(rows, columns=q.QUARANTINE_COLUMNS).astype({"row_number": "Int64"})


def load_boundaries(con: duckdb.DuckDBPyConnection, raw_dir: Path, hamlets: pd.DataFrame) -> ParsedBoundaries:
    """Replace ``raw.hamlet_boundaries`` from ``raw_dir/reference/hamlet_boundaries.geojson`` and record
        its quarantine (one transaction; re-running with the same file gives the same tables). No file: the
        table is emptied and an empty result returned (a symbolic link is not followed: the landing zone records it
    with the reason)."""
    ensure_warehouse_schema(con)
    path = Path(raw_dir) / "reference" / BOUNDARY_FILE
    rel = path.relative_to(raw_dir).as_posix()
    if path.is_file() and not path.is_symlink():  # a link is not followed (as the landing zone does not)
        data = path.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        parsed = parse_boundaries(data, rel, sha, hamlets)
    else:
        sha, parsed = None, ParsedBoundaries(rows=_empty_rows(), quarantine=q.empty_frame())
    con.begin()
    try:
        con.execute(f"delete from {TABLE}")
        if sha is not None:
            con.execute("delete from audit.quarantine where file_sha256 = ?", [sha])
            rows = parsed.rows.copy()
            rows["_file_sha256"] = sha
            rows["_source_file"] = rel
            rows["_source_row"] = rows["feature_index"]
            insert_frame(con, TABLE, rows)
            qf = parsed.quarantine.copy()
            qf["quarantined_at"] = pd.Timestamp.now()
            insert_frame(con, "audit.quarantine", qf)
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return parsed

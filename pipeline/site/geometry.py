"""Hamlet shapes for the map: the release's boundaries, or a tile grid when it has none.

With a ``dim_hamlet_boundary`` resource holding at least one polygon, every hamlet version (``hamlet_key``)
is drawn with its own polygon (WGS84, Mercator projection). Without one - no boundary file in
``raw/reference/``, or an empty resource - the map falls back to a grid of equal squares, one per hamlet code
(a merged or split hamlet's successor gets its own tile), drawn with an identity projection and labelled so;
it is never an error.
"""

from __future__ import annotations

import json
import math
from typing import Any

import shapely.geometry
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.polygon import orient

from .release_data import Release

BOUNDARIES, TILES = "boundaries", "tiles"


def hamlet_shapes(rel: Release) -> tuple[dict[int, dict[str, Any]], str, bool]:
    """``({hamlet_key: {"geometry": GeoJSON, "cx": .., "cy": ..}}, kind, synthetic)``."""
    shapes: dict[int, dict[str, Any]] = {}
    synthetic = False
    if rel.has("dim_hamlet_boundary"):
        cols = {r["column_name"] for r in rel.rows("select column_name from (describe dim_hamlet_boundary)")}
        synth_col = "is_synthetic" if "is_synthetic" in cols else "false"
        for r in rel.rows(
            f"select hamlet_key, geometry_geojson, centroid_lon, centroid_lat, {synth_col} as is_synthetic "
            "from dim_hamlet_boundary where geometry_geojson is not null"
        ):
            shapes[int(r["hamlet_key"])] = {
                "geometry": d3_winding(json.loads(r["geometry_geojson"])),
                "cx": r["centroid_lon"],
                "cy": r["centroid_lat"],
            }
            synthetic = synthetic or bool(r["is_synthetic"])
    if shapes:
        return shapes, BOUNDARIES, synthetic
    return tile_grid(rel), TILES, False


def d3_winding(geometry: dict[str, Any]) -> dict[str, Any]:
    """Vega draws with d3-geo, which reads a counter-clockwise exterior ring (RFC 7946's order) as "the whole
    globe minus this polygon": re-orient exterior rings clockwise and holes counter-clockwise."""
    geom = shapely.geometry.shape(geometry)
    polys = list(geom.geoms) if isinstance(geom, MultiPolygon) else [geom]
    oriented = [orient(p, sign=-1.0) for p in polys if isinstance(p, Polygon)]
    out = MultiPolygon(oriented) if len(oriented) > 1 else oriented[0]
    return shapely.geometry.mapping(out)


def tile_grid(rel: Release) -> dict[int, dict[str, Any]]:
    """One square per hamlet code, row by row in code order; every version of a code shares its tile."""
    hamlets = rel.rows("select hamlet_key, hamlet_code from dim_hamlet order by hamlet_code, valid_from")
    codes = sorted({h["hamlet_code"] for h in hamlets})
    cols = max(1, math.ceil(math.sqrt(len(codes) * 1.5)))
    pos = {code: divmod(i, cols) for i, code in enumerate(codes)}
    out: dict[int, dict[str, Any]] = {}
    for h in hamlets:
        row, col = pos[h["hamlet_code"]]
        x0, y0 = col * 10.0, -row * 10.0
        ring = [[x0, y0], [x0 + 9, y0], [x0 + 9, y0 - 9], [x0, y0 - 9], [x0, y0]]
        out[int(h["hamlet_key"])] = {
            "geometry": {"type": "Polygon", "coordinates": [ring[::-1]]},
            "cx": x0 + 4.5,
            "cy": y0 - 4.5,
        }
    return out

"""The locator: point → district, street, community, unit grid and covering zones.

Shared-edge rule: a point covered by several unit grids (on a shared edge or vertex) belongs to the one with
the lowest code; the community, street and district are that grid's ancestors. `locate` (SQL) and
`locate_many` (vectorised, in process) both apply it.
"""
from __future__ import annotations

import math

import numpy as np
import psycopg
import shapely
from psycopg.rows import dict_row

from core.errors import Inconsistent, InvalidInput
from gis.crs import WGS84, is_geographic, parse_crs, points_to_wgs84
from gis.errors import NoActiveRelease, OutsideDistrict
from gis.models import Location, Place

LOCATE = """
WITH rel AS (SELECT * FROM grid_release WHERE is_active),
pt AS (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) AS g),
cell AS (
    SELECT f.code, f.name, f.parent_code
    FROM grid_feature f, rel, pt
    WHERE f.layer_id = rel.grid_layer_id AND ST_Covers(f.geom, pt.g)
    ORDER BY f.code
    LIMIT 1
)
SELECT rel.id AS release_id,
       (SELECT string_agg(name || ' (' || code || ')', ', ' ORDER BY code)
          FROM grid_feature WHERE layer_id = rel.district_layer_id) AS district_label,
       d.code AS district_code, d.name AS district_name, s.code AS street_code, s.name AS street_name,
       c.code AS community_code, c.name AS community_name, cell.code AS grid_code, cell.name AS grid_name,
       (SELECT coalesce(jsonb_agg(jsonb_build_object('layer', zl.name, 'code', zf.code, 'name', zf.name)
                                  ORDER BY zl.name, zf.code), '[]'::jsonb)
          FROM zone_feature zf
          JOIN zone_version zv ON zv.id = zf.version_id AND zv.is_active
          JOIN zone_layer zl ON zl.id = zv.layer_id, pt
         WHERE cell.code IS NOT NULL AND ST_Covers(zf.geom, pt.g)) AS zones
FROM rel
LEFT JOIN cell ON true
-- LATERAL + LIMIT 1 (not pulled up into a hash join) keeps each ancestor a unique-index probe, whatever the stats
LEFT JOIN LATERAL (SELECT code, name, parent_code FROM grid_feature
                    WHERE layer_id = rel.community_layer_id AND code = cell.parent_code LIMIT 1) c ON true
LEFT JOIN LATERAL (SELECT code, name, parent_code FROM grid_feature
                    WHERE layer_id = rel.street_layer_id AND code = c.parent_code LIMIT 1) s ON true
LEFT JOIN LATERAL (SELECT code, name FROM grid_feature
                    WHERE layer_id = rel.district_layer_id AND code = s.parent_code LIMIT 1) d ON true
"""


def to_wgs84(lon: float, lat: float, crs: str | int | None) -> tuple[float, float, str]:
    """Check and convert one input coordinate; returns WGS84 lon, lat and the parsed CRS."""
    parsed = parse_crs(crs if crs not in (None, "") else WGS84)
    if not (_finite(lon) and _finite(lat)):
        raise InvalidInput("lon and lat must be finite numbers")
    if is_geographic(parsed) and not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise Inconsistent(f"lon must be within -180..180 and lat within -90..90 (got {lon}, {lat})")
    x, y = points_to_wgs84(np.array([lon]), np.array([lat]), parsed)
    wlon, wlat = float(x[0]), float(y[0])
    if not (_finite(wlon) and _finite(wlat)) or not (-180 <= wlon <= 180 and -90 <= wlat <= 90):
        raise Inconsistent(f"({lon}, {lat}) is not a valid position in {parsed}")
    return wlon, wlat, parsed


def _finite(value: float) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def locate(conn: psycopg.Connection, *, lon: float, lat: float, crs: str | int | None = WGS84) -> Location:
    """Locate one point in the active release, in one indexed query; raise OutsideDistrict when none covers it."""
    wlon, wlat, _ = to_wgs84(lon, lat, crs)
    return location_of(queue_locate(conn, lon=wlon, lat=wlat).fetchone(), lon=wlon, lat=wlat)


def queue_locate(conn: psycopg.Connection, *, lon: float, lat: float) -> psycopg.Cursor:
    """Send the locator query for a WGS84 point; in pipeline mode its row arrives at the next sync."""
    cur = conn.cursor(row_factory=dict_row)
    cur.execute(LOCATE, {"lon": lon, "lat": lat})
    return cur


def location_of(row: dict | None, *, lon: float, lat: float) -> Location:
    """The Location in a locator row, or the error that says why there is none."""
    if row is None:
        raise NoActiveRelease("no grid release is active: import grids and run `citygrid grids release --activate`")
    if row["grid_code"] is None:
        raise OutsideDistrict(
            f"the point (lon {lon:.6f}, lat {lat:.6f} in WGS84) is outside {row['district_label']}: "
            "reports must lie inside the district"
        )
    return Location(
        release_id=row["release_id"], lon=lon, lat=lat,
        district=Place(row["district_code"], row["district_name"]),
        street=Place(row["street_code"], row["street_name"]),
        community=Place(row["community_code"], row["community_name"]),
        grid=Place(row["grid_code"], row["grid_name"]),
        zones=row["zones"],
    )


def locate_many(codes: list[str], geoms: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Vectorised locate of WGS84 points among unit grids: the lowest covering code per point, or None."""
    order = np.argsort(np.asarray(codes, dtype=object))
    sorted_codes = np.asarray(codes, dtype=object)[order]
    tree = shapely.STRtree(np.asarray(geoms, dtype=object)[order])
    points = shapely.points(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    point_idx, grid_idx = tree.query(points, predicate="covered_by")
    best = np.full(len(points), len(sorted_codes), dtype=np.int64)
    np.minimum.at(best, point_idx, grid_idx)  # grids are sorted by code, so the minimum index is the lowest code
    result = np.full(len(points), None, dtype=object)
    found = best < len(sorted_codes)
    result[found] = sorted_codes[best[found]]
    return result

"""Every SQL statement of the gis package. Functions take the connection first and never commit."""
from __future__ import annotations

import numpy as np
import psycopg
import shapely
from psycopg import sql
from psycopg.rows import dict_row

LATEST_LAYER = """
SELECT id, level, version FROM grid_layer WHERE level = %(level)s ORDER BY version DESC LIMIT 1
"""

LAYER_BY_ID = "SELECT id, level, version, parent_layer_id FROM grid_layer WHERE id = %(id)s"

LAYER_FEATURES = """
SELECT code, name, parent_code, ST_AsBinary(geom) AS wkb FROM grid_feature WHERE layer_id = %(layer_id)s
ORDER BY code
"""

INSERT_LAYER = """
INSERT INTO grid_layer (level, version, parent_layer_id, source, source_crs, feature_count)
VALUES (%(level)s,
        (SELECT coalesce(max(version), 0) + 1 FROM grid_layer WHERE level = %(level)s),
        %(parent_layer_id)s, %(source)s, %(source_crs)s, %(feature_count)s)
RETURNING id, version
"""

INSERT_RELEASE = """
INSERT INTO grid_release (name, district_layer_id, street_layer_id, community_layer_id, grid_layer_id)
VALUES (%(name)s, %(district)s, %(street)s, %(community)s, %(grid)s)
RETURNING id
"""

DEACTIVATE_RELEASES = "UPDATE grid_release SET is_active = false WHERE is_active"

ACTIVATE_RELEASE = """
UPDATE grid_release SET is_active = true, activated_at = now() WHERE id = %(id)s RETURNING id
"""

LIST_RELEASES = """
SELECT r.id, r.name, r.is_active, r.created_at, r.activated_at,
       d.version AS district_version, s.version AS street_version,
       c.version AS community_version, g.version AS grid_version, g.feature_count AS grids
FROM grid_release r
JOIN grid_layer d ON d.id = r.district_layer_id JOIN grid_layer s ON s.id = r.street_layer_id
JOIN grid_layer c ON c.id = r.community_layer_id JOIN grid_layer g ON g.id = r.grid_layer_id
ORDER BY r.id
"""

ACTIVE_LAYER_IDS = """
SELECT id AS release_id, district_layer_id AS district, street_layer_id AS street,
       community_layer_id AS community, grid_layer_id AS grid
FROM grid_release WHERE is_active
"""

LAYER_GEOJSON = """
SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(json_build_object(
    'type', 'Feature',
    'properties', json_build_object('code', code, 'name', name, 'parent_code', parent_code),
    'geometry', ST_AsGeoJSON(geom, 6)::json) ORDER BY code), '[]'::json))
FROM grid_feature WHERE layer_id = %(layer_id)s
"""

# The features of a layer that touch a box (the outlines around a case on a small map).
LAYER_GEOJSON_IN = """
SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(json_build_object(
    'type', 'Feature',
    'properties', json_build_object('code', code, 'name', name, 'parent_code', parent_code),
    'geometry', ST_AsGeoJSON(geom, 6)::json) ORDER BY code), '[]'::json))
FROM grid_feature
WHERE layer_id = %(layer_id)s AND geom && ST_MakeEnvelope(%(west)s, %(south)s, %(east)s, %(north)s, 4326)
"""

# Where a feature's name is written on the map: a point surely inside it (ST_PointOnSurface), and the side of a
# square of its area in metres, to tell at which zoom the name fits.
LABEL_POINTS = """
SELECT code, name, round(ST_X(p)::numeric, 6)::float AS lon, round(ST_Y(p)::numeric, 6)::float AS lat,
       round(sqrt(ST_Area(geom::geography)))::int AS span_m
FROM (SELECT code, name, geom, ST_PointOnSurface(geom) AS p FROM grid_feature WHERE layer_id = %(layer_id)s) f
ORDER BY code
"""

ZONE_LAYER_UPSERT = """
INSERT INTO zone_layer (name) VALUES (%(name)s)
ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id
"""

DEACTIVATE_ZONE_VERSIONS = "UPDATE zone_version SET is_active = false WHERE layer_id = %(layer_id)s AND is_active"

INSERT_ZONE_VERSION = """
INSERT INTO zone_version (layer_id, version, source, source_crs, feature_count, is_active)
VALUES (%(layer_id)s,
        (SELECT coalesce(max(version), 0) + 1 FROM zone_version WHERE layer_id = %(layer_id)s),
        %(source)s, %(source_crs)s, %(feature_count)s, true)
RETURNING id, version
"""


def latest_layer(conn: psycopg.Connection, *, level: str) -> dict | None:
    """The newest imported version of a level, or None."""
    return conn.cursor(row_factory=dict_row).execute(LATEST_LAYER, {"level": level}).fetchone()


def layer(conn: psycopg.Connection, *, layer_id: int) -> dict | None:
    """One layer version by id."""
    return conn.cursor(row_factory=dict_row).execute(LAYER_BY_ID, {"id": layer_id}).fetchone()


def layer_features(conn: psycopg.Connection, *, layer_id: int) -> tuple[list[str], list[str], list, np.ndarray]:
    """Codes, names, parent codes and WGS84 geometries of one layer version."""
    rows = conn.execute(LAYER_FEATURES, {"layer_id": layer_id}).fetchall()
    geoms = shapely.from_wkb([r[3] for r in rows]) if rows else np.array([], dtype=object)
    return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], geoms


def insert_layer(conn: psycopg.Connection, **values) -> tuple[int, int]:
    """Create the next version of a level; return (id, version)."""
    row = conn.execute(INSERT_LAYER, values).fetchone()
    return row[0], row[1]


def copy_features(conn: psycopg.Connection, *, table: str, owner_column: str, owner_id: int, rows) -> None:
    """Stream features into grid_feature or zone_feature with COPY; geometry goes in as hex EWKB."""
    columns = {
        "grid_feature": ("code", "name", "parent_code", "area_m2", "geom"),
        "zone_feature": ("code", "name", "geom"),
    }[table]
    statement = sql.SQL("COPY {} ({}, {}) FROM STDIN").format(
        sql.Identifier(table),
        sql.Identifier(owner_column),
        sql.SQL(", ").join(map(sql.Identifier, columns)),
    )
    with conn.cursor().copy(statement) as copy:
        for row in rows:
            copy.write_row((owner_id, *row))
    # Fresh statistics, or the planner walks the ancestor joins of the locator with sequential scans (7x slower).
    conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))


def insert_release(conn: psycopg.Connection, **values) -> int:
    """Record a release (one layer version per level); return its id."""
    return conn.execute(INSERT_RELEASE, values).fetchone()[0]


def activate_release(conn: psycopg.Connection, *, release_id: int) -> bool:
    """Make one release the only active one; False if it does not exist."""
    conn.execute(DEACTIVATE_RELEASES)
    return conn.execute(ACTIVATE_RELEASE, {"id": release_id}).fetchone() is not None


def list_releases(conn: psycopg.Connection) -> list[dict]:
    """Every release with its layer versions."""
    return conn.cursor(row_factory=dict_row).execute(LIST_RELEASES).fetchall()


def active_layer_ids(conn: psycopg.Connection) -> dict | None:
    """The layer id of each level in the active release, or None."""
    return conn.cursor(row_factory=dict_row).execute(ACTIVE_LAYER_IDS).fetchone()


def layer_geojson(conn: psycopg.Connection, *, layer_id: int) -> dict:
    """One layer version as a GeoJSON FeatureCollection built in SQL."""
    return conn.execute(LAYER_GEOJSON, {"layer_id": layer_id}).fetchone()[0]


def layer_geojson_in(conn: psycopg.Connection, *, layer_id: int, west: float, south: float, east: float,
                     north: float) -> dict:
    """The features of one layer version whose bounding box meets a WGS84 box, as GeoJSON built in SQL."""
    box = {"west": west, "south": south, "east": east, "north": north}
    return conn.execute(LAYER_GEOJSON_IN, {"layer_id": layer_id, **box}).fetchone()[0]


def label_points(conn: psycopg.Connection, *, layer_id: int) -> list[dict]:
    """Each feature's name with a point inside it and its size (span_m), for the map's labels."""
    return conn.cursor(row_factory=dict_row).execute(LABEL_POINTS, {"layer_id": layer_id}).fetchall()


def upsert_zone_layer(conn: psycopg.Connection, *, name: str) -> int:
    """The id of a zone layer, created if new."""
    return conn.execute(ZONE_LAYER_UPSERT, {"name": name}).fetchone()[0]


def insert_zone_version(conn: psycopg.Connection, **values) -> tuple[int, int]:
    """A new active version of a zone layer (the previous one is kept, inactive)."""
    conn.execute(DEACTIVATE_ZONE_VERSIONS, {"layer_id": values["layer_id"]})
    row = conn.execute(INSERT_ZONE_VERSION, values).fetchone()
    return row[0], row[1]

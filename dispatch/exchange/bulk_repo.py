"""SQL and COPY of the bulk import: reference data read once, rows streamed in with binary COPY."""
from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import psycopg
import shapely
from psycopg.adapt import Dumper
from psycopg.pq import Format

RELEASE = """
SELECT r.id, g.code, g.name, g.parent_code, ST_AsBinary(g.geom)
FROM grid_release r JOIN grid_feature g ON g.layer_id IN (r.district_layer_id, r.street_layer_id,
                                                          r.community_layer_id, r.grid_layer_id)
WHERE r.is_active
ORDER BY (g.layer_id = r.grid_layer_id), g.code
"""
GRID_LAYER = "SELECT grid_layer_id FROM grid_release WHERE is_active"
ZONES = """
SELECT zl.name, zf.code, zf.name, ST_AsBinary(zf.geom)
FROM zone_feature zf JOIN zone_version zv ON zv.id = zf.version_id AND zv.is_active
JOIN zone_layer zl ON zl.id = zv.layer_id
ORDER BY zl.name, zf.code
"""
ALIASES = "SELECT foreign_code, category_code FROM category_alias WHERE source = %(source)s"
UPSERT_ALIAS = """
INSERT INTO category_alias (source, foreign_code, foreign_name, category_code)
VALUES (%(source)s, %(foreign_code)s, %(foreign_name)s, %(category_code)s)
ON CONFLICT (source, foreign_code) DO UPDATE SET category_code = EXCLUDED.category_code,
                                                foreign_name = EXCLUDED.foreign_name
"""
ALREADY = """
SELECT external_id, id FROM event_case WHERE source = %(source)s AND external_id = ANY(%(ids)s)
"""
NEW_IDS = "SELECT nextval('event_case_id_seq') FROM generate_series(1, %(n)s)"
ACTIVE_RULE_SET = "SELECT id FROM rule_set WHERE is_active"
QUIET = "SELECT set_config('citygrid.bulk_import', 'on', true)"
REPLICA = "SET LOCAL session_replication_role = replica"
TYPE_OID = "SELECT %(name)s::regtype::oid"

CASE_COLUMNS = ("id", "status", "category_code", "description", "geom", "release_id", "district_code",
                "district_name", "street_code", "street_name", "community_code", "community_name", "grid_code",
                "grid_name", "zones", "created_at", "updated_at", "source", "reporter", "department_code",
                "dispatched_at", "clock_start", "deadline", "yellow_at", "deadline_provisional", "time_limit",
                "handled_at", "check_deadline", "closed_at", "dispatch_count", "imported", "external_id")
CASE_TYPES = ("int8", "text", "text", "text", "geometry", "int4", "text", "text", "text", "text", "text", "text",
              "text", "text", "jsonb", "timestamptz", "timestamptz", "text", "text", "text", "timestamptz",
              "timestamptz", "timestamptz", "timestamptz", "bool", "text", "timestamptz", "timestamptz",
              "timestamptz", "int4", "bool", "text")
REPORT_COLUMNS = ("case_id", "category_code", "description", "geom", "input_lon", "input_lat", "input_crs", "source",
                  "reported_at", "reporter")
REPORT_TYPES = ("int8", "text", "text", "geometry", "float8", "float8", "text", "text", "timestamptz", "text")
HISTORY_COLUMNS = ("case_id", "at", "actor", "actor_role", "action", "from_status", "to_status", "note",
                   "department_code", "deadline", "detail", "imported")
HISTORY_TYPES = ("int8", "timestamptz", "text", "text", "text", "text", "text", "text", "text", "timestamptz",
                 "jsonb", "bool")
DECISION_COLUMNS = ("case_id", "rule_set_id", "rule_id", "department_code", "inputs", "candidates", "explanation")
DECISION_TYPES = ("int8", "int4", "int4", "text", "jsonb", "jsonb", "text")
# The binary COPY type of every column a bulk writer may send, by table (the generator sends more columns).
TYPES = {
    "event_case": {**dict(zip(CASE_COLUMNS, CASE_TYPES)), "version": "int4", "escalation_level": "int2",
                   "return_count": "int4", "rework_count": "int4", "extension_count": "int4",
                   "merged_into": "int8", "deadline_explicit": "bool", "urgent": "bool"},
    "report": {**dict(zip(REPORT_COLUMNS, REPORT_TYPES)), "joined_case_id": "int8"},
    "case_history": dict(zip(HISTORY_COLUMNS, HISTORY_TYPES)),
    "routing_decision": {**dict(zip(DECISION_COLUMNS, DECISION_TYPES)), "at": "timestamptz"},
}


class Geometry(bytes):
    """EWKB, sent as it is in a binary COPY."""


class JsonbBytes(bytes):
    """jsonb's binary form (version 1, then the JSON text), sent as it is."""


def jsonb(text: str) -> JsonbBytes:
    return JsonbBytes(b"\x01" + text.encode())


def release(conn: psycopg.Connection) -> tuple[int, dict, dict, list[str], np.ndarray]:
    """The active release: its id, code → name, code → parent, and the unit grids' codes and shapes."""
    rows = conn.execute(RELEASE).fetchall()
    if not rows:
        return 0, {}, {}, [], np.array([], dtype=object)
    grid_layer = conn.execute(GRID_LAYER).fetchone()[0]
    grid_codes = {r[0] for r in conn.execute("SELECT code FROM grid_feature WHERE layer_id = %s",
                                             (grid_layer,)).fetchall()}
    names = {r[1]: r[2] for r in rows}
    parents = {r[1]: r[3] for r in rows}
    grids = [r for r in rows if r[1] in grid_codes]
    return rows[0][0], names, parents, [r[1] for r in grids], shapely.from_wkb([r[4] for r in grids])


def zones(conn: psycopg.Connection) -> tuple[list[tuple[str, str, str]], np.ndarray]:
    """Every active zone: (layer, code, name) and its shape."""
    rows = conn.execute(ZONES).fetchall()
    shapes = shapely.from_wkb([r[3] for r in rows]) if rows else np.array([], dtype=object)
    return [(r[0], r[1], r[2]) for r in rows], shapes


def aliases(conn: psycopg.Connection, *, source: str) -> dict[str, str]:
    return dict(conn.execute(ALIASES, {"source": source}).fetchall())


def store_aliases(conn: psycopg.Connection, *, source: str, rows: list[dict]) -> None:
    with conn.cursor() as cur:
        cur.executemany(UPSERT_ALIAS, [{**r, "source": source} for r in rows])


def already(conn: psycopg.Connection, *, source: str, ids: list[str]) -> dict[str, int]:
    """Source ids already imported from this source → their case ids (one query)."""
    return dict(conn.execute(ALREADY, {"source": source, "ids": ids}).fetchall()) if ids else {}


def new_case_ids(conn: psycopg.Connection, n: int) -> np.ndarray:
    return np.array([r[0] for r in conn.execute(NEW_IDS, {"n": n}).fetchall()], dtype=np.int64)


def active_rule_set(conn: psycopg.Connection) -> int | None:
    row = conn.execute(ACTIVE_RULE_SET).fetchone()
    return row[0] if row else None


def quiet(conn: psycopg.Connection) -> bool:
    """No live-feed notification per row for the rest of the transaction (migration 0011). Where the role may
    (a superuser, or `GRANT SET ON PARAMETER session_replication_role` on PostgreSQL 15+), also skip the per-row
    foreign-key checks: every reference of the rows was checked set-wise before (categories, departments, the
    active release, rules and rule set; the case ids are new). Returns whether the checks are skipped."""
    conn.execute(QUIET)
    try:
        with conn.transaction():  # a savepoint: a refusal leaves the import's transaction usable
            conn.execute(REPLICA)
        return True
    except psycopg.errors.InsufficientPrivilege:
        return False


def copy_rows(conn: psycopg.Connection, *, table: str, columns: tuple[str, ...], rows: Iterable[tuple],
              types: tuple[str, ...] | None = None, progress: Callable[[int], None] | None = None,
              every: int = 50_000) -> int:
    """One binary COPY of rows (tuples in `columns` order; types default to TYPES); geometry as Geometry, jsonb
    as JsonbBytes."""
    types = types or tuple(TYPES[table][c] for c in columns)
    cur = conn.cursor()
    oids = {name: conn.execute(TYPE_OID, {"name": name}).fetchone()[0] for name in ("geometry", "jsonb")}
    for kind, oid in ((Geometry, oids["geometry"]), (JsonbBytes, oids["jsonb"])):
        cur.adapters.register_dumper(kind, _raw(oid))
    count = 0
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types([oids.get(t, t) for t in types])
        for row in rows:
            copy.write_row(row)
            count += 1
            if progress and count % every == 0:
                progress(every)
    if progress:
        progress(count % every)
    return count


def _raw(type_oid: int) -> type[Dumper]:
    class RawDumper(Dumper):
        format = Format.BINARY
        oid = type_oid

        def dump(self, obj):
            return obj

    return RawDumper

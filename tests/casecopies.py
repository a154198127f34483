"""Many cases at once for map tests: copies of the first case on a lattice around 祖庙, written in one statement."""
from __future__ import annotations

import psycopg

COPIES = """
INSERT INTO event_case (status, category_code, description, geom, release_id, district_code, district_name,
    street_code, street_name, community_code, community_name, grid_code, grid_name, source, reporter)
SELECT 'reported', c.category_code, 'copy ' || n,
       ST_SetSRID(ST_MakePoint(113.10 + (n %% 20) * 0.002, 23.01 + (n / 20) * 0.002), 4326),
       c.release_id, c.district_code, c.district_name, c.street_code, c.street_name, c.community_code,
       c.community_name, c.grid_code, c.grid_name, 'test', 'officer'
FROM event_case c, generate_series(1, %(n)s) n WHERE c.id = (SELECT min(id) FROM event_case)
"""


def add_copies(url: str, n: int) -> None:
    """n copies of the first case (status reported, so nobody holds them), 20 to a row, 0.002° apart."""
    with psycopg.connect(url) as conn:
        conn.execute(COPIES, {"n": n})

"""Intake: a report is located, checked against the category tree and opened as a case, in one transaction."""
from __future__ import annotations

from dataclasses import dataclass

import psycopg

from events import repo as events_repo
from events.service import require_category
from gis.crs import parse_crs
from gis.errors import InvalidInput
from gis.locator import locate
from gis.models import Location

MAX_DESCRIPTION = 4000


@dataclass(frozen=True)
class Submitted:
    """What intake created."""

    case_id: int
    report_id: int
    location: Location


def submit_report(
    conn: psycopg.Connection, *, category_code: str, lon: float, lat: float, crs: str = "EPSG:4326",
    description: str = "", source: str = "api", actor: str = "anonymous",
) -> Submitted:
    """Locate the point, then store the report and open its case with a first history row."""
    if len(description) > MAX_DESCRIPTION:
        raise InvalidInput(f"description is {len(description)} characters; the limit is {MAX_DESCRIPTION}")
    category = require_category(conn, code=category_code)
    where = locate(conn, lon=lon, lat=lat, crs=crs)
    case_id, report_id = events_repo.open_case(
        conn, status="reported", category_code=category.code, description=description,
        lon=where.lon, lat=where.lat, release_id=where.release_id,
        district_code=where.district.code, district_name=where.district.name,
        street_code=where.street.code, street_name=where.street.name,
        community_code=where.community.code, community_name=where.community.name,
        grid_code=where.grid.code, grid_name=where.grid.name, zones=where.zones,
        input_lon=lon, input_lat=lat, input_crs=parse_crs(crs or "EPSG:4326"), source=source, actor=actor,
        note=f"reported in {where.grid.name} ({where.grid.code})",
    )
    return Submitted(case_id, report_id, where)

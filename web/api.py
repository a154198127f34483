"""The JSON API."""
from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Query

from dispatch.intake import submit_report
from events.service import get_case
from events import repo as events_repo
from gis.locator import locate
from web.deps import Conn
from web.schemas import CaseOut, CategoryOut, LocationOut, ReportIn, ReportOut

router = APIRouter(prefix="/api")


@router.get("/health")
def health(conn: Conn) -> dict:
    """Liveness with a database round trip."""
    conn.execute("SELECT 1")
    return {"status": "ok"}


@router.get("/locate", response_model=LocationOut)
def locate_point(
    conn: Conn,
    lon: float = Query(description="longitude or x"),
    lat: float = Query(description="latitude or y"),
    crs: str = Query(default="EPSG:4326", description="EPSG code or gcj02"),
) -> LocationOut:
    """District, street, community and unit grid of a point, with the zones that cover it."""
    return LocationOut(**asdict(locate(conn, lon=lon, lat=lat, crs=crs)))


@router.get("/categories", response_model=list[CategoryOut])
def list_categories(conn: Conn) -> list[CategoryOut]:
    """The category tree, minor categories with their majors."""
    return [CategoryOut(**asdict(c)) for c in events_repo.categories(conn)]


@router.post("/reports", response_model=ReportOut, status_code=201)
def create_report(conn: Conn, body: ReportIn) -> ReportOut:
    """Locate a report, store it and open its case."""
    done = submit_report(conn, category_code=body.category, lon=body.lon, lat=body.lat, crs=body.crs,
                         description=body.description, source="api")
    return ReportOut(case_id=done.case_id, report_id=done.report_id,
                     location=LocationOut(**asdict(done.location)))


@router.get("/cases/{case_id}", response_model=CaseOut)
def read_case(conn: Conn, case_id: int) -> CaseOut:
    """One case with its grid chain, reports and history."""
    return case_out(get_case(conn, case_id=case_id))


def case_out(case) -> CaseOut:
    """Shape a domain case for the API."""
    data = asdict(case)
    chain = {level: {"code": data.pop(f"{level}_code"), "name": data.pop(f"{level}_name")}
             for level in ("district", "street", "community", "grid")}
    return CaseOut(**data, **chain)

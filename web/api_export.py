"""GET /api/export: the cases the reader may see, filtered as on the map, as a file to download."""
from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query
from fastapi.responses import Response

from dispatch.actor import can_read, require_statistics_reader, scope_filter
from dispatch.mapview import MapFilter
from web.deps import Conn, CurrentActor, CurrentPolicy

router = APIRouter(prefix="/api")

MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "geojson": "application/geo+json",
               "gpkg": "application/geopackage+sqlite3",
               "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@router.get("/export")
def export_cases(
    conn: Conn, actor: CurrentActor, policy: CurrentPolicy,
    fmt: str = Query(alias="format", description="csv, geojson, gpkg or xlsx"),
    major: str = Query(default="", description="two-digit major category"),
    department: str = Query(default=""), street: str = Query(default=""),
    status: str = Query(default="", description="open, overdue or finished"),
    period: int | None = Query(default=None, description="days before today (0: today)"),
    since: str = Query(default="", description="first day of report, YYYY-MM-DD"),
    until: str = Query(default="", description="last day of report, YYYY-MM-DD (included)"),
) -> Response:
    """The cases in the reader's scope with their grid chain, routing, status, deadline and times, as a download;
    the filters are the map's, plus a range of report days (docs/export.md)."""
    from dispatch import export  # imports geopandas and openpyxl: here, not when a server process starts

    require_statistics_reader(actor, what="export cases")
    export.check_format(fmt)
    filters = export.ExportFilter(MapFilter(major, department, street, status, period),
                                  since=export.parse_day(since, name="since"),
                                  until=export.parse_day(until, name="until"))
    rows = export.cases(conn, filters=filters, scope=scope_filter(actor), me=actor.username, tz=policy.tz)
    rows = [r for r in rows if can_read(actor, r)]  # as on the map: the scope filter may be wider for mixed roles
    name = f"citygrid-cases-{datetime.now(policy.tz):%Y-%m-%d}{export.EXTENSIONS[fmt]}"
    return Response(export.to_bytes(rows, fmt), media_type=MEDIA_TYPES[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})

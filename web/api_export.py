"""GET /api/export: the cases the reader may see, filtered as on the map, as a file to download."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from dispatch.actor import can_read, scope_filter
from dispatch.exchange.export_formats import EXTENSIONS
from web.deps import Conn, CurrentPolicy, actor_with
from web.schemas import Filters

router = APIRouter(prefix="/api")

# A day as YYYY-MM-DD of the years export.parse_day takes (1900-2999), which it checks with its own message;
# an empty value is refused (leave the option out for no limit), as the schema says
DAY = {"min_length": 1, "json_schema_extra": {"format": "date", "pattern": "^(19|2[0-9])[0-9]{2}-"}}
Exporter = actor_with("export_cases")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "geojson": "application/geo+json",
               "gpkg": "application/geopackage+sqlite3",
               "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@router.get("/export", response_class=Response, responses={200: {"description": "the file", "content": {
    media: {"schema": {"type": "object"} if fmt == "geojson" else {"type": "string", "format": "binary"}}
    for fmt, media in MEDIA_TYPES.items()}}})
def export_cases(
    conn: Conn, actor: Exporter, policy: CurrentPolicy, filters: Filters,
    fmt: Literal[tuple(EXTENSIONS)] = Query(alias="format", description="the kind of file"),
    since: str | None = Query(default=None, **DAY, description="first day of report"),
    until: str | None = Query(default=None, **DAY, description="last day of report (included)"),
) -> Response:
    """The cases in the reader's scope with their grid chain, routing, status, deadline and times, as a download;
    the filters are the map's, plus a range of report days (docs/export.md)."""
    from dispatch.exchange import export  # imports geopandas and openpyxl: here, not when a server process starts

    chosen = export.ExportFilter(filters, since=export.parse_day(since, name="since"),
                                 until=export.parse_day(until, name="until"))
    rows = export.cases(conn, filters=chosen, scope=scope_filter(actor), me=actor.username, tz=policy.tz)
    rows = [r for r in rows if can_read(actor, r)]  # as on the map: the scope filter may be wider for mixed roles
    name = f"citygrid-cases-{datetime.now(policy.tz):%Y-%m-%d}{EXTENSIONS[fmt]}"
    return Response(export.to_bytes(rows, fmt), media_type=MEDIA_TYPES[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})

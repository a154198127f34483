"""`citygrid events export FILE`: cases with their grid chain, routing, status, deadline and times."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from citygrid.cli import settings, transaction
from citygrid.cli_events import events_app
from citygrid.policy import policy


@events_app.command("export")
def events_export(
    path: Annotated[Path, typer.Argument(help="the file to write: .csv, .geojson (.json), .gpkg or .xlsx")],
    major: Annotated[str, typer.Option(help="two-digit major category, e.g. 01")] = "",
    department: Annotated[str, typer.Option(help="cases held by this department code")] = "",
    street: Annotated[str, typer.Option(help="cases in this street code")] = "",
    status: Annotated[str, typer.Option(help="open, overdue or finished")] = "",
    period: Annotated[Optional[int], typer.Option(help="reported in the last N days (0: today)")] = None,
    since: Annotated[str, typer.Option(help="first day of report, YYYY-MM-DD")] = "",
    until: Annotated[str, typer.Option(help="last day of report, YYYY-MM-DD (included)")] = "",
) -> None:
    """Write every matching case (no scope limit) as CSV, GeoJSON, GeoPackage or XLSX, by the file's suffix."""
    from dispatch.exchange.export import ExportFilter, NO_SCOPE, cases, format_of, parse_day, write
    from dispatch.reporting.mapview import MapFilter

    fmt = format_of(path)  # before anything else, so a wrong name costs nothing
    filters = ExportFilter(MapFilter(major, department, street, status, period),
                           since=parse_day(since, name="--since"), until=parse_day(until, name="--until"))
    cfg = settings()
    with transaction(cfg) as conn:
        rows = cases(conn, filters=filters, scope=NO_SCOPE, me=None, tz=policy(cfg).tz)
    write(rows, path, fmt)
    typer.echo(f"wrote {len(rows)} case(s) to {path}")

"""CLI commands for events in bulk: import (reports and history) and export."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from citygrid.cli import Failure, app, settings, transaction

events_app = typer.Typer(help="Events in bulk: import reports and history, export cases.", no_args_is_help=True)
app.add_typer(events_app, name="events")


Mapped = Annotated[Optional[list[str]], typer.Option(
    "--map", help="FIELD=COLUMN: which column holds a field (fields: source_id, category, lon, lat, crs, "
                  "reported_at, description, status, closed_at, department); default: the field's own name")]


@events_app.command("import")
def events_import(
    path: Path,
    source: Annotated[str, typer.Option(help="the system the rows come from (12345, an old platform…); with the "
                                             "source id it makes re-imports add nothing")] = "import",
    mapping: Mapped = None,
    crs: Annotated[str, typer.Option(help="the coordinates' CRS for rows without a crs column: EPSG code or "
                                          "gcj02")] = "EPSG:4326",
    categories: Annotated[Optional[Path], typer.Option(help="a category mapping for this source: CSV/YAML with "
                                                            "foreign_code, category[, foreign_name]")] = None,
    all_or_nothing: Annotated[bool, typer.Option("--all-or-nothing", help="refuse the whole file if one row is "
                                                                          "bad")] = False,
    layer: Annotated[Optional[str], typer.Option(help="the layer of a GeoPackage with several")] = None,
    show: Annotated[int, typer.Option(help="how many skipped rows to list")] = 50,
    chunk_rows: Annotated[int, typer.Option(min=1, help="rows read and written at a time: memory stays bounded "
                                                        "whatever the file's size")] = 100_000,
) -> None:
    """Import reports (no status: registered and routed now) and history rows (with a status and the department
    that handled them) from CSV, GeoJSON or GeoPackage, streamed in chunks; bad rows are listed and skipped."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from citygrid.policy import policy
    from dispatch.exchange.bulk_import import Mapping, import_events, load_aliases

    columns = {}
    for item in mapping or []:
        name, sep, column = item.partition("=")
        if not sep or not name.strip() or not column.strip():
            raise Failure(f"--map {item!r}: write FIELD=COLUMN, e.g. --map source_id=工单编号")
        columns[name.strip()] = column.strip()
    cfg = settings()
    with Progress(TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  transient=False) as bar:
        tasks: dict[str, int] = {}

        def tick(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.advance(tasks[stage], done)

        with transaction(cfg) as conn:
            if categories:
                typer.echo(f"category mapping: {load_aliases(conn, path=categories, source=source)} code(s) "
                           f"for source {source}")
            result = import_events(conn, path=path, mapping=Mapping(columns, crs=crs, source=source, layer=layer),
                                   policy=policy(cfg), by="cli", all_or_nothing=all_or_nothing, progress=tick,
                                   chunk_rows=chunk_rows)
    for row, reason in result.skipped[:show]:
        typer.echo(f"skipped row {row}: {reason}")
    if len(result.skipped) > show:
        typer.echo(f"… and {len(result.skipped) - show} more skipped row(s)")
    typer.echo(f"{result.rows} row(s): imported {result.imported} ({result.reports} report(s): "
               f"{result.dispatched} dispatched, {result.unrouted} for the dispatchers; {result.history} history), "
               f"{result.already} already imported, {len(result.skipped)} skipped")


@events_app.command("aliases")
def events_aliases(
    path: Path,
    source: Annotated[str, typer.Option(help="the system whose codes these are (an Open311 client's source, an "
                                             "import's --source)")],
) -> None:
    """Load a foreign category mapping (foreign_code, category[, foreign_name]) for a source: used by
    `events import --source` and by Open311 clients of that source."""
    from dispatch.exchange.bulk_import import load_aliases

    with transaction(settings()) as conn:
        typer.echo(f"loaded {load_aliases(conn, path=path, source=source)} category code(s) for source {source}")

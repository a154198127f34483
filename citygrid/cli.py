"""The `citygrid` command line. Every command exits non-zero with a one-line reason on failure."""
from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated, Optional

import psycopg
import typer
from pydantic import ValidationError

from citygrid import migrate
from citygrid.db import connect
from citygrid.settings import Settings, StartupRefused, check_can_serve
from core.errors import DomainError

app = typer.Typer(help="citygrid: grid-based urban governance (一张图管一座城).", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
grids_app = typer.Typer(help="Grid hierarchy layers and releases.", no_args_is_help=True)
zones_app = typer.Typer(help="Responsibility-zone layers (parks, rivers, expressways…).", no_args_is_help=True)
cat_app = typer.Typer(help="Event categories.", no_args_is_help=True)
for sub, name in ((db_app, "db"), (grids_app, "grids"), (zones_app, "zones"), (cat_app, "categories")):
    app.add_typer(sub, name=name)

Host = Annotated[Optional[str], typer.Option(help="address to bind (default: CITYGRID_HOST or 127.0.0.1)")]
Port = Annotated[Optional[int], typer.Option(help="port (default: CITYGRID_PORT or 8000)")]
CRS = Annotated[Optional[str], typer.Option("--crs", help="source CRS: an EPSG code or gcj02 (default: the file's)")]
Repair = Annotated[bool, typer.Option("--repair", help="repair invalid geometries (each repair is reported)")]


class Failure(Exception):
    """A one-line reason to stop the command."""


def settings() -> Settings:
    """Build the one settings object from the environment and .env."""
    try:
        return Settings()
    except ValidationError as exc:
        raise Failure(f"bad setting: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}") from None


def _connect(cfg: Settings) -> psycopg.Connection:
    try:
        return connect(cfg.database_url, timezone=cfg.timezone)
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else "connection refused"
        raise Failure(f"cannot connect to the database ({reason}); set DATABASE_URL") from None


@contextlib.contextmanager
def transaction(cfg: Settings):
    """One connection and one transaction for a command: commit on success, roll back on failure."""
    with _connect(cfg) as conn:
        with conn.transaction():
            yield conn


def upgrade_schema(cfg: Settings) -> list[str]:
    """Run the migrations on their own connection (each one commits separately)."""
    with _connect(cfg) as conn:
        return migrate.upgrade(conn)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending SQL migration, each in its own transaction."""
    applied = upgrade_schema(settings())
    typer.echo(f"applied {len(applied)} migration(s): {', '.join(applied)}" if applied else "schema is up to date")


@grids_app.command("import")
def grids_import(
    path: Path,
    level: Annotated[str, typer.Option(help="district, street, community or grid")],
    code_field: Annotated[str, typer.Option(help="field holding each feature's code")],
    name_field: Annotated[str, typer.Option(help="field holding each feature's name")],
    parent_field: Annotated[Optional[str], typer.Option(help="field holding the parent's code "
                                                              "(default: the code's prefix)")] = None,
    crs: CRS = None, repair: Repair = False,
) -> None:
    """Validate a whole level and import it as a new version (all or nothing)."""
    from gis.service import import_grid_layer

    cfg = settings()
    with transaction(cfg) as conn:
        result = import_grid_layer(conn, path=path, level=level, code_field=code_field, name_field=name_field,
                                   parent_field=parent_field, crs=crs, repair=repair, widths=cfg.code_widths)
    for note in result.repaired:
        typer.echo(note)
    typer.echo(f"imported {result.feature_count} {level} feature(s) as version {result.version} "
               f"(layer {result.layer_id}); make them live with `citygrid grids release --activate`")


@grids_app.command("release")
def grids_release(
    name: Annotated[Optional[str], typer.Option(help="a label for the release")] = None,
    activate: Annotated[bool, typer.Option("--activate", help="make it the active release now")] = False,
) -> None:
    """Make a release from the newest unit-grid layer and the parent layers it was validated against."""
    from gis.service import create_release

    with transaction(settings()) as conn:
        release_id = create_release(conn, name=name, activate=activate)
    typer.echo(f"release {release_id} created" + (" and activated" if activate else ""))


@grids_app.command("activate")
def grids_activate(release_id: int) -> None:
    """Switch the active release atomically; cases keep the release they were reported in."""
    from gis.service import activate_release

    with transaction(settings()) as conn:
        activate_release(conn, release_id=release_id)
    typer.echo(f"release {release_id} is active")


@grids_app.command("releases")
def grids_releases() -> None:
    """List releases with their layer versions."""
    from gis.repo import list_releases

    with transaction(settings()) as conn:
        rows = list_releases(conn)
    for r in rows:
        typer.echo(f"{'*' if r['is_active'] else ' '} {r['id']:>3}  {r['name']}  levels v{r['district_version']}/"
                   f"v{r['street_version']}/v{r['community_version']}/v{r['grid_version']}  {r['grids']} grids")
    if not rows:
        typer.echo("no releases yet")


@zones_app.command("import")
def zones_import(
    path: Path,
    layer: Annotated[str, typer.Option(help="zone layer name, e.g. parks")],
    code_field: Annotated[str, typer.Option(help="field holding each zone's code")],
    name_field: Annotated[str, typer.Option(help="field holding each zone's name")],
    crs: CRS = None, repair: Repair = False,
) -> None:
    """Import a new active version of a responsibility-zone layer."""
    from gis.service import import_zone_layer

    with transaction(settings()) as conn:
        result = import_zone_layer(conn, path=path, layer=layer, code_field=code_field, name_field=name_field,
                                   crs=crs, repair=repair)
    for note in result.repaired:
        typer.echo(note)
    typer.echo(f"imported {result.feature_count} zone(s) into layer {layer!r}, version {result.version}")


@cat_app.command("import")
def categories_import(path: Path) -> None:
    """Load a category CSV (code, major_code, major_name, name); all or nothing."""
    from events.service import import_categories

    with transaction(settings()) as conn:
        count = import_categories(conn, path=path)
    typer.echo(f"loaded {count} categories")


Workers = Annotated[Optional[int], typer.Option("--workers", min=1, max=64,
                                                 help="server processes, each with its own pool and live feed")]
AccessLog = Annotated[bool, typer.Option("--access-log", help="log every request (off: it costs CPU per request)")]


@app.command()
def serve(host: Host = None, port: Port = None, workers: Workers = None, access_log: AccessLog = False) -> None:
    """Serve the API and the map (uvicorn with uvloop and httptools; run `citygrid worker` beside it)."""
    cfg = settings()
    _serve(cfg, host or cfg.host, port or cfg.port, workers=workers or cfg.workers, access_log=access_log)


@app.command()
def demo(host: Host = None, port: Port = None, workers: Workers = None, access_log: AccessLog = False,
         worker: Annotated[bool, typer.Option("--worker/--no-worker", help="start `citygrid worker` beside the "
                                              "server (off where a separate worker service runs)")] = True) -> None:
    """Upgrade, load Chancheng's grids, categories and sample reports, then serve and print the URL."""
    from citygrid.demo import prepare

    cfg = settings()
    if cfg.env != "development":
        raise Failure("the demo creates accounts with printed passwords, so it runs only in development mode")
    host, port = host or cfg.host, port or cfg.port
    check_can_serve(cfg, host)
    upgrade_schema(cfg)
    from citygrid.policy import policy

    with transaction(cfg) as conn:
        done = prepare(conn, widths=cfg.code_widths, policy=policy(cfg))
    passwords = done.pop("passwords")
    typer.echo(f"demo data ready: {done}")
    typer.echo("demo accounts (development only; new passwords on every run):")
    for username, password in passwords.items():
        typer.echo(f"  {username:<20} {password}")
    with _worker_process(cfg) if worker else contextlib.nullcontext():
        _serve(cfg, host, port, workers=workers or cfg.workers, access_log=access_log)


@contextlib.contextmanager
def _worker_process(cfg: Settings):
    """`citygrid worker` as its own process (one worker however many server processes), stopped with the demo."""
    from citygrid.procs import running

    # the demo runs a worker, so escalations and inbox messages happen as they would in production
    with running([sys.executable, "-m", "citygrid", "worker", "--quiet"]) as proc:
        typer.echo(f"worker: process {proc.pid}, a tick every {cfg.worker_interval_seconds:g} s")
        yield proc


def _serve(cfg: Settings, host: str, port: int, *, workers: int = 1, access_log: bool = False) -> None:
    from citygrid.server import Server

    check_can_serve(cfg, host)
    shown = "localhost" if host in ("127.0.0.1", "::1") else host
    scheme = "https" if cfg.https else "http"
    typer.echo(f"citygrid is serving the map at {scheme}://{shown}:{port}/map "
               f"(API docs: {scheme}://{shown}:{port}/docs), {workers} process(es) × {cfg.db_connections} "
               "database connections")
    typer.echo("\n".join(first_pages(f"{scheme}://{shown}:{port}")))
    Server(cfg, host=host, port=port, workers=workers, access_log=access_log).run()


def first_pages(site: str) -> list[str]:
    """Each role's first page (web/pages/common.HOME, where `/` sends a signed-in user), and the API docs."""
    from web.pages.common import HOME

    pages: dict[str, list[str]] = {}
    for role, path in HOME:
        pages.setdefault(path, []).append(role)
    return ["first page of each role:", *(f"  → {site}{path:<8} {', '.join(roles)}" for path, roles in pages.items()),
            f"  → {site}/screen  the wall screen (指挥大屏) for leaders",
            f"  → {site}/docs    the API (OpenAPI at {site}/openapi.json)"]


def main() -> None:
    """Entry point: domain and setup errors become one line on stderr and exit code 1."""
    try:
        app(standalone_mode=True)
    except (Failure, DomainError, StartupRefused) as exc:
        typer.echo(f"citygrid: error: {exc}", err=True)
        sys.exit(1)
    except (psycopg.DataError, psycopg.IntegrityError) as exc:  # the primary message only: no row values, no hash
        typer.echo(f"citygrid: error: the database refused a value: {exc.diag.message_primary}; nothing was "
                   "changed", err=True)
        sys.exit(1)


@cat_app.command("export")
def categories_export(path: Path) -> None:
    """Write the category table (with limits) as CSV or YAML."""
    from events.service import export_categories

    with transaction(settings()) as conn:
        typer.echo(f"wrote {export_categories(conn, path=path)} categories to {path}")


# each registers its commands on `app`
from citygrid import cli_dispatch, cli_events, cli_export, cli_mining, cli_open311  # noqa: E402,F401

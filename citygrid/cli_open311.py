"""CLI commands for the Open311 API: client keys and service attributes."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from citygrid.cli import app, settings, transaction

keys_app = typer.Typer(help="API keys of the client systems of the Open311 API.", no_args_is_help=True)
o311_app = typer.Typer(help="Open311 service definitions.", no_args_is_help=True)
app.add_typer(keys_app, name="apikeys")
app.add_typer(o311_app, name="open311")


@keys_app.command("add")
def apikeys_add(
    name: str,
    trust: Annotated[str, typer.Option(help="public: its reports wait for a grid officer to verify them; "
                                            "trusted: they are registered and routed at once")] = "public",
    source: Annotated[str, typer.Option(help="stored as each case's source, e.g. 12345, app, sensor "
                                             "(CITYGRID_AUTO_MERGE_SOURCES merges a sensor's duplicates)")] = "open311",
    rate: Annotated[int, typer.Option(help="calls allowed per minute")] = 60,
) -> None:
    """Register a client system and print its API key once."""
    from dispatch.api_clients import add_client

    with transaction(settings()) as conn:
        key = add_client(conn, name=name, trust=trust, source=source, rate_per_minute=rate, created_by="cli")
    typer.echo(f"client {name} added ({trust}, source {source}, {rate} calls/minute)")
    typer.echo(f"api_key (shown once): {key}")


@keys_app.command("list")
def apikeys_list() -> None:
    """Every client system, revoked ones included."""
    from dispatch.api_clients import clients

    with transaction(settings()) as conn:
        rows = clients(conn)
    for c in rows:
        state = f"revoked {c['revoked_at']:%Y-%m-%d}" if c["revoked_at"] else "active"
        typer.echo(f"{c['name']:<24} {c['trust']:<8} {c['source']:<10} {c['rate_per_minute']:>5}/min "
                   f"{c['reports']:>7} reports  {state}")
    typer.echo(f"{len(rows)} client(s)")


@keys_app.command("revoke")
def apikeys_revoke(name: str) -> None:
    """Stop a client's key from working (its reports stay)."""
    from dispatch.api_clients import revoke_client

    with transaction(settings()) as conn:
        revoke_client(conn, name=name)
    typer.echo(f"client {name}: key revoked")


@o311_app.command("attributes-import")
def attributes_import(path: Path) -> None:
    """Replace the service attributes with a CSV or YAML file's (all or nothing)."""
    from web.open311.attributes import import_attributes

    with transaction(settings()) as conn:
        typer.echo(f"loaded {import_attributes(conn, path=path)} service attribute(s)")


@o311_app.command("attributes-export")
def attributes_export(path: Path) -> None:
    """Write the service attributes as CSV or YAML."""
    from web.open311.attributes import export_attributes

    with transaction(settings()) as conn:
        typer.echo(f"wrote {export_attributes(conn, path=path)} service attribute(s) to {path}")

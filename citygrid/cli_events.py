"""CLI commands for events in bulk: import (reports and history) and export."""
from __future__ import annotations

import typer

from citygrid.cli import app

events_app = typer.Typer(help="Events in bulk: import reports and history, export cases.", no_args_is_help=True)
app.add_typer(events_app, name="events")

"""Settings → the workflow's plain values, for the web app and the CLI alike.

A module of its own so that the CLI (and the process that supervises `citygrid serve --workers N`) does not import
the web app: that import costs seconds, and a server restarted after a crash answers only after it."""
from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from citygrid.settings import Settings
from dispatch.models import Policy
from events.workclock import OfficeHours


def policy(settings: Settings) -> Policy:
    """The workflow's plain values from the settings."""
    return Policy(
        tz=ZoneInfo(settings.timezone), hours=OfficeHours.parse(settings.office_hours),
        yellow_fraction=settings.yellow_fraction, close_on_check=settings.close_on_check,
        duplicate_window=timedelta(days=settings.duplicate_window_days),
        auto_merge_sources=frozenset(s.strip() for s in settings.auto_merge_sources.split(",") if s.strip()),
    )

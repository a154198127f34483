"""Composition: Settings → the web app."""
from __future__ import annotations

from fastapi import FastAPI

from datetime import timedelta
from zoneinfo import ZoneInfo

from citygrid.settings import Settings
from dispatch.models import Policy
from events.workclock import OfficeHours
from web.app import create_app
from web.config import WebConfig


def web_config(settings: Settings) -> WebConfig:
    """The plain values the web layer needs."""
    tile_url, tile_attribution = settings.base_map()
    return WebConfig(
        database_url=settings.database_url, timezone=settings.timezone, tile_url=tile_url,
        tile_attribution=tile_attribution, map_case_limit=settings.map_case_limit,
        tile_crs=settings.tile_crs if settings.tiles == "custom" else "wgs84",
        db_connections=settings.db_connections, db_wait_seconds=settings.db_wait_seconds,
        policy=policy(settings), media_root=settings.media_root, max_photo_bytes=settings.max_photo_bytes,
        token_ttl_hours=settings.token_ttl_hours,
        secure_cookies=settings.env == "production" or settings.https, https=settings.https,
        stream_recheck_seconds=settings.stream_recheck_seconds,
        open311_public_read=settings.open311_public_read, open311_jurisdiction=settings.open311_jurisdiction,
        open311_contact=settings.open311_contact,
    )


def policy(settings: Settings) -> Policy:
    """The workflow's plain values from the settings."""
    return Policy(
        tz=ZoneInfo(settings.timezone), hours=OfficeHours.parse(settings.office_hours),
        yellow_fraction=settings.yellow_fraction, close_on_check=settings.close_on_check,
        duplicate_window=timedelta(days=settings.duplicate_window_days),
        auto_merge_sources=frozenset(s.strip() for s in settings.auto_merge_sources.split(",") if s.strip()),
    )


def build_app(settings: Settings | None = None) -> FastAPI:
    """The app for `citygrid serve` and for uvicorn's --factory."""
    return create_app(web_config(settings or Settings()))

"""Composition: Settings → the web app."""
from __future__ import annotations

from fastapi import FastAPI

from citygrid.policy import policy
from citygrid.settings import Settings
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


def build_app(settings: Settings | None = None) -> FastAPI:
    """The app for `citygrid serve` and for uvicorn's --factory."""
    return create_app(web_config(settings or Settings()))

"""Composition: Settings → the web app."""
from __future__ import annotations

from fastapi import FastAPI

from citygrid.settings import Settings
from web.app import create_app
from web.config import WebConfig


def web_config(settings: Settings) -> WebConfig:
    """The plain values the web layer needs."""
    return WebConfig(
        database_url=settings.database_url, timezone=settings.timezone, tile_url=settings.tile_url,
        tile_attribution=settings.tile_attribution, map_case_limit=settings.map_case_limit,
        pool_min_size=settings.pool_min_size, pool_max_size=settings.pool_max_size,
    )


def build_app(settings: Settings | None = None) -> FastAPI:
    """The app for `citygrid serve` and for uvicorn's --factory."""
    return create_app(web_config(settings or Settings()))

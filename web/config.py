"""What the web layer needs to know, as plain values (the composition root fills it from Settings)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WebConfig:
    """Plain settings for the app factory."""

    database_url: str
    timezone: str = "Asia/Shanghai"
    tile_url: str = ""
    tile_attribution: str = ""
    map_case_limit: int = 5000
    pool_min_size: int = 1
    pool_max_size: int = 8

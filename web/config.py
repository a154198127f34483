"""What the web layer needs to know, as plain values (the composition root fills it from Settings)."""
from __future__ import annotations

from dataclasses import dataclass, field

from dispatch.models import Policy


@dataclass(frozen=True)
class WebConfig:
    """Plain settings for the app factory."""

    database_url: str
    timezone: str = "Asia/Shanghai"
    tile_url: str = ""
    tile_attribution: str = ""
    tile_crs: str = "wgs84"
    map_case_limit: int = 1000
    db_connections: int = 10       # per process: the pool, the admission gate and (+ headroom) the threads
    db_wait_seconds: float = 2     # longest wait for a connection before a 503 with Retry-After
    policy: Policy = field(default_factory=Policy)
    media_root: str = "media"
    max_photo_bytes: int = 10 * 1024 * 1024
    token_ttl_hours: float = 12
    secure_cookies: bool = False
    https: bool = False            # the app serves TLS itself (HSTS is sent); behind a trusted proxy, its scheme
    stream_recheck_seconds: float = 60  # an open live stream checks its token at least this often
    open311_public_read: bool = True
    open311_jurisdiction: str = ""
    open311_contact: str = ""

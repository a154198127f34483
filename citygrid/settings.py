"""One settings object, read from the environment and `.env`, built by the app factory or the CLI."""
from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/citygrid"


class Settings(BaseSettings):
    """Deployment settings; every field can be set as CITYGRID_<NAME> in the environment or `.env`."""

    model_config = SettingsConfigDict(env_prefix="CITYGRID_", env_file=".env", extra="ignore")

    env: Literal["development", "production"] = "development"
    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        validation_alias="DATABASE_URL",
        description="libpq URL of the PostGIS database (plain DATABASE_URL, as docker and CI set it)",
    )
    timezone: str = "Asia/Shanghai"
    code_widths: tuple[int, ...] = (6, 3, 3, 2)
    host: str = "127.0.0.1"
    port: int = 8000
    allow_remote_dev: bool = Field(
        default=False,
        description="let development mode bind a non-loopback address (only inside a container)",
    )
    tiles: Literal["none", "osm", "tianditu", "custom"] = Field(
        default="none", description="base map: none (works offline), osm, tianditu (needs tianditu_key) or custom "
                                    "(tile_url, e.g. an intranet tile server)")
    tianditu_key: str = ""
    tile_crs: Literal["wgs84", "gcj02"] = Field(
        default="wgs84", description="the coordinate system of a custom base map: gcj02 for Amap/Tencent-style "
                                     "tiles (the leader's map then shifts every layer and case to match)")
    tile_url: str = ""
    tile_attribution: str = ""
    map_case_limit: int = 1000
    db_connections: int = Field(default=10, ge=1, le=500, description="database connections per server process; "
                                "the request gate and the thread pool are sized from it, so no request waits for "
                                "a connection it will not get")
    workers: int = Field(default=1, ge=1, le=64, description="server processes of `citygrid serve` (each with its "
                         "own db_connections); the escalation worker is one separate process, `citygrid worker`")
    db_wait_seconds: float = Field(default=2, gt=0, le=60, description="longest wait for a free connection "
                                   "before answering 503 with Retry-After")
    office_hours: str = Field(default="08:30-12:00,14:00-17:30", description="office periods, local time")
    yellow_fraction: float = Field(default=0.8, gt=0, le=1, description="share of the limit used when a case turns yellow")
    close_on_check: bool = Field(default=False, description="a passed check closes the case at once (merged roles)")
    duplicate_window_days: float = Field(default=7, gt=0, description="how far back likely duplicates are sought")
    auto_merge_sources: str = Field(default="sensor", description="report sources whose duplicates merge by rule")
    media_root: str = Field(default="media", description="folder of the local media store (photos)")
    max_photo_bytes: int = 10 * 1024 * 1024
    token_ttl_hours: float = 12
    worker_interval_seconds: float = 60
    ssl_certfile: str = Field(default="", description="serve HTTPS with this certificate (PEM); phones give GPS "
                                                       "and the camera only to secure pages")
    ssl_keyfile: str = Field(default="", description="the certificate's private key (PEM)")
    open311_public_read: bool = Field(default=True, description="Open311 GETs without an api_key (public "
                                      "categories only); false asks every caller for a key")
    open311_jurisdiction: str = Field(default="", description="Open311 jurisdiction_id (default: the district "
                                      "code of the active grid release)")
    open311_contact: str = Field(default="", description="contact shown by Open311 discovery")
    trusted_proxies: str = Field(default="", description="comma-separated addresses (or networks) of reverse "
                                 "proxies whose X-Forwarded-For/-Proto are believed; empty trusts none, so the "
                                 "sign-in throttle keys on the peer address itself")
    stream_recheck_seconds: float = Field(default=60, gt=0, le=60, description="how often an open live stream "
                                          "(/api/events) checks its token again besides the revocation notices")

    @property
    def https(self) -> bool:
        """Whether the app itself serves HTTPS."""
        return bool(self.ssl_certfile)

    def trusted_proxy_list(self) -> list[str]:
        """The addresses or networks of trusted_proxies."""
        return [part.strip() for part in self.trusted_proxies.split(",") if part.strip()]

    def base_map(self) -> tuple[str, str]:
        """The tile URL template and attribution of the chosen base map ('' for none)."""
        if self.tiles == "osm":
            return "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "© OpenStreetMap contributors"
        if self.tiles == "tianditu":
            if not self.tianditu_key:
                raise ValueError("tiles=tianditu needs CITYGRID_TIANDITU_KEY")
            return (f"https://t0.tianditu.gov.cn/DataServer?T=vec_w&x={{x}}&y={{y}}&l={{z}}&tk={self.tianditu_key}",
                    "© 天地图 Tianditu")
        if self.tiles == "custom" or self.tile_url:
            return self.tile_url, self.tile_attribution
        return "", ""

    @field_validator("code_widths", mode="before")
    @classmethod
    def _split_widths(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(int(part) for part in value.replace("+", ",").split(",") if part.strip())
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: str) -> str:
        for part in (p.strip() for p in value.split(",")):  # a typo must not silently trust nobody
            if part:
                try:
                    ipaddress.ip_network(part)
                except ValueError:
                    raise ValueError(f"{part!r} is not an IP address or network (such as 10.0.0.1 or "
                                     "10.0.0.0/8)") from None
        return value

    @field_validator("code_widths")
    @classmethod
    def _check_widths(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if len(value) != 4 or any(w < 1 for w in value):
            raise ValueError("code_widths needs four positive widths: district, street, community, grid")
        return value


class StartupRefused(RuntimeError):
    """The settings do not allow the app to start."""


def check_can_serve(settings: Settings, host: str) -> None:
    """Refuse unsafe or incomplete set-ups: development mode off localhost, production with development defaults."""
    _check_tls(settings)
    try:
        settings.base_map()
    except ValueError as exc:
        raise StartupRefused(str(exc)) from None
    if settings.env == "production":
        if settings.database_url == DEFAULT_DATABASE_URL:
            raise StartupRefused("production needs its own DATABASE_URL (the default is a trust-auth local server)")
        return
    if not _is_loopback(host) and not settings.allow_remote_dev:
        raise StartupRefused(
            f"development mode serves only on localhost, not {host!r} "
            "(use --host 127.0.0.1; inside a container set CITYGRID_ALLOW_REMOTE_DEV=true)"
        )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_tls(settings: Settings) -> None:
    import os

    if bool(settings.ssl_certfile) != bool(settings.ssl_keyfile):
        raise StartupRefused("HTTPS needs both CITYGRID_SSL_CERTFILE and CITYGRID_SSL_KEYFILE")
    for name in (settings.ssl_certfile, settings.ssl_keyfile):
        if name and not os.path.isfile(name):
            raise StartupRefused(f"cannot read the TLS file {name!r}")

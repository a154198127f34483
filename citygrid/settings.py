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
    tile_url: str = ""
    tile_attribution: str = ""
    map_case_limit: int = 5000
    pool_min_size: int = 1
    pool_max_size: int = 8

    @field_validator("code_widths", mode="before")
    @classmethod
    def _split_widths(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(int(part) for part in value.replace("+", ",").split(",") if part.strip())
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
    """Refuse to serve outside development mode, or on a non-loopback address, until accounts exist."""
    if settings.env != "development":
        raise StartupRefused(
            "citygrid has no accounts yet, so it runs only in development mode "
            "(set CITYGRID_ENV=development)"
        )
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

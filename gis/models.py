"""Plain values of the gis package."""
from __future__ import annotations

from dataclasses import dataclass, field

LEVELS = ("district", "street", "community", "grid")
LEVEL_NAMES_ZH = {"district": "区", "street": "街道/镇", "community": "社区/村", "grid": "单元网格"}


def code_length(level: str, widths: tuple[int, ...]) -> int:
    """Number of digits of a code at `level` (cumulative widths, e.g. 6, 9, 12, 14)."""
    return sum(widths[: LEVELS.index(level) + 1])


def parent_level(level: str) -> str | None:
    """The level above `level`, or None for the district."""
    i = LEVELS.index(level)
    return LEVELS[i - 1] if i else None


@dataclass(frozen=True)
class Problem:
    """One validation finding, located where it is about."""

    kind: str
    code: str
    message: str
    area_m2: float | None = None
    lon: float | None = None
    lat: float | None = None


@dataclass(frozen=True)
class ImportResult:
    """What an import wrote."""

    layer_id: int
    level: str
    version: int
    feature_count: int
    repaired: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Place:
    """One feature of the chain: code and name."""

    code: str
    name: str


@dataclass(frozen=True)
class Location:
    """The full chain that contains a point, with every responsibility zone that covers it."""

    release_id: int
    lon: float
    lat: float
    district: Place
    street: Place
    community: Place
    grid: Place
    zones: list[dict] = field(default_factory=list)

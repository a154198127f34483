"""Plain values of the events package."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Category:
    """A minor category with its major."""

    code: str
    name: str
    major_code: str
    major_name: str


@dataclass(frozen=True)
class HistoryEntry:
    """One step of a case's life."""

    at: datetime
    actor: str
    action: str
    from_status: str | None
    to_status: str
    note: str


@dataclass(frozen=True)
class Case:
    """A case with the grid chain it was reported in."""

    id: int
    status: str
    category_code: str
    category_name: str
    description: str
    lon: float
    lat: float
    release_id: int
    district_code: str
    district_name: str
    street_code: str
    street_name: str
    community_code: str
    community_name: str
    grid_code: str
    grid_name: str
    zones: list
    created_at: datetime
    updated_at: datetime
    report_ids: list
    history: list

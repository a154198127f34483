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
    time_limit: str = "1wd"
    urgent_limit: str | None = None
    check_limit: str = "2wh"
    duplicate_radius_m: float = 50.0
    public: bool = True


@dataclass(frozen=True)
class HistoryEntry:
    """One step of a case's life."""

    id: int
    at: datetime
    actor: str
    actor_role: str
    action: str
    from_status: str | None
    to_status: str
    note: str
    department_code: str | None
    deadline: datetime | None
    attachments: list
    detail: dict
    imported: bool


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
    version: int
    source: str
    reporter: str
    urgent: bool
    department_code: str | None
    department_name: str | None
    dispatched_at: datetime | None
    deadline: datetime | None
    yellow_at: datetime | None
    deadline_provisional: bool
    time_limit: str | None
    handled_at: datetime | None
    check_deadline: datetime | None
    closed_at: datetime | None
    escalation_level: int
    dispatch_count: int
    return_count: int
    rework_count: int
    extension_count: int
    merged_into: int | None
    merged_cases: list
    light: str | None
    history: list

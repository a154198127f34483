"""Plain values of the dispatch package."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo

from events.workclock import OfficeHours


@dataclass(frozen=True)
class Policy:
    """The deployment's choices the workflow needs, built from the settings by the composition root."""

    tz: ZoneInfo = ZoneInfo("Asia/Shanghai")
    hours: OfficeHours = field(default_factory=OfficeHours)
    yellow_fraction: float = 0.8
    close_on_check: bool = False
    duplicate_window: timedelta = timedelta(days=7)
    auto_merge_sources: frozenset[str] = frozenset({"sensor"})


@dataclass(frozen=True)
class Department:
    """A district bureau (条线) or a street-level unit (属地)."""

    code: str
    name: str
    kind: str
    unit_type: str
    parent_code: str | None
    street_code: str | None


@dataclass(frozen=True)
class ActionResult:
    """What an action did to a case."""

    case_id: int
    action: str
    from_status: str
    to_status: str
    history_id: int
    department_code: str | None
    deadline: object | None
    version: int
    notes: list[str] = field(default_factory=list)

"""The JSON API of reference data: departments, routing rules and their history, the working calendar."""
from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from dispatch import repo
from dispatch.actor import Actor
from dispatch.deadlines import calendar_status, recompute_provisional
from gis.errors import Forbidden, InvalidInput
from web.deps import Conn, CurrentActor, CurrentPolicy

router = APIRouter(prefix="/api")


class CalendarDayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: date
    kind: str = Field(pattern="^(holiday|workday)$", description="holiday (a day off) or workday (a 调休 weekend)")
    name: str = Field(default="", max_length=100)


class CalendarYearIn(BaseModel):
    """The whole schedule of one year: it replaces what was imported for that year before."""

    model_config = ConfigDict(extra="forbid")

    year: int = Field(ge=2000, le=2100)
    days: list[CalendarDayIn] = Field(min_length=1, max_length=366)
    source: str = Field(default="admin API", max_length=200)


def require_admin(actor: Actor) -> None:
    """Only administrators change reference data."""
    if not actor.has("admin"):
        raise Forbidden(f"{actor.username} may not change reference data: it needs the role admin")


@router.get("/departments")
def departments(conn: Conn, actor: CurrentActor) -> list[dict]:
    """Every department: district bureaus (条线) and street-level units (属地)."""
    return [asdict(d) for d in repo.departments(conn)]


@router.get("/rules")
def active_rules(conn: Conn, actor: CurrentActor) -> list[dict]:
    """The active routing rules, in file order."""
    return [asdict(r) for r in repo.active_rules(conn)]


@router.get("/rules/history")
def rule_history(conn: Conn, actor: CurrentActor) -> list[dict]:
    """Every rule set ever imported, who made it and when it was active."""
    return repo.rule_sets(conn)


@router.get("/admin/calendar")
def calendar(conn: Conn, actor: CurrentActor, policy: CurrentPolicy) -> dict:
    """How far the holiday calendar is known, with a warning when it runs out within 60 days."""
    return calendar_status(conn, today=datetime.now(policy.tz).date())


@router.put("/admin/calendar/{year}")
def put_calendar_year(conn: Conn, actor: CurrentActor, policy: CurrentPolicy, year: int, body: CalendarYearIn) -> dict:
    """Enter a year's holidays and 调休 working days; provisional deadlines are recomputed at once."""
    require_admin(actor)
    problems = _day_problems(year, body)
    if problems:
        raise InvalidInput("; ".join(problems))
    repo.replace_calendar_year(conn, year=year, source=body.source, by=actor.username, days=[
        {"day": d.date, "workday": d.kind == "workday", "name": d.name} for d in body.days])
    return {"year": year, "days": len(body.days), "recomputed": recompute_provisional(conn, policy=policy)}


def _day_problems(year: int, body: CalendarYearIn) -> list[str]:
    out = [] if body.year == year else [f"the body is for {body.year}, the address for {year}"]
    seen = set()
    for d in body.days:
        if d.date.year != year:
            out.append(f"{d.date} is not in {year}")
        if d.date in seen:
            out.append(f"{d.date} appears twice")
        if d.kind == "workday" and d.date.weekday() < 5:
            out.append(f"{d.date} is already a weekday; only weekends can be 调休 working days")
        seen.add(d.date)
    return out

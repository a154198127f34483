"""The JSON API of reference data: departments, routing rules and their history, the working calendar."""
from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from dispatch import repo
from dispatch.actor import Actor, evaluation_street, require_statistics_reader, scope_filter
from dispatch.dashboard import dashboard
from dispatch.deadlines import calendar_status, recompute_provisional
from dispatch.rules import check_rows, store_rules, what_if
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
    require_admin(actor)
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


class RuleIn(BaseModel):
    """One routing rule, as in the rule file (see data/rules/README.md)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    category: str = Field(default="", description="4-digit minor, 2-digit major, or empty for any")
    place_kind: str = Field(default="", description="empty (district), street, community, grid or zone")
    place_code: str = ""
    zone_layer: str = ""
    zone_code: str = ""
    recipient_kind: str = Field(description="department or street_unit")
    department: str = ""
    unit_type: str = ""
    priority: int = Field(default=0, ge=-1_000_000, le=1_000_000)


class RuleSetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    rules: list[RuleIn] = Field(min_length=1, max_length=5000)
    activate: StrictBool = True


class RuleCheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[RuleIn] = Field(min_length=1, max_length=5000)
    since: datetime = Field(description="start of the replayed period, with a time zone")
    until: datetime = Field(description="end of the replayed period (exclusive), with a time zone")


def _rows(rules: list[RuleIn]) -> list[tuple[int, dict]]:
    return [(n, r.model_dump()) for n, r in enumerate(rules, start=1)]


@router.post("/admin/rules", status_code=201)
def import_rule_set(conn: Conn, actor: CurrentActor, body: RuleSetIn) -> dict:
    """Validate a whole rule table (all or nothing) and store it as a new rule set; warnings come back."""
    require_admin(actor)
    loaded = check_rows(conn, rows=_rows(body.rules), source=body.name)
    store_rules(conn, loaded=loaded, name=body.name, source="admin API", by=actor.username, activate=body.activate)
    return {"rule_set_id": loaded.rule_set_id, "rules": len(loaded.rules), "warnings": loaded.warnings,
            "active": body.activate}


@router.post("/admin/rules/check")
def check_rule_set(conn: Conn, actor: CurrentActor, body: RuleCheckIn) -> dict:
    """What-if: how many routed cases of the period would move, from where to where; stores nothing."""
    require_admin(actor)
    if body.since.tzinfo is None or body.until.tzinfo is None or body.until <= body.since:
        raise InvalidInput("since and until need a time zone, and until must come after since")
    return what_if(conn, loaded=check_rows(conn, rows=_rows(body.rules), source="proposed rules"),
                   start=body.since, end=body.until)


@router.get("/evaluation")
def evaluation(conn: Conn, actor: CurrentActor, policy: CurrentPolicy,
               period: str = Query(description="2026-11 (month), 2026-W47 (ISO week), 2026-11-26 (day) or 2026"),
               by: str = Query(default="department", description="department, street, community, grid or officer")
               ) -> dict:
    """综合评价: the indicators per unit for a period, with the previous period (环比) and the change."""
    from dispatch.evaluation import evaluate  # imports pandas: here, not when a server process starts (see app.py)

    result = evaluate(conn, period=period, by=by, policy=policy, street=evaluation_street(actor, by=by))
    return {"period": result.period, "previous_period": result.previous_period, "by": by,
            "columns": [asdict(c) for c in result.columns],
            "rows": [{"code": r.code, "name": r.name, "current": r.current, "previous": r.previous,
                      "change": {c.key: r.change(c.key) for c in result.columns}} for r in result.rows]}


@router.get("/dashboard")
def dashboard_figures(conn: Conn, actor: CurrentActor, policy: CurrentPolicy) -> dict:
    """Beside the leader's map: today's counts, the ten most overdue open cases, cases per day (30 days)."""
    require_statistics_reader(actor, what="read the dashboard")
    return dashboard(conn, tz=policy.tz, scope=scope_filter(actor))

"""The JSON API of reference data: departments, routing rules and their history, the working calendar."""
from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import Field, StrictBool

from core.errors import Inconsistent
from dispatch.actor import dashboard_scope, evaluation_street
from dispatch.casework import calendar_repo
from dispatch.casework.deadlines import calendar_status, recompute_provisional
from dispatch.reporting.dashboard import dashboard
from dispatch.reporting.evaluation_sql import BY, PERIOD
from dispatch.routing import repo
from dispatch.routing.rules import check_rows, store_rules, what_if
from web.deps import Conn, CurrentActor, CurrentPolicy, actor_with
from web.schemas import Day, Moment, StrictIn, whole

router = APIRouter(prefix="/api")


FIRST_YEAR, LAST_YEAR = 2000, 2100  # the years whose calendar can be entered


class CalendarDayIn(StrictIn):
    date: Day
    kind: Literal["holiday", "workday"] = Field(description="holiday (a day off) or workday (a 调休 weekend)")
    name: str = Field(default="", max_length=100)


class CalendarYearIn(StrictIn):
    """The whole schedule of one year: it replaces what was imported for that year before."""

    year: whole(ge=FIRST_YEAR, le=LAST_YEAR) = Field(description="the year in the address")
    days: list[CalendarDayIn] = Field(min_length=1, max_length=366)
    source: str = Field(default="admin API", max_length=200)


Admin = actor_with("change_reference_data")
StatisticsReader = actor_with("read_statistics")
DashboardReader = actor_with("read_dashboard")


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
def calendar(conn: Conn, actor: Admin, policy: CurrentPolicy) -> dict:
    """How far the holiday calendar is known, with a warning when it runs out within 60 days."""
    return calendar_status(conn, today=datetime.now(policy.tz).date())


@router.put("/admin/calendar/{year}")
def put_calendar_year(conn: Conn, actor: Admin, policy: CurrentPolicy,
                      year: Annotated[int, Path(ge=FIRST_YEAR, le=LAST_YEAR)], body: CalendarYearIn) -> dict:
    """Enter a year's holidays and 调休 working days; provisional deadlines are recomputed at once."""
    problems = _day_problems(year, body)
    if problems:
        raise Inconsistent("; ".join(problems))
    calendar_repo.replace_calendar_year(conn, year=year, source=body.source, by=actor.username, days=[
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


class RuleIn(StrictIn):
    """One routing rule, as in the rule file (see data/rules/README.md)."""

    name: str = Field(min_length=1, max_length=200)
    category: str = Field(default="", pattern="^([0-9]{2}|[0-9]{4})?$",
                          description="4-digit minor, 2-digit major, or empty for any")
    place_kind: Literal["", "street", "community", "grid", "zone"] = Field(
        default="", description="empty (district), street, community, grid or zone")
    place_code: str = Field(default="", max_length=200)
    zone_layer: str = Field(default="", max_length=200)
    zone_code: str = Field(default="", max_length=200)
    recipient_kind: Literal["department", "street_unit"]
    department: str = Field(default="", max_length=200)
    unit_type: str = Field(default="", max_length=200)
    priority: whole(ge=-1_000_000, le=1_000_000) = 0


class RuleSetIn(StrictIn):
    name: str = Field(min_length=1, max_length=200)
    rules: list[RuleIn] = Field(min_length=1, max_length=5000)
    activate: StrictBool = True


class RuleCheckIn(StrictIn):
    rules: list[RuleIn] = Field(min_length=1, max_length=5000)
    since: Moment = Field(description="start of the replayed period, with a time zone")
    until: Moment = Field(description="end of the replayed period (exclusive, after since), with a time zone")


def _rows(rules: list[RuleIn]) -> list[tuple[int, dict]]:
    return [(n, r.model_dump()) for n, r in enumerate(rules, start=1)]


@router.post("/admin/rules", status_code=201)
def import_rule_set(conn: Conn, actor: Admin, body: RuleSetIn) -> dict:
    """Validate a whole rule table (all or nothing) and store it as a new rule set; warnings come back."""
    loaded = check_rows(conn, rows=_rows(body.rules), source=body.name)
    store_rules(conn, loaded=loaded, name=body.name, source="admin API", by=actor.username, activate=body.activate)
    return {"rule_set_id": loaded.rule_set_id, "rules": len(loaded.rules), "warnings": loaded.warnings,
            "active": body.activate}


@router.post("/admin/rules/check")
def check_rule_set(conn: Conn, actor: Admin, body: RuleCheckIn) -> dict:
    """What-if: how many routed cases of the period would move, from where to where; stores nothing."""
    if body.since.tzinfo is None or body.until.tzinfo is None or body.until <= body.since:
        raise Inconsistent("since and until need a time zone, and until must come after since")
    return what_if(conn, loaded=check_rows(conn, rows=_rows(body.rules), source="proposed rules"),
                   start=body.since, end=body.until)


@router.get("/evaluation")
def evaluation(conn: Conn, actor: StatisticsReader, policy: CurrentPolicy,
               period: str = Query(json_schema_extra={"pattern": PERIOD}, description="2026-11 (month), 2026-W47 "
                                   "(ISO week), 2026-11-26 (day) or 2026"),
               by: Literal[BY] = Query(default="department", description="the unit each row is"),
               street: str = Query(default="", max_length=100, description="only the cases of this street (a "
                                   "street code; the map's street filter); empty: the reader's whole scope")) -> dict:
    """综合评价: the indicators per unit for a period, with the previous period (环比) and the change."""
    from dispatch.reporting.evaluation import evaluate  # imports pandas: here, not when a server process starts (see app.py)

    result = evaluate(conn, period=period, by=by, policy=policy, street=evaluation_street(actor, by=by, street=street or None))
    return {"period": result.period, "previous_period": result.previous_period, "by": by,
            "columns": [asdict(c) for c in result.columns],
            "rows": [{"code": r.code, "name": r.name, "current": r.current, "previous": r.previous,
                      "change": {c.key: r.change(c.key) for c in result.columns}} for r in result.rows]}


@router.get("/dashboard")
def dashboard_figures(conn: Conn, actor: DashboardReader, policy: CurrentPolicy,
                      street: str = Query(default="", max_length=100, description="only the cases of this street "
                                          "(a street code; the map's street filter)")) -> dict:
    """Beside the leader's map: today's counts, the ten most overdue open cases, cases per day (30 days)."""
    return dashboard(conn, tz=policy.tz, scope=dashboard_scope(actor, street=street or None))

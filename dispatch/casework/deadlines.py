"""Deadlines on the working-hours calendar: the package's years plus the years administrators import."""
from __future__ import annotations

import os
from datetime import date, datetime, tzinfo

import psycopg

from core.errors import InvalidInput
from dispatch.casework import calendar_repo
from dispatch.casework import case_repo
from dispatch.models import Policy
from events.calendarfile import parse_calendar_file, years_of
from events.workclock import Calendar, Deadline, Limit, deadline, working_minutes

WARN_DAYS = 60


def load_calendar(conn: psycopg.Connection) -> Calendar:
    """The working calendar: chinese-calendar's years plus the imported ones."""
    days, years = calendar_repo.calendar(conn)
    return Calendar(imported=days, imported_years=years)


def due(calendar: Calendar, *, start: datetime, limit: str, policy: Policy) -> Deadline:
    """The deadline of a limit such as "4wh" counted from `start`."""
    try:
        return deadline(start, Limit.parse(limit), calendar=calendar, hours=policy.hours, tz=policy.tz,
                        yellow_fraction=policy.yellow_fraction)
    except ValueError as exc:  # a limit or a span the clock refuses (years long, or no working days at all)
        raise InvalidInput(f"cannot count the deadline: {exc}") from None


def provisional_note(deadline: datetime, *, tz: tzinfo) -> str:
    """What a provisional deadline means, for people and other systems (zh + en)."""
    year = deadline.astimezone(tz).year
    return (f"期限为暂定：{year}年节假日安排尚未导入，导入后重新计算 the deadline is provisional: the holiday calendar "
            f"of {year} is not known yet, and the deadline is counted again when it is imported")


def moved(calendar: Calendar, *, start: datetime, new_due: datetime, policy: Policy) -> tuple[datetime, bool]:
    """The yellow instant for an explicit new deadline (an approved extension), and whether it is provisional."""
    try:
        total = working_minutes(start, new_due, calendar=calendar, hours=policy.hours, tz=policy.tz)
        if total <= 0:
            return new_due, False
        yellow = deadline(start, Limit(total * policy.yellow_fraction / 60, "working_hours"), calendar=calendar,
                          hours=policy.hours, tz=policy.tz, yellow_fraction=1.0)
    except ValueError as exc:
        raise InvalidInput(f"cannot count the deadline: {exc}") from None
    return yellow.due, yellow.provisional


def import_calendar(conn: psycopg.Connection, *, path: str | os.PathLike, by: str, policy: Policy) -> dict:
    """Replace the holidays and 调休 days of the years in a file, then recompute provisional deadlines."""
    days = parse_calendar_file(path)
    for year in sorted(years_of(days)):
        calendar_repo.replace_calendar_year(conn, year=year, source=os.path.basename(os.fspath(path)), by=by, days=[
            {"day": d.day, "workday": d.workday, "name": d.name} for d in days if d.day.year == year])
    return {"years": sorted(years_of(days)), "days": len(days), "recomputed": recompute_provisional(conn, policy=policy)}


def recompute_provisional(conn: psycopg.Connection, *, policy: Policy) -> int:
    """Count provisional deadlines of open cases again on the calendar as it now is; record each change.

    A deadline a person set (an approved extension) stays; only its yellow instant is counted again. The
    escalation level drops to what the new times imply, so a case escalates again when it really turns.
    """
    calendar = load_calendar(conn)
    changed = 0
    for row in case_repo.provisional_open(conn):
        if row["deadline_explicit"]:
            new_due = row["deadline"]
            yellow, provisional = moved(calendar, start=row["clock_start"], new_due=new_due, policy=policy)
        else:
            new = due(calendar, start=row["clock_start"], limit=row["time_limit"], policy=policy)
            new_due, yellow, provisional = new.due, new.yellow_at, new.provisional
        implied = 2 if row["now"] > new_due else 1 if row["now"] >= yellow else 0
        case_repo.update(conn, case_id=row["id"], changes={
            "deadline": new_due, "yellow_at": yellow, "deadline_provisional": provisional,
            "escalation_level": min(row["escalation_level"], implied)})
        _record_recompute(conn, row, new_due, policy)
        changed += 1
    return changed


def _record_recompute(conn, row: dict, new_due: datetime, policy: Policy) -> None:
    case_repo.add_history(conn, case_id=row["id"], actor="system", actor_role="system",
                          action="deadline_recomputed", from_status=row["status"], to_status=row["status"],
                          note=f"calendar imported: deadline {row['deadline'].astimezone(policy.tz):%Y-%m-%d %H:%M}"
                               f" → {new_due.astimezone(policy.tz):%Y-%m-%d %H:%M}",
                          department_code=row["department_code"], deadline=new_due)


def calendar_status(conn: psycopg.Connection, *, today: date) -> dict:
    """How far the known calendar reaches, and a warning when it ends within WARN_DAYS days."""
    until = load_calendar(conn).known_until()
    left = (until - today).days
    warning = None
    if left <= WARN_DAYS:
        warning = (f"the holiday calendar is known only until {until}, {left} day(s) from now: import the "
                   f"{until.year + 1} schedule with `citygrid calendar import FILE`; until then deadlines in "
                   f"{until.year + 1} count weekdays only and are marked provisional")
    return {"known_until": until, "days_left": left, "warning": warning}

"""综合评价 (CJ/T 292): the indicators of any period per department, region or grid officer, with 环比.

The counting rules are written down in docs/evaluation.md; the SQL below is their exact form. The history is cut
into *tenures*: the stretch of a case's history that starts at one dispatch and runs to the next. A tenure that
ends in a return is charged to no one's "due" (it lowers the returning department's accurate-dispatch rate); any
other tenure is due once, in the period that contains its deadline in force.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo

import numpy as np
import pandas as pd
import psycopg
from psycopg.rows import dict_row

from core.errors import InvalidInput, Unknown
from dispatch.casework.deadlines import due as due_time, load_calendar
from dispatch.models import Policy
from dispatch.reporting import rollups
from dispatch.reporting.evaluation_sql import BY, DIMS, PERIOD, officer_query, unit_query
from events.workclock_many import working_minutes_many

@dataclass(frozen=True)
class Indicator:
    """One column: key, Chinese and English name, and kind (count, rate, hours or score)."""

    key: str
    zh: str
    en: str
    kind: str = "count"


def _i(key: str, zh: str, en: str, kind: str = "count") -> Indicator:
    return Indicator(key, zh, en, kind)


INTAKE = (_i("reported", "上报数", "reported"), _i("registered", "立案数", "registered"))
HANDLING = (
    _i("dispatched", "派遣数", "dispatched"), _i("returned", "回退数", "returned"),
    _i("accurate_dispatch_rate", "准确派遣率", "accurate dispatch rate", "rate"),
    _i("due", "应处置数", "due"), _i("handled", "处置数", "handled"),
    _i("handling_rate", "处置率", "handling rate", "rate"), _i("on_time", "按期处置数", "handled on time"),
    _i("on_time_rate", "按期处置率", "on-time handling rate", "rate"), _i("reworked", "返工数", "reworked"),
    _i("rework_rate", "返工率", "rework rate", "rate"), _i("extended", "延期数", "extended"),
    _i("extension_rate", "延期率", "extension rate", "rate"), _i("due_to_close", "应结案数", "due to close"),
    _i("closed", "结案数", "closed"), _i("closure_rate", "结案率", "closure rate", "rate"),
    _i("on_time_closed", "按期结案数", "closed on time"),
    _i("on_time_closure_rate", "按期结案率", "on-time closure rate", "rate"),
    _i("mean_handling_hours", "平均处置时长(工作时)", "mean handling time (working hours)", "hours"),
    _i("overdue_pending", "超期未处置数", "overdue pending"), _i("score", "综合得分", "score (of 100)", "score"),
)
OFFICER = (
    _i("reports", "上报数", "reports"), _i("rejected", "不予立案数", "rejected"),
    _i("error_rate", "差错率", "error rate", "rate"), _i("checks", "核查数", "checks"),
    _i("on_time_checks", "按时核查数", "checks on time"),
    _i("on_time_check_rate", "按时核查率", "on-time check rate", "rate"),
)
# The published 100-point score: weight × (a rate where more is better).
WEIGHTS = {"handling": 30, "on_time": 20, "rework": 20, "overdue_pending": 20, "extension": 10}


@dataclass
class Row:
    """One unit (department, street, community, grid or officer) with this period's and the previous values."""

    code: str
    name: str
    current: dict
    previous: dict

    def change(self, key: str) -> float | None:
        """环比: this period minus the previous one (None when either is None)."""
        now, before = self.current.get(key), self.previous.get(key)
        return None if now is None or before is None else now - before


@dataclass
class Evaluation:
    """The indicators of one period by one kind of unit, with the previous period of the same kind."""

    period: str
    previous_period: str
    by: str
    start: datetime
    end: datetime
    previous_start: datetime
    columns: tuple[Indicator, ...]
    rows: list[Row] = field(default_factory=list)


_PATTERNS = (
    ("year", re.compile(r"(\d{4})")), ("month", re.compile(r"(\d{4})-(\d{2})")),
    ("week", re.compile(r"(\d{4})-[Ww](\d{2})")), ("day", re.compile(r"(\d{4})-(\d{2})-(\d{2})")),
)


def parse_period(text: str, *, tz: tzinfo | None = None) -> tuple[datetime, datetime, str]:
    """[start, end) and kind of "2026" (year), "2026-11" (month), "2026-W47" (ISO week) or "2026-11-26" (day)."""
    documented = isinstance(text, str) and re.fullmatch(PERIOD, text)  # else refused, the forms named
    return _parse(text if documented else None, tz or Policy().tz, shown=text)


def _parse(text: str | None, tz: tzinfo, *, shown) -> tuple[datetime, datetime, str]:
    for kind, pattern in _PATTERNS:
        match = pattern.fullmatch(text) if text is not None else None
        if match:
            try:
                first, after = _bounds(kind, *map(int, match.groups()))
            except ValueError as exc:
                raise ValueError(f"{shown!r} is not a real {kind}: {exc}") from None
            return _at(first, tz), _at(after, tz), kind
    raise ValueError(f"cannot read the period {shown!r}: write a year (2026), a month (2026-11), an ISO week "
                     "(2026-W47) or a day (2026-11-26)")


def _bounds(kind: str, year: int, a: int = 1, b: int = 1) -> tuple[date, date]:
    if kind == "year":
        return date(year, 1, 1), date(year + 1, 1, 1)
    if kind == "month":
        return date(year, a, 1), date(year + a // 12, a % 12 + 1, 1)
    if kind == "week":
        monday = date.fromisocalendar(year, a, 1)
        return monday, monday + timedelta(days=7)
    day = date(year, a, b)
    return day, day + timedelta(days=1)


def _at(day: date, tz: tzinfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=tz)


def previous_period(text: str) -> str:
    """The label of the period before, of the same kind: 2026-11 → 2026-10, 2021-W01 → 2020-W53."""
    start, _, kind = parse_period(text)
    if kind == "year":
        return str(start.year - 1)
    if kind == "month":
        return f"{start.year - (start.month == 1)}-{(start.month - 2) % 12 + 1:02d}"
    if kind == "week":
        year, week, _ = (start.date() - timedelta(days=7)).isocalendar()
        return f"{year}-W{week:02d}"
    return (start.date() - timedelta(days=1)).isoformat()


def evaluate(conn: psycopg.Connection, *, period: str, by: str, policy: Policy,
             now: datetime | None = None, street: str | None = None) -> Evaluation:
    """The indicators of `period` per unit (`by`: department, district, street, community, grid or officer);
    with `street`, only the cases of that street (the departments' work there), the regions inside it or the
    officers of it."""
    if by not in BY:
        raise InvalidInput(f"cannot evaluate by {by!r}: use one of {', '.join(BY)}")
    try:
        start, end, _ = parse_period(period, tz=policy.tz)
    except ValueError as exc:
        raise Unknown(str(exc)) from None
    before = previous_period(period)
    prev_start, _, _ = _parse(before, policy.tz, shown=before)  # 1900's year before is 1899: no documented gate
    params = {"start": start, "end": end, "prev_start": prev_start, "now": now, "dim": DIMS.get(by),
              "start_day": start.date(), "end_day": end.date(), "prev_day": prev_start.date(), "street": street}
    clock = _Clock(conn, policy)
    if by == "officer":
        columns, rows = OFFICER, _rows(conn, officer_query(), params, lambda r: _officer_values(r, clock))
    else:
        columns = HANDLING if by == "department" else INTAKE + HANDLING
        days = by == "department" or rollups.zone(conn) == str(policy.tz)  # else the steps, one by one
        rows = _rows(conn, unit_query(by, days=days), params, _unit_values, prime=clock.mean_hours)
        if street is not None and by != "department":  # region codes begin with their street's code
            rows = [r for r in rows if str(r.code).startswith(street)]
    return Evaluation(period, before, by, start, end, prev_start, columns, rows)


class _Clock:
    """The working calendar, read from the database only if some figure needs it."""

    def __init__(self, conn: psycopg.Connection, policy: Policy) -> None:
        self.conn, self.policy, self._calendar = conn, policy, None

    @property
    def calendar(self):
        """The calendar, loaded on first use."""
        if self._calendar is None:
            self._calendar = load_calendar(self.conn)
        return self._calendar

    def mean_hours(self, rows: list[dict]) -> None:
        """Set each row's mean working hours from its spans_from to its spans_to (epoch seconds; None for no
        span), counted for all rows at once."""
        def instants(key: str) -> pd.Series:
            seconds = np.fromiter((x for r in rows for x in r.get(key) or []), dtype=np.float64)
            return pd.Series(pd.to_datetime(np.round(seconds * 1e6).astype(np.int64), unit="us", utc=True))

        starts, ends = instants("spans_from"), instants("spans_to")
        minutes = working_minutes_many(starts, ends, calendar=self.calendar, hours=self.policy.hours,
                                       tz=self.policy.tz) if len(starts) else []
        at = 0
        for r in rows:
            n = len(r.get("spans_from") or [])
            r["mean_handling_hours"] = float(minutes[at:at + n].mean()) / 60 if n else None
            at += n

    def due(self, start: datetime, limit: str) -> datetime:
        """The due time of a limit counted from start."""
        return due_time(self.calendar, start=start, limit=limit, policy=self.policy).due


def _rows(conn, query, params: dict, values, prime=None) -> list[Row]:
    """One round trip; each unit's current and previous figures side by side, ordered by code.

    prime: called once with every fetched row before the figures are made (work done for all rows at once)."""
    found: dict[str, dict] = {}
    fetched = conn.cursor(row_factory=dict_row).execute(query, params).fetchall()
    if prime is not None:
        prime(fetched)
    for r in fetched:
        found.setdefault(r["code"], {"name": r["name"]})[r["period"]] = r
    return [Row(code, f["name"], values(f.get("current", {})), values(f.get("previous", {})))
            for code, f in sorted(found.items(), key=lambda kv: str(kv[0]))]


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _unit_values(r: dict) -> dict:
    keys = ("reported", "registered", "dispatched", "returned", "due", "handled", "on_time", "reworked",
            "extended", "closed", "on_time_closed", "overdue_pending")
    v = {k: r.get(k) or 0 for k in keys}
    v.update(due_to_close=v["due"], accurate_dispatch_rate=_rate(v["dispatched"] - v["returned"], v["dispatched"]),
             handling_rate=_rate(v["handled"], v["due"]), on_time_rate=_rate(v["on_time"], v["due"]),
             rework_rate=_rate(v["reworked"], v["due"]), extension_rate=_rate(v["extended"], v["due"]),
             closure_rate=_rate(v["closed"], v["due"]), on_time_closure_rate=_rate(v["on_time_closed"], v["due"]))
    v["mean_handling_hours"] = r.get("mean_handling_hours")
    v["score"] = score(v)
    return v


def score(v: dict) -> float | None:
    """100 points: 30 handling + 20 on time + 20 (1 − rework) + 20 (1 − overdue pending) + 10 (1 − extension)."""
    if not v["due"]:
        return None
    total = (WEIGHTS["handling"] * v["handling_rate"] + WEIGHTS["on_time"] * v["on_time_rate"]
             + WEIGHTS["rework"] * (1 - v["rework_rate"])
             + WEIGHTS["overdue_pending"] * (1 - v["overdue_pending"] / v["due"])
             + WEIGHTS["extension"] * (1 - v["extension_rate"]))
    return round(total, 1)


def _officer_values(r: dict, clock: _Clock) -> dict:
    checks = r.get("checks") or 0
    on_time = 0
    for at, stored, handled_at, limit in zip(*(r.get(k) or [] for k in ("checked_at", "stored", "handled_at",
                                                                          "check_limit"))):
        limit_at = stored or (clock.due(handled_at, limit) if handled_at else None)
        on_time += limit_at is not None and at <= limit_at
    reports, rejected = r.get("reports") or 0, r.get("rejected") or 0
    return {"reports": reports, "rejected": rejected, "error_rate": _rate(rejected, reports), "checks": checks,
            "on_time_checks": on_time, "on_time_check_rate": _rate(on_time, checks)}

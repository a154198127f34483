"""Working-time clock: deadlines counted in office hours on the working days of the Chinese public calendar.

Statutory holidays are off and 调休 weekend days are on (chinese-calendar for the years it covers, imported
schedules after that). A year nobody knows is counted on weekdays only and the result is marked provisional.
Pure: no database, no clock reading; the work is done on naive wall-clock times in the deployment's zone.

Units: N working hours are N hours of office time. N working days end at the same clock time on the Nth
working day after the (opening-shifted) start. A fraction of a working day is that fraction of one full
office day (7 h by default) added as office time after the whole days: 1.5wd from Mon 10:15 is Tue 10:15
plus 3.5 h, i.e. Tue 15:45. Calendar hours are plain elapsed time.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal

from chinese_calendar import constants as _cc

from events.calendarfile import CalendarDay, CalendarFileError, parse_calendar_file, years_of  # noqa: F401

UNITS = ("working_hours", "working_days", "calendar_hours")
_SUFFIX = {"wh": "working_hours", "wd": "working_days", "ch": "calendar_hours"}
_LIMIT = re.compile(r"\s*(\d+(?:\.\d+)?|\.\d+)\s*(wh|wd|ch)\s*", re.IGNORECASE)
_PERIOD = re.compile(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*")
# The package's own year range; its is_workday raises outside it.
_PACKAGE_YEARS = range(min(_cc.holidays).year, max(_cc.holidays).year + 1)
# A guard against a calendar with no working day at all: ten years of scanning is far beyond any limit.
_MAX_DAYS = 3660


@dataclass(frozen=True)
class Limit:
    """A handling time limit: a positive amount of working hours, working days or calendar hours."""

    value: float
    unit: str

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValueError(f"unknown time limit unit {self.unit!r}: use one of {', '.join(UNITS)}")
        if isinstance(self.value, bool) or not isinstance(self.value, (int, float)):
            raise ValueError(f"a time limit needs a number, not {self.value!r}")
        if not (math.isfinite(self.value) and self.value > 0):
            raise ValueError(f"a time limit must be a positive number, not {self.value}")
        object.__setattr__(self, "value", float(self.value))

    @classmethod
    def parse(cls, text: str) -> "Limit":
        """Read "4wh" (working hours), "2wd" (working days) or "24ch" (calendar hours); decimals allowed."""
        match = _LIMIT.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise ValueError(f"cannot read the time limit {text!r}: write a positive number followed by "
                             "wh (working hours), wd (working days) or ch (calendar hours), e.g. 4wh, 2wd, 24ch")
        return cls(float(match.group(1)), _SUFFIX[match.group(2).lower()])

    def __str__(self) -> str:
        suffix = next(s for s, u in _SUFFIX.items() if u == self.unit)
        if self.value.is_integer():
            return f"{int(self.value)}{suffix}"
        # repr is the shortest text that reads back to the same float; Decimal keeps it positional (no 1e-05).
        return f"{format(Decimal(repr(self.value)), 'f')}{suffix}"


@dataclass(frozen=True)
class OfficeHours:
    """The daily office periods (the same on every working day), in the deployment's wall-clock time."""

    periods: tuple[tuple[time, time], ...] = ((time(8, 30), time(12, 0)), (time(14, 0), time(17, 30)))

    def __post_init__(self) -> None:
        periods = tuple(sorted((tuple(p) for p in self.periods), key=lambda p: p[0]))
        if not periods:
            raise ValueError("office hours need at least one period, e.g. 08:30-12:00,14:00-17:30")
        for start, end in periods:
            if not start < end:
                raise ValueError(f"office period {start:%H:%M}-{end:%H:%M} must start before it ends")
        for (_, end), (start, _) in zip(periods, periods[1:]):
            if start < end:
                raise ValueError(f"office periods overlap: one ends at {end:%H:%M}, the next starts at {start:%H:%M}")
        object.__setattr__(self, "periods", periods)

    @classmethod
    def parse(cls, text: str) -> "OfficeHours":
        """Read "08:30-12:00,14:00-17:30" (periods may be given in any order, but must not overlap)."""
        return cls(tuple(_period(part, text) for part in str(text).split(",")))

    def __str__(self) -> str:
        return ",".join(f"{s:%H:%M}-{e:%H:%M}" for s, e in self.periods)

    @property
    def day_length(self) -> timedelta:
        """Office time in one working day (7 h by default)."""
        return sum((datetime.combine(date.min, e) - datetime.combine(date.min, s) for s, e in self.periods),
                   timedelta(0))


def _period(part: str, text: str) -> tuple[time, time]:
    match = _PERIOD.fullmatch(part)
    try:
        if match:
            h1, m1, h2, m2 = map(int, match.groups())
            return time(h1, m1), time(h2, m2)
    except ValueError:  # 25:00 or 12:60
        pass
    raise ValueError(f"cannot read office period {part.strip()!r} in {text!r}: write HH:MM-HH:MM periods "
                     "separated by commas, e.g. 08:30-12:00,14:00-17:30")


class Calendar:
    """Which dates are working days.

    Years covered by chinese-calendar use its data; later years use days an administrator imported;
    a year with neither is 'unknown' (weekdays only, provisional).
    """

    def __init__(self, *, imported: dict[date, bool] | None = None, imported_years: frozenset[int] = frozenset()):
        self._imported = dict(imported or {})
        self.imported_years = frozenset(imported_years)

    @classmethod
    def from_days(cls, days: list[CalendarDay]) -> "Calendar":
        """A calendar with parsed schedule days imported; their years count as known."""
        return cls(imported={d.day: d.workday for d in days}, imported_years=years_of(days))

    def is_known(self, day: date) -> bool:
        """True if the package covers the year or an administrator imported it."""
        return day.year in _PACKAGE_YEARS or day.year in self.imported_years

    def is_workday(self, day: date) -> bool:
        """Imported override, else the package's data, else Monday–Friday."""
        if day in self._imported:
            return self._imported[day]
        if day.year in _PACKAGE_YEARS:
            # Same rule as chinese_calendar.is_workday, read from its tables directly: that function rescans
            # every key for its year range on each call, and we ask once per day of every deadline.
            return day in _cc.workdays or (day.weekday() < 5 and day not in _cc.holidays)
        return day.weekday() < 5

    def known_until(self) -> date:
        """The last day of the last known year reached from the package's years without a gap."""
        year = _PACKAGE_YEARS[-1]
        while year + 1 in self.imported_years:
            year += 1
        return date(year, 12, 31)


@dataclass(frozen=True)
class Deadline:
    """When a case's clock started, when it is due, when it turns yellow, and whether that is provisional."""

    start: datetime
    due: datetime
    yellow_at: datetime
    provisional: bool


class _Clock:
    """Walks office time day by day, noting whether it consulted a day in a year the calendar does not know."""

    def __init__(self, calendar: Calendar, hours: OfficeHours) -> None:
        self.calendar, self.hours, self.provisional = calendar, hours, False

    def workday(self, day: date) -> bool:
        if not self.calendar.is_known(day):
            self.provisional = True
        return self.calendar.is_workday(day)

    def periods(self, day: date) -> list[tuple[datetime, datetime]]:
        if not self.workday(day):
            return []
        return [(datetime.combine(day, s), datetime.combine(day, e)) for s, e in self.hours.periods]

    def opening(self, t: datetime) -> datetime:
        """`t` itself if the office is open then, else the next opening."""
        for day in _days_from(t.date()):
            for start, end in self.periods(day):
                if t < end:
                    return max(start, t)

    def add(self, t: datetime, amount: timedelta) -> datetime:
        """The instant `amount` of office time after `t`; ending exactly at closing gives the closing time."""
        left = amount
        for day in _days_from(t.date()):
            for start, end in self.periods(day):
                if end <= t:
                    continue
                begin = max(start, t)
                if left <= end - begin:
                    return begin + left
                left -= end - begin

    def between(self, a: datetime, b: datetime) -> timedelta:
        """Office time from `a` to `b` (zero if b <= a)."""
        if (b - a).days > _MAX_DAYS:
            raise ValueError(f"the span from {a:%Y-%m-%d} to {b:%Y-%m-%d} is longer than {_MAX_DAYS} days")
        total, day = timedelta(0), a.date()
        while a < b and day <= b.date():
            for start, end in self.periods(day):
                total += max(timedelta(0), min(end, b) - max(start, a))
            day += timedelta(days=1)
        return total

    def add_days(self, start: datetime, value: float) -> datetime:
        """Same clock time on the Nth working day after `start`, then any fraction as office time."""
        whole, fraction = int(value), value - int(value)
        day, counted, days = start.date(), 0, _days_from(start.date() + timedelta(days=1))
        while counted < whole:
            day = next(days)
            counted += self.workday(day)
        due = datetime.combine(day, start.time())
        return self.add(due, fraction * self.hours.day_length) if fraction else due


def _days_from(day: date):
    for offset in range(_MAX_DAYS):
        yield day + timedelta(days=offset)
    raise ValueError(f"the count runs past {_MAX_DAYS} days from {day}: the limit is too long "
                     "or the holiday schedule leaves no working days")


def _local(at: datetime, tz: tzinfo, name: str) -> datetime:
    if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, not {at!r}")
    return at.astimezone(tz).replace(tzinfo=None)


def deadline(at: datetime, limit: Limit, *, calendar: Calendar, hours: OfficeHours, tz: tzinfo,
             yellow_fraction: float = 0.8) -> Deadline:
    """The due time of a case dispatched at `at` with `limit`, counted on the working-time clock."""
    if not 0 <= yellow_fraction <= 1:
        raise ValueError(f"yellow_fraction must be between 0 and 1, not {yellow_fraction}")
    local = _local(at, tz, "the dispatch time")
    if limit.unit == "calendar_hours":
        # Plain elapsed time: no opening shift, no calendar, so never provisional.
        # Added in UTC so that elapsed time stays exact even in a zone with daylight saving.
        span, utc = timedelta(hours=limit.value), at.astimezone(timezone.utc)
        start, due, yellow = (t.astimezone(tz) for t in (utc, utc + span, utc + yellow_fraction * span))
        return Deadline(start, due, yellow, False)
    clock = _Clock(calendar, hours)
    start = clock.opening(local)
    if limit.unit == "working_hours":
        due = clock.add(start, timedelta(hours=limit.value))
    else:
        due = clock.add_days(start, limit.value)
    # At 100% the office-time walk could stop at the previous closing (12:00 for a 14:00 due); yellow is due then.
    yellow = due if yellow_fraction == 1 else clock.add(start, yellow_fraction * clock.between(start, due))
    return Deadline(start.replace(tzinfo=tz), due.replace(tzinfo=tz), yellow.replace(tzinfo=tz), clock.provisional)


def working_minutes(a: datetime, b: datetime, *, calendar: Calendar, hours: OfficeHours, tz: tzinfo) -> float:
    """Office minutes on working days between two instants (0 if b <= a)."""
    clock = _Clock(calendar, hours)
    return clock.between(_local(a, tz, "the start"), _local(b, tz, "the end")) / timedelta(minutes=1)

"""The working-time clock for many starts at once (bulk imports): the same answers as `workclock.deadline`.

The office periods of every day in the span are laid end to end on one axis of office time; an instant's place on
that axis, and the instant at a place, are binary searches (numpy.searchsorted) instead of a walk day by day. All
arithmetic is in integer microseconds of naive wall-clock time in the deployment's zone, like the scalar clock;
`tests/test_workclock_many.py` checks both agree to the microsecond, provisional flag included.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

import numpy as np
import pandas as pd

from events.workclock import Calendar, Limit, OfficeHours

US = 1_000_000
DAY_US = 86_400 * US
_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class DeadlinesMany:
    """Per start: clock start, due, yellow (tz-aware pandas Series) and provisional (bool array)."""

    start: pd.Series
    due: pd.Series
    yellow_at: pd.Series
    provisional: np.ndarray


class _Axis:
    """Office periods of the days first..last, with the office time before each period."""

    def __init__(self, calendar: Calendar, hours: OfficeHours, first: date, last: date) -> None:
        self.first = first
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        work = np.array([calendar.is_workday(d) for d in days], dtype=bool)
        unknown = np.array([not calendar.is_known(d) for d in days], dtype=bool)
        self.unknown_before = np.concatenate([[0], np.cumsum(unknown)])  # unknown days before day index k
        offsets = [((s.hour * 3600 + s.minute * 60 + s.second) * US, (e.hour * 3600 + e.minute * 60 + e.second) * US)
                   for s, e in hours.periods]
        base = np.array([(d - _EPOCH).days * DAY_US for d, w in zip(days, work) if w], dtype=np.int64)
        self.workdays = base // DAY_US  # day numbers (days since 1970-01-01) of the working days
        self.start = (base[:, None] + np.array([s for s, _ in offsets], dtype=np.int64)).ravel()
        self.end = (base[:, None] + np.array([e for _, e in offsets], dtype=np.int64)).ravel()
        length = self.end - self.start
        self.before = np.cumsum(length) - length  # office time before each period
        self.through = self.before + length        # office time at each period's end
        self.day_length = int(sum(e - s for s, e in offsets))

    def place(self, t: np.ndarray) -> np.ndarray:
        """Office time before instant t (t inside a period counts its part of it)."""
        i = np.searchsorted(self.end, t, side="right")  # the first period ending after t
        self._check(i)
        return self.before[i] + np.clip(t - self.start[i], 0, None)

    def opening(self, t: np.ndarray) -> np.ndarray:
        """t if the office is open then, else the next opening."""
        i = np.searchsorted(self.end, t, side="right")
        self._check(i)
        return np.maximum(self.start[i], t)

    def add(self, t: np.ndarray, amount: np.ndarray) -> np.ndarray:
        """The instant `amount` of office time after t, walking forward from t's period: it ends at a closing time
        when it ends exactly there, and at t itself for a zero amount."""
        i = np.searchsorted(self.end, t, side="right")
        self._check(i)
        target = self.before[i] + np.clip(t - self.start[i], 0, None) + amount
        j = np.maximum(i, np.searchsorted(self.through, target, side="left"))
        self._check(j)
        return self.start[j] + (target - self.before[j])

    def _check(self, index: np.ndarray) -> None:
        if len(index) and index.max() >= len(self.end):
            raise _OutOfRange()


class _OutOfRange(Exception):
    """The span laid out was too short for some deadline: lay out a longer one."""


def deadline_many(at: pd.Series, limit: Limit, *, calendar: Calendar, hours: OfficeHours, tz: tzinfo,
                  yellow_fraction: float = 0.8) -> DeadlinesMany:
    """`workclock.deadline` for every tz-aware start in `at` (a pandas Series), with one limit."""
    if not 0 <= yellow_fraction <= 1:
        raise ValueError(f"yellow_fraction must be between 0 and 1, not {yellow_fraction}")
    at = pd.Series(pd.to_datetime(at), copy=False)
    if at.dt.tz is None:
        raise ValueError("the dispatch times must be timezone-aware")
    if limit.unit == "calendar_hours":
        span = pd.Timedelta(hours=limit.value)
        start = at.dt.tz_convert(tz)
        return DeadlinesMany(start, start + span, start + span * yellow_fraction, np.zeros(len(at), dtype=bool))
    local = at.dt.tz_convert(tz).dt.tz_localize(None).to_numpy("datetime64[us]").astype(np.int64)
    if len(local) == 0:
        empty = pd.Series([], dtype=f"datetime64[us, {tz}]")
        return DeadlinesMany(empty, empty, empty, np.zeros(0, dtype=bool))
    margin = 30 + 3 * math.ceil(limit.value if limit.unit == "working_days"
                                else limit.value * 3600 * US / max(_day_length(hours), 1))
    while True:
        first = _EPOCH + timedelta(days=int(local.min() // DAY_US) - 1)
        last = _EPOCH + timedelta(days=int(local.max() // DAY_US) + margin)
        try:
            return _deadlines(_Axis(calendar, hours, first, last), local, limit, tz, yellow_fraction)
        except _OutOfRange:
            if margin > 3660:
                raise ValueError("the count runs past 3660 days: the limit is too long or the holiday schedule "
                                 "leaves no working days") from None
            margin *= 4


def _day_length(hours: OfficeHours) -> int:
    return int(hours.day_length / timedelta(microseconds=1))


def _deadlines(axis: _Axis, local: np.ndarray, limit: Limit, tz: tzinfo, yellow_fraction: float) -> DeadlinesMany:
    start = axis.opening(local)
    if limit.unit == "working_hours":
        due = axis.add(start, np.full(len(start), _us(timedelta(hours=limit.value)), dtype=np.int64))
    else:
        whole, fraction = int(limit.value), limit.value - int(limit.value)
        day = start // DAY_US
        if whole:
            k = np.searchsorted(axis.workdays, day, side="right") + whole - 1  # the Nth working day after
            if k.max() >= len(axis.workdays):
                raise _OutOfRange()
            due_day = axis.workdays[k]
        else:
            due_day = day
        due = due_day * DAY_US + (start - day * DAY_US)
        if fraction:
            due = axis.add(due, np.full(len(due), _us(fraction * timedelta(microseconds=axis.day_length)),
                                        dtype=np.int64))
    if yellow_fraction == 1:
        yellow = due
    else:
        between = axis.place(due) - axis.place(start)
        yellow = axis.add(start, _times(between, yellow_fraction))
    first_day = (local // DAY_US) - (axis.first - _EPOCH).days
    last_day = (due // DAY_US) - (axis.first - _EPOCH).days
    provisional = axis.unknown_before[last_day + 1] - axis.unknown_before[first_day] > 0
    return DeadlinesMany(_aware(start, tz), _aware(due, tz), _aware(yellow, tz), provisional)


def _us(span: timedelta) -> int:
    return span // timedelta(microseconds=1)


def _times(span_us: np.ndarray, factor: float) -> np.ndarray:
    """timedelta * float, element-wise, rounded as timedelta rounds: the exact product of the float's integer
    ratio, to the microsecond, half to even (Python integers: the product overflows int64)."""
    num, den = factor.as_integer_ratio()
    product = span_us.astype(object) * num
    quotient = product // den
    remainder = product - quotient * den
    twice = remainder * 2
    up = (twice > den) | ((twice == den) & (quotient % 2 == 1))
    return (quotient + up).astype(np.int64)


def _aware(local_us: np.ndarray, tz: tzinfo) -> pd.Series:
    return pd.Series(local_us.astype("datetime64[us]")).dt.tz_localize(tz)


def working_minutes_many(starts: pd.Series, ends: pd.Series, *, calendar: Calendar, hours: OfficeHours,
                         tz: tzinfo) -> np.ndarray:
    """`workclock.working_minutes` for many (start, end) pairs of tz-aware instants: office minutes on working
    days between each start and its end (0 where the end is not later)."""
    a, b = (_local_us(s, tz) for s in (starts, ends))
    if len(a) == 0:
        return np.zeros(0)
    margin = 30
    while True:
        first = _EPOCH + timedelta(days=int(min(a.min(), b.min()) // DAY_US) - 1)
        last = _EPOCH + timedelta(days=int(max(a.max(), b.max()) // DAY_US) + margin)
        try:
            axis = _Axis(calendar, hours, first, last)
            return np.maximum(axis.place(b) - axis.place(a), 0) / (60 * US)
        except _OutOfRange:  # no office period after the last instant within the margin (long holidays)
            if margin > 3660:
                raise ValueError("no working day within 3660 days of the span's end") from None
            margin *= 4


def _local_us(values: pd.Series, tz: tzinfo) -> np.ndarray:
    at = pd.Series(pd.to_datetime(values), copy=False)
    if at.dtype == object:  # aware instants with different UTC offsets
        at = pd.Series(pd.to_datetime(values, utc=True), copy=False)
    if len(at) and at.dt.tz is None:
        raise ValueError("the instants must be timezone-aware")
    return at.dt.tz_convert(tz).dt.tz_localize(None).to_numpy("datetime64[us]").astype(np.int64)

"""The vectorised clock gives the scalar clock's answers, to the microsecond, provisional flag included."""
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from events.workclock import Calendar, Limit, OfficeHours, deadline
from events.workclock_many import deadline_many

TZ = ZoneInfo("Asia/Shanghai")
# 2027 imported (an invented schedule: New Year off, one 调休 Saturday), 2028 unknown: provisional
CAL = Calendar(imported={date(2027, 1, 1): False, date(2027, 2, 13): True, date(2027, 2, 15): False},
               imported_years=frozenset({2027}))


def starts(n: int, seed: int, first: datetime, days: int) -> list[datetime]:
    rng = np.random.default_rng(seed)
    seconds = rng.integers(0, days * 86400, n)
    micro = rng.integers(0, 1_000_000, n) * (rng.random(n) < 0.3)  # some with microseconds
    return [first + timedelta(seconds=int(s), microseconds=int(m)) for s, m in zip(seconds, micro)]


@pytest.mark.parametrize("limit", ["4wh", "0.5wh", "1wh", "7wh", "30wh", "2wd", "2.5wd", "0.25wd", "20wd", "24ch",
                                   "1ch"])
@pytest.mark.parametrize("yellow", [0.8, 1.0, 0.0, 0.37])
def test_many_equals_one_by_one(limit, yellow):
    hours = OfficeHours()
    # across National Day and Spring Festival 2026, the year end, the imported 2027 and the unknown 2028
    points = starts(150, hash((limit, yellow)) % 2**32, datetime(2026, 9, 25, tzinfo=TZ), 500)
    points += [datetime(2026, 10, 1, 9, tzinfo=TZ), datetime(2026, 9, 30, 17, 30, tzinfo=TZ),
               datetime(2026, 11, 27, 12, 0, tzinfo=TZ), datetime(2026, 11, 28, 3, 0, tzinfo=TZ),
               datetime(2027, 12, 31, 16, 0, tzinfo=TZ)]
    one = [deadline(p, Limit.parse(limit), calendar=CAL, hours=hours, tz=TZ, yellow_fraction=yellow) for p in points]
    many = deadline_many(pd.Series(points), Limit.parse(limit), calendar=CAL, hours=hours, tz=TZ,
                         yellow_fraction=yellow)
    for i, d in enumerate(one):
        assert many.start[i].to_pydatetime() == d.start, (i, points[i])
        assert many.due[i].to_pydatetime() == d.due, (i, points[i], limit)
        assert many.yellow_at[i].to_pydatetime() == d.yellow_at, (i, points[i], limit)
        assert bool(many.provisional[i]) == d.provisional, (i, points[i], limit)
    if not limit.endswith("ch"):  # calendar hours are never provisional; the others are, in 2028
        assert many.provisional.any() and not many.provisional.all()


def test_other_office_hours_and_an_empty_input():
    hours = OfficeHours.parse("09:00-12:30,13:30-18:00")
    points = starts(200, 7, datetime(2026, 1, 20, tzinfo=TZ), 60)  # Spring Festival 2026
    for limit in ("3wh", "1.5wd"):
        one = [deadline(p, Limit.parse(limit), calendar=CAL, hours=hours, tz=TZ).due for p in points]
        many = deadline_many(pd.Series(points), Limit.parse(limit), calendar=CAL, hours=hours, tz=TZ)
        assert [t.to_pydatetime() for t in many.due] == one
    empty = deadline_many(pd.Series([], dtype="datetime64[us, Asia/Shanghai]"), Limit.parse("4wh"), calendar=CAL,
                          hours=hours, tz=TZ)
    assert len(empty.due) == 0


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        deadline_many(pd.Series([datetime(2026, 1, 5, 9)]), Limit.parse("4wh"), calendar=CAL, hours=OfficeHours(),
                      tz=TZ)


def test_working_minutes_of_many_spans_equal_the_one_by_one_clock():
    from events.workclock import working_minutes
    from events.workclock_many import working_minutes_many

    cal, hours = CAL, OfficeHours.parse("08:30-12:00,14:00-17:30")
    rng = np.random.default_rng(3)
    # around the 2026 National Day holiday and its 调休 Saturday, into the unknown 2027 and back
    a = starts(400, 5, datetime(2026, 9, 20, tzinfo=TZ), 120)
    b = [x + timedelta(minutes=int(m)) for x, m in zip(a, rng.integers(-600, 40 * 24 * 60, len(a)))]
    b[:3] = a[:3]  # zero spans
    many = working_minutes_many(pd.Series(a), pd.Series(b), calendar=cal, hours=hours, tz=TZ)
    one = [working_minutes(x, y, calendar=cal, hours=hours, tz=TZ) for x, y in zip(a, b)]
    assert list(many) == pytest.approx(one, abs=1e-9)
    assert (many == 0).sum() >= 3 and many.max() > 1000

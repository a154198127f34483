"""The working-time clock: deadlines on the 2026 Chinese public calendar, unknown years, imports, parsers.

Every expected time below was worked out by hand from the 2026 schedule in chinese_calendar.constants
(National Day Oct 1–7 off, 调休 Sun Sep 20 and Sat Oct 10 on; Spring Festival Feb 15–23 off, Sat Feb 14 on;
Labour Day May 1–5 off, Sat May 9 on) and the default office hours 08:30–12:00, 14:00–17:30 (7 h a day).
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from core.errors import InvalidInput
from events.calendarfile import CalendarDay, CalendarFileError, parse_calendar_file, years_of
from events.workclock import UNITS, Calendar, Limit, OfficeHours, deadline, working_minutes

TZ = ZoneInfo("Asia/Shanghai")
HOURS = OfficeHours()
PLAIN = Calendar()
FIXTURE = Path(__file__).parent / "data" / "calendar_2027_invented.csv"


def local(text: str) -> datetime:
    """A Shanghai wall-clock time written "YYYY-MM-DD HH:MM"."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=TZ)


@lru_cache
def with_2027() -> Calendar:
    days = parse_calendar_file(FIXTURE)
    return Calendar(imported={d.day: d.workday for d in days}, imported_years=frozenset({2027}))


def run(at: str, limit: str, calendar: Calendar = PLAIN, **kw):
    return deadline(local(at), Limit.parse(limit), calendar=calendar, hours=HOURS, tz=TZ, **kw)


# (dispatched, limit, clock start, due) on the package's 2026 calendar.
DEADLINES = [
    # Weekends and the office day
    ("2026-03-13 16:30", "4wh", "2026-03-13 16:30", "2026-03-16 11:30"),  # Fri 1 h + Mon 3 h
    ("2026-03-13 22:00", "2wh", "2026-03-16 08:30", "2026-03-16 10:30"),  # Friday night -> Monday opening
    ("2026-03-14 10:00", "4wh", "2026-03-16 08:30", "2026-03-16 14:30"),  # Saturday; 3.5 h morning + 0.5 h
    ("2026-03-16 11:30", "1wh", "2026-03-16 11:30", "2026-03-16 14:30"),  # lunch break does not count
    ("2026-03-16 11:00", "1wh", "2026-03-16 11:00", "2026-03-16 12:00"),  # ends at noon: due 12:00, not 14:00
    ("2026-03-16 16:30", "1wh", "2026-03-16 16:30", "2026-03-16 17:30"),  # ends at closing time
    ("2026-03-16 08:30", "7wh", "2026-03-16 08:30", "2026-03-16 17:30"),  # one full office day
    ("2026-03-16 09:00", "0.5wh", "2026-03-16 09:00", "2026-03-16 09:30"),
    ("2026-03-16 12:30", "1wh", "2026-03-16 14:00", "2026-03-16 15:00"),  # dispatched during lunch
    ("2026-03-16 12:00", "0.5wh", "2026-03-16 14:00", "2026-03-16 14:30"),  # noon sharp is already closed
    ("2026-03-16 22:00", "1wh", "2026-03-17 08:30", "2026-03-17 09:30"),  # night -> 08:30 next working day
    ("2026-03-17 06:00", "1wh", "2026-03-17 08:30", "2026-03-17 09:30"),  # early morning
    ("2026-03-16 17:30", "1wh", "2026-03-17 08:30", "2026-03-17 09:30"),  # closing time sharp
    # National Day, Oct 1–7 off
    ("2026-09-30 16:00", "4wh", "2026-09-30 16:00", "2026-10-08 11:00"),  # 1.5 h + 2.5 h after the holiday
    ("2026-09-30 22:00", "1wh", "2026-10-08 08:30", "2026-10-08 09:30"),
    ("2026-10-03 10:00", "1wh", "2026-10-08 08:30", "2026-10-08 09:30"),  # dispatched during the holiday
    ("2026-09-29 10:00", "3wd", "2026-09-29 10:00", "2026-10-09 10:00"),  # Sep 30, Oct 8, Oct 9
    # 调休 working weekend days
    ("2026-09-29 10:00", "4wd", "2026-09-29 10:00", "2026-10-10 10:00"),  # 4th is Sat Oct 10
    ("2026-10-09 16:30", "2wh", "2026-10-09 16:30", "2026-10-10 09:30"),  # Fri 1 h + Sat Oct 10 1 h
    ("2026-10-10 09:00", "1wh", "2026-10-10 09:00", "2026-10-10 10:00"),  # dispatched on the 调休 Saturday
    ("2026-10-10 16:30", "2wh", "2026-10-10 16:30", "2026-10-12 09:30"),  # Sun Oct 11 is off again
    ("2026-09-18 17:00", "1wh", "2026-09-18 17:00", "2026-09-20 09:00"),  # Sat off, 调休 Sun Sep 20 on
    ("2026-02-13 10:00", "1wd", "2026-02-13 10:00", "2026-02-14 10:00"),  # 调休 Sat Feb 14
    ("2026-02-13 10:00", "2wd", "2026-02-13 10:00", "2026-02-24 10:00"),  # Spring Festival Feb 15–23
    ("2026-04-30 10:00", "1wd", "2026-04-30 10:00", "2026-05-06 10:00"),  # Labour Day May 1–5
    ("2026-04-30 10:00", "4wd", "2026-04-30 10:00", "2026-05-09 10:00"),  # May 6, 7, 8, 调休 Sat May 9
    # Working days: same clock time on the Nth working day
    ("2026-03-16 10:15", "2wd", "2026-03-16 10:15", "2026-03-18 10:15"),
    ("2026-03-13 10:15", "1wd", "2026-03-13 10:15", "2026-03-16 10:15"),  # over a weekend
    ("2026-03-16 22:00", "1wd", "2026-03-17 08:30", "2026-03-18 08:30"),  # night: start moved first
    ("2026-03-16 12:30", "1wd", "2026-03-16 14:00", "2026-03-17 14:00"),  # lunch: start moved first
    ("2026-03-02 09:00", "20wd", "2026-03-02 09:00", "2026-03-30 09:00"),  # Mar 3..27 = 19, Mon Mar 30 = 20th
    # Fractions of a working day: value x 7 h of office time after the whole days
    ("2026-03-16 10:15", "0.5wd", "2026-03-16 10:15", "2026-03-16 15:45"),  # 3.5 h: 1:45 + lunch + 1:45
    ("2026-03-16 10:15", "1.5wd", "2026-03-16 10:15", "2026-03-17 15:45"),
    ("2026-03-13 16:00", "0.5wd", "2026-03-13 16:00", "2026-03-16 10:30"),  # Fri 1.5 h + Mon 2 h
]


@pytest.mark.parametrize("at, limit, start, due", DEADLINES)
def test_deadline_on_the_2026_calendar(at, limit, start, due):
    got = run(at, limit)
    assert (got.start, got.due, got.provisional) == (local(start), local(due), False)
    assert got.due.tzinfo is TZ and got.start.tzinfo is TZ


# (dispatched, limit, fraction, yellow_at)
YELLOWS = [
    ("2026-03-16 08:30", "10wh", 0.8, "2026-03-17 09:30"),  # 8 h: Mon 7 h + Tue 1 h (due Tue 11:30)
    ("2026-03-13 16:30", "4wh", 0.8, "2026-03-16 10:42"),  # 192 min: Fri 60 + Mon 132
    ("2026-09-30 16:00", "4wh", 0.8, "2026-10-08 10:12"),  # 192 min: Sep 30 90 + Oct 8 102
    ("2026-03-16 10:15", "2wd", 0.8, "2026-03-17 16:27"),  # 672 of 840 min: Mon 315 + Tue 357
    ("2026-03-16 11:30", "1wh", 0.5, "2026-03-16 12:00"),  # halfway lands on noon: 12:00, not 14:00
    ("2026-03-16 12:30", "1wd", 1.0, "2026-03-17 14:00"),  # 100% is the due time itself
    ("2026-03-16 22:00", "1wh", 0.0, "2026-03-17 08:30"),  # 0% is the clock start
    ("2026-03-13 16:30", "24ch", 0.8, "2026-03-14 11:42"),  # calendar hours: start + 19.2 h
]


@pytest.mark.parametrize("at, limit, fraction, yellow", YELLOWS)
def test_yellow_at(at, limit, fraction, yellow):
    assert run(at, limit, yellow_fraction=fraction).yellow_at == local(yellow)


# (dispatched, limit, due, yellow_at at 80%)
CALENDAR_HOURS = [
    ("2026-03-13 16:30", "24ch", "2026-03-14 16:30", "2026-03-14 11:42"),  # Saturday counts
    ("2026-09-30 22:00", "48ch", "2026-10-02 22:00", "2026-10-02 12:24"),  # holiday and night count
    ("2026-12-30 10:00", "72ch", "2027-01-02 10:00", "2027-01-01 19:36"),  # into unknown 2027: not provisional
    ("2026-03-16 10:00", "0.5ch", "2026-03-16 10:30", "2026-03-16 10:24"),
]


@pytest.mark.parametrize("at, limit, due, yellow", CALENDAR_HOURS)
def test_calendar_hours_are_plain_elapsed_time(at, limit, due, yellow):
    got = run(at, limit)
    assert (got.start, got.due, got.yellow_at, got.provisional) == (local(at), local(due), local(yellow), False)


# (dispatched, limit, due before importing 2027 (weekdays only), due with the invented 2027 fixture)
INTO_2027 = [
    ("2026-12-30 10:00", "2wd", "2027-01-01 10:00", "2027-01-04 10:00"),  # Dec 31, then Jan 1 (or Mon Jan 4)
    ("2026-12-30 10:00", "16wh", "2027-01-01 12:00", "2027-01-04 12:00"),  # 5.5 + 7 + 3.5 h
    ("2026-12-31 18:00", "1wh", "2027-01-01 09:30", "2027-01-04 09:30"),
    ("2027-09-30 16:00", "4wh", "2027-10-01 11:00", "2027-10-08 11:00"),  # invented National Day Oct 1–7
    ("2027-10-08 16:30", "2wh", "2027-10-11 09:30", "2027-10-09 09:30"),  # invented 调休 Sat Oct 9
]


@pytest.mark.parametrize("at, limit, unknown_due, imported_due", INTO_2027)
def test_unknown_year_is_provisional_until_imported(at, limit, unknown_due, imported_due):
    before, after = run(at, limit), run(at, limit, calendar=with_2027())
    assert (before.due, before.provisional) == (local(unknown_due), True)
    assert (after.due, after.provisional) == (local(imported_due), False)


def test_end_of_2026_within_2026_is_exact():
    got = run("2026-12-30 10:00", "7wh")  # 5.5 h on Dec 30 + 1.5 h on Dec 31
    assert (got.due, got.provisional) == (local("2026-12-31 10:00"), False)
    assert run("2026-12-30 10:00", "2wd").yellow_at == local("2026-12-31 16:12")  # 672 min: 330 + 342


def test_importing_another_year_does_not_make_2027_known():
    got = run("2026-12-30 10:00", "2wd", calendar=Calendar(imported_years=frozenset({2028})))
    assert (got.due, got.provisional) == (local("2027-01-01 10:00"), True)


def test_time_zone_conversion_and_naive_input():
    utc = datetime(2026, 3, 13, 8, 30, tzinfo=timezone.utc)  # 16:30 in Shanghai
    got = deadline(utc, Limit.parse("4wh"), calendar=PLAIN, hours=HOURS, tz=TZ)
    assert got.due == local("2026-03-16 11:30") and got.due.tzinfo is TZ
    assert got.due.utcoffset() == timedelta(hours=8)
    with pytest.raises(ValueError, match="timezone-aware"):
        deadline(datetime(2026, 3, 13, 16, 30), Limit.parse("4wh"), calendar=PLAIN, hours=HOURS, tz=TZ)
    with pytest.raises(ValueError, match="yellow_fraction"):
        run("2026-03-13 16:30", "4wh", yellow_fraction=1.5)


def test_custom_office_hours():
    hours = OfficeHours.parse("09:00-17:00")
    got = deadline(local("2026-03-16 16:00"), Limit.parse("2wh"), calendar=PLAIN, hours=hours, tz=TZ)
    assert got.due == local("2026-03-17 10:00")


class CountingCalendar(Calendar):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def is_workday(self, day: date) -> bool:
        self.calls += 1
        return super().is_workday(day)


def test_counting_is_per_day_not_per_minute():
    counting = CountingCalendar()
    got = run("2026-03-02 09:00", "20wd", calendar=counting)
    assert got.due == local("2026-03-30 09:00")
    assert counting.calls < 4 * 29  # 29 calendar days, each consulted a few times at most


def test_a_calendar_without_working_days_fails_instead_of_looping():
    class NeverWorking(Calendar):
        def is_workday(self, day: date) -> bool:
            return False

    with pytest.raises(ValueError, match="runs past"):
        run("2026-03-16 10:00", "1wh", calendar=NeverWorking())


# (from, to, working minutes)
MINUTES = [
    ("2026-03-16 08:30", "2026-03-16 17:30", 420),
    ("2026-03-13 16:30", "2026-03-16 11:30", 240),  # over a weekend
    ("2026-09-30 16:00", "2026-10-08 11:00", 240),  # over National Day
    ("2026-10-09 17:00", "2026-10-12 09:00", 480),  # 30 + 调休 Sat Oct 10 420 + 30
    ("2026-03-16 22:00", "2026-03-17 22:00", 420),
    ("2026-03-16 12:00", "2026-03-16 14:00", 0),  # lunch only
    ("2026-03-16 11:00", "2026-03-16 10:00", 0),  # b before a
    ("2026-03-16 10:00", "2026-03-16 10:00", 0),
    ("2026-03-02 00:00", "2026-04-01 00:00", 22 * 420),  # 22 working days in March 2026
]


@pytest.mark.parametrize("a, b, minutes", MINUTES)
def test_working_minutes(a, b, minutes):
    assert working_minutes(local(a), local(b), calendar=PLAIN, hours=HOURS, tz=TZ) == minutes


def test_working_minutes_fractions_zones_and_2027():
    a = local("2026-03-16 10:15")
    assert working_minutes(a, a + timedelta(seconds=30), calendar=PLAIN, hours=HOURS, tz=TZ) == 0.5
    utc_a, utc_b = datetime(2026, 3, 16, 0, 30, tzinfo=timezone.utc), datetime(2026, 3, 16, 9, 30, tzinfo=timezone.utc)
    assert working_minutes(utc_a, utc_b, calendar=PLAIN, hours=HOURS, tz=TZ) == 420
    a, b = local("2026-12-31 08:30"), local("2027-01-04 17:30")
    assert working_minutes(a, b, calendar=PLAIN, hours=HOURS, tz=TZ) == 3 * 420  # Dec 31, Jan 1, Jan 4
    assert working_minutes(a, b, calendar=with_2027(), hours=HOURS, tz=TZ) == 2 * 420  # Jan 1 is 元旦
    with pytest.raises(ValueError, match="timezone-aware"):
        working_minutes(datetime(2026, 3, 16), b, calendar=PLAIN, hours=HOURS, tz=TZ)


# (day, working day on the package calendar?, with the invented 2027 import?)
WORKDAYS = [
    (date(2026, 10, 10), True, True),  # 调休 Saturday
    (date(2026, 9, 20), True, True),  # 调休 Sunday
    (date(2026, 10, 1), False, False),
    (date(2026, 10, 7), False, False),
    (date(2026, 10, 8), True, True),
    (date(2026, 10, 11), False, False),  # plain Sunday
    (date(2026, 3, 16), True, True),
    (date(2027, 1, 1), True, False),  # unknown Friday counts as a weekday; imported 元旦
    (date(2027, 1, 2), False, False),
    (date(2027, 1, 4), True, True),  # not listed in the import: an ordinary Monday
    (date(2027, 1, 31), False, True),  # invented 调休 Sunday
    (date(2027, 10, 9), False, True),  # invented 调休 Saturday
]


@pytest.mark.parametrize("day, plain, imported", WORKDAYS)
def test_is_workday(day, plain, imported):
    assert PLAIN.is_workday(day) is plain
    assert with_2027().is_workday(day) is imported


def test_calendar_agrees_with_chinese_calendar():
    day = date(2025, 1, 1)
    while day.year < 2027:
        assert PLAIN.is_workday(day) == chinese_calendar.is_workday(day), day
        day += timedelta(days=1)


def test_imported_days_override_the_package():
    assert Calendar(imported={date(2026, 3, 16): False}).is_workday(date(2026, 3, 16)) is False
    assert Calendar(imported={date(2026, 3, 14): True}).is_workday(date(2026, 3, 14)) is True


@pytest.mark.parametrize("day, plain, imported", [
    (date(2026, 6, 1), True, True),
    (date(2004, 1, 1), True, True),
    (date(2003, 12, 31), False, False),
    (date(2027, 1, 1), False, True),
    (date(2028, 1, 3), False, False),
])
def test_is_known(day, plain, imported):
    assert PLAIN.is_known(day) is plain and with_2027().is_known(day) is imported


@pytest.mark.parametrize("years, until", [
    (set(), date(2026, 12, 31)),
    ({2027}, date(2027, 12, 31)),
    ({2028}, date(2026, 12, 31)),  # a gap: 2027 is still unknown
    ({2027, 2028}, date(2028, 12, 31)),
])
def test_known_until(years, until):
    assert Calendar(imported_years=frozenset(years)).known_until() == until


def test_imported_rows_alone_do_not_make_a_year_known():
    calendar = Calendar(imported={date(2027, 1, 1): False})
    assert calendar.known_until() == date(2026, 12, 31) and not calendar.is_known(date(2027, 1, 1))


@pytest.mark.parametrize("text, value, unit", [
    ("4wh", 4.0, "working_hours"),
    ("2wd", 2.0, "working_days"),
    ("24ch", 24.0, "calendar_hours"),
    ("0.5wh", 0.5, "working_hours"),
    (" 1.5 wd ", 1.5, "working_days"),
    ("2WD", 2.0, "working_days"),
    (".5wh", 0.5, "working_hours"),
])
def test_limit_parse(text, value, unit):
    assert Limit.parse(text) == Limit(value, unit)
    assert unit in UNITS


@pytest.mark.parametrize("text", ["4wh", "0.5wh", "2wd", "24ch", "1.25wd", "0.1wh", "10wh"])
def test_limit_str_round_trip(text):
    assert str(Limit.parse(text)) == text


def test_limit_str_of_constructed_limits():
    assert str(Limit(4, "working_hours")) == "4wh"
    assert str(Limit(0.5, "working_days")) == "0.5wd"
    assert str(Limit(0.00001, "working_hours")) == "0.00001wh"


@pytest.mark.parametrize("text", ["", "   ", "4", "wh", "-1wh", "0wh", "0.0wd", "4 hours", "4w h", "1e3wh",
                                  "4whx", "four wh", "4wh 2wd", "4mh", None])
def test_limit_parse_errors(text):
    with pytest.raises(ValueError, match="time limit"):
        Limit.parse(text)


@pytest.mark.parametrize("value, unit", [(0, "working_hours"), (-1, "working_days"), (1, "minutes"),
                                         (float("nan"), "working_hours"), (float("inf"), "calendar_hours")])
def test_limit_construction_errors(value, unit):
    with pytest.raises(ValueError):
        Limit(value, unit)


@pytest.mark.parametrize("text, periods", [
    ("08:30-12:00,14:00-17:30", ((time(8, 30), time(12)), (time(14), time(17, 30)))),
    (" 08:30 - 12:00 , 14:00-17:30 ", ((time(8, 30), time(12)), (time(14), time(17, 30)))),
    ("9:00-17:00", ((time(9), time(17)),)),
    ("14:00-17:30,08:30-12:00", ((time(8, 30), time(12)), (time(14), time(17, 30)))),  # sorted
])
def test_office_hours_parse(text, periods):
    assert OfficeHours.parse(text).periods == periods


def test_office_hours_default():
    assert OfficeHours() == OfficeHours.parse("08:30-12:00,14:00-17:30")
    assert str(OfficeHours()) == "08:30-12:00,14:00-17:30"
    assert OfficeHours().day_length == timedelta(hours=7)


@pytest.mark.parametrize("text, message", [
    ("", "cannot read office period"),
    ("08:30-12:00,11:00-17:30", "overlap"),
    ("12:00-08:30", "start before it ends"),
    ("08:30-08:30", "start before it ends"),
    ("8:30 to 12:00", "cannot read office period"),
    ("25:00-26:00", "cannot read office period"),
    ("08:30-12:60", "cannot read office period"),
    ("08:30-12:00,,14:00-17:30", "cannot read office period"),
])
def test_office_hours_parse_errors(text, message):
    with pytest.raises(ValueError, match=message):
        OfficeHours.parse(text)


def test_the_invented_fixture():
    assert FIXTURE.read_text(encoding="utf-8").splitlines()[0] == (
        "# INVENTED test fixture: not the real 2027 schedule (unpublished when written)")
    days = parse_calendar_file(FIXTURE)
    assert len(days) == 34 and sum(d.workday for d in days) == 5  # 29 days off, 5 调休 days
    assert years_of(days) == frozenset({2027})
    assert days[0] == CalendarDay(date(2027, 1, 1), False, "元旦")
    assert CalendarDay(date(2027, 10, 9), True, "国庆节调休") in days
    assert [d.day for d in days] == sorted(d.day for d in days)
    assert Calendar.from_days(days).is_workday(date(2027, 1, 31)) is True
    assert Calendar.from_days(days).known_until() == date(2027, 12, 31)


@pytest.mark.parametrize("name", ["days.yaml", "days.yml"])
def test_parse_yaml(tmp_path, name):
    path = tmp_path / name
    path.write_text('- {date: 2027-01-02, kind: holiday, name: 元旦}\n'
                    '- date: "2027-01-31"\n  kind: workday\n  name: 春节调休\n', encoding="utf-8")
    assert parse_calendar_file(path) == [CalendarDay(date(2027, 1, 2), False, "元旦"),
                                         CalendarDay(date(2027, 1, 31), True, "春节调休")]


def test_parse_csv_with_bom_crlf_and_weekend_holiday(tmp_path):
    path = tmp_path / "days.csv"
    path.write_bytes("date,kind,name\r\n# a comment\r\n2027-01-02,holiday,元旦\r\n".encode("utf-8-sig"))
    assert parse_calendar_file(path) == [CalendarDay(date(2027, 1, 2), False, "元旦")]


HEADER = "date,kind,name\n"
# (file name, content, substrings every one of which the error must contain)
BAD_FILES = [
    ("a.csv", HEADER + "2027-13-01,holiday,x\n", ["line 2", "bad date '2027-13-01'"]),
    ("a.csv", HEADER + "2027/01/01,holiday,x\n", ["line 2", "bad date"]),
    ("a.csv", HEADER + "2027-01-01,vacation,x\n", ["line 2", "unknown kind 'vacation'"]),
    ("a.csv", HEADER + "2027-01-01,holiday,x\n2027-01-01,holiday,y\n", ["line 3", "listed twice", "line 2"]),
    ("a.csv", HEADER + "2027-01-04,workday,x\n",
     ["line 2", "2027-01-04 is already a weekday; only weekends can be 调休 working days"]),
    ("a.csv", "", ["no days"]),
    ("a.csv", "# only a comment\n" + HEADER, ["no days"]),
    ("a.csv", "2027-01-01,holiday,元旦\n", ["line 1", "header"]),
    ("a.csv", HEADER + "2027-01-01,holiday\n", ["line 2", "3 columns"]),
    ("a.csv", "# c\n" + HEADER + "2027-01-01,off,x\n2027-02-30,holiday,y\n2027-01-05,workday,z\n",
     ["line 3", "line 4", "line 5"]),
    ("a.yaml", "date: 2027-01-01\n", ["list"]),
    ("a.yaml", "- {date: 2027-01-01, kind: off, name: x}\n- {date: 2027-01-02, kind: holiday, name: y}\n"
               "- {date: 2027-01-02, kind: holiday, name: y}\n", ["line 1", "unknown kind", "line 3", "twice"]),
    ("a.yaml", "- [unclosed\n", ["not valid YAML"]),
    ("a.yaml", "", ["no days"]),
]


@pytest.mark.parametrize("name, content, expected", BAD_FILES)
def test_bad_calendar_files(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CalendarFileError) as caught:
        parse_calendar_file(path)
    for part in expected:
        assert part in str(caught.value)
    assert isinstance(caught.value, InvalidInput)


def test_all_problems_are_reported_together(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text(HEADER + "2027-01-01,off,x\n2027-02-30,holiday,y\n2027-01-05,workday,z\n2027-01-02,holiday,ok\n",
                    encoding="utf-8")
    with pytest.raises(CalendarFileError) as caught:
        parse_calendar_file(path)
    assert len(caught.value.problems) == 3


def test_missing_calendar_file(tmp_path):
    with pytest.raises(CalendarFileError, match="cannot read"):
        parse_calendar_file(tmp_path / "nope.csv")

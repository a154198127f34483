"""SQL of the working calendar: the holidays and working days administrators import, by year."""
from __future__ import annotations

import psycopg

CALENDAR_DAYS = "SELECT day, workday FROM calendar_day"
CALENDAR_YEARS = "SELECT year FROM calendar_year"
DELETE_CALENDAR_YEAR = "DELETE FROM calendar_year WHERE year = %(year)s"
INSERT_CALENDAR_YEAR = """
INSERT INTO calendar_year (year, source, imported_by) VALUES (%(year)s, %(source)s, %(by)s)
"""
INSERT_CALENDAR_DAY = """
INSERT INTO calendar_day (day, workday, name, year) VALUES (%(day)s, %(workday)s, %(name)s, %(year)s)
"""


def calendar(conn: psycopg.Connection) -> tuple[dict, frozenset[int]]:
    """Imported calendar days (date → working day?) and the years they cover."""
    days = dict(conn.execute(CALENDAR_DAYS).fetchall())
    years = frozenset(r[0] for r in conn.execute(CALENDAR_YEARS).fetchall())
    return days, years


def replace_calendar_year(conn: psycopg.Connection, *, year: int, days: list[dict], source: str, by: str) -> None:
    """Replace one year's imported holidays and working days."""
    conn.execute(DELETE_CALENDAR_YEAR, {"year": year})
    conn.execute(INSERT_CALENDAR_YEAR, {"year": year, "source": source, "by": by})
    with conn.cursor() as cur:
        cur.executemany(INSERT_CALENDAR_DAY, [{**d, "year": year} for d in days])

"""Deadlines against the database: a 2027 deadline is provisional until the 2027 calendar is imported, then it is
recomputed and recorded; administrators are warned before the known calendar runs out."""
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dispatch.casework.deadlines import calendar_status, import_calendar
from dispatch.casework.outbox import deliver, warn_calendar
from dispatch.intake.service import submit_report
from dispatch.models import Policy
from events.calendarfile import CalendarFileError
from events.service import get_case
from tests.people import actor, add_cast

SH = ZoneInfo("Asia/Shanghai")
FIXTURE = Path(__file__).parent / "data" / "calendar_2027_invented.csv"  # INVENTED: not the real schedule


def dispatched_on_dec_30(conn) -> int:
    """A case whose clock started 2026-12-30 10:00 with a 2-working-day limit, as a dispatch then would set it."""
    case_id = submit_report(conn, actor=actor("officer"), policy=Policy(), category_code="0103", lon=113.12,
                            lat=23.02).case_id
    start = datetime(2026, 12, 30, 10, 0, tzinfo=SH)
    # Weekdays only (2027 unknown): Thu 31 is day 1, Fri 2027-01-01 is day 2.
    conn.execute("UPDATE event_case SET clock_start = %s, time_limit = '2wd', deadline = %s, yellow_at = %s, "
                 "deadline_provisional = true WHERE id = %s",
                 (start, datetime(2027, 1, 1, 10, 0, tzinfo=SH), start, case_id))
    conn.commit()
    return case_id


def test_import_of_2027_recomputes_a_provisional_deadline(conn):
    case_id = dispatched_on_dec_30(conn)
    done = import_calendar(conn, path=FIXTURE, by="admin", policy=Policy())
    conn.commit()
    assert done["years"] == [2027] and done["recomputed"] == 1
    case = get_case(conn, case_id=case_id)
    # The invented file makes 2027-01-01..03 holidays: day 2 is Monday 2027-01-04.
    assert case.deadline == datetime(2027, 1, 4, 10, 0, tzinfo=SH) and not case.deadline_provisional
    last = case.history[-1]
    assert last.action == "deadline_recomputed" and "2027-01-01 10:00 → 2027-01-04 10:00" in last.note


def test_a_live_dispatch_into_unknown_years_is_marked_provisional(conn):
    # A 300-working-day limit from today always reaches past the package's last year (2026).
    conn.execute("UPDATE category SET time_limit = '300wd' WHERE code = '0102'")
    done = submit_report(conn, actor=actor("officer"), policy=Policy(), category_code="0102", lon=113.12,
                         lat=23.02)
    case = get_case(conn, case_id=done.case_id)
    assert case.status == "dispatched" and case.deadline_provisional and case.deadline.year >= 2027


def test_bad_calendar_file_changes_nothing(conn, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("date,kind,name\n2027-13-01,holiday,x\n2027-01-05,workday,周二\n", encoding="utf-8")
    with pytest.raises(CalendarFileError):
        import_calendar(conn, path=bad, by="admin", policy=Policy())
    conn.rollback()
    assert conn.execute("SELECT count(*) FROM calendar_year").fetchone()[0] == 0


def test_administrators_are_warned_sixty_days_before_the_calendar_ends(conn):
    add_cast(conn, ["admin", "officer"])
    assert calendar_status(conn, today=date(2026, 10, 1))["warning"] is None
    status = calendar_status(conn, today=date(2026, 11, 26))
    assert status["days_left"] == 35 and "known only until 2026-12-31" in status["warning"]
    for _ in range(2):  # the worker runs often; the admin hears once per horizon
        warn_calendar(conn, today=date(2026, 11, 26))
    deliver(conn)
    inbox = conn.execute("SELECT u.username, m.subject FROM inbox_message m JOIN app_user u ON u.id = m.user_id"
                         ).fetchall()
    assert [u for u, _ in inbox] == ["admin"] and "2026-12-31" in inbox[0][1]
    import_calendar(conn, path=FIXTURE, by="admin", policy=Policy())
    assert calendar_status(conn, today=date(2026, 11, 26))["warning"] is None


def test_an_approved_extension_survives_the_calendar_import(conn):
    from dispatch.casework.cases import Request, act
    case_id = dispatched_on_dec_30(conn)
    for action, who, extra in (("accept", "hws", {}), ("request_extension", "hws", {"note": "设备"})):
        act(conn, case_id=case_id, action=action, actor=actor(who), policy=Policy(), request=Request(**extra))
    extended = datetime(2027, 1, 20, 17, 0, tzinfo=SH)
    act(conn, case_id=case_id, action="approve_extension", actor=actor("shift"), policy=Policy(),
        request=Request(new_deadline=extended))
    conn.execute("UPDATE event_case SET escalation_level = 2, deadline_provisional = true WHERE id = %s",
                 (case_id,))
    import_calendar(conn, path=FIXTURE, by="admin", policy=Policy())
    case = get_case(conn, case_id=case_id)
    assert case.deadline == extended and not case.deadline_provisional  # a person's deadline is kept
    assert case.escalation_level == 0  # neither yellow nor red any more: it can escalate again when it turns
    assert case.history[-1].note.endswith("→ 2027-01-20 17:00")

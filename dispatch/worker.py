"""The worker's tick, composed from the capabilities it runs: the calendar warning, escalations and delivery
(casework) and the rollups' compaction (reporting). `citygrid worker` calls it in a loop."""
from __future__ import annotations

from datetime import date, tzinfo

import psycopg

from dispatch.casework.outbox import Tick, deliver, escalate, warn_calendar
from dispatch.reporting import rollups


def run_once(conn: psycopg.Connection, *, today: date, tz: tzinfo) -> Tick:
    """One worker tick: calendar warning, escalations, delivery, then the rollups' deltas folded in."""
    warn_calendar(conn, today=today)
    escalated = escalate(conn, tz=tz)
    tick = deliver(conn)
    tick.escalated = escalated
    rollups.compact(conn)  # fold the map's and dashboard's deltas in, so reads stay small (docs/rollups.md)
    return tick

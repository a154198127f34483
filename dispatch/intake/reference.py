"""Reference data cached per process: categories, routing rules, street units, the working calendar.

A kind is loaded on a miss from the caller's connection and kept with the versions its tables had (table
reference_version, bumped in the changing transaction by migration 0012's triggers). Intake reads the versions
in the pipelined round trip it makes anyway, so a kind is used only while its tables are unchanged: the first
report after an admin's commit sees the change in every process, even before the notification arrives. The
notification on `citygrid_reference` (web/live.py) drops the kind at once, and a lost LISTEN connection drops
everything. A generation counter per kind keeps a load that was in flight when an invalidation arrived from
being stored (it is still returned to its own request, which read it in its own transaction).
"""
from __future__ import annotations

import threading
from collections import Counter

import psycopg

from dispatch.routing import repo

from dispatch.casework.deadlines import load_calendar
from dispatch.exchange import bulk_repo
from dispatch.routing.router import street_units
from events import repo as events_repo
from events.errors import UnknownCategory
from events.models import Category

# kind → the tables whose changes make it stale
TABLES = {
    "categories": ("category_major", "category"),
    "rules": ("rule_set", "routing_rule"),
    "street_units": ("department",),
    "calendar": ("calendar_year", "calendar_day"),
}

LOADERS = {
    "categories": lambda conn: {c.code: c for c in events_repo.categories(conn)},
    "rules": lambda conn: (bulk_repo.active_rule_set(conn), repo.active_rules(conn)),
    "street_units": street_units,
    "calendar": load_calendar,
}


class Reference:
    """The process's cache of reference data; thread-safe, one per app process (web/app.py)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[tuple | None, object]] = {}  # kind → (versions it was loaded at, value)
        self._generation = dict.fromkeys(TABLES, 0)
        self.loads: Counter = Counter()  # loads per kind, for tests and the benchmark's notes

    def get(self, conn: psycopg.Connection, kind: str, *, versions: dict[str, int] | None = None):
        """The kind's value: cached if its tables still have the versions given (or, without versions, if cached),
        else loaded on `conn`."""
        stamp = tuple(versions.get(t) for t in TABLES[kind]) if versions is not None else None
        with self._lock:
            entry, generation = self._entries.get(kind), self._generation[kind]
        if entry is not None and (versions is None or entry[0] == stamp):
            return entry[1]
        value = LOADERS[kind](conn)
        with self._lock:
            self.loads[kind] += 1
            if self._generation[kind] == generation:  # no invalidation arrived while it loaded
                self._entries[kind] = (stamp, value)
        return value

    def category(self, conn: psycopg.Connection, *, code: str, versions: dict[str, int] | None = None) -> Category:
        """One category, or UnknownCategory with a hint."""
        found = self.get(conn, "categories", versions=versions).get(code) if isinstance(code, str) else None
        if found is None:
            raise UnknownCategory(f"unknown category {code!r}: use a 4-digit code from GET /api/categories")
        return found

    def cached(self) -> set[str]:
        """The kinds held now."""
        with self._lock:
            return set(self._entries)

    def invalidate(self, kind: str | None = None) -> None:
        """Drop one kind (None: everything)."""
        with self._lock:
            for k in TABLES if kind is None else (kind,):
                self._generation[k] += 1
                self._entries.pop(k, None)

    def table_changed(self, table: str) -> None:
        """A notification on citygrid_reference: drop every kind that reads this table."""
        for kind, tables in TABLES.items():
            if table in tables:
                self.invalidate(kind)

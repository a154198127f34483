"""Who writes the case tables: no module of the application outside the case writers below INSERTs, UPDATEs,
DELETEs or COPYs `event_case` or `case_history`. Issue 13 narrows WRITERS to one case repository; until then this
list is a ratchet: a new writer fails here, and a module that stops writing must leave the list."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "gis", "events", "dispatch", "web", "citygrid")
WRITES = re.compile(r"(INSERT\s+INTO|UPDATE|DELETE\s+FROM|COPY)\s+(event_case|case_history)\b|"
                    r"table\s*=\s*[\"'](event_case|case_history)[\"']", re.I)
WRITERS = {  # today's writers (issue 13: one case repository)
    "dispatch/intake/repo.py",   # a report: case, report and first step in one statement
    "dispatch/casework/case_repo.py",     # a workflow step: the case's UPDATE and its history row
    "dispatch/exchange/history_repo.py",  # `citygrid cases import`: a replayed history
    "dispatch/exchange/bulk_import.py",   # `citygrid events import`: COPY of cases and steps (through bulk_repo.copy_rows)
}


def writers() -> set[str]:
    return {str(path.relative_to(ROOT)) for package in PACKAGES for path in (ROOT / package).rglob("*.py")
            if WRITES.search(path.read_text(encoding="utf-8"))}


def test_only_the_case_writers_write_the_case_tables():
    assert writers() == WRITERS


def test_the_pattern_sees_each_kind_of_write():
    for text in ("INSERT INTO event_case (id)", "update case_history set", "COPY event_case (id) FROM STDIN",
                 "delete from case_history where", 'copy_rows(conn, table="event_case")'):
        assert WRITES.search(text), text
    assert not WRITES.search("SELECT * FROM event_case") and not WRITES.search("INSERT INTO report")

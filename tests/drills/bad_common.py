"""What the bad-input checks share: a digest of the whole database (to prove a refused input changed nothing), the
outcome of one bad input, and how the message of an answer is read."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

# Every table's row count and an md5 of its rows' md5s (in the order of those, so no primary key is needed, and
# sorting 32-character hashes, not rows with geometries, keeps it fast): one statement per table, so "the database
# unchanged" is one comparison of two dicts.
TABLES = """
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname = 'public' AND c.relname <> 'spatial_ref_sys' ORDER BY 1
"""
# api_token.last_used_at moves on use (at most once a minute): not a change made by the refused input, so the
# column is left out of the digest.
MOVING = {"api_token": "last_used_at"}
# Open311 counts every keyed call against the client's rate, refused or not (web/open311/clients.py): the
# counter table is bookkeeping of the call, not a change made by the input.
COUNTERS = {"api_client_window"}


def digest(conn) -> dict[str, tuple[int, str]]:
    """table → (row count, md5 of its rows) for every table of the schema (COUNTERS left out), in one statement."""
    tables = [t for (t,) in conn.execute(TABLES).fetchall() if t not in COUNTERS]
    parts = []
    for table in tables:
        row = (sql.SQL("(to_jsonb(t) - {})::text").format(sql.Literal(MOVING[table])) if table in MOVING
               else sql.SQL("t::text"))
        parts.append(sql.SQL("SELECT {name}, count(*), md5(coalesce(string_agg(h, ',' ORDER BY h), '')) "
                             "FROM (SELECT md5({row}) AS h FROM public.{table} t) rows").format(
            name=sql.Literal(table), row=row, table=sql.Identifier(table)))
    return {name: (count, md5) for name, count, md5 in conn.execute(sql.SQL(" UNION ALL ").join(parts)).fetchall()}


def changed(before: dict, after: dict) -> list[str]:
    """The tables whose count or digest differs."""
    return sorted(t for t in set(before) | set(after) if before.get(t) != after.get(t))


@dataclass(frozen=True)
class Id:
    """An id made by the drill's setup (bad_inputs.World.ids), put in when the line is sent."""

    name: str


@dataclass(frozen=True)
class Bad:
    """One bad request and the word its answer's message must contain."""

    area: str
    what: str
    who: str | None
    method: str
    path: str
    says: str
    send: dict = field(default_factory=dict)  # httpx request arguments: json, content, data, files, params, headers


class Watch:
    """The database's digest, taken again after each input, so what each one changed is known (an autocommit
    connection: every digest sees what was committed up to then)."""

    def __init__(self, url: str) -> None:
        self.conn = psycopg.connect(url, autocommit=True)
        self.last = digest(self.conn)

    def changes(self) -> list[str]:
        """The tables changed since the last call (or since the watch began)."""
        now = digest(self.conn)
        found, self.last = changed(self.last, now), now
        return found

    def close(self) -> None:
        self.conn.close()


@dataclass
class Outcome:
    """What became of one bad input: refused (a 4xx, a CLI exit 1 or 2, a skipped row) or not, a server error (a
    5xx, a CLI traceback), the message given, the word it had to contain, and the tables it changed."""

    area: str
    what: str
    answer: str                      # "422", "exit 1", "row 7", "201", "crash: KeyError"…
    refused: bool
    server_error: bool
    message: str
    says: str
    changes: list = field(default_factory=list)

    @property
    def clear(self) -> bool:
        """Refused with a message that says what was wrong (it holds the expected word)."""
        return self.refused and bool(self.message.strip()) and self.says.lower() in self.message.lower()


_XML_DESCRIPTION = re.compile(r"<description>(.*?)</description>", re.S)


def message_of(response) -> str:
    """The message of an HTTP answer: the API's {"message"}, Open311's [{"description"}] (JSON or XML), or the
    text itself."""
    kind = response.headers.get("content-type", "")
    if "json" in kind:
        try:
            data = response.json()
        except ValueError:
            return response.text
        if isinstance(data, dict):
            return str(data.get("message") or data.get("detail") or "")
        if isinstance(data, list) and data and isinstance(data[0], dict):
            return str(data[0].get("description") or "")
        return ""
    if "xml" in kind:
        return " ".join(_XML_DESCRIPTION.findall(response.text))
    return response.text

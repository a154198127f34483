"""Client systems of the Open311 API: one key each, a trust level and a rate limit per minute."""
from __future__ import annotations

import hashlib
import re
import secrets

import psycopg
from psycopg.rows import dict_row

from core.errors import DomainError, InvalidInput

TRUST_LEVELS = ("public", "trusted")  # public: reports wait for verification; trusted: registered at once
NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,62}$")

INSERT = """
INSERT INTO api_client (name, key_hash, trust, source, rate_per_minute, created_by)
VALUES (%(name)s, %(key_hash)s, %(trust)s, %(source)s, %(rate)s, %(created_by)s)
ON CONFLICT (name) DO NOTHING RETURNING id
"""
BY_KEY = """
SELECT id, name, trust, source, rate_per_minute FROM api_client WHERE key_hash = %(key_hash)s AND revoked_at IS NULL
"""
# one statement: count this call in the current minute and say how many there were
HIT = """
INSERT INTO api_client_window AS w (client_id, minute, calls) VALUES (%(id)s, date_trunc('minute', now()), 1)
ON CONFLICT (client_id, minute) DO UPDATE SET calls = w.calls + 1
RETURNING calls
"""
FORGET_OLD_WINDOWS = "DELETE FROM api_client_window WHERE minute < now() - interval '1 hour'"
LIST = """
SELECT name, trust, source, rate_per_minute, created_at, created_by, revoked_at,
       (SELECT count(*) FROM report r WHERE r.client_id = c.id) AS reports
FROM api_client c ORDER BY name
"""
REVOKE = "UPDATE api_client SET revoked_at = now() WHERE name = %(name)s AND revoked_at IS NULL RETURNING id"


class RateLimited(DomainError):
    """A client called more often than its key allows."""


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def add_client(conn: psycopg.Connection, *, name: str, trust: str, source: str = "open311", rate_per_minute: int = 60,
               created_by: str = "") -> str:
    """Register a client system and return its new API key (only its hash is stored: show it once)."""
    if not NAME.match(name):
        raise InvalidInput(f"client name {name!r}: use 2–63 lower-case letters, digits, '.', '_' or '-'")
    if trust not in TRUST_LEVELS:
        raise InvalidInput(f"trust must be {' or '.join(TRUST_LEVELS)}, not {trust!r}")
    if rate_per_minute < 1:
        raise InvalidInput("the rate limit must be at least 1 call per minute")
    if not re.fullmatch(r"[a-z0-9_-]{1,32}", source):
        raise InvalidInput(f"source {source!r}: use up to 32 lower-case letters, digits, '_' or '-'")
    key = "o311_" + secrets.token_urlsafe(32)
    row = conn.execute(INSERT, {"name": name, "key_hash": _digest(key), "trust": trust, "source": source,
                                "rate": rate_per_minute, "created_by": created_by}).fetchone()
    if row is None:
        raise InvalidInput(f"a client named {name!r} exists already")
    return key


def revoke_client(conn: psycopg.Connection, *, name: str) -> None:
    """Stop a client's key from working (its reports stay)."""
    if conn.execute(REVOKE, {"name": name}).fetchone() is None:
        raise InvalidInput(f"no active client {name!r}")


def clients(conn: psycopg.Connection) -> list[dict]:
    """Every client, revoked ones included, with how many reports it sent."""
    return conn.cursor(row_factory=dict_row).execute(LIST).fetchall()


def client_for_key(conn: psycopg.Connection, key: str) -> dict | None:
    """The active client a key belongs to, or None."""
    if not key:
        return None
    return conn.cursor(row_factory=dict_row).execute(BY_KEY, {"key_hash": _digest(key)}).fetchone()


def count_call(conn: psycopg.Connection, client: dict) -> None:
    """Count a call against the client's minute; RateLimited once it is over its limit."""
    calls = conn.execute(HIT, {"id": client["id"]}).fetchone()[0]
    if calls == 1:
        conn.execute(FORGET_OLD_WINDOWS)
    if calls > client["rate_per_minute"]:
        raise RateLimited(f"client {client['name']} may make {client['rate_per_minute']} calls a minute; "
                          "wait for the next minute")

"""Idempotency keys for requests that create things: the first request claims the key, a retry gets its answer.

The claim is an INSERT in the request's own transaction: a retry that arrives while the first is still running
waits on the key's unique index and then sees the stored answer; if the first failed (rolled back), the retry
simply does the work. The claim and the read of the stored answer are two statements (the read must take its
snapshot after the wait), sent together so that in a pipeline they cost no round trip of their own.

A key stands for one request: its fingerprint (sha256 of method, path and the canonical body) is stored with
it, and a retry whose fingerprint differs is refused with 422 IdempotencyKeyReused (as payment APIs do) instead
of silently replaying the answer to another request.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

import psycopg
from psycopg.types.json import Jsonb

from core.errors import InvalidInput

CLAIM = """
INSERT INTO idempotency_key (username, key, fingerprint) VALUES (%(username)s, %(key)s, %(fingerprint)s)
ON CONFLICT (username, key) DO NOTHING RETURNING 1
"""
STORED = "SELECT response, fingerprint FROM idempotency_key WHERE username = %(username)s AND key = %(key)s"
STORE = "UPDATE idempotency_key SET response = %(response)s WHERE username = %(username)s AND key = %(key)s"
MAX_KEY = 200
# printable ASCII without spaces at either end: what a header carries unchanged
KEY_PATTERN = f"^[!-~]([ -~]{{0,{MAX_KEY - 2}}}[!-~])?$"


class IdempotencyKeyReused(InvalidInput):
    """The key was first used for a different request."""


def fingerprint(method: str, path: str, body: dict) -> str:
    """sha256 of the method, the path and the body as canonical JSON (sorted keys, no spaces)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(f"{method.upper()} {path}\n{canonical}".encode()).hexdigest()


def check_key(key: str) -> str:
    """A usable key, or InvalidInput."""
    if not re.fullmatch(KEY_PATTERN, key):
        raise InvalidInput(f"Idempotency-Key must be 1-{MAX_KEY} printable ASCII characters (a UUID is usual)")
    return key


@dataclass(frozen=True)
class Claim:
    """A claim on its way: read `earlier` after the pipeline's sync."""

    claimed: psycopg.Cursor
    stored: psycopg.Cursor
    fingerprint: str

    def earlier(self) -> dict | None:
        """None if this request owns the key now; else the stored answer of the request that used it first
        (IdempotencyKeyReused if that was a different request)."""
        if self.claimed.fetchone():
            return None
        response, first = self.stored.fetchone()
        if first is not None and first != self.fingerprint:
            raise IdempotencyKeyReused("this Idempotency-Key was already used for a different request; nothing "
                                       "was filed: use a new key for a new request (the same key only to retry "
                                       "the very same request)")
        return response


def queue_claim(conn: psycopg.Connection, *, username: str, key: str, fingerprint: str) -> Claim:
    """Send the claim of a key and the read of its stored answer without waiting (InvalidInput for a bad key)."""
    params = {"username": username, "key": check_key(key), "fingerprint": fingerprint}
    claimed, stored = conn.cursor(), conn.cursor()
    claimed.execute(CLAIM, params)
    stored.execute(STORED, params)
    return Claim(claimed, stored, fingerprint)


def claim(conn: psycopg.Connection, *, username: str, key: str, fingerprint: str) -> dict | None:
    """None if this request owns the key now; else the stored answer of the request that used it first."""
    return queue_claim(conn, username=username, key=key, fingerprint=fingerprint).earlier()


def store(conn: psycopg.Connection, *, username: str, key: str, response: dict) -> None:
    """Keep the answer for retries."""
    conn.execute(STORE, {"username": username, "key": key, "response": Jsonb(response)})

"""Accounts, passwords and API tokens, on the domain side: the web layer turns a request into an Actor with them,
the CLI manages accounts with them (it does not import web for that)."""
from __future__ import annotations

import functools
import hashlib
import re
import secrets
from datetime import timedelta

import psycopg
from psycopg.rows import dict_row
from pwdlib import PasswordHash

from core.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from dispatch.actor import Actor, check_roles

_hasher = PasswordHash.recommended()


@functools.cache
def _dummy_hash() -> str:
    # Checked when the user name is unknown, so a wrong name costs as long as a wrong password (no name probing).
    # Made on first use, not at import: an Argon2 hash costs most of a second, and every server process (one
    # restarted after a crash too) would pay it before answering anything.
    return _hasher.hash("citygrid-no-such-user")

INSERT_USER = """
INSERT INTO app_user (username, display_name, password_hash, roles, grid_codes, street_code, department_code)
VALUES (%(username)s, %(display_name)s, %(password_hash)s, %(roles)s, %(grid_codes)s, %(street_code)s,
        %(department_code)s)
ON CONFLICT (username) DO NOTHING
RETURNING id
"""
USER_BY_NAME = "SELECT * FROM app_user WHERE username = %(username)s"
INSERT_TOKEN = """
INSERT INTO api_token (user_id, token_hash, label, expires_at)
VALUES (%(user_id)s, %(token_hash)s, %(label)s, now() + %(ttl)s) RETURNING id
"""
# One statement: the token's user, and its last use written at most once a minute (TOUCH_EVERY), never by two
# requests at once (SKIP LOCKED: a request never waits for another's transaction to record a use).
ACTOR_BY_TOKEN = """
WITH hit AS (
    SELECT t.id, t.last_used_at, u.username, u.roles, u.grid_codes, u.street_code, u.department_code
    FROM api_token t JOIN app_user u ON u.id = t.user_id
    WHERE t.token_hash = %(token_hash)s AND u.active AND t.revoked_at IS NULL
      AND (t.expires_at IS NULL OR t.expires_at > now())
), touched AS (
    UPDATE api_token SET last_used_at = now()
    WHERE id IN (SELECT s.id FROM api_token s JOIN hit ON hit.id = s.id
                 WHERE hit.last_used_at IS NULL OR hit.last_used_at < now() - %(touch_every)s
                 FOR UPDATE OF s SKIP LOCKED)
)
SELECT username, roles, grid_codes, street_code, department_code FROM hit
"""
TOUCH_EVERY = timedelta(minutes=1)
REVOKE = "UPDATE api_token SET revoked_at = now() WHERE token_hash = %(token_hash)s AND revoked_at IS NULL"
COUNT_USERS = "SELECT count(*) FROM app_user"
# The rule of app_user.username (its CHECK in citygrid/migrations/0004_dispatch.sql), stated here for the message.
USERNAME = re.compile(r"[A-Za-z0-9_.@-]{2,64}")
USERNAME_RULE = "2-64 characters of A-Z a-z 0-9 _ . @ - (no spaces)"


class Unauthenticated(DomainError):
    """No valid credentials came with the request."""


class TooManyAttempts(DomainError):
    """Sign-in refused for a while after repeated failures."""


# Failed sign-ins allowed in the window, per user name and per client address, before sign-in pauses.
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_CLIENT = 20
THROTTLE_WINDOW = timedelta(minutes=15)

RECENT_FAILURES = """
SELECT count(*) FILTER (WHERE username = %(username)s), count(*) FILTER (WHERE client = %(client)s),
       max(at) FILTER (WHERE username = %(username)s OR client = %(client)s)
FROM login_attempt
WHERE NOT ok AND at > now() - %(window)s AND (username = %(username)s OR client = %(client)s)
"""
RECORD_ATTEMPT = "INSERT INTO login_attempt (username, client, ok) VALUES (%(username)s, %(client)s, %(ok)s)"


def token_digest(token: str) -> str:
    """The stored form of a token (its SHA-256); also what a revocation notice names."""
    return hashlib.sha256(token.encode()).hexdigest()


def add_user(conn: psycopg.Connection, *, username: str, roles: list[str], password: str | None = None,
             display_name: str = "", grid_codes: list[str] = (), street_code: str | None = None,
             department_code: str | None = None) -> int:
    """Create an account; the password is stored as an Argon2 hash."""
    check_username(username)
    try:
        check_roles(list(roles))
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    if password is not None and len(password) < 10:
        raise InvalidInput("a password needs at least 10 characters")
    if ({"handler", "dept_head"} & set(roles)) and not department_code:
        raise InvalidInput("a handler or department head needs a department (--department CODE)")
    _check_scope(conn, grid_codes=list(grid_codes), street_code=street_code, department_code=department_code)
    row = conn.execute(INSERT_USER, {
        "username": username, "display_name": display_name or username, "roles": list(roles),
        "password_hash": _hasher.hash(password) if password else None, "grid_codes": list(grid_codes),
        "street_code": street_code, "department_code": department_code}).fetchone()
    if row is None:
        raise InvalidInput(f"user {username!r} already exists")
    return row[0]


def check_username(username: str) -> str:
    """A user name the database takes, or InvalidInput stating the rule."""
    if not USERNAME.fullmatch(username):
        raise InvalidInput(f"user name {username!r} is not allowed: use {USERNAME_RULE}")
    return username


SCOPE_CHECK = """
SELECT (SELECT count(*) FROM department WHERE code = %(department)s) AS departments,
       (SELECT count(*) FROM grid_feature f JOIN grid_release r ON r.is_active AND f.layer_id = r.street_layer_id
         WHERE f.code = %(street)s) AS streets,
       ARRAY(SELECT g FROM unnest(%(grids)s::text[]) g WHERE NOT EXISTS (
           SELECT 1 FROM grid_feature f JOIN grid_release r ON r.is_active AND f.layer_id = r.grid_layer_id
            WHERE f.code = g)) AS unknown_grids
"""


def _check_scope(conn, *, grid_codes: list[str], street_code: str | None, department_code: str | None) -> None:
    deps, streets, unknown = conn.execute(SCOPE_CHECK, {"department": department_code, "street": street_code,
                                                        "grids": grid_codes}).fetchone()
    if department_code and not deps:
        raise InvalidInput(f"unknown department {department_code!r}: see `citygrid departments export`")
    if street_code and not streets:
        raise InvalidInput(f"unknown street {street_code!r}: not a street of the active grid release")
    if unknown:
        raise InvalidInput(f"unknown grid code(s) {', '.join(unknown)} in the active grid release")


def issue_token(conn: psycopg.Connection, *, username: str, label: str = "",
                ttl: timedelta = timedelta(days=90)) -> str:
    """A new bearer token for a user; only its hash is stored, so show it once."""
    user = conn.cursor(row_factory=dict_row).execute(USER_BY_NAME, {"username": username}).fetchone()
    if user is None or not user["active"]:
        raise InvalidInput(f"no active user {username!r}")
    token = "cg_" + secrets.token_urlsafe(32)
    conn.execute(INSERT_TOKEN, {"user_id": user["id"], "token_hash": token_digest(token), "label": label, "ttl": ttl})
    return token


def check_throttle(conn: psycopg.Connection, *, username: str, client: str) -> None:
    """Refuse to check a password while the name or the address has failed too often recently."""
    by_user, by_client, last = conn.execute(RECENT_FAILURES, {"username": username, "client": client,
                                                               "window": THROTTLE_WINDOW}).fetchone()
    if by_user >= MAX_FAILURES_PER_USER or by_client >= MAX_FAILURES_PER_CLIENT:
        raise TooManyAttempts(f"too many failed sign-ins; try again in {THROTTLE_WINDOW.seconds // 60} minutes "
                              "or ask an administrator")


def record_attempt(conn: psycopg.Connection, *, username: str, client: str, ok: bool) -> None:
    """Remember one sign-in attempt (in its own transaction, so a failure is kept)."""
    conn.execute(RECORD_ATTEMPT, {"username": username[:64], "client": client[:64], "ok": ok})


def login(conn: psycopg.Connection, *, username: str, password: str, ttl: timedelta) -> str:
    """Check a password and issue a token; the same message for every failure."""
    user = conn.cursor(row_factory=dict_row).execute(USER_BY_NAME, {"username": username}).fetchone()
    stored = user["password_hash"] if user and user["password_hash"] else _dummy_hash()
    ok = _hasher.verify(password, stored) and bool(user and user["active"] and user["password_hash"])
    if not ok:
        raise Unauthenticated("wrong user name or password")
    return issue_token(conn, username=username, label="login", ttl=ttl)


def actor_for_token(conn: psycopg.Connection, *, token: str) -> Actor:
    """The actor a bearer token stands for, or Unauthenticated."""
    row = conn.execute(ACTOR_BY_TOKEN, {"token_hash": token_digest(token), "touch_every": TOUCH_EVERY}).fetchone()
    if row is None:
        raise Unauthenticated("the token is unknown, expired or revoked; log in again")
    username, roles, grids, street, department = row
    return Actor(username, frozenset(roles), frozenset(grids), street, department)


def revoke(conn: psycopg.Connection, *, token: str) -> None:
    """Revoke a token (log out)."""
    conn.execute(REVOKE, {"token_hash": token_digest(token)})


SET_PASSWORD = "UPDATE app_user SET password_hash = %(hash)s WHERE username = %(username)s RETURNING id"
SET_ACTIVE = "UPDATE app_user SET active = %(active)s WHERE username = %(username)s RETURNING id"
# Every revoked token is announced on `token_revoked` (migration 0014): open live streams made with it end at once.
REVOKE_ALL = "UPDATE api_token SET revoked_at = now() WHERE user_id = %(user_id)s AND revoked_at IS NULL"
MIN_PASSWORD = 10


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"a password needs at least {MIN_PASSWORD} characters")


def set_password(conn: psycopg.Connection, *, username: str, password: str) -> None:
    """Replace a user's password and revoke the user's tokens."""
    _check_password(password)
    row = conn.execute(SET_PASSWORD, {"username": username, "hash": _hasher.hash(password)}).fetchone()
    if row is None:
        raise NotFound(f"no user {username!r}")
    conn.execute(REVOKE_ALL, {"user_id": row[0]})  # a new password ends every session made with the old one


def reset_password(conn: psycopg.Connection, *, username: str, password: str | None = None) -> str | None:
    """An administrator's reset: the given password, or a generated one that is returned (show it once)."""
    generated = None if password else secrets.token_urlsafe(12)
    set_password(conn, username=username, password=password or generated)
    return generated


def change_password(conn: psycopg.Connection, *, username: str, old: str, new: str) -> None:
    """A user's own change: the old password first; every token (this session's too) is revoked."""
    user = conn.cursor(row_factory=dict_row).execute(USER_BY_NAME, {"username": username}).fetchone()
    if user is None or not user["password_hash"] or not _hasher.verify(old, user["password_hash"]):
        raise Forbidden("the old password is wrong")
    set_password(conn, username=username, password=new)


def set_active(conn: psycopg.Connection, *, username: str, active: bool, by: str | None = None) -> None:
    """Deactivate (every token revoked, sign-in refused) or activate an account; `by` may not deactivate itself."""
    if not active and by == username:
        raise Conflict(f"{username} cannot deactivate their own account; another administrator can")
    row = conn.execute(SET_ACTIVE, {"username": username, "active": active}).fetchone()
    if row is None:
        raise NotFound(f"no user {username!r}")
    if not active:
        conn.execute(REVOKE_ALL, {"user_id": row[0]})


USER_COLUMNS = ("username", "display_name", "roles", "grid_codes", "street_code", "department_code", "password")


class UserFileError(InvalidInput):
    """A user table that cannot be read at all."""


def import_users(conn: psycopg.Connection, *, path) -> tuple[list[tuple[str, str | None]], list[tuple[int, str]]]:
    """Create accounts from a CSV/YAML table; each row stands alone (bad rows are reported and skipped).

    Returns the created (username, generated password or None) and the skipped (line, reason). A row without a
    password gets a random one, shown once.
    """
    from events.tablefile import read_rows

    created, skipped = [], []
    for line, row in read_rows(path, columns=USER_COLUMNS, required=("username", "roles"), error=UserFileError):
        generated = None if row.get("password") else secrets.token_urlsafe(12)
        try:
            with conn.transaction():  # a savepoint: a bad row leaves no trace
                add_user(conn, username=row["username"], roles=_split(row["roles"]),
                         password=row.get("password") or generated, display_name=row.get("display_name", ""),
                         grid_codes=_split(row.get("grid_codes", "")), street_code=row.get("street_code") or None,
                         department_code=row.get("department_code") or None)
            created.append((row["username"], generated))
        except InvalidInput as exc:
            skipped.append((line, str(exc)))
        except (psycopg.DataError, psycopg.IntegrityError) as exc:  # the primary message: never the row (a hash)
            skipped.append((line, f"the database refused the row: {exc.diag.message_primary}"))
    return created, skipped


def _split(text: str) -> list[str]:
    return [part for part in text.replace(";", " ").replace(",", " ").split() if part]

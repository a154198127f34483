"""Accounts for tests: real rows in app_user and api_token, made through the same code as `citygrid users add`."""
from __future__ import annotations

import functools

import psycopg
from pwdlib import PasswordHash

from dispatch.accounts import add_user, issue_token
from dispatch.actor import Actor

ZUMIAO, SHIWAN = "440604012", "440604010"

# name → (roles, scope) used across the workflow tests.
CAST = {
    "officer": (["grid_officer"], {"street_code": ZUMIAO}),
    "officer2": (["grid_officer"], {"street_code": SHIWAN}),
    "intake": (["intake"], {}),
    "dispatcher": (["dispatcher"], {}),
    "hws": (["handler"], {"department_code": "S-012-HWS"}),
    "hws_head": (["dept_head"], {"department_code": "S-012-HWS"}),
    "cgzd": (["handler"], {"department_code": "S-012-CGZD"}),
    "szgl": (["handler"], {"department_code": "D-SZGL"}),
    "shift": (["shift_leader"], {}),
    "leader": (["leader"], {}),
    "leader_shiwan": (["leader"], {"street_code": SHIWAN}),
    "admin": (["admin"], {}),
}


def actor(name: str) -> Actor:
    """The domain actor of a cast member (no database needed)."""
    roles, scope = CAST[name]
    return Actor(name, frozenset(roles), frozenset(scope.get("grid_codes", ())), scope.get("street_code"),
                 scope.get("department_code"))


@functools.cache
def password_hash(password: str) -> str:
    """The Argon2 hash of a cast member's password, made once per test process: a hash costs about 0.2 s, and
    hashing the whole cast again for every test was most of the suite's time."""
    return PasswordHash.recommended().hash(password)


def add_cast(conn: psycopg.Connection, names=None) -> dict[str, str]:
    """Create cast members as users (through add_user, so its checks hold) with the password f"{name}-password-1"
    and a token; returns name → token. Commits."""
    tokens = {}
    for name in names or CAST:
        roles, scope = CAST[name]
        add_user(conn, username=name, roles=roles, **scope)
        conn.execute("UPDATE app_user SET password_hash = %s WHERE username = %s",
                     (password_hash(f"{name}-password-1"), name))
        tokens[name] = issue_token(conn, username=name, label="test")
    conn.commit()
    return tokens


def bearer(token: str) -> dict:
    """The Authorization header for a token."""
    return {"Authorization": f"Bearer {token}"}


def add_messages(url: str, username: str, n: int) -> None:
    """n unread messages in a user's inbox, as the outbox worker writes them."""
    with psycopg.connect(url) as conn:
        for i in range(n):
            outbox = conn.execute("INSERT INTO outbox (kind, payload) VALUES ('note', '{}') RETURNING id").fetchone()[0]
            conn.execute("INSERT INTO inbox_message (outbox_id, user_id, subject, body) "
                         "SELECT %s, id, %s, '' FROM app_user WHERE username = %s", (outbox, f"m{i}", username))

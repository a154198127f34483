"""Request dependencies: one connection and one transaction per request, and the actor behind it."""
from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Annotated

import psycopg
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyCookie, HTTPBearer

from core.errors import Forbidden
from dispatch import accounts
from dispatch.accounts import Unauthenticated, actor_for_token
from dispatch.actor import Actor
from dispatch.permissions import require, roles_for
from dispatch.models import Policy
from web.config import WebConfig

COOKIE = "citygrid_token"
CSRF_COOKIE = "citygrid_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def _slot(request: Request) -> AsyncIterator[None]:
    async with request.app.state.db.slot():  # waits on the event loop, not in a thread (web/db.py says why)
        yield


Slot = Annotated[None, Depends(_slot, scope="function")]


def _conn(request: Request, _: Slot) -> Iterator[psycopg.Connection]:
    with request.app.state.db.connection() as conn:
        yield conn  # committed on success, rolled back on an exception


# async: trivial values are not worth a hop through the thread pool
async def _config(request: Request) -> WebConfig:
    return request.app.state.config


async def _policy(request: Request) -> Policy:
    return request.app.state.config.policy


def bearer(request: Request) -> str | None:
    """The token of a request: an Authorization bearer header, else the login cookie."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.cookies.get(COOKIE)


def _from_cookie(request: Request) -> bool:
    return not request.headers.get("authorization", "").lower().startswith("bearer ")


def csrf_matches(request: Request, sent: str) -> bool:
    """Double submit: the value a form or header sent is the browser's CSRF cookie (set at sign-in)."""
    expected = request.cookies.get(CSRF_COOKIE, "")
    return bool(expected) and secrets.compare_digest(sent.encode(), expected.encode())


def new_csrf_value() -> str:
    """A fresh CSRF cookie value (every sign-in gets one: a value planted before it does not survive)."""
    return secrets.token_urlsafe(24)


def client_address(request: Request) -> str:
    """The client's address as the sign-in throttle counts it: the peer, or what a trusted proxy forwarded.

    The rule is applied by uvicorn before the app sees the request: X-Forwarded-For is believed only from the
    addresses in CITYGRID_TRUSTED_PROXIES (citygrid/server.py), from nobody when it is empty."""
    return request.client.host if request.client else "unknown"


def _check_csrf(request: Request) -> None:
    """A page (cookie session) that changes something must echo the CSRF cookie in a header."""
    if not csrf_matches(request, request.headers.get(CSRF_HEADER, "")):
        raise Forbidden("missing or wrong CSRF token: a page must send the citygrid_csrf cookie's value in the "
                        "X-CSRF-Token header")


def require_token(request: Request) -> str:
    """The request's token, or Unauthenticated (no database needed)."""
    token = bearer(request)
    if not token:
        raise Unauthenticated("log in first: send Authorization: Bearer <token> (POST /api/tokens gives one)")
    return token


# The two ways to send a token, as the OpenAPI document names them (security schemes); bearer() reads both.
BEARER = HTTPBearer(auto_error=False, scheme_name="bearer", description="a token from POST /api/tokens")
SESSION = APIKeyCookie(name=COOKIE, auto_error=False, scheme_name="session",
                       description="the pages' sign-in cookie; a request that changes something also sends the "
                                   "citygrid_csrf cookie's value in X-CSRF-Token")


async def token_of(request: Request, _bearer: Annotated[object, Depends(BEARER)],
                   _session: Annotated[object, Depends(SESSION)]) -> str:
    """The request's token (header or cookie), or Unauthenticated before anything else is looked at."""
    return require_token(request)


Token = Annotated[str, Depends(token_of)]


def actor_of(request: Request, conn: psycopg.Connection) -> Actor:
    """The actor behind a request, looked up on the request's own connection, or Unauthenticated."""
    token = require_token(request)
    if _from_cookie(request) and request.method not in SAFE_METHODS:
        _check_csrf(request)
    return actor_for_token(conn, token=token)


# scope="function": the transaction ends before the response is sent, so a client never reads stale data.
Conn = Annotated[psycopg.Connection, Depends(_conn, scope="function")]


def request_actor(request: Request, _: Token, conn: Conn) -> Actor:
    """The actor behind a request, in the request's transaction (never a second connection)."""
    return actor_of(request, conn)


Config = Annotated[WebConfig, Depends(_config)]
CurrentPolicy = Annotated[Policy, Depends(_policy)]
CurrentActor = Annotated[Actor, Depends(request_actor)]


async def look_up_briefly(request: Request) -> Actor:
    """The actor behind a request, holding a connection only for the lookup (a stream rechecks with it)."""
    db = request.app.state.db
    async with db.slot():
        return await run_in_threadpool(_lookup, db, request)


async def actor_briefly(request: Request, _: Token) -> Actor:
    """The actor for a route that must not hold a connection while it works (a stream, an upload)."""
    return await look_up_briefly(request)


BriefActor = Annotated[Actor, Depends(actor_briefly)]


class RoleCheck:
    """A dependency: the actor, if it holds the permission (dispatch/permissions.py); otherwise Forbidden."""

    def __init__(self, permission: str) -> None:
        roles_for(permission)  # a permission the table does not know fails when the routes are built
        self.permission = permission

    def check(self, actor: Actor) -> Actor:
        """The actor, or Forbidden."""
        return require(actor, self.permission)

    def __call__(self, actor: CurrentActor) -> Actor:
        return self.check(actor)


class BriefRoleCheck(RoleCheck):
    """The same check on the actor of a route that must not hold a connection while it works."""

    async def __call__(self, actor: BriefActor) -> Actor:
        return self.check(actor)


def actor_with(permission: str, *, brief: bool = False):
    """The type of a handler argument: the actor, checked for the permission before the handler runs."""
    return Annotated[Actor, Depends((BriefRoleCheck if brief else RoleCheck)(permission))]


def _lookup(db, request: Request) -> Actor:
    with db.connection() as conn:
        return actor_of(request, conn)


def sign_in_with_password(request: Request, conn: psycopg.Connection, *, username: str, password: str,
                          ttl: timedelta) -> str:
    """Throttled sign-in on the request's one connection: a failure is recorded and committed before the refusal,
    so the rollback that follows the refusal keeps it (a failed login writes nothing else)."""
    client = client_address(request)
    accounts.check_throttle(conn, username=username, client=client)
    try:
        token = accounts.login(conn, username=username, password=password, ttl=ttl)
    except accounts.Unauthenticated:
        conn.rollback()
        accounts.record_attempt(conn, username=username, client=client, ok=False)
        conn.commit()
        raise
    accounts.record_attempt(conn, username=username, client=client, ok=True)
    return token

"""Request dependencies: one connection and one transaction per request, and the actor behind it."""
from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated

import psycopg
from fastapi import Depends, Request

from dispatch.actor import Actor
from gis.errors import Forbidden
from dispatch.models import Policy
from web import accounts
from web.accounts import Unauthenticated, actor_for_token
from web.config import WebConfig

COOKIE = "citygrid_token"
CSRF_COOKIE = "citygrid_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _conn(request: Request) -> Iterator[psycopg.Connection]:
    with request.app.state.pool.connection() as conn:
        yield conn  # the pool commits on success and rolls back on an exception


def _config(request: Request) -> WebConfig:
    return request.app.state.config


def _policy(request: Request) -> Policy:
    return request.app.state.config.policy


def bearer(request: Request) -> str | None:
    """The token of a request: an Authorization bearer header, else the login cookie."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.cookies.get(COOKIE)


def _from_cookie(request: Request) -> bool:
    return not request.headers.get("authorization", "").lower().startswith("bearer ")


def _check_csrf(request: Request) -> None:
    """A page (cookie session) that changes something must echo the CSRF cookie in a header."""
    sent, expected = request.headers.get(CSRF_HEADER, ""), request.cookies.get(CSRF_COOKIE, "")
    if not expected or not secrets.compare_digest(sent, expected):
        raise Forbidden("missing or wrong CSRF token: a page must send the citygrid_csrf cookie's value in the "
                        "X-CSRF-Token header")


def request_actor(request: Request) -> Actor:
    """The actor behind a request, or Unauthenticated."""
    token = bearer(request)
    if not token:
        raise Unauthenticated("log in first: send Authorization: Bearer <token> (POST /api/tokens gives one)")
    if _from_cookie(request) and request.method not in SAFE_METHODS:
        _check_csrf(request)
    # its own short transaction, so a refused action in the request's transaction still records the use
    with request.app.state.pool.connection() as conn:
        return actor_for_token(conn, token=token)


# scope="function": the transaction ends before the response is sent, so a client never reads stale data.
Conn = Annotated[psycopg.Connection, Depends(_conn, scope="function")]
Config = Annotated[WebConfig, Depends(_config)]
CurrentPolicy = Annotated[Policy, Depends(_policy)]
CurrentActor = Annotated[Actor, Depends(request_actor)]


def sign_in_with_password(request: Request, conn: psycopg.Connection, *, username: str, password: str,
                          ttl: timedelta) -> str:
    """Throttled sign-in: a failure is recorded on its own connection, so the request's rollback keeps it."""
    client = request.client.host if request.client else "unknown"
    pool = request.app.state.pool
    with pool.connection() as side:
        accounts.check_throttle(side, username=username, client=client)
    try:
        token = accounts.login(conn, username=username, password=password, ttl=ttl)
    except accounts.Unauthenticated:
        with pool.connection() as side:
            accounts.record_attempt(side, username=username, client=client, ok=False)
        raise
    accounts.record_attempt(conn, username=username, client=client, ok=True)
    return token

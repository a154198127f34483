"""Request dependencies: one connection and one transaction per request, and the actor behind it."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import psycopg
from fastapi import Depends, Request

from dispatch.actor import Actor
from dispatch.models import Policy
from web.accounts import Unauthenticated, actor_for_token
from web.config import WebConfig

COOKIE = "citygrid_token"


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


def request_actor(request: Request) -> Actor:
    """The actor behind a request, or Unauthenticated."""
    token = bearer(request)
    if not token:
        raise Unauthenticated("log in first: send Authorization: Bearer <token> (POST /api/tokens gives one)")
    # its own short transaction, so a refused action in the request's transaction still records the use
    with request.app.state.pool.connection() as conn:
        return actor_for_token(conn, token=token)


# scope="function": the transaction ends before the response is sent, so a client never reads stale data.
Conn = Annotated[psycopg.Connection, Depends(_conn, scope="function")]
Config = Annotated[WebConfig, Depends(_config)]
CurrentPolicy = Annotated[Policy, Depends(_policy)]
CurrentActor = Annotated[Actor, Depends(request_actor)]

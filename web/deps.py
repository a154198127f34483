"""Request dependencies: one connection and one transaction per request."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import psycopg
from fastapi import Depends, Request

from web.config import WebConfig


def _conn(request: Request) -> Iterator[psycopg.Connection]:
    with request.app.state.pool.connection() as conn:
        yield conn  # the pool commits on success and rolls back on an exception


def _config(request: Request) -> WebConfig:
    return request.app.state.config


# scope="function": the transaction ends before the response is sent, so a client never reads stale data.
Conn = Annotated[psycopg.Connection, Depends(_conn, scope="function")]
Config = Annotated[WebConfig, Depends(_config)]

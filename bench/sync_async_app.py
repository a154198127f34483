"""Two minimal apps doing what an authenticated case read does (the token lookup, then the case row), one with
sync psycopg in FastAPI's thread pool, one with async psycopg on the event loop: bench/bench_sync_async.py runs
them side by side to decide which the platform should use. Not part of the product."""
from __future__ import annotations

import hashlib
import os
from contextlib import asynccontextmanager

from fastapi import FastAPI, Header
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from dispatch.accounts import ACTOR_BY_TOKEN, TOUCH_EVERY
from events.repo import CASE

URL = os.environ.get("DATABASE_URL", "")
SIZE = int(os.environ.get("CITYGRID_DB_CONNECTIONS", "10"))


def _params(authorization: str) -> dict:
    return {"token_hash": hashlib.sha256(authorization[7:].encode()).hexdigest(), "touch_every": TOUCH_EVERY}


def sync_app() -> FastAPI:
    """Sync psycopg, sync route (the thread pool)."""
    @asynccontextmanager
    async def lifespan(app):
        app.state.pool = ConnectionPool(URL, min_size=SIZE, max_size=SIZE, open=True)
        yield
        app.state.pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/case/{case_id}")
    def read(case_id: int, authorization: str = Header()):
        with app.state.pool.connection() as conn:
            conn.execute(ACTOR_BY_TOKEN, _params(authorization)).fetchone()
            return {"case": conn.execute(CASE, {"id": case_id}).fetchone() is not None}
    return app


def async_app() -> FastAPI:
    """Async psycopg, async route (the event loop)."""
    @asynccontextmanager
    async def lifespan(app):
        app.state.pool = AsyncConnectionPool(URL, min_size=SIZE, max_size=SIZE, open=False)
        await app.state.pool.open()
        yield
        await app.state.pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/case/{case_id}")
    async def read(case_id: int, authorization: str = Header()):
        async with app.state.pool.connection() as conn:
            await (await conn.execute(ACTOR_BY_TOKEN, _params(authorization))).fetchone()
            cur = await conn.execute(CASE, {"id": case_id})
            return {"case": await cur.fetchone() is not None}
    return app

"""The reference of bench/bench_intake_wrk.py: a minimal FastAPI app whose POST /api/reports is one prepared INSERT.

Same request body as the platform's (validated by a pydantic model), a sync route in the thread pool like the
platform's, a psycopg pool of the same size (CITYGRID_DB_CONNECTIONS) and the thread pool sized from it as the
platform sizes its own (web/db.py). No sign-in, no locate, no routing: the floor of a FastAPI + psycopg write.

Run: DATABASE_URL=… uvicorn minimal_insert_app:build_app --factory --app-dir bench
"""
from __future__ import annotations

import os
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI
from psycopg_pool import ConnectionPool
from pydantic import BaseModel, Field

TABLE = """
CREATE TABLE IF NOT EXISTS bench_minimal_report (
    id bigserial PRIMARY KEY, category text NOT NULL, lon double precision NOT NULL,
    lat double precision NOT NULL, description text NOT NULL DEFAULT '', created_at timestamptz NOT NULL DEFAULT now())
"""
INSERT = """
INSERT INTO bench_minimal_report (category, lon, lat, description) VALUES (%s, %s, %s, %s) RETURNING id
"""
THREAD_HEADROOM = 4  # as web/db.py


class ReportIn(BaseModel):
    category: str = Field(min_length=1, max_length=8)
    lon: float
    lat: float
    description: str = Field(default="", max_length=4000)


def build_app() -> FastAPI:
    """The app, for uvicorn's --factory."""
    url, size = os.environ["DATABASE_URL"], int(os.environ.get("CITYGRID_DB_CONNECTIONS", "10"))

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        pool = ConnectionPool(url, min_size=size, max_size=size, open=False)
        pool.open(wait=True, timeout=15)
        with pool.connection() as conn:
            conn.execute(TABLE)
        anyio.to_thread.current_default_thread_limiter().total_tokens = size + THREAD_HEADROOM
        app.state.pool = pool
        try:
            yield
        finally:
            pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/api/reports", status_code=201)
    def report(body: ReportIn) -> dict:
        with app.state.pool.connection() as conn:
            row = conn.execute(INSERT, (body.category, body.lon, body.lat, body.description), prepare=True).fetchone()
        return {"id": row[0]}

    return app

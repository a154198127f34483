"""The FastAPI app factory."""
from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

import psycopg
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from dispatch.intake.reference import Reference
from events.media import LocalMediaStore
from web import api, api_accounts, api_admin, api_cases, api_export, api_docs, errors, inputs, live, login, openapi
from web.config import WebConfig
from web.db import Database
from web.favicon import favicon
from web.map import routes as map_routes
from web.open311 import routes as open311_routes
from web.pages import desk
from web.pages import routes as pages
from web.pages import officer
from web.pages.common import SignInFirst, sign_in_redirect
from web.security import SecurityHeaders

STATIC = Path(__file__).resolve().parent / "map" / "static"
PAGES_STATIC = Path(__file__).resolve().parent / "pages" / "static"


def create_app(config: WebConfig, *, connection_class: type[psycopg.Connection] = psycopg.Connection) -> FastAPI:
    """Build the app; the database opens in the lifespan and closes with it.

    connection_class: the pool's connection class (tests pass one that counts statements)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.db = Database(config.database_url, timezone=config.timezone, size=config.db_connections,
                                wait=config.db_wait_seconds, connection_class=connection_class)
        await app.state.db.open()
        app.state.reference = Reference()  # reference data cached per process, dropped on NOTIFY (web/live.py)
        app.state.hub = live.Hub(config.database_url, config.timezone, reference=app.state.reference)
        await app.state.hub.start()
        try:
            yield
        finally:
            await app.state.hub.stop()
            await app.state.db.close()

    app = FastAPI(title="citygrid", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Grid-based urban governance: one shared map that runs a city. No text may hold "
                              "a NUL character (U+0000) or a lone surrogate: PostgreSQL cannot store them (422).")
    app.state.config = config
    app.state.media = LocalMediaStore(config.media_root)
    errors.register(app)
    app.add_middleware(inputs.RefuseUnstorableText)  # NUL and lone surrogates: a 422 before any route runs
    # added last, so outermost: every answer carries the headers, the refusals above included
    app.add_middleware(SecurityHeaders, tile_url=config.tile_url, https=config.https)
    app.include_router(api.router)
    app.include_router(api_cases.router)
    app.include_router(api_admin.router)
    app.include_router(api_accounts.router)
    app.include_router(api_export.router)
    app.include_router(live.router)
    app.include_router(login.router)
    app.include_router(map_routes.router)
    app.include_router(pages.router)
    app.include_router(desk.router)
    app.include_router(officer.router)
    app.include_router(open311_routes.router)
    app.add_exception_handler(SignInFirst, lambda request, exc: sign_in_redirect(exc))
    app.mount("/static/pages", StaticFiles(directory=PAGES_STATIC), name="pages-static")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_route("/favicon.ico", favicon, methods=["GET"], include_in_schema=False)
    openapi.install(app)
    api_docs.install(app)
    return app

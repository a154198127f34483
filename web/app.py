"""The FastAPI app factory."""
from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

import psycopg
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from dispatch.reference import Reference
from events.media import LocalMediaStore
from web import api, api_accounts, api_admin, api_cases, api_export, errors, inputs, live, login, openapi
from web.security import SecurityHeaders, script_nonce, with_nonce
from web.pages import desk
from web.pages import routes as pages
from web.pages import officer
from web.pages.common import SignInFirst, sign_in_redirect
from web.config import WebConfig
from web.db import Database
from web.map import routes as map_routes
from web.open311 import routes as open311_routes

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
    openapi.install(app)
    _docs(app)
    return app


# The API docs load Swagger UI / ReDoc from their CDN with an inline start script: their own, wider policy.
DOCS_POLICY = ("default-src 'self'; script-src 'self' 'nonce-{nonce}' https://cdn.jsdelivr.net; "
               "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
               "font-src 'self' https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com "
               "https://cdn.redoc.ly; worker-src blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
               "frame-ancestors 'none'")


def _docs(app: FastAPI) -> None:
    def page(made: HTMLResponse, request: Request) -> HTMLResponse:
        nonce = script_nonce(request)
        return HTMLResponse(with_nonce(made.body.decode(), nonce),
                            headers={"Content-Security-Policy": DOCS_POLICY.format(nonce=nonce)})

    @app.get("/docs", include_in_schema=False)
    async def swagger(request: Request) -> HTMLResponse:
        return page(get_swagger_ui_html(openapi_url=app.openapi_url, title=f"{app.title} - Swagger UI"), request)

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        return page(get_redoc_html(openapi_url=app.openapi_url, title=f"{app.title} - ReDoc"), request)

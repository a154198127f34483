"""The API docs at /docs: FastAPI's Swagger UI page on the vendored Swagger UI (web/map/static/vendor/swagger-ui/,
see the README there), so it works with no internet, under the Content-Security-Policy of every page
(web/security.py): FastAPI's inline start script runs by the request's nonce; nothing comes from a CDN.

Upstream Swagger UI fails a few accessibility checks (axe-core, tests/axe.py): the page gets a language, the
operation paths are text rather than links nested in the operation's button (no deep links), and a few colours are
darkened to a contrast of at least 4.5:1."""
from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from web.security import script_nonce, with_nonce

SWAGGER = "/static/vendor/swagger-ui"
# darker colours for what is pale (white on the light method colours, grey badges, green Authorize, ...); the code
# blocks (curl, answers; highlighted with inline styles) wrap instead of scrolling, which a keyboard cannot reach
CONTRAST = """<style>
.swagger-ui .opblock .opblock-summary-method { color: #111; text-shadow: none; }
.swagger-ui .info .title small { background: #4b5261; }
.swagger-ui .info .title small.version-stamp { background: #2e6b00; }
.swagger-ui .info .url, .swagger-ui .info .base-url { color: #3b4151; }
.swagger-ui .btn.authorize { color: #17663f; border-color: #17663f; }
.swagger-ui .btn.authorize svg { fill: #17663f; }
.swagger-ui .json-schema-2020-12-expand-deep-button { color: #4b5261; }
.swagger-ui .btn.try-out__btn.cancel { color: #b00020; border-color: #b00020; }
.swagger-ui .btn.execute { background: #2b5f9e; border-color: #2b5f9e; }
.swagger-ui .download-contents { background: #4b5261; }
.swagger-ui pre.microlight, .swagger-ui pre.microlight * { white-space: pre-wrap !important; overflow-wrap: anywhere;
  overflow: visible !important; max-height: none !important; }
</style>"""


def page(request: Request, openapi_url: str, title: str) -> HTMLResponse:
    """FastAPI's Swagger UI page with local assets, the nonce on its scripts, a language and the colours above."""
    made = get_swagger_ui_html(openapi_url=openapi_url, title=title, swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js",
                               swagger_css_url=f"{SWAGGER}/swagger-ui.css", swagger_favicon_url="/favicon.ico",
                               swagger_ui_parameters={"deepLinking": False})
    html = made.body.decode().replace("<html>", '<html lang="en">', 1).replace("</head>", CONTRAST + "</head>", 1)
    return HTMLResponse(with_nonce(html, script_nonce(request)))


def install(app: FastAPI) -> None:
    """GET /docs (the app is made with docs_url=None and redoc_url=None: one docs page, served from here)."""
    @app.get("/docs", include_in_schema=False)
    async def swagger(request: Request) -> HTMLResponse:
        return page(request, app.openapi_url, f"{app.title} - Swagger UI")

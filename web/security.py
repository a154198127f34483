"""Security headers on every response (pages, API, static files, errors), set in one place: this middleware.

Scripts run only from this site or with the request's nonce (`script_nonce`): the folium map page and the pages'
small inline scripts carry it, so no inline script an attacker manages to store can run. Styles may be inline
(folium and Leaflet write style attributes); base-map tiles may come from the configured tile server.
"""
from __future__ import annotations

import re
import secrets
from urllib.parse import urlsplit

from fastapi import Request
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HSTS = "max-age=31536000; includeSubDomains"
_SCRIPT_TAG = re.compile(r"<script\b(?![^>]*\bnonce=)", re.IGNORECASE)


def script_nonce(request: Request) -> str:
    """This request's CSP nonce, for every inline <script> of the page it answers."""
    return request.scope["state"]["csp_nonce"]


def with_nonce(html: str, nonce: str) -> str:
    """Give every <script> tag of generated HTML (folium's map) the request's nonce."""
    return _SCRIPT_TAG.sub(f'<script nonce="{nonce}"', html)


def tile_source(tile_url: str) -> str:
    """The CSP source of a base-map URL template ('' for none or this site): https://{s}.x.org → https://*.x.org."""
    parts = urlsplit(tile_url)
    if not parts.scheme or not parts.netloc:
        return ""
    host = re.sub(r"\{[^}]*\}", "*", parts.netloc)
    host = host if host.count("*") <= 1 and (host.startswith("*.") or "*" not in host) else "*"
    return f"{parts.scheme}://{host}" if host != "*" else f"{parts.scheme}:"


def policy(nonce: str, *, tiles: str = "") -> str:
    """The Content-Security-Policy of one response."""
    return "; ".join([
        "default-src 'self'", f"script-src 'self' 'nonce-{nonce}'", "style-src 'self' 'unsafe-inline'",
        f"img-src 'self' data: blob:{' ' + tiles if tiles else ''}", "connect-src 'self'", "font-src 'self'",
        "object-src 'none'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
    ])


class SecurityHeaders:
    """ASGI middleware: a fresh nonce per request (in scope state) and the headers on whatever answers."""

    def __init__(self, app: ASGIApp, *, tile_url: str = "", https: bool = False) -> None:
        self.app, self.tiles, self.https = app, tile_source(tile_url), https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(18)
        scope.setdefault("state", {})["csp_nonce"] = nonce
        # HTTPS here, or behind a trusted TLS proxy (uvicorn then sets the scheme from X-Forwarded-Proto)
        tls = self.https or scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "content-security-policy" not in headers:  # a route that sets its own policy keeps it
                    headers["Content-Security-Policy"] = policy(nonce, tiles=self.tiles)
                headers["X-Frame-Options"] = "DENY"
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "same-origin"
                if tls:
                    headers["Strict-Transport-Security"] = HSTS
            await send(message)

        await self.app(scope, receive, send_with_headers)

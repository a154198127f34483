"""Text that PostgreSQL cannot store is refused at the edge: one check for every request's path, query, headers
and JSON or form body, before any route runs.

A `text` column holds any Unicode except U+0000 (NUL); a lone surrogate (U+D800-DFFF, which JSON's \\ud800 escape
can carry) cannot even be encoded as UTF-8. Either would fail deep inside a statement; here it is a 422 naming
the field. A JSON body that cannot be read at all is a 422 here too, with a message that says why: not UTF-8
(Starlette's own answer is a bare "error parsing the body"), or nested so deeply that Python's parser gives up
([[[[… thousands of times; the route's own parser would fail with a RecursionError, a 500). Open311 answers in
its own format and checks its fields itself with `unstorable` (web/open311).
"""
from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
FORM = "application/x-www-form-urlencoded"
OWN_FORMAT = ("/open311/",)  # prefixes that answer bad input in their own format


class Unreadable(ValueError):
    """A JSON body that cannot be read at all (not UTF-8, nested past what the parser follows); says why."""


def unstorable(text: str) -> bool:
    """True if PostgreSQL text cannot hold this string (a NUL or a lone surrogate)."""
    return UNSTORABLE.search(text) is not None


def _bad_json(value, where: str = "") -> str | None:
    """The first field of a parsed JSON value whose key or string holds unstorable text."""
    if isinstance(value, str):
        return where or "body" if unstorable(value) else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        name = f"{where}.{key}" if where else str(key)
        if isinstance(key, str) and unstorable(key):
            return name
        found = _bad_json(item, name)
        if found:
            return found
    return None


def _bad_pairs(pairs) -> str | None:
    return next((name or "(name)" for name, value in pairs if unstorable(name) or unstorable(value)), None)


def bad_field(scope: Scope, body: bytes | None) -> str | None:
    """Where a request carries unstorable text (path, a query parameter, a header, a body field), or None."""
    if unstorable(scope["path"]):
        return "path"
    query = scope.get("query_string", b"").decode("latin-1")
    found = _bad_pairs(parse_qsl(query, keep_blank_values=True, errors="replace"))
    if found:
        return f"query parameter {found}"
    for name, value in scope.get("headers", ()):
        if b"\x00" in value:
            return f"header {name.decode('latin-1')}"
    if not body:
        return None
    kind = _content_type(scope)
    if _is_json(kind):
        try:
            parsed = json.loads(body)  # bytes, as Starlette reads them (UTF-8, or UTF-16/32 by their BOM)
        except UnicodeDecodeError:
            raise Unreadable("the JSON body is not UTF-8 text; send it encoded as UTF-8") from None
        except RecursionError:
            raise Unreadable("the JSON body is nested too deeply to read (arrays or objects inside each other "
                             "thousands of levels deep); send the fields as one flat object") from None
        except ValueError:
            return None  # not JSON: the route's own validation says so
        found = _bad_json(parsed)
        return f"field {found}" if found else None
    text = body.decode("utf-8", "replace")
    found = _bad_pairs(parse_qsl(text, keep_blank_values=True, errors="replace"))
    return f"form field {found}" if found else None


def _is_json(kind: str) -> bool:
    """Whether FastAPI reads a body of this content type as JSON (application/json and application/*+json)."""
    return kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))


def _content_type(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return value.decode("latin-1").split(";")[0].strip().lower()
    return ""


def refusal(where: str) -> JSONResponse:
    """The 422 for unstorable text."""
    return JSONResponse({"error": "InvalidInput", "message": f"the {where} holds a NUL character (\\u0000) or a "
                         "lone surrogate, which text cannot hold; remove it and send again"}, status_code=422)


def unreadable(exc: Unreadable) -> JSONResponse:
    """The 422 for a JSON body that cannot be read (Starlette would answer a bare 400 or fail with a 500); of the
    request's shape, so InvalidRequest as a body the schema refuses (web/errors.py)."""
    return JSONResponse({"error": "InvalidRequest", "message": str(exc)}, status_code=422)


class RefuseUnstorableText:
    """ASGI middleware: read JSON and form bodies (never photos), check them with the path, query and headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(OWN_FORMAT):
            return await self.app(scope, receive, send)
        body = None
        kind = _content_type(scope)
        if _is_json(kind) or kind == FORM:
            body, receive = await _buffered(receive)
        try:
            where = bad_field(scope, body)
        except Unreadable as exc:
            return await unreadable(exc)(scope, receive, send)
        if where:
            return await refusal(where)(scope, receive, send)
        await self.app(scope, receive, send)


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """The whole body, and a receive that hands it on to the app as one message."""
    chunks, more = [], True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return b"", _replay(message, receive)
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    return body, _replay({"type": "http.request", "body": body, "more_body": False}, receive)


def _replay(first: Message, receive: Receive) -> Receive:
    sent = False

    async def receive_again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return first
        return await receive()  # what comes next (a disconnect) is the client's

    return receive_again

"""Domain errors → HTTP status codes, in one table, registered in a loop."""
from __future__ import annotations

import logging
from http import HTTPStatus

import psycopg

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from core.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from dispatch.accounts import TooManyAttempts, Unauthenticated
from web.db import Unavailable
from web.routes import allowed_methods, calls
from gis.errors import OutsideDistrict

log = logging.getLogger("citygrid.web")

STATUS = {
    Unavailable: 503,
    Unauthenticated: 401,
    TooManyAttempts: 429,
    OutsideDistrict: 422,
    InvalidInput: 422,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    DomainError: 400,
}


def _domain_handler(status: int):
    async def handler(request: Request, exc: DomainError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        if isinstance(exc, Unavailable):
            headers = {"Retry-After": str(exc.retry_after)}
        return JSONResponse({"error": type(exc).__name__, "message": str(exc)}, status_code=status, headers=headers)

    return handler


async def _validation_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    refused = await _who_first(request)
    if refused is not None:
        return refused
    details = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        details.append({"field": where, "message": err.get("msg", "invalid")})
    text = "; ".join(f"{d['field']}: {d['message']}" if d["field"] else d["message"] for d in details)
    return JSONResponse({"error": "InvalidRequest", "message": text or "invalid request", "details": details},
                        status_code=422)


async def _who_first(request: Request) -> JSONResponse | None:
    """Who is asking comes before what they sent: on a route that needs a token, a request whose token no longer
    signs in is answered 401, not told what is wrong with its body. A route may look the token up only with its
    work (the report intake does, in one round trip), so this happens here, on the refusal's path alone."""
    from web.deps import bearer, look_up_briefly, token_of

    route = request.scope.get("route")
    if not bearer(request) or not any(call is token_of for call in calls(getattr(route, "dependant", None))):
        return None
    try:
        await look_up_briefly(request)
    except DomainError as exc:  # 401, 403 for a cookie session without its CSRF header, 503
        status = next(STATUS[cls] for cls in type(exc).__mro__ if cls in STATUS)
        return await _domain_handler(status)(request, exc)
    return None


async def _http_handler(request: Request, exc: HTTPException) -> JSONResponse:
    """The framework's own refusals (no such address, method or readable body) in the API's error shape."""
    headers = dict(exc.headers or {})
    if exc.status_code == 400:  # a body the framework cannot read (not UTF-8): bad input, a 422 as everywhere here
        return JSONResponse({"error": "InvalidRequest", "message": f"{exc.detail}: send JSON in UTF-8",
                             "details": [{"field": "body", "message": str(exc.detail)}]}, status_code=422)
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(sorted(allowed_methods(request.app, request.scope)))
    name = HTTPStatus(exc.status_code).phrase.title().replace(" ", "").replace("-", "")
    return JSONResponse({"error": name, "message": f"{exc.detail}: {request.method} {request.url.path}"},
                        status_code=exc.status_code, headers=headers)


async def _contention_handler(request: Request, exc: Exception) -> JSONResponse:
    # two actions that lock the same cases in opposite order (A merged into B while B is merged into A)
    return JSONResponse({"error": "Conflict", "message": "another action on the same case(s) ran at the same "
                                                         "moment; nothing was changed; reload and try again"},
                        status_code=409)


async def _database_handler(request: Request, exc: psycopg.OperationalError) -> JSONResponse:
    # the connection broke or the server is shutting down or starting up: nothing was committed; retry
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path,
                str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
    return JSONResponse({"error": "Unavailable", "message": "the database is not reachable right now; nothing was "
                                                            "changed; try again in a few seconds"},
                        status_code=503, headers={"Retry-After": "2"})


async def _data_handler(request: Request, exc: psycopg.DataError) -> JSONResponse:
    # a value the database cannot store or read (a NUL, a number or date out of range): nothing was committed;
    # logged by class and SQLSTATE only, never the statement's values or a traceback
    log.warning("data refused by the database on %s %s: %s (%s)", request.method, request.url.path,
                type(exc).__name__, exc.sqlstate or "no sqlstate")
    return JSONResponse({"error": "InvalidInput", "message": "a value cannot be stored (a NUL character, or a "
                                                             "number or date out of range); nothing was changed"},
                        status_code=422)


async def _unexpected_handler(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse({"error": "InternalError", "message": "internal error; it has been logged"},
                        status_code=500)


def register(app: FastAPI) -> None:
    """Install the handlers; more specific classes come first in STATUS."""
    for cls, status in STATUS.items():
        app.add_exception_handler(cls, _domain_handler(status))
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(HTTPException, _http_handler)
    for cls in (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure,
                psycopg.errors.LockNotAvailable):
        app.add_exception_handler(cls, _contention_handler)
    app.add_exception_handler(psycopg.OperationalError, _database_handler)
    app.add_exception_handler(psycopg.DataError, _data_handler)  # UntranslatableCharacter, NumericValueOutOfRange…
    app.add_exception_handler(Exception, _unexpected_handler)

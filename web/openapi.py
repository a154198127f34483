"""The OpenAPI document tells what each operation can answer besides success, worked out here and nowhere else.

Every refusal of the JSON API has one body (ErrorOut) and the status web/errors.py's STATUS gives its domain error.
Which refusals an operation can give follows from what it is and what it depends on:
  - every JSON API operation: 422 (a field the schema or the handler refuses, text holding a NUL: web/inputs.py)
    and 503 (the database is away);
  - each dependency refuses as BY_DEPENDENCY says: a token (deps.token_of) 401, and 403 on a request that changes
    something (a cookie session without its CSRF header); a role check 403;
  - what the operation's own work raises: RAISES, the one table to extend when a route raises something new.
Open311 operations answer in the spec's own error format, as OPEN311 says. tests/test_openapi.py holds the rules
against the document; the schemathesis drill (tests/drills/schema.py) holds the document against the server.
"""
from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

from core.errors import Conflict, DomainError, Forbidden, Inconsistent, InvalidInput, NotFound, Unknown
from dispatch.accounts import TooManyAttempts, Unauthenticated
from dispatch.routing.rules import RuleFileError
from events.errors import CaseNotFound
from events.media import InvalidPhoto
from gis.errors import NoActiveRelease, OutsideDistrict
from web import deps
from web.db import Unavailable
from web.errors import STATUS
from web.idempotency import IdempotencyKeyReused
from web.routes import api_routes, calls

class FieldProblem(BaseModel):
    field: str = Field(description="the field, dotted (days.0.date); empty for the request as a whole")
    message: str


class ErrorOut(BaseModel):
    """A refusal: the domain error's name, a message for people, and for a refused field which one and why."""

    error: str = Field(description="the kind of refusal, e.g. InvalidInput, Forbidden, CaseNotFound")
    message: str
    details: list[FieldProblem] | None = None


class Open311Error(BaseModel):
    code: int
    description: str


# dependency → (refusals always, refusals only of a request that changes something)
BY_DEPENDENCY = {
    deps.token_of: ((Unauthenticated,), (Forbidden,)),
    deps.RoleCheck: ((Forbidden,), ()),
    deps.BriefRoleCheck: ((Forbidden,), ()),
}
EVERY_API_OPERATION = (InvalidInput, Unavailable)

# (method, path) → what the operation's own work raises besides that.
RAISES = {
    ("POST", "/api/tokens"): (Unauthenticated, TooManyAttempts),
    ("GET", "/api/locate"): (NoActiveRelease,),
    ("POST", "/api/reports"): (Forbidden, NoActiveRelease),
    ("GET", "/api/cases/{case_id}"): (CaseNotFound,),
    ("POST", "/api/cases/{case_id}/actions/{action}"): (Forbidden, CaseNotFound, Conflict),
    ("GET", "/api/cases/{case_id}/routing"): (CaseNotFound,),
    ("GET", "/api/cases/{case_id}/duplicates"): (CaseNotFound,),
    ("GET", "/api/media/{media_id}"): (NotFound,),
    ("POST", "/api/inbox/{message_id}/read"): (NotFound,),
    ("GET", "/api/evaluation"): (Forbidden,),  # a street leader asking beyond their street
    ("POST", "/api/admin/users/{username}/password"): (NotFound,),
    ("POST", "/api/admin/users/{username}/deactivate"): (NotFound, Conflict),
    ("POST", "/api/admin/users/{username}/activate"): (NotFound,),
    ("POST", "/api/me/password"): (Forbidden,),  # the old password is wrong
    ("GET", "/api/dashboard"): (Forbidden,),  # a street reader asking for another street
    ("GET", "/map"): (NoActiveRelease,),
    ("GET", "/screen"): (NoActiveRelease,),
    ("GET", "/api/layers/{level}"): (NoActiveRelease,),
}

OPEN311_PREFIX = "/open311/"
# Open311 (web/open311/routes.py): every operation, in JSON or XML as the address asks.
OPEN311 = {400: "a field is missing or wrong (the description says which)",
           403: "api_key missing (where one is required), unknown or revoked",
           404: "no such format, service, request, token, photo or jurisdiction",
           429: "the api_key made too many calls; wait and try again",
           503: "the database is away; try again in a few seconds"}


def install(app: FastAPI) -> None:
    """Have the app serve the document worked out here (built once, on the first request for it)."""
    def openapi() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = document(app)
        return app.openapi_schema

    app.openapi = openapi


def document(app: FastAPI) -> dict:
    """FastAPI's document of the app, with every operation's refusals added."""
    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for model in (ErrorOut, Open311Error):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    for route in api_routes(app):
        if route.include_in_schema:
            for method in route.methods - {"HEAD"}:
                _add_refusals(doc["paths"][route.path_format][method.lower()]["responses"], route, method)
    return doc


def _add_refusals(responses: dict, route, method: str) -> None:
    """Every refusal of the operation (our 422 replaces FastAPI's, whose body is not the one we send)."""
    responses.update({k: v for k, v in refusals(route, method).items() if k not in responses or k == "422"})
    if route.path.startswith(OPEN311_PREFIX):
        responses.pop("422", None)  # Open311 checks its own fields and refuses with 400
        content = responses["200"].get("content", {})
        if "application/json" in content:  # each answer in the format the address asks for
            content["text/xml"] = {"schema": {"type": "string"}}


# Refusals of a request the document cannot tell apart from a good one: it names a code, an id or a day that does
# not exist here, its fields do not fit together (or with the case they act on), its point lies outside the
# district, its photo does not decode, its rules name what does not exist, its key was first used for another
# request. The refusal's kind (the JSON API's `error`, Open311's X-Citygrid-Error header) names the class.
BEYOND_THE_SCHEMA = (Unknown, Inconsistent, OutsideDistrict, InvalidPhoto, RuleFileError, IdempotencyKeyReused)


def refusals(route, method: str) -> dict[str, dict]:
    """The refusals one operation can answer with: status → OpenAPI response."""
    if route.path.startswith(OPEN311_PREFIX):
        return {str(status): _open311(text) for status, text in OPEN311.items()}
    found: dict[int, list[type[DomainError]]] = {}
    for cls in errors_of(route, method):
        found.setdefault(status_of(cls), []).append(cls)
    return {str(status): _response(status, classes) for status, classes in sorted(found.items())}


def errors_of(route, method: str) -> list[type[DomainError]]:
    """The domain errors an operation can answer with, from what it is and what it depends on."""
    out = list(EVERY_API_OPERATION)
    for call in calls(route.dependant):
        always, on_change = BY_DEPENDENCY.get(call, BY_DEPENDENCY.get(type(call), ((), ())))
        out += [*always, *(on_change if method not in deps.SAFE_METHODS else ())]
    out += RAISES.get((method, route.path), ())
    return list(dict.fromkeys(out))


def status_of(cls: type[DomainError]) -> int:
    """The status web/errors.py answers a domain error with (its first listed ancestor's)."""
    return next(status for known, status in STATUS.items() if issubclass(cls, known))


def _response(status: int, classes: list[type[DomainError]]) -> dict:
    described = "; ".join(dict.fromkeys(f"{c.__name__}: {(c.__doc__ or '').strip()}" for c in classes))
    response = {"description": described,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}}
    if status == 401:
        response["headers"] = {"WWW-Authenticate": {"required": True, "schema": {"type": "string"}}}
    if status == 503:
        response["headers"] = {"Retry-After": {"required": True, "schema": {"type": "string", "pattern": "^[0-9]+$"},
                                               "description": "seconds to wait before trying again"}}
    return response


def _open311(description: str) -> dict:
    errors = {"type": "array", "items": {"$ref": "#/components/schemas/Open311Error"}}
    return {"description": description, "content": {"application/json": {"schema": errors},
                                                    "text/xml": {"schema": {"type": "string"}}}}

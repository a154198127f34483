"""Open311 GeoReport v2 endpoints, each in .json and .xml. Policy and field mapping: docs/open311.md.

Every answer, errors included, is in the spec's format. The work of a request runs in one transaction that is
rolled back on any error, so a refused POST leaves nothing behind; a keyed call is counted against the key's
rate limit first, in a transaction of its own.
"""
from __future__ import annotations

import math
import re
import secrets
from datetime import datetime, timedelta
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import psycopg
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from core.errors import DomainError, Forbidden, NotFound
from dispatch import api_clients as clients
from dispatch.actor import Actor
from dispatch.casework.deadlines import provisional_note
from dispatch.exchange import bulk_repo
from dispatch.intake.service import submit_report
from gis.errors import OutsideDistrict
from web.db import Unavailable
from web.inputs import unstorable
from web.open311 import repo
from web.open311.formats import FORMATS, Open311Error, error, render
from web.schemas import PHOTO_ANSWER
from web.open311.schema import (ATTRIBUTE_FIELD, CONTACT_FIELDS, MAX_CONTACT, MAX_DESCRIPTION, MAX_MEDIA_URL,
                                MEDIA_URL, REQUEST_FORM, REQUEST_ID, REQUEST_IDS, STATUSES, Fmt, RequestId, keyed_read,
                                request_filters)

router = APIRouter(prefix="/open311/v2", tags=["Open311 GeoReport v2"])

SPEC = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-26T00:00:00+08:00"  # when this server's Open311 interface last changed
MAX_SPAN = timedelta(days=90)
MAX_RESULTS = 1000
MAX_FORM_BYTES = 64 * 1024  # a 4,000-character description is at most 36 KB even %-escaped
FINISHED = frozenset({"closed", "rejected", "merged"})
READ = [Depends(keyed_read)]

# Our extension, offered by every service: the coordinate system of lat/long (domain.md §10).
CRS_ATTRIBUTE = {
    "variable": True, "code": "crs", "datatype": "singlevaluelist", "required": False,
    "datatype_description": "wgs84 (the default) or gcj02",
    "order": 1000,
    "description": "坐标系 Coordinate system of lat/long: GPS gives WGS84; Amap, Tencent and most phone SDKs in "
                   "China give GCJ-02.",
    "values": [{"key": "wgs84", "name": "WGS84 / CGCS2000 (GPS, Tianditu)"},
               {"key": "gcj02", "name": "GCJ-02 (Amap, Tencent, phone SDKs in China)"}],
}
CRS_OF = {"wgs84": "EPSG:4326", "gcj02": "gcj02"}
STATUS_NOTES = {
    "reported": "已受理，待立案 received, waiting to be registered",
    "awaiting_verification": "待网格员核实 waiting for a grid officer to verify it on site",
    "registered": "已立案，待派遣 registered, waiting to be dispatched",
    "returned": "已退回指挥中心重新派遣 returned to the dispatch centre to be sent on",
    "dispatched": "已派遣 dispatched to {agency}",
    "accepted": "处置中 being handled by {agency}",
    "extension_requested": "处置中 being handled by {agency}",
    "handled": "已处置，待核查 handled, waiting for an on-site check",
    "checked": "已核查，待结案 checked on site, waiting to be closed",
    "closed": "已结案 closed",
    "rejected": "不予立案 not accepted: {reason}",
    "merged": "重复上报，已并入 {merged_into} duplicate of request {merged_into}",
}


# ---- plumbing ---------------------------------------------------------------------------------------------------

OPEN311_STATUS = {Unavailable: 503, clients.RateLimited: 429, Forbidden: 403, NotFound: 404}  # anything else: 400

def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise Open311Error(404, f"unknown format .{fmt}: use .json or .xml")


def _as_open311(exc: Exception) -> Open311Error:
    if isinstance(exc, Open311Error):
        return exc
    code = next((c for cls, c in OPEN311_STATUS.items() if isinstance(exc, cls)), 400)
    return Open311Error(code, str(exc), kind=type(exc).__name__)


def _admit(conn, request: Request, params, *, key_required: bool) -> dict | None:
    """Check the jurisdiction and the key, and count a keyed call against its rate."""
    config = request.app.state.config
    items = params.multi_items() if hasattr(params, "multi_items") else params.items()
    if unstorable(request.url.path) or any(unstorable(f"{k}{v}") for k, v in items):
        raise Open311Error(400, "a field or the path holds a NUL character")
    _check_jurisdiction(conn, config, params.get("jurisdiction_id"))
    key = params.get("api_key") or ""
    client = clients.client_for_key(conn, key)
    if key and client is None:
        raise Open311Error(403, "api_key is not valid (or was revoked)")
    if client is None and (key_required or not config.open311_public_read):
        raise Open311Error(403, "api_key is required: ask the city for a key (citygrid apikeys add)")
    if client is not None:
        clients.count_call(conn, client)
    return client


async def _serve(request: Request, fmt: str, params, work, *, key_required: bool) -> Response:
    """`_run` in a worker thread once the request has a database slot (web/db.py), or a 503 in the spec's form."""
    try:
        async with request.app.state.db.slot():
            return await run_in_threadpool(_run, request, fmt, params, work, key_required=key_required)
    except Unavailable as exc:
        return _unavailable(fmt, exc)
    except psycopg.OperationalError:  # the database went away mid-request: nothing was committed
        return _unavailable(fmt, Unavailable("the database is not reachable right now; try again in a few "
                                             "seconds", retry_after=2))


def _run(request: Request, fmt: str, params, work, *, key_required: bool) -> Response:
    """Check format, jurisdiction and key, then do `work(conn, client)`: one connection, one transaction. The work
    runs in a savepoint, so a call it refuses is still counted against the client's rate."""
    try:
        _check_format(fmt)
        with request.app.state.db.connection() as conn:
            client = _admit(conn, request, params, key_required=key_required)
            try:
                with conn.transaction():
                    done = work(conn, client)
            except (Open311Error, DomainError) as exc:
                return error(fmt, _as_open311(exc))
        return done if isinstance(done, Response) else render(fmt, *done)
    except Unavailable as exc:
        return _unavailable(fmt, exc)
    except (Open311Error, DomainError) as exc:
        return error(fmt, _as_open311(exc))


def _unavailable(fmt: str, exc: Unavailable) -> Response:
    response = error(fmt, Open311Error(503, str(exc)))
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


def _check_jurisdiction(conn, config, given: str | None) -> None:
    if given in (None, ""):
        return
    ours = config.open311_jurisdiction or repo.district_code(conn)
    if given != ours:
        raise Open311Error(404, f"jurisdiction_id {given!r} is not served here: this server serves {ours!r} "
                                "(and jurisdiction_id may be left out)")


def _iso(value: datetime | None, tz: ZoneInfo) -> str | None:
    return value.astimezone(tz).isoformat(timespec="seconds") if value else None


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


# ---- answers ----------------------------------------------------------------------------------------------------

def as_service(row: dict) -> dict:
    return {"service_code": row["code"], "service_name": row["name"],
            "description": f"{row['group_name']} · {row['name']}（处置时限 time limit {row['time_limit']}）",
            "metadata": True,  # every service takes the crs attribute, some take more
            "type": "realtime", "keywords": f"{row['group_name']},{row['name']}", "group": row["group_name"]}


def as_attribute(row: dict) -> dict:
    return {"variable": True, "code": row["code"], "datatype": row["datatype"], "required": row["required"],
            "datatype_description": row["datatype_description"] or None, "order": row["position"],
            "description": row["description"], "values": row["values"]}


def as_request(row: dict, *, base_url: str, tz: ZoneInfo) -> dict:
    """A case as a service request (docs/open311.md, field mapping)."""
    finished = row["status"] in FINISHED
    notes = STATUS_NOTES[row["status"]].format(agency=row["agency"] or "", reason=row["reject_reason"] or "",
                                               merged_into=row["merged_into"] or "")
    media = row["client_media_url"] or (f"{base_url}/open311/v2/media/{row['photo_id']}" if row["photo_id"] else None)
    return {
        "service_request_id": str(row["id"]), "status": "closed" if finished else "open", "status_notes": notes,
        "service_name": row["category_name"], "service_code": row["category_code"],
        "description": row["description"] or None, "agency_responsible": row["agency"],
        "service_notice": provisional_note(row["deadline"], tz=tz) if row["deadline_provisional"] and not finished
        else None,
        "requested_datetime": _iso(row["created_at"], tz),
        "updated_datetime": _iso(row["closed_at"] if finished and row["closed_at"] else row["updated_at"], tz),
        "expected_datetime": _iso(row["deadline"], tz),
        "address": " ".join(p for p in (row["grid_name"], row["community_name"], row["street_name"],
                                        row["district_name"]) if p),
        "address_id": row["grid_code"], "zipcode": None,
        "lat": round(row["lat"], 7), "long": round(row["lon"], 7), "media_url": media,
    }


# ---- endpoints --------------------------------------------------------------------------------------------------

@router.get("/discovery.{fmt}", dependencies=READ)
async def discovery(request: Request, fmt: Fmt) -> Response:
    """Where this server's endpoints are and what they speak."""
    def work(conn, client):
        contact = request.app.state.config.open311_contact
        return "discovery", {
            "changeset": CHANGESET, "contact": contact or None,
            "key_service": "API keys are issued by the city's citygrid administrator (citygrid apikeys add)",
            "endpoints": [{"specification": SPEC, "url": f"{_base_url(request)}/open311/v2", "changeset": CHANGESET,
                           "type": "production", "formats": ["text/xml", "application/json"]}],
        }, 200
    return await _serve(request, fmt, request.query_params, work, key_required=False)


@router.get("/services.{fmt}", dependencies=READ)
async def services(request: Request, fmt: Fmt) -> Response:
    """The public categories."""
    return await _serve(request, fmt, request.query_params,
                        lambda conn, client: ("services", [as_service(r) for r in repo.services(conn)], 200),
                        key_required=False)


@router.get("/services/{code}.{fmt}", dependencies=READ)
async def service_definition(request: Request, code: str, fmt: Fmt) -> Response:
    """A public category's extra fields: its own attributes, then the crs extension."""
    def work(conn, client):
        if repo.service(conn, code=code) is None:
            raise Open311Error(404, f"service_code {code!r} not found")
        return "service_definition", {
            "service_code": code, "attributes": [as_attribute(a) for a in repo.attributes(conn, code=code)]
            + [CRS_ATTRIBUTE]}, 200
    return await _serve(request, fmt, request.query_params, work, key_required=False)


@router.get("/requests/{request_id}.{fmt}", dependencies=READ)
async def one_request(request: Request, request_id: RequestId, fmt: Fmt) -> Response:
    """One service request, as an array of one (the spec's shape)."""
    def work(conn, client):
        rows = repo.requests(conn, ids=[int(request_id)]) if re.fullmatch(REQUEST_ID, request_id) else []
        if not rows:
            raise Open311Error(404, f"service_request_id {request_id!r} not found")
        tz = request.app.state.config.policy.tz
        return "service_requests", [as_request(rows[0], base_url=_base_url(request), tz=tz)], 200
    return await _serve(request, fmt, request.query_params, work, key_required=False)


@router.get("/tokens/{token}.{fmt}", dependencies=READ)
async def token(request: Request, token: str, fmt: Fmt) -> Response:
    """The service request a POST's token stands for."""
    def work(conn, client):
        case_id = repo.case_for_token(conn, token=token)
        if case_id is None:
            raise Open311Error(404, "token not found")
        return "service_requests", [{"service_request_id": str(case_id), "token": token}], 200
    return await _serve(request, fmt, request.query_params, work, key_required=False)


@router.get("/requests.{fmt}", dependencies=[*READ, Depends(request_filters)])
async def list_requests(request: Request, fmt: Fmt) -> Response:
    """Service requests: by service_request_id (a comma list, which overrides every other filter), or by
    service_code, start_date/end_date (at most 90 days; the last 90 by default) and status; at most 1,000."""
    q = request.query_params

    def work(conn, client):
        tz = request.app.state.config.policy.tz
        filters = _request_filters(q, tz)
        rows = repo.requests(conn, limit=MAX_RESULTS, **filters)
        return "service_requests", [as_request(r, base_url=_base_url(request), tz=tz) for r in rows], 200
    return await _serve(request, fmt, q, work, key_required=False)


@router.post("/requests.{fmt}", openapi_extra=REQUEST_FORM)
async def create_request(request: Request, fmt: Fmt) -> Response:
    """A new service request from a client system: form-encoded, with its api_key."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return error(fmt, Open311Error(400, "POST requests takes a form (application/x-www-form-urlencoded or "
                                            f"multipart/form-data), not {kind or 'no content type'}"))
    try:
        fields = await _form_fields(request, kind)
    except Open311Error as exc:
        return error(fmt, exc)
    params = {name: values[-1] for name, values in fields.items()}

    def work(conn, client):
        return "service_requests", [_file(conn, client, request, fields, params)], 200
    return await _serve(request, fmt, params, work, key_required=True)


async def _form_fields(request: Request, kind: str) -> dict[str, list[str]]:
    """The POST's fields. A urlencoded body is read as UTF-8 (the spec: UTF-8 everywhere), raw or %-escaped;
    Starlette's own parser would read raw bytes as Latin-1."""
    fields: dict[str, list[str]] = {}
    if kind == "application/x-www-form-urlencoded":
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                raise Open311Error(400, f"the form is larger than {MAX_FORM_BYTES // 1024} KB")
        try:
            text = body.decode("utf-8")
            pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False, encoding="utf-8", errors="strict")
        except UnicodeDecodeError:
            raise Open311Error(400, "the form is not UTF-8: send every field as UTF-8") from None
    else:
        try:
            pairs = (await request.form()).multi_items()
        except HTTPException as exc:  # a multipart body Starlette cannot parse: the spec's 400, not the API's 422
            raise Open311Error(400, f"the form cannot be read: {exc.detail}") from None
    for name, value in pairs:
        if not isinstance(value, str):
            raise Open311Error(400, f"{name}: files are not taken; send media_url, a link")
        if unstorable(name) or unstorable(value):
            raise Open311Error(400, "a field holds a NUL character")
        fields.setdefault(name, []).append(value)
    return fields


@router.get("/media/{media_id}", dependencies=READ, response_class=Response, responses={200: PHOTO_ANSWER})
async def media(request: Request, media_id: RequestId) -> Response:
    """A report photo of a request in a public category (the media_url of our own photos)."""
    def work(conn, client):
        row = repo.public_photo(conn, attachment_id=int(media_id)) if re.fullmatch(REQUEST_ID, media_id) else None
        if row is None:
            raise Open311Error(404, f"no public photo {media_id}")
        return Response(request.app.state.media.get(row["storage_key"]), media_type=row["content_type"],
                        headers={"Cache-Control": "public, max-age=86400"})
    return await _serve(request, "json", request.query_params, work, key_required=False)


# ---- filing and filtering ---------------------------------------------------------------------------------------

def _file(conn, client: dict, request: Request, fields: dict[str, list[str]], params: dict) -> dict:
    """Check a POST's fields, file the report through the same intake as every other channel."""
    code = params.get("service_code", "")
    if not code:
        raise Open311Error(400, "service_code is required")
    sent, code = code, bulk_repo.aliases(conn, source=client["source"]).get(code, code)  # its own codes, if mapped
    if repo.service(conn, code=code) is None:
        raise Open311Error(400, f"service_code {sent!r} not found: GET services lists the codes", kind="Unknown")
    if not params.get("lat") or not params.get("long"):
        given = [f for f in ("address_string", "address_id") if params.get(f)]
        raise Open311Error(400, "lat and long are required: this server has no geocoder, so "
                                f"{' and '.join(given) or 'an address'} alone cannot be placed; send the point "
                                "(WGS84, or GCJ-02 with attribute[crs]=gcj02)")
    try:
        lat, lon = float(params["lat"]), float(params["long"])
    except ValueError:
        raise Open311Error(400, f"lat {params['lat']!r} and long {params['long']!r} must be numbers") from None
    description = params.get("description", "")
    if len(description) > MAX_DESCRIPTION:
        raise Open311Error(400, f"description has {len(description)} characters; the limit is {MAX_DESCRIPTION}")
    media_url = params.get("media_url") or None
    if media_url and (not re.match(MEDIA_URL, media_url) or len(media_url) > MAX_MEDIA_URL):
        raise Open311Error(400, f"media_url must be an http(s) link of at most {MAX_MEDIA_URL:,} characters")
    values = _attributes(conn, code, fields)
    crs = CRS_OF[values.pop("crs", "wgs84")]
    contact = {f: params[f] for f in CONTACT_FIELDS if params.get(f)}
    for name, value in contact.items():  # refused, not cut short: a shortened phone number or e-mail is a wrong one
        if len(value) > MAX_CONTACT:
            raise Open311Error(400, f"{name} has {len(value)} characters; the limit is {MAX_CONTACT}")
    trusted = client["trust"] == "trusted"
    actor = Actor(f"open311:{client['name']}", frozenset({"intake"} if trusted else set()))
    try:
        done = submit_report(conn, actor=actor, policy=request.app.state.config.policy, category_code=code,
                             lon=lon, lat=lat, crs=crs, description=description, source=client["source"],
                             public=not trusted, register_at_once=trusted, reference=request.app.state.reference)
    except OutsideDistrict as exc:
        raise Open311Error(400, str(exc)) from None
    token = secrets.token_urlsafe(16)
    repo.set_report_extras(conn, report_id=done.report_id, client_id=client["id"], token=token,
                           media_url=media_url, attributes=values, contact=contact)
    notice = "已受理 received: " + "; ".join(done.notes) if done.notes else f"已受理 received ({done.status})"
    return {"service_request_id": str(done.case_id), "token": token, "service_notice": notice,
            "account_id": params.get("account_id") or None}


def _attributes(conn, code: str, fields: dict[str, list[str]]) -> dict:
    """attribute[code]=value fields checked against the service definition: known, required, of their type."""
    defined = {a["code"]: a for a in repo.attributes(conn, code=code)}
    defined["crs"] = {**CRS_ATTRIBUTE, "values": CRS_ATTRIBUTE["values"]}
    given: dict[str, list[str]] = {}
    for name, values in fields.items():
        match = re.match(ATTRIBUTE_FIELD, name)
        if match:
            given.setdefault(match.group(1), []).extend(v for v in values if v != "")
    unknown = sorted(set(given) - set(defined))
    if unknown:
        raise Open311Error(400, f"unknown attribute(s) {', '.join(unknown)} for service {code}: see "
                                f"GET services/{code}", kind="Unknown")
    out = {}
    for attr in defined.values():
        values = given.get(attr["code"], [])
        if not values:
            if attr["required"]:
                raise Open311Error(400, f"attribute[{attr['code']}] is required for service {code}: "
                                        f"{attr['description']}", kind="Inconsistent")
            continue
        out[attr["code"]] = _typed(code, attr, values)
    return out


def _typed(code: str, attr: dict, values: list[str]):
    kind, name = attr["datatype"], f"attribute[{attr['code']}]"
    keys = {v["key"] for v in attr.get("values") or []}
    if kind == "multivaluelist":
        bad = [v for v in values if v not in keys]
        if bad:
            raise Open311Error(400, f"{name}: {', '.join(bad)} not among {', '.join(sorted(keys))}")
        return values
    value = values[-1]
    if kind == "singlevaluelist" and value not in keys:
        raise Open311Error(400, f"{name}: {value!r} is not one of {', '.join(sorted(keys))}")
    if kind == "number":
        try:
            number = float(value)
        except ValueError:
            raise Open311Error(400, f"{name}: {value!r} is not a number") from None
        if not math.isfinite(number):
            raise Open311Error(400, f"{name}: {value!r} is not a finite number")
        return number
    if kind == "datetime":
        try:
            datetime.fromisoformat(value)
        except ValueError:
            raise Open311Error(400, f"{name}: {value!r} is not an ISO 8601 date and time") from None
    limit = 4000 if kind == "text" else 200
    if len(value) > limit:
        raise Open311Error(400, f"{name}: at most {limit} characters")
    return value


def _when(q, name: str, tz: ZoneInfo) -> datetime | None:
    text = q.get(name)
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))  # RFC 3339 allows t and z too
    except ValueError:
        raise Open311Error(400, f"{name} {text!r} is not an ISO 8601 date and time (e.g. "
                                "2026-11-01T00:00:00+08:00)") from None
    return value if value.tzinfo else value.replace(tzinfo=tz)


def _request_filters(q, tz: ZoneInfo) -> dict:
    if not re.fullmatch(REQUEST_IDS, q.get("service_request_id", "")):
        raise Open311Error(400, "service_request_id takes a comma-separated list of request ids")
    ids = [int(i) for i in q.get("service_request_id", "").split(",") if i]
    if ids:
        return {"ids": ids}
    start, end = _when(q, "start_date", tz), _when(q, "end_date", tz)
    if start is None and end is None:
        end = datetime.now(tz)
    try:
        if start is None:
            start = end - MAX_SPAN
        if end is None:
            end = start + MAX_SPAN
    except OverflowError:
        raise Open311Error(400, "start_date/end_date too close to the ends of the calendar",
                           kind="Inconsistent") from None
    if start > end:
        raise Open311Error(400, "start_date is after end_date", kind="Inconsistent")
    if end - start > MAX_SPAN:
        raise Open311Error(400, "start_date to end_date spans more than 90 days", kind="Inconsistent")
    if not re.fullmatch(STATUSES, q.get("status", "")):
        raise Open311Error(400, "status takes open, closed or both (comma-separated)")
    statuses = {s for s in q.get("status", "").split(",") if s}
    codes = [s.strip() for s in q.get("service_code", "").split(",") if s.strip()] or None
    return {"codes": codes, "start": start, "end": end,
            "status": next(iter(statuses)) if len(statuses) == 1 else None}

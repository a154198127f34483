"""The JSON API: health, sign-in, places, categories, reports and reading cases."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import timedelta

import psycopg

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from dispatch import accounts
from dispatch.actor import can_read
from dispatch.casework.cases import may_verify
from dispatch.intake.service import prepare, take_in
from events import repo as events_repo
from events.errors import CaseNotFound
from events.service import get_case, require_category
from gis.locator import locate, to_wgs84
from web import idempotency
from web.deps import (Config, Conn, CurrentActor, CurrentPolicy, Slot, Token, actor_of, bearer,
                      sign_in_with_password)
from web.schemas import (CaseOut, CategoryOut, CategoryQuery, CrsQuery, IdPath, LocationOut, LoginIn, ReportIn,
                         ReportOut, TokenOut)

router = APIRouter(prefix="/api")


@router.get("/health")
def health(conn: Conn) -> dict:
    """Liveness with a database round trip (no sign-in needed)."""
    conn.execute("SELECT 1")
    return {"status": "ok"}


@router.post("/tokens", response_model=TokenOut, status_code=201)
def sign_in(conn: Conn, config: Config, body: LoginIn, request: Request) -> TokenOut:
    """Exchange a user name and password for a bearer token (throttled after repeated failures)."""
    token = sign_in_with_password(request, conn, username=body.username, password=body.password,
                                  ttl=timedelta(hours=config.token_ttl_hours))
    return TokenOut(token=token, expires_in_hours=config.token_ttl_hours)


@router.delete("/tokens/current", status_code=204)
def sign_out(conn: Conn, actor: CurrentActor, request: Request) -> None:
    """Revoke the token this request came with."""
    accounts.revoke(conn, token=bearer(request))


@router.get("/me")
def me(actor: CurrentActor) -> dict:
    """Who the token stands for, with roles and scope."""
    return {"username": actor.username, "roles": sorted(actor.roles), "grid_codes": sorted(actor.grid_codes),
            "street_code": actor.street_code, "department_code": actor.department_code}


@router.get("/locate", response_model=LocationOut)
def locate_point(
    conn: Conn, actor: CurrentActor,
    lon: float = Query(allow_inf_nan=False, description="longitude or x"),
    lat: float = Query(allow_inf_nan=False, description="latitude or y"),
    crs: CrsQuery = "EPSG:4326",
) -> LocationOut:
    """District, street, community and unit grid of a point, with the zones that cover it."""
    return LocationOut(**asdict(locate(conn, lon=lon, lat=lat, crs=crs)))


@router.get("/categories", response_model=list[CategoryOut])
def list_categories(conn: Conn, actor: CurrentActor) -> list[CategoryOut]:
    """The category tree with time limits, duplicate radius and visibility."""
    return [CategoryOut(**asdict(c)) for c in events_repo.categories(conn)]


@router.post("/reports", response_model=ReportOut, status_code=201)
async def create_report(_token: Token, _: Slot, policy: CurrentPolicy, body: ReportIn, request: Request,
                        response: Response,
                        idempotency_key: str | None = Header(default=None, pattern=idempotency.KEY_PATTERN,
                                                             description="the same key on a retry returns the "
                                                             "first answer instead of filing a second case (1-200 "
                                                             "printable ASCII characters; a UUID is usual)")):
    """File a report: it is located, opened as a case and moved on (registered and routed) where it can be.

    Three round trips and one commit (docs/intake.md): BEGIN with the sign-in, every read at once, every write
    with the COMMIT."""
    # one hop to a worker thread for all of it (the connection dependency would add two more)
    return await run_in_threadpool(_file, request, response, policy, body, idempotency_key)


def _file(request: Request, response: Response, policy, body: ReportIn, idempotency_key: str | None) -> ReportOut:
    with request.app.state.db.connection() as conn, _pipelined_transaction(conn) as pipeline:
        actor = actor_of(request, conn)  # round trip 1
        claim = idempotency.queue_claim(conn, username=actor.username, key=idempotency_key, fingerprint=(
            idempotency.fingerprint(request.method, request.url.path, body.model_dump(mode="json")))) \
            if idempotency_key is not None else None
        pending = prepare(conn, actor=actor, policy=policy, category_code=body.category, lon=body.lon,
                          lat=body.lat, crs=body.crs, description=body.description, urgent=body.urgent,
                          attachments=tuple(body.attachments),
                          source="officer" if "grid_officer" in actor.roles else "staff")
        pipeline.sync()  # round trip 2
        earlier = claim.earlier() if claim is not None else None
        if earlier is not None:
            response.headers["Idempotent-Replay"] = "true"
            conn.execute("COMMIT")
            return ReportOut(**earlier)
        out = _filed(actor, take_in(conn, pending, reference=request.app.state.reference))
        if idempotency_key is not None:
            idempotency.store(conn, username=actor.username, key=idempotency_key,
                              response=out.model_dump(mode="json"))
        conn.execute("COMMIT")  # round trip 3: the pipeline's closing sync sends it behind the writes
    return out


@contextmanager
def _pipelined_transaction(conn: psycopg.Connection) -> Iterator[psycopg.Pipeline]:
    """One transaction in one pipeline, whose BEGIN travels with the first statement and whose COMMIT (queued by
    the block) travels with the last writes. psycopg would send its own BEGIN as a round trip of its own, so the
    connection is in autocommit mode for the block and the block's BEGIN and COMMIT are plain statements;
    conn.commit() would also sync by itself, and the pipeline's closing sync would then be one round trip more."""
    conn.autocommit = True
    try:
        with conn.pipeline() as pipeline:
            conn.execute("BEGIN")
            yield pipeline
    finally:
        if not conn.broken:
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.rollback()  # the block raised: nothing of it stays
            conn.autocommit = False


def _filed(actor, done) -> ReportOut:
    return ReportOut(case_id=done.case_id, report_id=done.report_id, location=LocationOut(**asdict(done.location)),
                     status=done.status, department_code=done.department_code,
                     likely_duplicates=[{**d, "created_at": d["created_at"].isoformat()} for d in done.duplicates
                                        if can_read(actor, d)],
                     notes=done.notes)


@router.get("/reports/nearby")
def nearby(conn: Conn, actor: CurrentActor, policy: CurrentPolicy,
           category: CategoryQuery, lon: float = Query(allow_inf_nan=False),
           lat: float = Query(allow_inf_nan=False), crs: CrsQuery = "EPSG:4326") -> list[dict]:
    """Before filing: open cases of the same category within its duplicate radius (the likely duplicates)."""
    found = require_category(conn, code=category)
    x, y, _ = to_wgs84(lon, lat, crs)
    rows = events_repo.likely_duplicates(conn, case_id=0, category_code=found.code, lon=x, lat=y,
                                         window=policy.duplicate_window)
    return [r for r in rows if can_read(actor, r)]


@router.get("/cases/{case_id}", response_model=CaseOut)
def read_case(conn: Conn, actor: CurrentActor, case_id: IdPath) -> CaseOut:
    """One case with its grid chain, deadline, traffic light, reports and history."""
    return case_out(readable_case(conn, actor, case_id))


def readable_case(conn, actor, case_id: int):
    """The case if the actor may see it; otherwise the same 404 as a missing case (no existence leak)."""
    case = get_case(conn, case_id=case_id)
    row = asdict(case) | {"id": case.id}
    if not (can_read(actor, row) or may_verify(conn, actor, row)):
        raise CaseNotFound(f"no case {case_id}")
    return case


def case_out(case) -> CaseOut:
    """Shape a domain case for the API."""
    data = asdict(case)
    chain = {level: {"code": data.pop(f"{level}_code"), "name": data.pop(f"{level}_name")}
             for level in ("district", "street", "community", "grid")}
    return CaseOut(**data, **chain)

"""Intake: a report is checked, located and opened as a case, then moved on as far as the rules allow.

Grid officers' reports register at once and are routed; public reports wait for verification; a report with
likely duplicates nearby waits for an operator (or, from a sensor feed, joins the nearest one).

In round trips (docs/intake.md): `prepare` sends every read that depends only on the input and the actor (locate,
the duplicate search, the photo check, fresh ids and the transaction's time, the reference versions) without
waiting for them; after the caller's pipeline sync, `take_in` routes and counts the deadline in Python from the
cached reference data and sends every write without waiting: the case goes in directly in the status its steps
reach, with their history rows, the routing decision and the messages. The caller's COMMIT can follow in the same
round trip. `submit_report` does both for callers that do not hold a pipeline.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import psycopg

from core.errors import InvalidInput, Unknown
from dispatch.actor import SYSTEM, Actor, role_covers
from dispatch.casework import case_repo
from dispatch.casework.cases import Request, act
from dispatch.casework.workflow import INITIAL
from dispatch.intake import plan as intake_plan
from dispatch.intake import repo as intake_repo
from dispatch.intake.reference import Reference
from dispatch.models import Policy
from dispatch.permissions import require, roles_for
from events import repo as events_repo
from events.errors import UnknownCategory
from gis.locator import location_of, queue_locate, to_wgs84
from gis.models import Location

MAX_DESCRIPTION = 4000
MAX_PHOTOS = 9


@dataclass(frozen=True)
class Submitted:
    """What intake created and where the case stands now."""

    case_id: int
    report_id: int
    location: Location
    status: str
    department_code: str | None = None
    duplicates: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Form:
    """A report as filed, with its point in WGS84; checked for everything that needs no database."""

    actor: Actor
    policy: Policy
    category_code: str
    lon: float
    lat: float
    input_lon: float
    input_lat: float
    input_crs: str
    description: str
    source: str
    urgent: bool
    public: bool
    attachments: tuple[int, ...]
    register_at_once: bool


@dataclass(frozen=True)
class Pending:
    """A report whose reads are on their way; their results arrive at the caller's next pipeline sync."""

    form: Form
    start: psycopg.Cursor
    located: psycopg.Cursor
    duplicates: psycopg.Cursor
    photos: psycopg.Cursor | None


def submit_report(
    conn: psycopg.Connection, *, actor: Actor, policy: Policy, category_code: str, lon: float, lat: float,
    crs: str = "EPSG:4326", description: str = "", source: str = "api", urgent: bool = False,
    public: bool = False, attachments: tuple[int, ...] = (), register_at_once: bool = False,
    reference: Reference | None = None,
) -> Submitted:
    """Store the report as a new case, then register, route and dispatch it as far as the rules allow.

    register_at_once: the reporter is trusted to register it (a grid officer in their own grid always is; a
    trusted client system of the Open311 API says so with this flag, and acts with the intake role).
    reference: the process's cache of reference data (without it, this call loads what it needs)."""
    with conn.pipeline() as pipeline:
        pending = prepare(conn, actor=actor, policy=policy, category_code=category_code, lon=lon, lat=lat,
                          crs=crs, description=description, source=source, urgent=urgent, public=public,
                          attachments=attachments, register_at_once=register_at_once)
        pipeline.sync()
        return take_in(conn, pending, reference=reference or Reference())


def prepare(
    conn: psycopg.Connection, *, actor: Actor, policy: Policy, category_code: str, lon: float, lat: float,
    crs: str = "EPSG:4326", description: str = "", source: str = "api", urgent: bool = False,
    public: bool = False, attachments: tuple[int, ...] = (), register_at_once: bool = False,
) -> Pending:
    """Check what needs no database, then send the report's reads without waiting (use inside conn.pipeline())."""
    if len(description) > MAX_DESCRIPTION:
        raise InvalidInput(f"description is {len(description)} characters; the limit is {MAX_DESCRIPTION}")
    if not public:
        require(actor, "file_reports")
    if len(attachments) > MAX_PHOTOS:
        raise InvalidInput(f"a report takes at most {MAX_PHOTOS} photos, not {len(attachments)}")
    if not isinstance(category_code, str):
        raise UnknownCategory(f"unknown category {category_code!r}: use a 4-digit code from GET /api/categories")
    wlon, wlat, parsed = to_wgs84(lon, lat, crs)
    form = Form(actor, policy, category_code, wlon, wlat, lon, lat, parsed, description, source, urgent, public,
                tuple(attachments), register_at_once)
    photos = case_repo.queue_free_attachments(conn, ids=list(attachments), actor=actor.username) \
        if attachments else None
    return Pending(form, intake_repo.queue_start(conn), queue_locate(conn, lon=wlon, lat=wlat),
                   events_repo.queue_likely_duplicates(conn, case_id=0, category_code=category_code, lon=wlon,
                                                       lat=wlat, window=policy.duplicate_window),
                   photos)


def take_in(conn: psycopg.Connection, pending: Pending, *, reference: Reference) -> Submitted:
    """With the reads arrived: check them, work out the case's steps and send its writes (no sync, no commit)."""
    f = pending.form
    now, case_id, report_id, versions = pending.start.fetchone()
    if pending.photos is not None:
        missing = sorted(set(f.attachments) - {r[0] for r in pending.photos.fetchall()})
        if missing:
            raise Unknown(f"photo(s) {missing} are unknown, not yours, or already used; upload them again")
    category = reference.category(conn, code=f.category_code, versions=versions)
    if f.public and not category.public:
        raise InvalidInput(f"category {category.code} ({category.name}) cannot be reported by the public")
    where = location_of(pending.located.fetchone(), lon=f.lon, lat=f.lat)
    dups = pending.duplicates.fetchall()
    case = _case(case_id, where, category, f)
    if (dups and f.source in f.policy.auto_merge_sources) or f.public:
        _write(conn, f, case, report_id, where, intake_plan.Plan())
        status, notes = _merge_or_verify(conn, case, f, dups)
        return Submitted(case_id, report_id, where, status, None, dups, notes)
    if not (f.register_at_once or role_covers(f.actor, "grid_officer", case)):
        plan = intake_plan.Plan(notes=["waits for intake to register it"])
    else:
        note = "trusted system: registered at once" if f.register_at_once else \
            "grid officer report: registered at once"
        plan = intake_plan.register(case, actor=f.actor, note=note, dups=dups, now=now, policy=f.policy,
                                    ref=_lookups(conn, reference, versions) if not dups else None)
    _write(conn, f, case, report_id, where, plan)
    return Submitted(case_id, report_id, where, plan.status, plan.department_code, dups, plan.notes)


def _lookups(conn, reference: Reference, versions: dict) -> intake_plan.Lookups:
    rule_set_id, rules = reference.get(conn, "rules", versions=versions)
    return intake_plan.Lookups(rule_set_id, rules, reference.get(conn, "street_units", versions=versions),
                               reference.get(conn, "calendar", versions=versions))


def _case(case_id: int, where: Location, category, f: Form) -> dict:
    """The new case as the workflow code sees a locked case row."""
    return {"id": case_id, "status": INITIAL, "category_code": category.code, "urgent": f.urgent,
            "category_limit": category.time_limit, "urgent_limit": category.urgent_limit,
            "check_limit": category.check_limit, "street_code": where.street.code,
            "community_code": where.community.code, "grid_code": where.grid.code, "zones": where.zones,
            "department_code": None, "reporter": f.actor.username}


def _write(conn, f: Form, case: dict, report_id: int, where: Location, plan: intake_plan.Plan) -> None:
    """Send every write of the new case: itself in its final status, its report, history, decision, messages."""
    actor = f.actor.username
    first = {"actor": actor, "actor_role": _reporting_role(f.actor), "action": "report", "from_status": None,
             "to_status": INITIAL, "attachments": list(f.attachments),
             "note": f"reported in {where.grid.name} ({where.grid.code})"}
    intake_repo.queue_write(conn, case={
        "case_id": case["id"], "report_id": report_id, "status": plan.status, "version": plan.version,
        "category_code": case["category_code"], "description": f.description, "lon": where.lon, "lat": where.lat,
        "release_id": where.release_id, "district_code": where.district.code, "district_name": where.district.name,
        "street_code": where.street.code, "street_name": where.street.name, "community_code": where.community.code,
        "community_name": where.community.name, "grid_code": where.grid.code, "grid_name": where.grid.name,
        "zones": where.zones, "urgent": f.urgent, "input_lon": f.input_lon, "input_lat": f.input_lat,
        "input_crs": f.input_crs, "source": f.source, "actor": actor, **plan.columns},
        steps=[first, *plan.steps], notices=plan.notices, decision=plan.decision, rule_set_id=plan.rule_set_id,
        attachments=list(f.attachments))


def _reporting_role(actor: Actor) -> str:
    if "grid_officer" in actor.roles:
        return "grid_officer"  # the officer statistics count reports filed in this role
    return next((r for r in sorted(actor.roles) if r in roles_for("file_reports")), "public")


def _merge_or_verify(conn, case: dict, f: Form, dups: list[dict]) -> tuple[str, list[str]]:
    """A sensor duplicate joins the nearest case; a public report waits for verification (workflow actions)."""
    if dups and f.source in f.policy.auto_merge_sources:
        act(conn, case_id=case["id"], action="merge", actor=SYSTEM, policy=f.policy,
            request=Request(into_case_id=dups[0]["id"], note=f"{f.source} feed: same problem as case {dups[0]['id']}"))
        return "merged", [f"merged into case {dups[0]['id']} ({dups[0]['distance_m']} m away)"]
    act(conn, case_id=case["id"], action="await_verification", actor=SYSTEM, policy=f.policy)
    return "awaiting_verification", ["waits for the grid officer to verify it"]

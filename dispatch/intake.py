"""Intake: a report is checked, located and opened as a case, then moved on as far as the rules allow.

Grid officers' reports register at once and are routed; public reports wait for verification; a report with
likely duplicates nearby waits for an operator (or, from a sensor feed, joins the nearest one).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import psycopg

from dispatch import case_repo
from dispatch.actor import SYSTEM, Actor, role_covers
from dispatch.cases import Request, act
from dispatch.models import Policy
from events import repo as events_repo
from events.service import require_category
from gis.crs import parse_crs
from gis.errors import Forbidden, InvalidInput
from gis.locator import locate
from gis.models import Location

MAX_DESCRIPTION = 4000
REPORTING_ROLES = frozenset({"grid_officer", "intake", "dispatcher", "admin", "system"})


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


def submit_report(
    conn: psycopg.Connection, *, actor: Actor, policy: Policy, category_code: str, lon: float, lat: float,
    crs: str = "EPSG:4326", description: str = "", source: str = "api", urgent: bool = False,
    public: bool = False, attachments: tuple[int, ...] = (), register_at_once: bool = False,
) -> Submitted:
    """Store the report as a new case, then register, route and dispatch it as far as the rules allow.

    register_at_once: the reporter is trusted to register it (a grid officer in their own grid always is; a
    trusted client system of the Open311 API says so with this flag, and acts with the intake role)."""
    if len(description) > MAX_DESCRIPTION:
        raise InvalidInput(f"description is {len(description)} characters; the limit is {MAX_DESCRIPTION}")
    if not public and not actor.roles & REPORTING_ROLES:
        raise Forbidden(f"{actor.username} may not file reports: it needs the role grid_officer, intake or dispatcher")
    _check_photos(conn, actor, attachments)
    category = require_category(conn, code=category_code)
    if public and not category.public:
        raise InvalidInput(f"category {category.code} ({category.name}) cannot be reported by the public")
    where = locate(conn, lon=lon, lat=lat, crs=crs)
    case_id, report_id, history_id = _open(conn, actor, where, category.code, description, source, urgent, crs,
                                           lon, lat)
    if attachments:
        case_repo.link_attachments(conn, ids=list(attachments), case_id=case_id, history_id=history_id,
                                   actor=actor.username)
        case_repo.set_history_attachments(conn, history_id=history_id, ids=list(attachments))
    case = {"id": case_id, "grid_code": where.grid.code, "street_code": where.street.code}
    dups = events_repo.likely_duplicates(conn, case_id=case_id, category_code=category.code, lon=where.lon,
                                         lat=where.lat, window=policy.duplicate_window)
    status, department, notes = _advance(conn, case, actor, policy, public, source, dups, register_at_once)
    return Submitted(case_id, report_id, where, status, department, dups, notes)


MAX_PHOTOS = 9


def _check_photos(conn, actor: Actor, attachments) -> None:
    if len(attachments) > MAX_PHOTOS:
        raise InvalidInput(f"a report takes at most {MAX_PHOTOS} photos, not {len(attachments)}")
    missing = sorted(set(attachments) - case_repo.free_attachments(conn, ids=list(attachments),
                                                                    actor=actor.username)) if attachments else []
    if missing:
        raise InvalidInput(f"photo(s) {missing} are unknown, not yours, or already used; upload them again")


def _open(conn, actor, where, category_code, description, source, urgent, crs, lon, lat) -> tuple[int, int]:
    return events_repo.open_case(
        conn, status="reported", category_code=category_code, description=description,
        lon=where.lon, lat=where.lat, release_id=where.release_id,
        district_code=where.district.code, district_name=where.district.name,
        street_code=where.street.code, street_name=where.street.name,
        community_code=where.community.code, community_name=where.community.name,
        grid_code=where.grid.code, grid_name=where.grid.name, zones=where.zones, urgent=urgent,
        input_lon=lon, input_lat=lat, input_crs=parse_crs(crs or "EPSG:4326"), source=source,
        actor=actor.username, actor_role=_reporting_role(actor),
        note=f"reported in {where.grid.name} ({where.grid.code})",
    )


def _reporting_role(actor: Actor) -> str:
    if "grid_officer" in actor.roles:
        return "grid_officer"  # the officer statistics count reports filed in this role
    return next((r for r in sorted(actor.roles) if r in REPORTING_ROLES), "public")


def _advance(conn, case, actor, policy, public, source, dups, register_at_once) \
        -> tuple[str, str | None, list[str]]:
    """Move a fresh case on: merge a sensor duplicate, verify a public report, register and route the rest."""
    if dups and source in policy.auto_merge_sources:
        act(conn, case_id=case["id"], action="merge", actor=SYSTEM, policy=policy,
            request=Request(into_case_id=dups[0]["id"], note=f"{source} feed: same problem as case {dups[0]['id']}"))
        return "merged", None, [f"merged into case {dups[0]['id']} ({dups[0]['distance_m']} m away)"]
    if public:
        act(conn, case_id=case["id"], action="await_verification", actor=SYSTEM, policy=policy)
        return "awaiting_verification", None, ["waits for the grid officer to verify it"]
    if not (register_at_once or role_covers(actor, "grid_officer", case)):
        return "reported", None, ["waits for intake to register it"]
    note = "trusted system: registered at once" if register_at_once else "grid officer report: registered at once"
    done = act(conn, case_id=case["id"], action="register", actor=actor, policy=policy,
               request=Request(note=note, auto_dispatch=not dups))
    if dups:
        case_repo.notify(conn, kind="case", payload={
            "case_id": case["id"], "to": {"roles": ["dispatcher"]},
            "subject": f"case {case['id']} may duplicate case {dups[0]['id']}: merge or dispatch it"})
        return "registered", None, [f"{len(dups)} likely duplicate(s) nearby: a dispatcher decides to merge or "
                                    "dispatch"]
    return done.to_status, done.department_code, done.notes

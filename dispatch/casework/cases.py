"""The case workflow in use: one action = one locked row, one status change, one history row, one transaction.

The caller owns the transaction. Every check happens before the first write, so a refused action changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import psycopg

from core.errors import Conflict, Forbidden, Inconsistent, InvalidInput, Unknown
from dispatch.actor import SYSTEM, Actor, acting_role, can_read, same_street
from dispatch.casework import case_repo
from dispatch.casework.deadlines import due, load_calendar, moved
from dispatch.casework.notices import notice, unrouted_notice
from dispatch.casework.workflow import FINAL, STEPS, Step
from dispatch.models import ActionResult, Policy
from dispatch.roles import SYSTEM_ROLE
from dispatch.routing import repo
from dispatch.routing.router import decide
from events.errors import CaseNotFound

MAX_NOTE = 4000


@dataclass
class Request:
    """What the actor asks for, besides the action itself."""

    note: str = ""
    attachments: list[int] = field(default_factory=list)
    department_code: str | None = None   # dispatch: the department a dispatcher chose
    new_deadline: datetime | None = None  # approve_extension
    into_case_id: int | None = None       # merge
    expected_version: int | None = None   # optimistic check from a client that showed a version
    auto_dispatch: bool = True            # register: route and dispatch at once when the rules find a department


def act(conn: psycopg.Connection, *, case_id: int, action: str, actor: Actor, policy: Policy,
        request: Request | None = None) -> ActionResult:
    """Take one workflow action on a case, or raise a domain error and change nothing."""
    req = request or Request()
    step = STEPS.get(action)
    if step is None:
        raise InvalidInput(f"unknown action {action!r}; use one of {', '.join(STEPS)}")
    if action == "merge" and req.into_case_id is not None and req.into_case_id < case_id:
        case_repo.lock(conn, case_id=req.into_case_id)  # lock both in id order: A→B and B→A cannot deadlock
    if not step.roles & actor.roles:  # the wrong role is refused whatever the case's state
        raise Forbidden(f"{actor.username} may not {step.label}: it needs the role "
                        f"{', '.join(sorted(step.roles - {SYSTEM_ROLE}))}")
    case = case_repo.lock(conn, case_id=case_id)
    if case is None:
        raise CaseNotFound(f"no case {case_id}")
    _check_state(conn, case, step, req, policy)  # before scope: a lost race is a conflict, not a refusal
    role = _role(conn, actor, step, case)
    _check_request(conn, step, req, actor)
    changes, detail = EFFECTS.get(action, _no_effect)(conn, case, req, actor, policy)
    return _apply(conn, case, step, actor, role, req, changes, detail, policy)


def _check_state(conn, case: dict, step: Step, req: Request, policy: Policy) -> None:
    if req.expected_version is not None and req.expected_version != case["version"]:
        raise Conflict(f"case {case['id']} changed since you loaded it (version {req.expected_version}, now "
                       f"{case['version']}, {_last(conn, case, policy)}); reload it and try again")
    if case["status"] not in step.sources:
        raise Conflict(f"cannot {step.label} case {case['id']}: it is {case['status']} "
                       f"({_last(conn, case, policy)}); {step.action} needs it to be {' or '.join(step.sources)}")


def _last(conn, case: dict, policy: Policy) -> str:
    last = case_repo.last_step(conn, case_id=case["id"])
    if not last:
        return "new"
    return f"last step: {last['action']} by {last['actor']} at {last['at'].astimezone(policy.tz):%Y-%m-%d %H:%M:%S %Z}"


def _role(conn, actor: Actor, step: Step, case: dict) -> str:
    if step.action in ("register", "reject") and may_verify(conn, actor, case):
        return "grid_officer"
    return acting_role(actor, step.roles, case, what=step.label)


def may_verify(conn, actor: Actor, case: dict) -> bool:
    """A public report no officer covers may be verified by any officer of its street (then the dispatchers)."""
    return (case["status"] == "awaiting_verification" and actor.has("grid_officer") and same_street(actor, case)
            and not case_repo.grid_has_officer(conn, grid_code=case["grid_code"], street_code=case["street_code"]))


def _check_request(conn, step: Step, req: Request, actor: Actor) -> None:
    if len(req.note) > MAX_NOTE:
        raise InvalidInput(f"the note is {len(req.note)} characters; the limit is {MAX_NOTE}")
    if step.needs_reason and not req.note.strip():
        raise Inconsistent(f"{step.label} needs a reason or note: say why")
    if step.needs_photo and not req.attachments:
        raise Inconsistent(f"{step.label} needs at least one photo: upload it to POST /api/media first")
    if req.attachments:
        free = case_repo.free_attachments(conn, ids=list(req.attachments), actor=actor.username)
        missing = sorted(set(req.attachments) - free)
        if missing:
            raise Unknown(f"attachment(s) {missing} are unknown, not yours, or already used by another action")


def _apply(conn, case, step: Step, actor: Actor, role: str, req: Request, changes: dict, detail: dict,
           policy: Policy) -> ActionResult:
    version = case_repo.update(conn, case_id=case["id"], changes={"status": step.target, **changes})
    department = changes.get("department_code", case["department_code"])
    deadline = changes.get("deadline", case["deadline"])
    history_id = case_repo.add_history(
        conn, case_id=case["id"], actor=actor.username, actor_role=role, action=step.action,
        from_status=case["status"], to_status=step.target, note=req.note.strip(),
        department_code=department if step.action != "return" else case["department_code"],
        deadline=deadline if step.target not in FINAL else None, detail=detail)
    files = case_repo.link_attachments(conn, ids=list(req.attachments), case_id=case["id"],
                                       history_id=history_id, actor=actor.username) if req.attachments else []
    if files:
        case_repo.set_history_attachments(conn, history_id=history_id, ids=[f["id"] for f in files])
    _notify(conn, case, step, department, deadline)
    result = ActionResult(case["id"], step.action, case["status"], step.target, history_id, department,
                          deadline, version)
    return _follow_up(conn, result, policy, req)


def _follow_up(conn, result: ActionResult, policy: Policy, req: Request) -> ActionResult:
    """Automatic next steps: a registered case is routed; a passed check closes where the roles are merged."""
    if result.action == "register" and req.auto_dispatch:
        return _auto_dispatch(conn, result, policy)
    if result.action == "check_ok" and policy.close_on_check:
        closed = act(conn, case_id=result.case_id, action="close", actor=SYSTEM, policy=policy,
                     request=Request(note="closed on a passed check (close_on_check is set)"))
        return ActionResult(**{**closed.__dict__, "notes": ["closed at once: close_on_check is set"]})
    return result


def _no_effect(conn, case, req, actor, policy) -> tuple[dict, dict]:
    return {}, {}


def _now(conn) -> datetime:
    # the transaction's own clock, so history rows and deadlines agree
    return case_repo.transaction_time(conn)


def _dispatch(conn, case, req, actor, policy) -> tuple[dict, dict]:
    if req.department_code:
        if req.department_code not in {d.code for d in repo.departments(conn)}:
            raise Unknown(f"unknown department {req.department_code!r}: see GET /api/departments")
        department, detail = req.department_code, {"by": actor.username}
    else:
        department, detail = _by_rules(conn, case, actor)
    return dispatch_columns(load_calendar(conn), case=case, department=department, now=_now(conn),
                            policy=policy), detail


def dispatch_columns(calendar, *, case: dict, department: str, now: datetime, policy: Policy) -> dict:
    """What a dispatch sets: the department, and the working-hours clock of the case's limit from now."""
    limit = case["urgent_limit"] if case["urgent"] and case["urgent_limit"] else case["category_limit"]
    return {**clock_columns(calendar, start=now, limit=limit, policy=policy), "department_code": department,
            "dispatched_at": now, "dispatch_count": 1, "time_limit": limit, "handled_at": None}


def routed_detail(decision) -> dict:
    """The history detail of a dispatch the rules decided."""
    return {"by": "rules", "explanation": decision.explanation}


def _by_rules(conn, case, actor) -> tuple[str, dict]:
    """Route with the active rules; a miss is stored for automatic intake, and refused for a person."""
    decision = decide(conn, case=case)
    if decision.department_code is None:
        if actor.has("system"):
            repo.insert_decision(conn, case_id=case["id"], decision=decision)
            raise Unrouted(decision.explanation)
        raise Inconsistent(f"{decision.explanation}; dispatch it with a department_code")
    if decision.department_code in case_repo.returned_by(conn, case_id=case["id"]):
        raise Inconsistent(f"the rules send case {case['id']} to {decision.department_code}, which returned it; "
                           "dispatch it with a department_code")
    repo.insert_decision(conn, case_id=case["id"], decision=decision)
    return decision.department_code, routed_detail(decision)


def _auto_dispatch(conn, registered: ActionResult, policy: Policy) -> ActionResult:
    try:
        done = act(conn, case_id=registered.case_id, action="dispatch", actor=SYSTEM, policy=policy)
    except Unrouted as why:
        case_repo.notify(conn, kind="case", payload=unrouted_notice(registered.case_id, str(why)))
        return ActionResult(**{**registered.__dict__, "notes": [str(why)]})
    return ActionResult(**{**done.__dict__, "notes": [f"dispatched to {done.department_code} by the rules"]})


class Unrouted(Exception):
    """No rule had a recipient: the case stays registered, in the dispatcher's queue."""


def _clock(conn, *, start: datetime, limit: str, policy: Policy) -> dict:
    return clock_columns(load_calendar(conn), start=start, limit=limit, policy=policy)


def clock_columns(calendar, *, start: datetime, limit: str, policy: Policy) -> dict:
    """A fresh working-hours clock: start, deadline, yellow instant, and whether it is provisional."""
    d = due(calendar, start=start, limit=limit, policy=policy)
    return {"clock_start": d.start, "deadline": d.due, "yellow_at": d.yellow_at,
            "deadline_provisional": d.provisional, "escalation_level": 0, "deadline_explicit": False}


def _return(conn, case, req, actor, policy) -> tuple[dict, dict]:
    return {"department_code": None, "deadline": None, "yellow_at": None, "clock_start": None,
            "return_count": 1, "escalation_level": 0}, {"returned_by": case["department_code"]}


def _request_extension(conn, case, req, actor, policy) -> tuple[dict, dict]:
    if req.new_deadline is not None:
        _check_new_deadline(conn, case, req.new_deadline, policy)
    return {}, {"requested_deadline": req.new_deadline.isoformat() if req.new_deadline else None}


def _approve_extension(conn, case, req, actor, policy) -> tuple[dict, dict]:
    if req.new_deadline is None:
        raise Inconsistent("approving an extension needs new_deadline, a date and time with a time zone")
    _check_new_deadline(conn, case, req.new_deadline, policy)
    yellow, provisional = moved(load_calendar(conn), start=case["clock_start"], new_due=req.new_deadline,
                                policy=policy)
    return {"deadline": req.new_deadline, "yellow_at": yellow, "deadline_provisional": provisional,
            "deadline_explicit": True, "extension_count": 1, "escalation_level": 0}, {"old_deadline": _iso(case["deadline"])}


MAX_EXTENSION = timedelta(days=366)


def _check_new_deadline(conn, case, new: datetime, policy: Policy) -> None:
    if new.tzinfo is None or new.utcoffset() is None:
        raise InvalidInput("new_deadline needs a time zone, e.g. 2026-12-01T17:30:00+08:00")
    if case["deadline"] and new <= case["deadline"]:
        raise Inconsistent("the new deadline must be later than the current one "
                           f"({case['deadline'].astimezone(policy.tz):%Y-%m-%d %H:%M})")
    if new > _now(conn) + MAX_EXTENSION:
        raise Inconsistent("the new deadline must be within a year from now")


def _handle(conn, case, req, actor, policy) -> tuple[dict, dict]:
    now = _now(conn)
    check = due(load_calendar(conn), start=now, limit=case["check_limit"], policy=policy)
    return {"handled_at": now, "check_deadline": check.due}, {}


def _check_fail(conn, case, req, actor, policy) -> tuple[dict, dict]:
    limit = case["time_limit"] or case["category_limit"]
    return {**_clock(conn, start=_now(conn), limit=limit, policy=policy), "rework_count": 1,
            "handled_at": None, "check_deadline": None}, {"rework": True}


def _close(conn, case, req, actor, policy) -> tuple[dict, dict]:
    return {"closed_at": _now(conn)}, {}


def _merge(conn, case, req, actor, policy) -> tuple[dict, dict]:
    into = req.into_case_id
    if into is None or into == case["id"]:
        raise Inconsistent("merge needs into_case_id, the id of another open case")
    target = case_repo.lock(conn, case_id=into)
    if target is None or not can_read(actor, target):
        raise CaseNotFound(f"no case {into} to merge into")  # the same answer for unseen and missing ids
    if target["status"] in FINAL:
        raise Inconsistent(f"case {into} is already {target['status']}; merge into an open case")
    case_repo.move_reports(conn, case_id=case["id"], into=into)
    case_repo.add_history(conn, case_id=into, actor=actor.username, actor_role=_merging_role(actor),
                          action="merged_in",
                          from_status=target["status"], to_status=target["status"],
                          note=f"case {case['id']} merged into this case as a duplicate",
                          detail={"merged_case_id": case["id"]})
    return {"merged_into": into}, {"into_case_id": into}


def _merging_role(actor: Actor) -> str:
    return next((r for r in sorted(STEPS["merge"].roles) if r in actor.roles), "")


def _reopen(conn, case, req, actor, policy) -> tuple[dict, dict]:
    return {"closed_at": None, "department_code": None, "deadline": None, "yellow_at": None,
            "clock_start": None, "handled_at": None, "check_deadline": None, "escalation_level": 0}, {}


def _iso(value) -> str | None:
    return value.isoformat() if value else None


EFFECTS = {
    "dispatch": _dispatch, "return": _return, "request_extension": _request_extension,
    "approve_extension": _approve_extension, "handle": _handle, "check_fail": _check_fail, "close": _close,
    "merge": _merge, "reopen": _reopen,
}


def _notify(conn, case: dict, step: Step, department: str | None, deadline) -> None:
    payload = notice(case, step, department, deadline)
    if payload is not None:
        case_repo.notify(conn, kind="case", payload=payload)

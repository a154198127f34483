"""What a registered report becomes, worked out in Python before anything is written: the steps it takes (register,
then dispatch by the rules), their history rows, the case's columns and the messages, as `act` would write them.

Pure: the reference data (rules, street units, calendar) and the transaction's time come in as values, so intake
can write the case directly in its final status in one round trip (dispatch/intake/service.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from dispatch.actor import SYSTEM, Actor, acting_role
from dispatch.casework.cases import dispatch_columns, routed_detail
from dispatch.casework.deadlines import provisional_note
from dispatch.casework.notices import notice, unrouted_notice
from dispatch.casework.workflow import INITIAL, STEPS
from dispatch.models import Policy
from dispatch.routing.choose import Decision, choose
from dispatch.routing.router import facts_of
from events.workclock import Calendar

# the case columns a dispatch sets that a new case has anyway
_NEW_CASE_HAS = frozenset({"handled_at"})


@dataclass
class Plan:
    """A new case's status after intake, with everything that has to be written for it."""

    status: str = INITIAL
    steps: list[dict] = field(default_factory=list)    # history rows after the report step, in order
    columns: dict = field(default_factory=dict)        # workflow columns of the case (department, clock)
    notices: list[dict] = field(default_factory=list)  # outbox payloads
    decision: Decision | None = None
    rule_set_id: int | None = None                    # of the rules the decision was made with
    department_code: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def version(self) -> int:
        """The version the case has after its steps, as if each had been an update (1 for a fresh case)."""
        return 1 + len(self.steps)


@dataclass(frozen=True)
class Lookups:
    """The reference data a plan needs, as plain values."""

    rule_set_id: int | None
    rules: list
    units: dict
    calendar: Calendar


def register(case: dict, *, actor: Actor, note: str, dups: list[dict], ref: Lookups | None, now: datetime,
             policy: Policy) -> Plan:
    """Register a fresh case at once; then route and dispatch it, unless likely duplicates need a dispatcher."""
    step = STEPS["register"]
    plan = Plan(status=step.target)
    plan.steps.append(_row(case, step, INITIAL, actor, acting_role(actor, step.roles, case, what=step.label), note))
    if dups:
        plan.notices.append({"case_id": case["id"], "to": {"roles": ["dispatcher"]},
                             "subject": f"case {case['id']} may duplicate case {dups[0]['id']}: merge or dispatch it"})
        plan.notes.append(f"{len(dups)} likely duplicate(s) nearby: a dispatcher decides to merge or dispatch")
        return plan
    _dispatch(plan, case, ref, now, policy)
    return plan


def _dispatch(plan: Plan, case: dict, ref: Lookups, now: datetime, policy: Policy) -> None:
    """The automatic dispatch that follows registering (cases.act's register → _auto_dispatch)."""
    plan.decision, plan.rule_set_id = choose(ref.rules, facts_of(case), ref.units), ref.rule_set_id
    department = plan.decision.department_code
    if department is None:
        plan.notices.append(unrouted_notice(case["id"], plan.decision.explanation))
        plan.notes.append(plan.decision.explanation)
        return
    step = STEPS["dispatch"]
    columns = dispatch_columns(ref.calendar, case=case, department=department, now=now, policy=policy)
    plan.columns = {k: v for k, v in columns.items() if k not in _NEW_CASE_HAS}
    plan.steps.append(_row(case, step, plan.status, SYSTEM, acting_role(SYSTEM, step.roles, case, what=step.label), "",
                           department_code=department, deadline=columns["deadline"],
                           detail=routed_detail(plan.decision)))
    payload = notice(case, step, department, columns["deadline"])
    if payload is not None:
        plan.notices.append(payload)
    plan.status, plan.department_code = step.target, department
    plan.notes.append(f"dispatched to {department} by the rules")
    if columns["deadline_provisional"]:
        plan.notes.append(provisional_note(columns["deadline"], tz=policy.tz))


def _row(case: dict, step, source: str, actor: Actor, role: str, note: str, **more) -> dict:
    if source not in step.sources:  # a programming error: the plan must follow the workflow table
        raise ValueError(f"{step.action} cannot start from {source}")
    return {"case_id": case["id"], "actor": actor.username, "actor_role": role, "action": step.action,
            "from_status": source, "to_status": step.target, "note": note, **more}

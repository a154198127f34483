"""Who hears of a workflow step: the outbox message each step sends (delivered by the worker, dispatch/casework/outbox.py).

Shared by the workflow actions (dispatch/casework/cases.py) and intake's direct insert (dispatch/intake/plan.py).
"""
from __future__ import annotations

from dispatch.casework.workflow import Step

# Who hears about each new status; recipients are resolved when the worker delivers (see dispatch/casework/outbox.py).
AUDIENCE = {
    "dispatched": lambda c, dep: {"roles": ["handler", "dept_head"], "department": dep},
    "returned": lambda c, dep: {"roles": ["dispatcher"]},
    "extension_requested": lambda c, dep: {"roles": ["shift_leader"]},
    "handled": lambda c, dep: {"roles": ["grid_officer"], "grid": c["grid_code"], "street": c["street_code"]},
    "checked": lambda c, dep: {"roles": ["shift_leader"]},
    "registered": lambda c, dep: {"roles": ["dispatcher"]},
    "awaiting_verification": lambda c, dep: {"roles": ["grid_officer"], "grid": c["grid_code"],
                                             "street": c["street_code"], "fallback": ["dispatcher"]},
}


def notice(case: dict, step: Step, department: str | None, deadline) -> dict | None:
    """The outbox message a step sends (None: nobody needs to hear of it)."""
    audience = AUDIENCE.get(step.target)
    if audience is None or (step.target == "accepted"):
        return None
    if step.target == "registered" and step.action != "reopen":
        return None  # registering is followed by automatic dispatch; the dispatchers hear if the rules find no one
    when = f", due {deadline:%Y-%m-%d %H:%M}" if deadline and step.target == "dispatched" else ""
    return {"case_id": case["id"], "to": audience(case, department),
            "subject": f"case {case['id']} {step.target} ({step.label}){when}"}


def unrouted_notice(case_id: int, why: str) -> dict:
    """The dispatchers' message about a case no rule could route."""
    return {"case_id": case_id, "to": {"roles": ["dispatcher"]}, "subject": f"case {case_id} needs a department: {why}"}

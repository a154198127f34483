"""The case workflow as an explicit table: which action moves a case from which status to which, and who may do it.

The database holds the same list (migration 0004, table workflow_transition) and a trigger refuses any other status
change; tests/test_workflow.py checks that the two lists are identical.
"""
from __future__ import annotations

from dataclasses import dataclass

from dispatch.roles import DEPARTMENT_ROLES, SYSTEM_ROLE

STATUSES = (
    "reported", "awaiting_verification", "registered", "rejected", "merged", "dispatched", "returned",
    "accepted", "extension_requested", "handled", "checked", "closed",
)
# Where every case starts: no step leads here (migration 0012's insert check finds it the same way).
INITIAL = "reported"
FINAL = frozenset({"closed", "rejected", "merged"})
# Statuses in which a department holds the case and its deadline runs.
WITH_DEPARTMENT = frozenset({"dispatched", "accepted", "extension_requested"})
# Statuses waiting for the dispatcher (nobody routed it yet, or a department gave it back).
DISPATCH_QUEUE = frozenset({"registered", "returned"})



@dataclass(frozen=True)
class Step:
    """One action: where it may start, where it ends, who may take it and what it needs."""

    action: str
    sources: tuple[str, ...]
    target: str
    roles: frozenset[str]
    needs_reason: bool = False
    needs_photo: bool = False
    label: str = ""


def _step(action, sources, target, roles, label, **needs) -> Step:
    return Step(action, tuple(sources), target, frozenset(roles), label=label, **needs)


STEPS = {s.action: s for s in (
    _step("register", ["reported", "awaiting_verification"], "registered",
          ["intake", "dispatcher", "grid_officer", SYSTEM_ROLE], "立案 register"),
    _step("await_verification", ["reported"], "awaiting_verification", [SYSTEM_ROLE], "待核实 await verification"),
    _step("reject", ["reported", "awaiting_verification"], "rejected",
          ["intake", "dispatcher", "grid_officer"], "不予立案 reject", needs_reason=True),
    _step("merge", ["reported", "awaiting_verification", "registered"], "merged",
          ["intake", "dispatcher", SYSTEM_ROLE], "合并 merge as duplicate"),
    _step("dispatch", ["registered", "returned"], "dispatched", ["dispatcher", SYSTEM_ROLE], "派遣 dispatch"),
    _step("accept", ["dispatched"], "accepted", DEPARTMENT_ROLES, "签收 accept"),
    _step("return", ["dispatched"], "returned", DEPARTMENT_ROLES, "回退 return", needs_reason=True),
    _step("request_extension", ["accepted"], "extension_requested", DEPARTMENT_ROLES, "延期申请 request extension",
          needs_reason=True),
    _step("approve_extension", ["extension_requested"], "accepted", ["shift_leader"], "延期批准 approve extension"),
    _step("refuse_extension", ["extension_requested"], "accepted", ["shift_leader"], "延期驳回 refuse extension",
          needs_reason=True),
    _step("handle", ["accepted"], "handled", DEPARTMENT_ROLES, "处置反馈 report back", needs_reason=True,
          needs_photo=True),
    _step("check_ok", ["handled"], "checked", ["grid_officer"], "核查通过 check passed"),
    _step("check_fail", ["handled"], "accepted", ["grid_officer"], "核查不通过 check failed (rework)",
          needs_reason=True),
    _step("close", ["checked"], "closed", ["shift_leader", SYSTEM_ROLE], "结案 close"),
    _step("reopen", ["closed", "rejected"], "registered", ["shift_leader", "admin"], "重新立案 reopen",
          needs_reason=True),
)}

# Actions that leave the status as it is but are recorded in the history.
NOTES = ("report", "escalate", "reroute", "imported")


def transitions() -> set[tuple[str, str, str]]:
    """Every (action, from, to) the workflow allows."""
    return {(s.action, src, s.target) for s in STEPS.values() for src in s.sources}


def actions_from(status: str) -> list[str]:
    """The actions that can start from a status."""
    return [s.action for s in STEPS.values() if status in s.sources]

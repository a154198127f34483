"""The paths cases take through the workflow, with their rates, for the generator (bench/generate_cases.py).

A *template* is one sequence of actions a case can take, from the report to its last step: how it arrived
(a grid officer's report registered at once, a hotline call registered by intake, a public report verified by
the grid officer), then rejection, merging, or handling with returns and re-dispatch, extension requests
(approved or refused), failed checks and rework, and reopening. Every template is walked on the workflow table
of `dispatch/casework/workflow.py` when it is built (a step the table does not allow is an error here, not in the data).
Each case draws one template; the steps that would lie after the generation time are cut off, so recent cases
are still open, in whatever status their path had reached.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

from dispatch.casework.workflow import STEPS

# How cases arrive: share, and the steps between the report and the first dispatch.
ENTRIES = {"officer": (0.55, ("register",)), "hotline": (0.35, ("register",)),
           "public": (0.10, ("await_verification", "register"))}
# Per entry: the share rejected and merged as duplicates (the rest is handled), and their steps after the report.
ENDINGS = {
    "officer": {"merge": (0.03, ("register", "merge"))},
    "hotline": {"reject": (0.04, ("reject",)), "merge": (0.02, ("merge",))},
    "public": {"reject": (0.20, ("await_verification", "reject")), "merge": (0.03, ("await_verification", "merge"))},
}
RETURNS = {0: 0.90, 1: 0.08, 2: 0.02}        # a department gives the case back; the dispatcher sends it elsewhere
EXTENSIONS = {None: 0.92, "approve_extension": 0.06, "refuse_extension": 0.02}
REWORKS = {0: 0.88, 1: 0.10, 2: 0.02}        # the grid officer's check fails; the department handles it again
REOPENED = 0.01                              # a closed case reopened by the shift leader and handled once more
HANDLING = ("dispatch", "accept", "handle", "check_ok", "close")

# Delay of each step after the one before, in office hours: (median, lognormal sigma), or a share of the case's
# handling limit ("limit"); zero-delay steps happen in the same transaction as the step before.
DELAYS = {
    "register": (0.3, 1.0), "await_verification": (0.0, 0.0), "reject": (0.5, 1.0), "merge": (1.0, 1.0),
    "dispatch": (0.5, 1.0), "accept": (0.5, 1.2), "return": (1.0, 1.0), "request_extension": ("limit", 0.3, 0.5),
    "approve_extension": (2.0, 0.8), "refuse_extension": (2.0, 0.8), "handle": ("limit", 0.45, 0.7),
    "check_ok": (0.8, 1.0), "check_fail": (0.8, 1.0), "close": (0.5, 1.0), "reopen": (24.0, 1.0),
}
# Steps a person with a reason takes write one of these notes (the workflow requires a reason for them).
NOTES = {"reject": "不属于受理范围 outside our remit", "return": "不属于本单位职责 not ours: another department",
         "request_extension": "需协调多部门 needs several departments", "refuse_extension": "时限内可完成 can be done in time",
         "handle": "已处置完毕 handled, photo attached", "check_fail": "现场未整改到位 not fixed on site",
         "reopen": "市民再次反映 reported again"}


@dataclass(frozen=True)
class Template:
    """One path: its entry, actions (the first is 'report'), statuses after each action, and its share."""

    entry: str
    actions: tuple[str, ...]
    statuses: tuple[str, ...]
    share: float


def walk(actions: tuple[str, ...]) -> tuple[str, ...]:
    """The status after each action, checked against the workflow table (ValueError on a step it refuses)."""
    status, out = "reported", ["reported"]
    for action in actions[1:]:
        step = STEPS[action]
        if status not in step.sources:
            raise ValueError(f"{action} cannot start from {status} ({' → '.join(actions)})")
        status = step.target
        out.append(status)
    return tuple(out)


def templates() -> list[Template]:
    """Every path with its share of all cases (the shares add up to 1)."""
    out = []
    for entry, (share, before) in ENTRIES.items():
        ended = 0.0
        for rate, steps in ENDINGS[entry].values():
            out.append(_template(entry, ("report", *steps), share * rate))
            ended += rate
        for (r, pr), (e, pe), (w, pw), reopen in itertools.product(
                RETURNS.items(), EXTENSIONS.items(), REWORKS.items(), (False, True)):
            handled = ("dispatch", "return") * r + ("dispatch", "accept")
            handled += ("request_extension", e) if e else ()
            handled += ("handle",) + ("check_fail", "handle") * w + ("check_ok", "close")
            handled += ("reopen", *HANDLING) if reopen else ()
            p = share * (1 - ended) * pr * pe * pw * (REOPENED if reopen else 1 - REOPENED)
            out.append(_template(entry, ("report", *before, *handled), p))
    return out


def _template(entry: str, actions: tuple[str, ...], share: float) -> Template:
    return Template(entry, actions, walk(actions), share)

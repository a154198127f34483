"""Who acts: a plain value the domain receives from the edge (dispatch/accounts.py makes it from a token), and the
scope rules: which cases, which street an actor reaches. Who may use a capability at all: dispatch/permissions.py."""
from __future__ import annotations

from dataclasses import dataclass, field

from core.errors import Forbidden
from dispatch.permissions import require
from dispatch.roles import DEPARTMENT_ROLES, ROLES, SYSTEM_ROLE

# Roles that see and act on the whole district unless the account is limited to a street.
CENTRE_ROLES = frozenset({"intake", "dispatcher", "shift_leader", "admin", "leader", SYSTEM_ROLE})
STREET_UNITS = ("street", "community", "grid", "officer")  # what a street-scoped reader may evaluate by


@dataclass(frozen=True)
class Actor:
    """A user as the domain sees it: name, roles and scope (grids, street, department)."""

    username: str
    roles: frozenset[str]
    grid_codes: frozenset[str] = field(default_factory=frozenset)
    street_code: str | None = None
    department_code: str | None = None

    def has(self, *roles: str) -> bool:
        """True if the actor holds any of the roles."""
        return bool(self.roles.intersection(roles))


SYSTEM = Actor("system", frozenset({SYSTEM_ROLE}))


def role_covers(actor: Actor, role: str, case: dict) -> bool:
    """Whether `role`, held by the actor, reaches this case (by grid, street or department)."""
    if role not in actor.roles:
        return False
    if role == "grid_officer":
        return case["grid_code"] in actor.grid_codes or (
            actor.street_code is not None and case["street_code"] == actor.street_code)
    if role in DEPARTMENT_ROLES:
        return actor.department_code is not None and case.get("department_code") == actor.department_code
    return actor.street_code is None or case["street_code"] == actor.street_code


def acting_role(actor: Actor, allowed: frozenset[str], case: dict, *, what: str) -> str:
    """The first of the actor's roles that may do `what` on this case, or Forbidden saying why not."""
    for role in sorted(allowed & actor.roles):
        if role_covers(actor, role, case):
            return role
    if not allowed & actor.roles:
        needed = ", ".join(sorted(allowed - {SYSTEM_ROLE})) or "the system"
        raise Forbidden(f"{actor.username} may not {what}: it needs the role {needed}")
    raise Forbidden(f"{actor.username} may not {what} on case {case['id']}: it is outside their scope "
                    f"({scope_text(actor)})")


def same_street(actor: Actor, case: dict) -> bool:
    """Whether one of the actor's grids lies in the case's street (grid codes begin with their street's code)."""
    return any(g.startswith(case["street_code"]) for g in actor.grid_codes)


def can_read(actor: Actor, case: dict) -> bool:
    """Whether the actor may see a case: by role and scope, or because they reported it."""
    return case.get("reporter") == actor.username or any(role_covers(actor, role, case) for role in actor.roles)


def scope_text(actor: Actor) -> str:
    """The actor's scope in words, for error messages."""
    parts = []
    if actor.grid_codes:
        parts.append(f"grids {', '.join(sorted(actor.grid_codes)[:5])}")
    if actor.street_code:
        parts.append(f"street {actor.street_code}")
    if actor.department_code:
        parts.append(f"department {actor.department_code}")
    return "; ".join(parts) or "no scope"


def check_roles(roles: list[str]) -> list[str]:
    """Validate role names for an account."""
    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        raise ValueError(f"unknown role(s) {', '.join(unknown) or '(none)'}; use {', '.join(ROLES)}")
    return roles


def scope_filter(actor: Actor) -> dict:
    """The narrowest filter that still shows the actor every case they may see."""
    if actor.roles & CENTRE_ROLES and actor.street_code is None:
        return {"street": None, "department": None, "grids": None}
    if actor.roles <= DEPARTMENT_ROLES:  # a department sees what it holds, wherever that is
        return {"street": None, "department": actor.department_code or "", "grids": None}
    if actor.street_code is not None:
        return {"street": actor.street_code, "department": None, "grids": None}
    if actor.roles & DEPARTMENT_ROLES:
        return {"street": None, "department": actor.department_code or "", "grids": None}
    return {"street": None, "department": None, "grids": sorted(actor.grid_codes)}


def evaluation_street(actor: Actor, *, by: str, street: str | None = None) -> str | None:
    """The street an actor's evaluation by `by` is limited to (None: the whole district), or Forbidden; `street`:
    the street the reader chose (the map's street filter), within their own."""
    require(actor, "read_statistics")
    if by == "officer":
        require(actor, "read_officer_statistics")
    if actor.street_code and by not in STREET_UNITS:
        raise Forbidden(f"{actor.username} sees the statistics of street {actor.street_code} only: "
                        f"use by={', '.join(STREET_UNITS)}")
    return within_street(actor, actor.street_code, street)


def within_street(actor: Actor, own: str | None, street: str | None) -> str | None:
    """The street a reader limited to `own` (None: every street) chose, or their own; Forbidden beyond it."""
    if street and own and street != own:
        raise Forbidden(f"{actor.username} sees street {own} only, not {street}")
    return street or own


def dashboard_scope(actor: Actor, *, street: str | None = None) -> dict:
    """The dashboard's scope: the reader's (scope_filter), narrowed to the street they chose."""
    scope = scope_filter(actor)
    return {**scope, "street": within_street(actor, scope["street"], street)}

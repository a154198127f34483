"""Who may do what, beyond the case workflow: one table, permission → the roles that hold it, and require() that
every entry point calls (the API's role dependencies, the pages, the domain's own functions). The case workflow's
steps name their roles in dispatch/casework/workflow.py (STEPS), and the scope rules (which cases, which street) are
dispatch/actor.py's; this table says who may use each capability at all."""
from __future__ import annotations

from typing import TYPE_CHECKING

from core.errors import Forbidden
from dispatch.roles import SYSTEM_ROLE

if TYPE_CHECKING:  # dispatch/actor.py asks this table; the table needs the Actor only as a type
    from dispatch.actor import Actor

# The statistics (综合评价, the dashboard, exports of cases) are read by the centre and by department heads:
# department rankings are published inside the government. Figures per grid officer are about people, so only
# leaders read them (a street leader only those of the officers of their street: dispatch/actor.py).
STATISTICS_READERS = frozenset({"leader", "admin", "shift_leader", "dispatcher", "dept_head"})

PERMISSIONS: dict[str, tuple[frozenset[str], str]] = {
    # permission: (roles, what it lets them do, as an error message says it)
    "file_reports": (frozenset({"grid_officer", "intake", "dispatcher", "admin", SYSTEM_ROLE}), "file reports"),
    "upload_photos": (frozenset({"grid_officer", "handler", "dept_head"}), "upload photos"),
    "read_statistics": (STATISTICS_READERS, "read the statistics"),
    "read_dashboard": (STATISTICS_READERS, "read the dashboard"),
    "export_cases": (STATISTICS_READERS, "export cases"),
    "read_officer_statistics": (frozenset({"leader"}), "read the statistics per grid officer"),
    "change_reference_data": (frozenset({"admin"}), "change reference data"),
    "manage_accounts": (frozenset({"admin"}), "manage accounts"),
    "use_officer_pages": (frozenset({"grid_officer"}), "use the grid officer's pages"),
    "work_the_queue": (frozenset({"handler", "dept_head"}), "work a department's queue"),
    "work_the_desk": (frozenset({"dispatcher", "intake", "shift_leader"}), "work the dispatch desk"),
}


def roles_for(permission: str) -> frozenset[str]:
    """The roles that hold a permission (KeyError for a permission the table does not know)."""
    return PERMISSIONS[permission][0]


def may(actor: Actor, permission: str) -> bool:
    """Whether the actor holds a role with the permission."""
    return bool(actor.roles & roles_for(permission))


def require(actor: Actor, permission: str) -> Actor:
    """The actor, or Forbidden naming the roles that would do."""
    roles, doing = PERMISSIONS[permission]
    if not actor.roles & roles:
        raise Forbidden(f"{actor.username} may not {doing}: it needs the role "
                        f"{', '.join(sorted(roles - {SYSTEM_ROLE}))}")
    return actor

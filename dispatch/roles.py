"""The roles an account can hold, and the system's own (the worker, automatic dispatch): below the actor, the
permissions and the workflow, which all name them."""
from __future__ import annotations

ROLES = ("grid_officer", "intake", "dispatcher", "handler", "dept_head", "shift_leader", "leader", "admin")
SYSTEM_ROLE = "system"
DEPARTMENT_ROLES = frozenset({"handler", "dept_head"})

"""The case rules as SQL over a case row `c`: the functions of migration 0016 (case_is_final, case_is_held,
case_light), which PostgreSQL inlines, so a call plans as the status list it stands for and still matches the
partial indexes on the held cases. Every query of the dispatch layer says the rules through these names; the lists
themselves are dispatch/casework/workflow.py's (tests/test_case_rules_sql.py keeps the two equal)."""
from __future__ import annotations

IS_FINAL = "case_is_final(c.status)"
IS_OPEN = "NOT case_is_final(c.status)"
IS_HELD = "case_is_held(c.status)"
# The deadline as the partial index event_case_held_due_idx holds it: a held case without one never falls due.
DUE = "coalesce(c.deadline, 'infinity'::timestamptz)"
OVERDUE = f"({IS_HELD} AND {DUE} < now())"
# Held and not yet overdue: the only cases the rollups' "held" count must lose to give overdue at this moment.
NOT_DUE = f"{IS_HELD} AND {DUE} >= now()"
LIGHT = "case_light(c.status, c.deadline, c.yellow_at, now())"

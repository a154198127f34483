"""The SQL of the evaluation (综合评价): tenures, intake and officer figures for a period and the one before it.

The counting rules these statements implement are written in docs/evaluation.md.
"""
from __future__ import annotations

from psycopg import sql

PERIODS = """
periods (period, s, e) AS (VALUES ('current', %(start)s::timestamptz, %(end)s::timestamptz),
                                  ('previous', %(prev_start)s::timestamptz, %(start)s::timestamptz))
"""

# One row per tenure dispatched or due in either period, from case_tenure: migration 0013's tenure_recount()
# writes the tenure rule (its dispatch, return, rework, extension, close, standing report-back and deadline in
# force) once, kept up to date by the trigger on case_history. On time and overdue are judged here, at `now`.
TENURES = """
t AS (
    SELECT tn.*, tn.handled AND tn.handled_at <= tn.due_at AS on_time,
           NOT tn.handled AND tn.due_at < coalesce(%(now)s::timestamptz, now()) AS overdue,
           -- not yet due: still in time and not reported back; counted as dispatched, not yet as due
           NOT tn.handled AND tn.due_at >= coalesce(%(now)s::timestamptz, now()) AS not_yet_due
    FROM case_tenure tn
    WHERE tn.dispatched_at >= %(prev_start)s AND tn.dispatched_at < %(end)s
       OR tn.due_at >= %(prev_start)s AND tn.due_at < %(end)s
)
"""

TENURE_AGG = """
tenure_agg AS (
    SELECT {code} AS code, min({name}) AS name, p.period,
           count(*) FILTER (WHERE f.is_sent) AS dispatched,
           count(*) FILTER (WHERE f.is_sent AND t.returned) AS returned,
           count(*) FILTER (WHERE f.is_due) AS due,
           count(*) FILTER (WHERE f.is_due AND t.handled) AS handled,
           count(*) FILTER (WHERE f.is_due AND t.on_time) AS on_time,
           count(*) FILTER (WHERE f.is_due AND t.reworked) AS reworked,
           count(*) FILTER (WHERE f.is_due AND t.extended) AS extended,
           count(*) FILTER (WHERE f.is_due AND t.closed) AS closed,
           count(*) FILTER (WHERE f.is_due AND t.closed AND t.on_time) AS on_time_closed,
           count(*) FILTER (WHERE f.is_due AND t.overdue) AS overdue_pending,
           -- epoch seconds, not timestamps: the mean handling time counts them all at once in numpy
           array_agg(extract(epoch FROM t.dispatched_at)::float8 ORDER BY t.case_id, t.tenure)
               FILTER (WHERE f.is_due AND t.handled) AS spans_from,
           array_agg(extract(epoch FROM t.handled_at)::float8 ORDER BY t.case_id, t.tenure)
               FILTER (WHERE f.is_due AND t.handled) AS spans_to
    FROM t JOIN event_case c ON c.id = t.case_id
    LEFT JOIN department d ON d.code = t.department_code
    CROSS JOIN periods p
    CROSS JOIN LATERAL (SELECT t.dispatched_at >= p.s AND t.dispatched_at < p.e AS is_sent,
                               NOT t.returned AND NOT t.not_yet_due AND t.due_at >= p.s AND t.due_at < p.e
                                   AS is_due) f
    WHERE (f.is_sent OR f.is_due) AND (%(street)s::text IS NULL OR c.street_code = %(street)s::text)
    GROUP BY {code}, p.period
)
"""

INTAKE_AGG = """
intake_agg AS (
    SELECT {code} AS code, min({name}) AS name, p.period,
           count(*) FILTER (WHERE h.action = 'report') AS reported,
           count(DISTINCT h.case_id) FILTER (WHERE h.action = 'register') AS registered
    FROM case_history h JOIN event_case c ON c.id = h.case_id
    JOIN periods p ON h.at >= p.s AND h.at < p.e
    WHERE h.action IN ('report', 'register')
    GROUP BY {code}, p.period
)
"""

# The same from the per-day rollup history_day (report and register steps per day of the rollups' zone, per unit):
# a case is registered once (the workflow has no way back to the statuses register starts from), so the steps
# are the cases.
INTAKE_DAYS = """
intake_agg AS (
    SELECT h.code, min(h.name) AS name, p.period,
           (sum(h.n) FILTER (WHERE h.action = 'report'))::bigint AS reported,
           (sum(h.n) FILTER (WHERE h.action = 'register'))::bigint AS registered
    FROM (SELECT code, name, day, action, n FROM history_day
          WHERE dim = %(dim)s AND day >= %(prev_day)s AND day < %(end_day)s
          UNION ALL
          SELECT code, name, day, action, n FROM history_day_delta
          WHERE dim = %(dim)s AND day >= %(prev_day)s AND day < %(end_day)s) h
    JOIN (VALUES ('current', %(start_day)s::date, %(end_day)s::date),
                 ('previous', %(prev_day)s::date, %(start_day)s::date)) p (period, s, e) ON h.day >= p.s AND h.day < p.e
    GROUP BY h.code, p.period
    HAVING sum(h.n) <> 0
)
"""
DIMS = {"district": "D", "street": "s", "community": "c", "grid": "g"}

REGION_SELECT = """
SELECT coalesce(a.code, i.code) AS code, coalesce(a.name, i.name) AS name, coalesce(a.period, i.period) AS period,
       coalesce(i.reported, 0) AS reported, coalesce(i.registered, 0) AS registered, a.dispatched, a.returned,
       a.due, a.handled, a.on_time, a.reworked, a.extended, a.closed, a.on_time_closed, a.overdue_pending,
       a.spans_from, a.spans_to
FROM tenure_agg a FULL JOIN intake_agg i ON i.code = a.code AND i.period = a.period
"""

DEPARTMENT_SELECT = "SELECT a.* FROM tenure_agg a"

# Per officer: reports filed (and how many of those cases stand rejected), and each check with what decides
# whether it was on time: the check deadline stored with the report-back, else the case's (if it is that
# report-back's), else the handle time and the category's check limit to count it again. With a street, only the
# officers whose account lies in it (its street, or a unit grid of it: grid codes begin with their street's code).
OFFICERS = """
WITH {periods}, reports AS (
    SELECT c.reporter AS code, p.period, count(*) AS reports, count(*) FILTER (WHERE c.status = 'rejected') AS rejected
    FROM case_history h JOIN event_case c ON c.id = h.case_id JOIN periods p ON h.at >= p.s AND h.at < p.e
    WHERE h.action = 'report' AND (h.actor_role = 'grid_officer' OR c.source = 'officer') AND c.reporter <> ''
    GROUP BY c.reporter, p.period
), checks AS (
    SELECT h.actor AS code, p.period, count(*) AS checks, array_agg(h.at ORDER BY h.id) AS checked_at,
           array_agg(coalesce((hd.detail ->> 'check_deadline')::timestamptz,
                              CASE WHEN c.handled_at = hd.at THEN c.check_deadline END) ORDER BY h.id) AS stored,
           array_agg(hd.at ORDER BY h.id) AS handled_at, array_agg(cat.check_limit ORDER BY h.id) AS check_limit
    FROM case_history h JOIN periods p ON h.at >= p.s AND h.at < p.e
    JOIN event_case c ON c.id = h.case_id JOIN category cat ON cat.code = c.category_code
    LEFT JOIN LATERAL (SELECT x.at, x.detail FROM case_history x
                       WHERE x.case_id = h.case_id AND x.action = 'handle' AND (x.at, x.id) < (h.at, h.id)
                       ORDER BY x.at DESC, x.id DESC LIMIT 1) hd ON true
    WHERE h.action IN ('check_ok', 'check_fail')
    GROUP BY h.actor, p.period
)
SELECT coalesce(r.code, k.code) AS code, coalesce(u.display_name, r.code, k.code) AS name,
       coalesce(r.period, k.period) AS period, coalesce(r.reports, 0) AS reports,
       coalesce(r.rejected, 0) AS rejected, coalesce(k.checks, 0) AS checks, k.checked_at, k.stored, k.handled_at,
       k.check_limit
FROM reports r FULL JOIN checks k ON k.code = r.code AND k.period = r.period
LEFT JOIN app_user u ON u.username = coalesce(r.code, k.code)
WHERE %(street)s::text IS NULL OR u.street_code = %(street)s::text
   OR EXISTS (SELECT FROM unnest(u.grid_codes) g WHERE left(g, length(%(street)s::text)) = %(street)s::text)
"""

# A period as the API documents it: a year, a month, an ISO week or a day, of the years 1900-2999 (here, beside BY,
# so that the web layer states both without importing the evaluation's pandas).
PERIOD = "^(19|2[0-9])[0-9]{2}(-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01]))?|-[Ww](0[1-9]|[1-4][0-9]|5[0-3]))?$"

UNITS = {
    "department": (sql.SQL("t.department_code"), sql.SQL("coalesce(d.name, t.department_code)")),
    "district": (sql.SQL("c.district_code"), sql.SQL("c.district_name")),
    "street": (sql.SQL("c.street_code"), sql.SQL("c.street_name")),
    "community": (sql.SQL("c.community_code"), sql.SQL("c.community_name")),
    "grid": (sql.SQL("c.grid_code"), sql.SQL("c.grid_name")),
}
BY = (*UNITS, "officer")


def unit_query(by: str, *, days: bool = True) -> sql.Composed:
    """Every indicator per department or region, both periods, in one statement (`days`: intake from the rollup)."""
    code, name = UNITS[by]
    parts = [sql.SQL("WITH"), sql.SQL(PERIODS + ","), sql.SQL(TENURES + ","),
             sql.SQL(TENURE_AGG).format(code=code, name=name)]
    if by == "department":
        return sql.SQL(" ").join([*parts, sql.SQL(DEPARTMENT_SELECT)])
    intake = sql.SQL(INTAKE_DAYS) if days else sql.SQL(INTAKE_AGG).format(code=code, name=name)
    return sql.SQL(" ").join([*parts, sql.SQL(","), intake, sql.SQL(REGION_SELECT)])


def officer_query() -> sql.Composed:
    """Reports, rejections and checks per grid officer, both periods, in one statement."""
    return sql.SQL(OFFICERS).format(periods=sql.SQL(PERIODS))



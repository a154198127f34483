"""The steps of generated cases as flat numpy arrays (one row per step, each case's rows together and in order),
built per path template, and the COPY rows of cases, reports, history and routing decisions made from them.

Times are local wall-clock microseconds on the office axis of `events/workclock_many.py` (as the vectorised clock
counts); deadlines come from `deadline_many`, once per time limit. What is "in force" after a step (department,
deadline, handling time…) is a forward fill over the rows of a case, restarted by the steps that clear it, as the
live effects in `dispatch/casework/cases.py` set and clear those columns.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.case_paths import DELAYS
from events.workclock import Limit
from events.workclock_many import deadline_many

US = 1_000_000
HOUR = 3600 * US
NAT = np.iinfo(np.int64).min
MAX_DELAY = 300 * HOUR
SOURCES = {"officer": "officer", "hotline": "12345", "public": "public"}


@dataclass
class History:
    """One row per step of every case of a chunk (future steps included; `kept` marks those up to now)."""

    case: np.ndarray
    entry: np.ndarray
    action: np.ndarray
    before: np.ndarray
    after: np.ndarray
    at: np.ndarray
    sent_to: np.ndarray   # the department a dispatch sends the case to
    by_rules: np.ndarray  # a dispatch decided by the rules (the system), not by a dispatcher
    kept: np.ndarray
    clock: dict | None = None

    @classmethod
    def build(cls, w, cases: dict, rng) -> "History":
        """Draw every case's step times along its path, then count its deadlines."""
        pieces = []
        bounds = np.searchsorted(cases["path"], np.arange(len(w.paths) + 1))
        hours = _limit_hours(w, cases["category"])
        departments = np.array(sorted(w.ref.departments), dtype=object)
        for k, tpl in enumerate(w.paths):
            if bounds[k] < bounds[k + 1]:
                pieces.append(_path(w, tpl, np.arange(bounds[k], bounds[k + 1]), cases, hours, departments, rng))
        flat = {key: np.concatenate([p[key] for p in pieces]) for key in pieces[0]}
        history = cls(**flat, kept=flat["at"] <= w.now)
        history.clock = _clocks(w, cases, history)
        return history


def _limit_hours(w, category: np.ndarray) -> np.ndarray:
    """Each case's handling limit in office hours (what the handling delays are drawn against)."""
    day = w.policy.hours.day_length.total_seconds() / 3600
    per_unit = {"working_hours": 1.0, "working_days": day, "calendar_hours": day / 24}
    hours = {c: Limit.parse(cat.time_limit).value * per_unit[Limit.parse(cat.time_limit).unit]
             for c, cat in w.ref.categories.items()}
    return pd.Series(category).map(hours).to_numpy(float)


def _path(w, tpl, idx: np.ndarray, cases: dict, hours: np.ndarray, departments: np.ndarray, rng) -> dict:
    g, steps = len(idx), len(tpl.actions)
    at = np.empty((g, steps), dtype=np.int64)
    at[:, 0] = cases["reported"][idx]
    sent = np.full((g, steps), None, dtype=object)
    rules = np.zeros((g, steps), dtype=bool)
    routed = np.array([d.department_code for d in cases["decision"][idx]], dtype=object)
    for j, action in enumerate(tpl.actions[1:], start=1):
        delay = _delay(action, tpl.entry, hours[idx], rng)
        if action == "dispatch":
            if tpl.actions[j - 1] == "register":  # the automatic dispatch right after registering
                rules[:, j] = routed != None  # noqa: E711  (element-wise)
                sent[:, j] = np.where(rules[:, j], routed, rng.choice(departments, g))
                delay[rules[:, j]] = 0
            else:  # a dispatcher sends it again, to another department than the one before
                earlier = next(i for i in range(j - 1, 0, -1) if tpl.actions[i] == "dispatch")
                shift = rng.integers(1, len(departments), g)
                where = np.searchsorted(departments, sent[:, earlier].astype(str))
                sent[:, j] = departments[(where + shift) % len(departments)]
        at[:, j] = w.axis.add(at[:, j - 1], delay)
    return {"case": np.repeat(idx, steps), "entry": np.full(g * steps, tpl.entry, dtype=object),
            "action": np.tile(np.array(tpl.actions, dtype=object), g),
            "before": np.tile(np.array((None,) + tpl.statuses[:-1], dtype=object), g),
            "after": np.tile(np.array(tpl.statuses, dtype=object), g), "at": at.ravel(), "sent_to": sent.ravel(),
            "by_rules": rules.ravel()}


def _delay(action: str, entry: str, hours: np.ndarray, rng) -> np.ndarray:
    """Office time between a step and the one before, in microseconds."""
    spec = DELAYS[action]
    if action == "register" and entry == "officer":
        return np.zeros(len(hours), dtype=np.int64)  # the officer's own report registers at once
    if action in ("register", "reject") and entry == "public":
        spec = (2.0, 1.0)  # the grid officer goes to look first
    if spec[0] == "limit":
        median, sigma = spec[1] * hours, spec[2]
    else:
        median, sigma = np.full(len(hours), spec[0]), spec[1]
    if not sigma:
        return np.zeros(len(hours), dtype=np.int64)
    drawn = median * rng.lognormal(0.0, sigma, len(hours)) * HOUR
    return np.minimum(drawn, MAX_DELAY).astype(np.int64)


def last_set(sets: np.ndarray, resets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row, the last row up to it that set or cleared a value, and whether that row set it."""
    marks = np.where(sets | resets, np.arange(len(sets)), -1)
    last = np.maximum.accumulate(marks)
    valid = last >= 0
    valid[valid] = sets[last[valid]]
    return np.maximum(last, 0), valid


def _clocks(w, cases: dict, h: History) -> dict:
    """Deadlines: counted at each dispatch and failed check; an approved extension doubles the limit from the
    tenure's clock start. Then what is in force after every row."""
    n = len(h.at)
    start, due, yellow = (np.full(n, NAT, dtype=np.int64) for _ in range(3))
    provisional = np.zeros(n, dtype=bool)
    limit = cases["limit"] = np.array([w.ref.categories[c].time_limit for c in cases["category"]], dtype=object)
    row_limit = limit[h.case]
    fresh = np.isin(h.action, ("dispatch", "check_fail"))
    _count(w, fresh, h.at, row_limit, 1, start, due, yellow, provisional)
    reset = np.isin(h.action, ("report", "return", "reopen"))
    last, valid = last_set(fresh, reset)
    extended = h.action == "approve_extension"
    _count(w, extended, start[last], row_limit, 2, start, due, yellow, provisional)
    last, valid = last_set(fresh | extended, reset)
    clock = {"start": np.where(valid, start[last], NAT), "deadline": np.where(valid, due[last], NAT),
             "yellow": np.where(valid, yellow[last], NAT), "provisional": valid & provisional[last],
             "explicit": valid & extended[last]}
    holder_at, held = last_set(h.action == "dispatch", reset)
    clock["holder"] = np.where(held, h.sent_to[holder_at], None)
    handled, is_handled = last_set(h.action == "handle", np.isin(h.action, ("report", "dispatch", "check_fail",
                                                                           "reopen")))
    check = np.full(n, NAT, dtype=np.int64)
    checks = np.array([w.ref.categories[c].check_limit for c in cases["category"]], dtype=object)[h.case]
    _count(w, h.action == "handle", h.at, checks, 1, np.full(n, NAT), check, np.full(n, NAT), np.zeros(n, bool))
    clock["handled_at"] = np.where(is_handled, h.at[handled], NAT)
    clock["check_deadline"] = np.where(is_handled, check[handled], NAT)
    closed, is_closed = last_set(h.action == "close", np.isin(h.action, ("report", "reopen")))
    clock["closed_at"] = np.where(is_closed, h.at[closed], NAT)
    sent, was_sent = last_set(h.action == "dispatch", h.action == "report")
    clock["dispatched_at"] = np.where(was_sent, h.at[sent], NAT)
    return clock


def _count(w, rows: np.ndarray, starts: np.ndarray, limits: np.ndarray, factor: int, *out) -> None:
    """The vectorised clock for the marked rows, once per time limit (times `factor`), into the out arrays."""
    start, due, yellow, provisional = out
    for text in np.unique(limits[rows].astype(str)):
        pick = np.flatnonzero(rows & (limits == text))
        one = Limit.parse(text)
        local = pd.Series(starts[pick].astype("datetime64[us]")).dt.tz_localize(w.policy.tz)
        d = deadline_many(local, Limit(one.value * factor, one.unit), calendar=w.ref.calendar,
                          hours=w.policy.hours, tz=w.policy.tz, yellow_fraction=w.policy.yellow_fraction)
        for target, series in ((start, d.start), (due, d.due), (yellow, d.yellow_at)):
            target[pick] = series.dt.tz_localize(None).to_numpy("datetime64[us]").astype(np.int64)
        provisional[pick] = d.provisional

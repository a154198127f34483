"""COPY rows of generated cases: each case's columns as its steps leave them, its report, its history rows (who
took each step, with the note, department, deadline and detail the live workflow writes) and routing decisions."""
from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pandas as pd
import shapely

from bench.case_history import NAT, SOURCES, History
from bench.case_paths import NOTES
from dispatch.casework.outbox import LEVELS
from dispatch.casework.workflow import FINAL, WITH_DEPARTMENT
from dispatch.exchange import bulk_repo

EMPTY = bulk_repo.jsonb("{}")
CASE_COLUMNS = (
    "id", "status", "category_code", "description", "geom", "release_id", "district_code", "district_name",
    "street_code", "street_name", "community_code", "community_name", "grid_code", "grid_name", "zones",
    "created_at", "updated_at", "version", "source", "reporter", "department_code", "dispatched_at", "clock_start",
    "deadline", "yellow_at", "deadline_provisional", "time_limit", "handled_at", "check_deadline", "closed_at",
    "escalation_level", "dispatch_count", "return_count", "rework_count", "extension_count", "merged_into",
    "deadline_explicit")
REPORT_COLUMNS = ("case_id", "category_code", "description", "geom", "input_lon", "input_lat", "input_crs", "source",
                  "reported_at", "reporter", "joined_case_id")
DECISION_COLUMNS = ("case_id", "at", "rule_set_id", "rule_id", "department_code", "inputs", "candidates",
                    "explanation")
COUNTERS = {"dispatch_count": "dispatch", "return_count": "return", "rework_count": "check_fail",
            "extension_count": "approve_extension"}


def final_state(w, cases: dict, h: History, rng) -> dict:
    """Each case's columns after its last step up to now, its escalation by the worker, and its merge target."""
    n = len(cases["path"])
    kept = np.flatnonzero(h.kept)
    last = kept[np.r_[h.case[kept][1:] != h.case[kept][:-1], True]]  # every case keeps its report: n rows
    c = h.clock
    s = {key: c[key][last] for key in ("holder", "deadline", "yellow", "start", "provisional", "explicit",
                                        "handled_at", "check_deadline", "closed_at", "dispatched_at")}
    s["status"], s["updated"] = h.after[last], h.at[last]
    for column, action in COUNTERS.items():
        s[column] = np.bincount(h.case[kept][h.action[kept] == action], minlength=n)
    s["time_limit"] = np.where(s["dispatch_count"] > 0, cases["limit"], None)
    held = np.isin(s["status"], list(WITH_DEPARTMENT)) & (s["deadline"] != NAT)
    level = np.where(held & (s["deadline"] < w.now), 2, np.where(held & (s["yellow"] <= w.now), 1, 0))
    one, two = np.maximum(s["yellow"], s["updated"]), np.maximum(s["deadline"], s["updated"])
    s["escalation_level"] = level
    s["escalations"] = [(np.flatnonzero(level >= 1), 1, one[level >= 1]), (np.flatnonzero(level == 2), 2, two[level == 2])]
    s["updated"] = np.where(level == 2, two, np.where(level == 1, one, s["updated"]))
    s["version"] = np.bincount(h.case[kept], minlength=n) + (level > 0)  # the insert, one update per step, the worker's
    open_ = np.flatnonzero(~np.isin(s["status"], list(FINAL)))
    s["merged_into"] = np.where(s["status"] == "merged", open_[rng.integers(0, max(len(open_), 1), n)]
                                if len(open_) else -1, -1)
    return s


def case_columns(w, cases: dict, s: dict, ids: np.ndarray) -> tuple[tuple, object]:
    """The event_case rows, in CASE_COLUMNS order."""
    names, ref = w.ref.names, w.ref
    geoms = _geoms(cases)
    zones = _zones(cases["zones"])
    reporter = _report_actor(cases)
    t = {k: _times(w, s[k]) for k in ("updated", "dispatched_at", "start", "deadline", "yellow", "handled_at",
                                       "check_deadline", "closed_at")}
    created = _times(w, cases["reported"])
    source = pd.Series(cases["entry"]).map(SOURCES).to_numpy()
    merged = np.where(s["merged_into"] >= 0, ids[np.maximum(s["merged_into"], 0)], 0)
    rows = ((int(i), st, cat, "generated case", g, ref.release_id, d, names[d], sr, names[sr], cm, names[cm], gr,
             names[gr], z, cr, up, int(v), so, rp, dep, ds, cs, dl, yl, bool(pv), tl, hd, ck, cl, int(lv), int(a),
             int(b), int(c), int(e), int(m) if m else None, bool(ex))
            for i, st, cat, g, d, sr, cm, gr, z, cr, up, v, so, rp, dep, ds, cs, dl, yl, pv, tl, hd, ck, cl, lv, a, b,
            c, e, m, ex in zip(
                ids, s["status"], cases["category"], geoms, cases["district"], cases["street"], cases["community"],
                cases["grid"], zones, created, t["updated"], s["version"], source, reporter, s["holder"],
                t["dispatched_at"], t["start"], t["deadline"], t["yellow"], s["provisional"], s["time_limit"],
                t["handled_at"], t["check_deadline"], t["closed_at"], s["escalation_level"], s["dispatch_count"],
                s["return_count"], s["rework_count"], s["extension_count"], merged, s["explicit"]))
    return CASE_COLUMNS, rows


def other_rows(w, cases: dict, h: History, s: dict, ids: np.ndarray) -> dict:
    """The report, case_history and routing_decision rows: {table: (columns, rows)}."""
    merged = np.where(s["merged_into"] >= 0, ids[np.maximum(s["merged_into"], 0)], 0)
    reports = ((int(i), cat, "generated case", g, float(x), float(y), "EPSG:4326", so, at, rp, int(m) if m else None)
               for i, cat, g, x, y, so, at, rp, m in zip(
                   ids, cases["category"], _geoms(cases), cases["lon"], cases["lat"],
                   pd.Series(cases["entry"]).map(SOURCES).to_numpy(), _times(w, cases["reported"]),
                   _report_actor(cases), merged))
    return {"report": (REPORT_COLUMNS, reports),
            "case_history": (bulk_repo.HISTORY_COLUMNS, _history(w, cases, h, s, ids, merged)),
            "routing_decision": (DECISION_COLUMNS, _decisions(w, cases, h, ids))}


def _history(w, cases, h: History, s: dict, ids, merged):
    k = np.flatnonzero(h.kept)
    case, action = h.case[k], h.action[k]
    holder = h.clock["holder"]
    before_holder = np.r_[None, holder[:-1]][k]  # who held the case when the step was taken
    department = np.where(action == "return", before_holder, holder[k])
    deadline = np.where(np.isin(h.after[k], list(FINAL)), NAT, h.clock["deadline"][k])
    actor, role = _actors(cases, h.entry[k], action, case, h.by_rules[k], before_holder)
    note = np.array([NOTES.get(a, "") for a in action], dtype=object)
    grid = cases["grid"][case]
    note[action == "report"] = [f"reported in {w.ref.names[g]} ({g})" for g in grid[action == "report"]]
    note[(action == "register") & (h.entry[k] == "officer")] = "grid officer report: registered at once"
    detail = _details(w, cases, h, k, actor, before_holder, merged)
    times, deadlines = _times(w, h.at[k]), _times(w, deadline)
    for row in zip(ids[case].tolist(), times, actor, role, action, h.before[k], h.after[k], note, department,
                   deadlines, detail):
        yield (*row, False)
    for idx, level, at in s["escalations"]:  # the worker's escalations of cases still held
        light, why = LEVELS[level]
        due = _times(w, s["deadline"][idx])
        for i, when, d in zip(idx, _times(w, at), due):
            yield (int(ids[i]), when, "system", "system", "escalate", s["status"][i], s["status"][i],
                   f"{light}: {why} (due {d.astimezone(w.policy.tz):%Y-%m-%d %H:%M})", s["holder"][i], d,
                   bulk_repo.jsonb(json.dumps({"level": level, "light": light})), False)


def _actors(cases, entry, action, case, by_rules, holder) -> tuple[np.ndarray, np.ndarray]:
    """Who took each step, and in which role (as the live paths record them)."""
    n = len(action)
    people = {"officer": pd.Series(cases["grid"][case]).radd("officer-").to_numpy(dtype=object),
              "intake": np.array(["intake-1", "intake-2", "intake-3"], dtype=object)[case % 3],
              "dispatcher": np.array(["dispatcher-1", "dispatcher-2"], dtype=object)[case % 2],
              "leader": np.array(["leader-1", "leader-2"], dtype=object)[case % 2],
              "handler": pd.Series(holder, dtype=object).radd("handler-").to_numpy(dtype=object),
              "citizen": np.full(n, "citizen", dtype=object), "system": np.full(n, "system", dtype=object)}
    table = [("report", "officer", "officer", "grid_officer"), ("report", "hotline", "intake", "intake"),
             ("report", "public", "citizen", "public"), ("register", "officer", "officer", "grid_officer"),
             ("register", "hotline", "intake", "intake"), ("register", "public", "officer", "grid_officer"),
             ("reject", "hotline", "intake", "intake"), ("reject", "public", "officer", "grid_officer"),
             ("await_verification", None, "system", "system"), ("merge", None, "dispatcher", "dispatcher"),
             ("dispatch", None, "dispatcher", "dispatcher"), ("check_ok", None, "officer", "grid_officer"),
             ("check_fail", None, "officer", "grid_officer")]
    table += [(a, None, "handler", "handler") for a in ("accept", "return", "request_extension", "handle")]
    table += [(a, None, "leader", "shift_leader") for a in ("approve_extension", "refuse_extension", "close",
                                                             "reopen")]
    actor, role = np.empty(n, dtype=object), np.empty(n, dtype=object)
    for act, ent, who, as_role in table:
        pick = (action == act) & ((entry == ent) if ent else True)
        actor[pick], role[pick] = people[who][pick], as_role
    rules = (action == "dispatch") & by_rules
    actor[rules], role[rules] = "system", "system"
    return actor, role


def _details(w, cases, h: History, k, actor, holder, merged) -> list:
    """The detail of each history row, as the live effects write it."""
    action = h.action[k]
    out = [EMPTY] * len(k)
    cache: dict = {}

    def enc(value) -> bulk_repo.JsonbBytes:
        text = json.dumps(value, ensure_ascii=False)
        return cache.get(text) or cache.setdefault(text, bulk_repo.jsonb(text))

    for i in np.flatnonzero(np.isin(action, ("dispatch", "return", "request_extension", "approve_extension",
                                             "check_fail", "merge"))):
        a, row = action[i], k[i]
        if a == "dispatch":
            d = cases["decision"][h.case[row]]
            out[i] = enc({"by": "rules", "explanation": d.explanation} if h.by_rules[row] else {"by": actor[i]})
        elif a == "return":
            out[i] = enc({"returned_by": holder[i]})
        elif a == "request_extension":
            out[i] = enc({"requested_deadline": None})
        elif a == "approve_extension":
            out[i] = enc({"old_deadline": _times(w, h.clock["deadline"][row - 1:row])[0].isoformat()})
        elif a == "check_fail":
            out[i] = enc({"rework": True})
        else:
            out[i] = enc({"into_case_id": int(merged[h.case[row]])})
    return out


def _decisions(w, cases, h: History, ids):
    """One routing decision per automatic dispatch attempt (right after registering), at that time."""
    nxt = np.r_[h.action[1:], None]
    tried = np.flatnonzero(h.kept & (h.action == "register") & (nxt == "dispatch"))
    encoded: dict[int, tuple] = {}
    inputs: dict = {}
    for row, when in zip(tried, _times(w, h.at[tried])):
        i = h.case[row]
        d, f = cases["decision"][i], cases["facts"][i]
        if id(d) not in encoded:
            encoded[id(d)] = (d.rule.id if d.rule else None, d.department_code, bulk_repo.jsonb(
                json.dumps(d.candidates, ensure_ascii=False, default=str)), d.explanation)
        if f not in inputs:
            inputs[f] = bulk_repo.jsonb(json.dumps(asdict(f), ensure_ascii=False))
        rule, dep, candidates, text = encoded[id(d)]
        yield (int(ids[i]), when, w.ref.rule_set_id, rule, dep, inputs[f], candidates, text)


def _report_actor(cases) -> np.ndarray:
    entry = cases["entry"]
    officer = pd.Series(cases["grid"]).radd("officer-").to_numpy(dtype=object)
    intake = np.array(["intake-1", "intake-2", "intake-3"], dtype=object)[np.arange(len(entry)) % 3]
    return np.where(entry == "officer", officer, np.where(entry == "hotline", intake, "citizen"))


def _geoms(cases) -> list:
    points = shapely.set_srid(shapely.points(cases["lon"], cases["lat"]), 4326)
    return [bulk_repo.Geometry(g) for g in shapely.to_wkb(points, include_srid=True)]


def _zones(zones) -> list:
    encoded: dict = {}
    return [encoded.get(z) or encoded.setdefault(z, bulk_repo.jsonb(json.dumps(
        [{"layer": a, "code": b, "name": c} for a, b, c in z], ensure_ascii=False))) for z in zones]


def _times(w, local_us: np.ndarray) -> list:
    """Local wall-clock microseconds (NAT: none) as aware datetimes for the binary COPY."""
    local_us = np.asarray(local_us, dtype=np.int64)
    missing = local_us == NAT
    if not len(local_us):
        return []
    stamps = pd.to_datetime(np.where(missing, 0, local_us), unit="us").tz_localize(w.policy.tz).tz_convert("UTC")
    out = np.array(stamps.to_pydatetime(), dtype=object)
    out[missing] = None
    return out.tolist()

"""Rule and zone mining: routing rules proposed from imported history (`citygrid rules suggest --from-history`).

The handler of a case is the department of its last dispatch that was not returned. Per category (rare minors
pooled by major) three families compete on the training part by cross-validated agreement: category only,
category × an existing layer (street, community, grid, or a zone layer stored on the cases), and category ×
learned zones (k-nearest-neighbour vote of the training points). The simplest family within MARGIN of the best wins.
Learned zones are one partition of the district shared by every category that chose them. The held-out part is
routed by the suggested rules with `dispatch.routing.choose`, the router's own pure function. Design:
docs/mining.md.
"""
from __future__ import annotations

import csv
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import psycopg
import shapely
from psycopg.rows import dict_row

from core.errors import InvalidInput
from dispatch.routing import repo
from dispatch.routing.choose import Facts, Rule, choose, ties
from dispatch.routing.mining_zones import covering, knn_vote, learn_partition
from dispatch.routing.router import street_units
from dispatch.routing.rules import COLUMNS, check_rows
from events import repo as events_repo
from events.tablefile import write_rows
from gis import repo as gis_repo
from gis.errors import NoActiveRelease
from gis.topology import LocalMetric

# Every imported case, its place and its handler: the department of the last dispatch whose tenure did not end in
# a return (the next dispatch-or-return step after it is not a return). NULL: never handled.
HISTORY = """
WITH tenure AS (
    SELECT h.case_id, h.at, h.id, h.action, h.department_code,
           lead(h.action) OVER (PARTITION BY h.case_id ORDER BY h.at, h.id) AS next_action
    FROM case_history h JOIN event_case c ON c.id = h.case_id AND c.imported
    WHERE h.action IN ('dispatch', 'return')
), handler AS (
    SELECT DISTINCT ON (case_id) case_id, department_code
    FROM tenure WHERE action = 'dispatch' AND next_action IS DISTINCT FROM 'return'
    ORDER BY case_id, at DESC, id DESC
)
SELECT c.id, c.category_code, c.street_code, c.community_code, c.grid_code, ST_X(c.geom) AS lon,
       ST_Y(c.geom) AS lat, handler.department_code AS handler,
       (SELECT coalesce(jsonb_object_agg(layer, code), '{}'::jsonb)
          FROM (SELECT z ->> 'layer' AS layer, min(z ->> 'code') AS code
                  FROM jsonb_array_elements(c.zones) z GROUP BY 1) s) AS zones
FROM event_case c LEFT JOIN handler ON handler.case_id = c.id
WHERE c.imported
ORDER BY c.id
"""

# Cases with the zones of the layers active NOW (the stored `zones` are those active when the case came in).
RELOCATED = """
SELECT c.id, c.category_code, c.street_code, c.community_code, c.grid_code, ST_X(c.geom) AS lon,
       ST_Y(c.geom) AS lat,
       (SELECT coalesce(jsonb_agg(jsonb_build_object('layer', zl.name, 'code', zf.code) ORDER BY zl.name, zf.code),
                        '[]'::jsonb)
          FROM zone_feature zf JOIN zone_version zv ON zv.id = zf.version_id AND zv.is_active
          JOIN zone_layer zl ON zl.id = zv.layer_id
         WHERE ST_Covers(zf.geom, c.geom)) AS zones
FROM event_case c WHERE c.id = ANY(%(ids)s) ORDER BY c.id
"""

MIN_CASES = 10            # handled cases below which there is nothing to mine
FOLDS = 5                 # cross-validation folds on the training part
MARGIN = 0.01             # a simpler family wins when its agreement is within this of the best
MIN_PLACE_CASES = 3       # training cases a street, community, grid or zone needs for a rule of its own
FALLBACK_SHARE = 0.8      # a major's fallback needs one department to have handled this share of its rare minors
FAMILIES = ("category", "layer", "learned")
FAMILY_WORD = {"category": "category only", "layer": "existing layer", "learned": "learned zones"}


class MiningError(InvalidInput):
    """History that cannot be mined, or bad mining options."""


@dataclass(frozen=True)
class History:
    """Imported cases that had a handler, as columns; `unhandled` counts the others."""

    case_id: np.ndarray
    category: np.ndarray
    handler: np.ndarray
    places: dict[str, np.ndarray]  # street, community, grid, zone:<layer> → that place's code or None, per case
    lon: np.ndarray
    lat: np.ndarray
    unhandled: int
    retired: int = 0  # handled by a department that is no longer in the department table


@dataclass(frozen=True)
class Candidate:
    """One way to route a group, with its cross-validated agreement on the training part."""

    family: str
    layer: str | None
    agreement: float
    rules: int

    @property
    def label(self) -> str:
        """The choice in words."""
        if self.family != "layer":
            return FAMILY_WORD[self.family]
        return f"zone layer {self.layer[5:]}" if self.layer.startswith("zone:") else f"{self.layer} layer"


@dataclass
class Choice:
    """What was chosen for one category, or for the rare minors of one major pooled together."""

    key: str
    categories: tuple[str, ...]
    title: str
    support: int
    chosen: Candidate
    candidates: list[Candidate]
    confidence: float = 0.0
    holdout_cases: int = 0
    holdout: dict[str, float] = field(default_factory=dict)  # category | layer | learned | rules → agreement


@dataclass
class Suggestion:
    """Proposed rules (import format), learned zones, and how well they route the held-out history."""

    rows: list[dict]
    notes: dict[int, str]
    zones: gpd.GeoDataFrame | None
    zone_layer: str
    choices: list[Choice]
    overall: dict[str, float]
    holdout_ids: np.ndarray
    holdout_handlers: np.ndarray
    holdout_routed: np.ndarray
    training: int
    unhandled: int
    retired: int
    unruled: list[str]


# ---- reading ---------------------------------------------------------------------------------------------------

def load_history(conn: psycopg.Connection) -> History:
    """Every imported case that a department (still in the table) handled, in one query; MiningError if none
    was imported."""
    rows = conn.cursor(row_factory=dict_row).execute(HISTORY).fetchall()
    if not rows:
        raise MiningError("there is no imported history to mine: import historical cases first "
                          "(`citygrid cases import FILE`, or rows with a status by `citygrid events import`)")
    handled = [r for r in rows if r["handler"] is not None]
    current = {d.code for d in repo.departments(conn)}
    done = [r for r in handled if r["handler"] in current]  # a rule cannot name a department that is gone

    def column(key: str, dtype=object) -> np.ndarray:
        return np.array([r[key] for r in done], dtype=dtype)

    places = {level: column(f"{level}_code") for level in ("street", "community", "grid")}
    for layer in sorted({layer for r in done for layer in r["zones"]}):
        places[f"zone:{layer}"] = np.array([r["zones"].get(layer) for r in done], dtype=object)
    return History(column("id", np.int64), column("category_code"), column("handler"), places, column("lon", float),
                   column("lat", float), len(rows) - len(handled), len(handled) - len(done))


def relocated_cases(conn: psycopg.Connection, *, case_ids) -> list[dict]:
    """Case rows (routing inputs, lon, lat) with the zones of the layers active now, in one query."""
    ids = [int(i) for i in case_ids]
    return conn.cursor(row_factory=dict_row).execute(RELOCATED, {"ids": ids}).fetchall()


def district_geometry(conn: psycopg.Connection) -> shapely.Geometry:
    """The active release's district, WGS84."""
    ids = gis_repo.active_layer_ids(conn)
    if ids is None:
        raise NoActiveRelease("no grid release is active: learned zones need the district boundary")
    return shapely.union_all(gis_repo.layer_features(conn, layer_id=ids["district"])[3])


# ---- small pure pieces -----------------------------------------------------------------------------------------

def encode(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct non-empty values (sorted) and each value's index among them; -1 for None or empty."""
    text = np.array(["" if v is None else str(v) for v in values], dtype=str)
    names, index = np.unique(text, return_inverse=True)
    if len(names) and names[0] == "":
        return names[1:].astype(object), index.ravel() - 1
    return names.astype(object), index.ravel()


def holdout_mask(n: int, *, fraction: float, seed: int) -> np.ndarray:
    """A seeded random choice of round(fraction × n) cases (at least one) to hold out."""
    count = min(n - 1, max(1, round(fraction * n)))
    mask = np.zeros(n, dtype=bool)
    mask[np.random.default_rng(seed).permutation(n)[:count]] = True
    return mask


def majority(labels: np.ndarray) -> int:
    """The most frequent label (lowest on ties)."""
    return int(np.bincount(labels).argmax())


def fit_layer(units: np.ndarray, labels: np.ndarray, n_units: int) -> tuple[np.ndarray, int]:
    """Majority label per unit with at least MIN_PLACE_CASES cases (-1: no rule), and the fallback label: the
    majority of the cases that no unit rule covers (of all cases when every case is covered)."""
    inside = units >= 0
    counts = np.zeros((n_units, labels.max() + 1), dtype=np.int64)
    np.add.at(counts, (units[inside], labels[inside]), 1)
    unit_label = np.where(counts.sum(1) >= MIN_PLACE_CASES, counts.argmax(1), -1)
    ruled = np.zeros(len(units), dtype=bool)
    ruled[inside] = unit_label[units[inside]] >= 0
    return unit_label, majority(labels[~ruled] if (~ruled).any() else labels)


def predict_layer(model: tuple[np.ndarray, int], units: np.ndarray) -> np.ndarray:
    """Labels a layer model gives: its unit's rule, else the fallback."""
    unit_label, fallback = model
    out = np.full(len(units), fallback)
    inside = units >= 0
    out[inside] = np.where(unit_label[units[inside]] >= 0, unit_label[units[inside]], fallback)
    return out


def pick(candidates: list[Candidate], margin: float = MARGIN) -> Candidate:
    """The simplest candidate within `margin` of the best: fewest rules, a learned zone counting twice (a rule and a
    polygon to review); on equal counts category before layer before learned."""
    best = max(c.agreement for c in candidates)
    good = [c for c in candidates if c.agreement >= best - margin - 1e-12]
    return min(good, key=lambda c: (c.rules * (2 if c.family == "learned" else 1), FAMILIES.index(c.family),
                                    c.layer or ""))


def group_keys(categories: np.ndarray, *, min_support: int) -> dict[str, str]:
    """Category → group: its own when it has min_support training cases, else '<major>*' pooling the rare
    minors of its major (left out when the pool is still below min_support)."""
    counts = Counter(categories.tolist())
    out = {c: c for c, n in counts.items() if n >= min_support}
    pools: dict[str, list[str]] = {}
    for c in counts:
        if c not in out:
            pools.setdefault(c[:2] + "*", []).append(c)
    for key, members in pools.items():
        if sum(counts[c] for c in members) >= min_support:
            out |= {c: key for c in members}
    return out


# ---- mining ----------------------------------------------------------------------------------------------------

@dataclass
class _Data:
    """The history encoded once: labels, place units, local metres, the held-out mask, reference data."""

    history: History
    y: np.ndarray
    label_names: np.ndarray
    units: dict[str, tuple[np.ndarray, np.ndarray]]
    xy: np.ndarray
    test: np.ndarray
    seed: int
    metric: LocalMetric
    district_m: shapely.Geometry
    departments: dict
    street_units: dict
    titles: dict[str, str]
    zone_layer: str


@dataclass(frozen=True)
class _Group:
    key: str
    categories: tuple[str, ...]
    train: np.ndarray
    test: np.ndarray


@dataclass(frozen=True)
class _Proposal:
    """One rule before it is written for each category of its group: place, recipient, support and hits."""

    place: dict
    department: str | None
    unit_type: str | None
    support: int
    hits: int


@dataclass(frozen=True)
class _Learned:
    """The learned zone layer: WGS84 zones sorted by code, each zone's label per learned group, covering zones of
    every case."""

    layer: str
    zones: np.ndarray
    codes: list[str]
    tuples: np.ndarray
    groups: list[str]
    cover: list[list[int]]
    train: np.ndarray  # the training cases of the learned groups


def suggest(conn: psycopg.Connection, *, holdout: float = 0.2, seed: int = 0, min_support: int = 20,
            zone_layer: str = "learned_areas") -> Suggestion:
    """Mine routing rules (and learned zones) from the imported history; measure them on a held-out part."""
    _check_options(holdout=holdout, seed=seed, min_support=min_support, zone_layer=zone_layer)
    history = load_history(conn)
    if len(history.case_id) < MIN_CASES:
        raise MiningError(f"only {len(history.case_id)} imported case(s) were handled by a department that exists "
                          f"now ({history.unhandled} never dispatched or returned every time, {history.retired} went "
                          f"to departments that are gone): mining needs at least {MIN_CASES}")
    data = _encode(conn, history, holdout=holdout, seed=seed, zone_layer=zone_layer)
    groups = _groups(data, min_support)
    choices = [_choice(data, g) for g in groups]
    learned = _learn(data, [g for g, c in zip(groups, choices) if c.chosen.family == "learned"])
    rows, starts = [], []
    for group, choice in zip(groups, choices):
        starts.append(len(rows))
        rows += _rows(data, group, _proposals(data, group, choice.chosen, learned))
    fallbacks = _major_fallbacks(data, groups)
    routed = _route(data, _validated(conn, rows + fallbacks, zone_layer), learned)
    families = _score(data, groups, choices, routed)
    notes = {start: _note(choice) for start, choice in zip(starts, choices)}
    if fallbacks:
        notes[len(rows)] = (f"majors whose rare minors one department handled at least {FALLBACK_SHARE:.0%} of: "
                            "for their minors with no history in the training part")
    return _suggestion(data, groups, choices, rows + fallbacks, notes, learned, routed, families)


def _check_options(*, holdout: float, seed: int, min_support: int, zone_layer: str) -> None:
    if not 0 < holdout < 1:
        raise MiningError(f"--holdout {holdout} must be a share between 0 and 1, e.g. 0.2 for a fifth")
    if seed < 0:
        raise MiningError(f"--seed {seed} must be a whole number of 0 or more")
    if min_support < 1:
        raise MiningError(f"--min-support {min_support} must be at least 1 case")
    if not zone_layer.strip() or zone_layer != zone_layer.strip() or len(zone_layer) > 60:
        raise MiningError(f"--zone-layer {zone_layer!r} must be a name of 1 to 60 characters without outer spaces")


def _encode(conn, history: History, *, holdout: float, seed: int, zone_layer: str) -> _Data:
    district = district_geometry(conn)
    metric = LocalMetric(np.array([district], dtype=object))
    xy = np.c_[(history.lon - metric.lon0) * metric.kx, (history.lat - metric.lat0) * metric.ky]
    label_names, y = encode(history.handler)
    # a zone layer named like the learned one is about to be replaced: never offer it as an existing layer
    units = {layer: encode(codes) for layer, codes in history.places.items() if layer != f"zone:{zone_layer}"}
    cats = events_repo.categories(conn)
    titles = {c.code: c.name for c in cats} | {c.major_code: c.major_name for c in cats}
    return _Data(history, y, label_names, units, xy, holdout_mask(len(y), fraction=holdout, seed=seed), seed,
                 metric, metric.forward(np.array([district], dtype=object))[0],
                 {d.code: d for d in repo.departments(conn)}, street_units(conn), titles, zone_layer)


def _groups(data: _Data, min_support: int) -> list[_Group]:
    keys = group_keys(data.history.category[~data.test], min_support=min_support)
    case_key = np.array([keys.get(c, "") for c in data.history.category], dtype=object)
    out = []
    for key in sorted(set(keys.values())):
        mine = case_key == key
        out.append(_Group(key, tuple(sorted(c for c, k in keys.items() if k == key)),
                          np.flatnonzero(mine & ~data.test), np.flatnonzero(mine & data.test)))
    return out


def _choice(data: _Data, group: _Group) -> Choice:
    candidates = _candidates(data, group)
    title = data.titles.get(group.key, "") if not group.key.endswith("*") else \
        f"{data.titles.get(group.key[:2], '')}: rare minors {', '.join(group.categories)}"
    return Choice(group.key, group.categories, title, len(group.train), pick(candidates), candidates)


def _candidates(data: _Data, group: _Group) -> list[Candidate]:
    """Each family's cross-validated agreement on the group's training cases."""
    y, xy = data.y[group.train], data.xy[group.train]
    folds = np.random.default_rng([data.seed, len(y)]).permutation(len(y)) % FOLDS
    out = [Candidate("category", None, _cv(folds, y, lambda a, b: np.full(b.sum(), majority(y[a]))), 1)]
    for layer, (names, units) in data.units.items():
        u = units[group.train]
        if (u >= 0).any():
            agree = _cv(folds, y, lambda a, b: predict_layer(fit_layer(u[a], y[a], len(names)), u[b]))
            out.append(Candidate("layer", layer, agree, len(_layer_proposals(data, group, layer))))
    agree = _cv(folds, y, lambda a, b: knn_vote(xy[a], y[a], xy[b]))
    return out + [Candidate("learned", None, agree, len(np.unique(knn_vote(xy, y, xy))) + 1)]


def _cv(folds: np.ndarray, y: np.ndarray, predict) -> float:
    hits = 0
    for f in range(FOLDS):
        test = folds == f
        if test.any() and (~test).any():
            hits += int((predict(~test, test) == y[test]).sum())
    return hits / len(y)


def _proposals(data: _Data, group: _Group, chosen: Candidate, learned: _Learned | None) -> list[_Proposal]:
    y = data.y[group.train]
    if chosen.family == "layer":
        return _layer_proposals(data, group, chosen.layer)
    district = _district_proposal(data, y)
    if chosen.family == "category":
        return [district]
    column = learned.groups.index(group.key)
    first = np.array([c[0] if c else -1 for c in (learned.cover[i] for i in group.train)], dtype=np.int64)
    out = []
    for z, code in enumerate(learned.codes):
        label, inside = learned.tuples[z, column], first == z
        out.append(_Proposal(_place(f"zone:{learned.layer}", code), data.label_names[label], None,
                             int(inside.sum()), int((y[inside] == label).sum())))
    return out + [district]


def _district_proposal(data: _Data, y: np.ndarray) -> _Proposal:
    label = majority(y)
    return _Proposal({}, data.label_names[label], None, len(y), int((y == label).sum()))


def _layer_proposals(data: _Data, group: _Group, layer: str) -> list[_Proposal]:
    """Unit rules and a fallback; or, when every street goes to its own unit of one type, one 属地 rule."""
    names, units = data.units[layer]
    u, y = units[group.train], data.y[group.train]
    unit_label, fallback = fit_layer(u, y, len(names))
    unit_type = _street_unit_type(data, names, unit_label) if layer == "street" else None
    if unit_type:
        streets = data.history.places["street"][group.train]
        local = np.array([data.street_units.get((s, unit_type)) for s in streets], dtype=object)
        return [_Proposal({}, None, unit_type, len(y), int((local == data.label_names[y]).sum()))]
    out = []
    for i in np.flatnonzero(unit_label >= 0):
        inside = u == i
        out.append(_Proposal(_place(layer, names[i]), data.label_names[unit_label[i]], None, int(inside.sum()),
                             int((y[inside] == unit_label[i]).sum())))
    if (predict_layer((unit_label, -1), u) < 0).any():  # some cases have no unit rule: they need a fallback
        out.append(_Proposal({}, data.label_names[fallback], None, len(y), int((y == fallback).sum())))
    return out


def _street_unit_type(data: _Data, names: np.ndarray, unit_label: np.ndarray) -> str | None:
    """The unit type T when each street with a rule goes to that street's own unit of type T."""
    types = set()
    for street, label in zip(names, unit_label):
        if label >= 0:
            dep = data.departments.get(data.label_names[label])
            if dep is None or dep.kind != "street" or dep.street_code != street:
                return None
            types.add(dep.unit_type)
    return types.pop() if len(types) == 1 else None


def _place(layer: str, code: str) -> dict:
    if layer.startswith("zone:"):
        return {"place_kind": "zone", "zone_layer": layer[5:], "zone_code": code}
    return {"place_kind": layer, "place_code": code}


def _learn(data: _Data, groups: list[_Group]) -> _Learned | None:
    """One zone layer for every group that chose learned zones: their common refinement, sorted by code."""
    if not groups:
        return None
    sets = [(data.xy[g.train], data.y[g.train]) for g in groups]
    zones_m, tuples = learn_partition(data.district_m, sets)
    codes = ["/".join(data.label_names[t] for t in row) for row in tuples]
    order = np.argsort(np.array(codes, dtype=str), kind="stable")
    zones = data.metric.backward(zones_m[order])
    cover = covering(zones, data.history.lon, data.history.lat)
    return _Learned(data.zone_layer, zones, [codes[i] for i in order], tuples[order], [g.key for g in groups], cover,
                    np.concatenate([g.train for g in groups]))


def _rows(data: _Data, group: _Group, proposals: list[_Proposal]) -> list[dict]:
    """The group's rules in the import format, written out for each of its categories."""
    rows = []
    for category in group.categories:
        label = f"{category} {data.titles.get(category, '')}" + (f" [{group.key}]" if group.key != category else "")
        rows += [_row(label, category, p) for p in proposals]
    return rows


def _row(label: str, category: str, p: _Proposal) -> dict:
    place = p.place
    where = {"": "district", "zone": f"zone {place.get('zone_layer')}/{place.get('zone_code')}"}.get(
        place.get("place_kind", ""), f"{place.get('place_kind')} {place.get('place_code')}")
    to = p.department or f"street unit {p.unit_type}"
    share = f"{p.hits / p.support:.0%}" if p.support else "no case"
    return {"name": f"{label} · {where} → {to} ({p.support} cases, {share})", "category": category,
            "place_kind": place.get("place_kind", ""), "place_code": place.get("place_code", ""),
            "zone_layer": place.get("zone_layer", ""), "zone_code": place.get("zone_code", ""),
            "recipient_kind": "street_unit" if p.unit_type else "department", "department": p.department or "",
            "unit_type": p.unit_type or "", "priority": 0}


def _major_fallbacks(data: _Data, groups: list[_Group]) -> list[dict]:
    """For each pool of rare minors that one department mostly handled, a district rule on its major: it routes
    the minors never seen in the training part (a guess from the other, busier minors would be worse than the
    dispatcher's queue)."""
    rows = []
    for group in groups:
        proposal = _district_proposal(data, data.y[group.train])
        if group.key.endswith("*") and proposal.hits >= FALLBACK_SHARE * proposal.support:
            major = group.key[:2]
            rows.append(_row(f"{major} {data.titles.get(major, '')} (other minors)", major, proposal))
    return rows


def _validated(conn, rows: list[dict], zone_layer: str) -> list[Rule]:
    """Check the rows as `rules import` will (the learned layer's zones are not loaded yet); return the rules."""
    numbered = [(line, row) for line, row in enumerate(rows, start=2)]
    check_rows(conn, rows=[(n, r) for n, r in numbered if r["zone_layer"] != zone_layer], source="suggested rules")
    rules = [Rule(None, n, r["name"], r["category"] or None, r["place_kind"] or None, r["place_code"] or None,
                  r["zone_layer"] or None, r["zone_code"] or None, r["recipient_kind"], r["department"] or None,
                  r["unit_type"] or None, 0) for n, r in numbered]
    problems = ties([r for r in rules if r.zone_layer == zone_layer or r.place_kind is None])
    if problems:  # cannot happen by construction; refuse rather than write a file the import would refuse
        raise MiningError("the suggested rules tie: " + "; ".join(problems[:5]))
    return rules


def _route(data: _Data, rules: list[Rule], learned: _Learned | None) -> np.ndarray:
    """The department the rules choose for every case, with the router's own `choose`. Each case is shown only the
    rules whose category and place could match it (an index lookup), which leaves the choice unchanged."""
    h, index = data.history, {}
    for rule in rules:
        place = (rule.place_kind, rule.zone_layer if rule.place_kind == "zone" else rule.place_code, rule.zone_code)
        index.setdefault((rule.category or "", place), []).append(rule)
    out = np.empty(len(h.case_id), dtype=object)
    for i in range(len(out)):
        facts = _facts(h, i, learned)
        places = [(None, None, None), ("street", facts.street_code, None), ("grid", facts.grid_code, None),
                  ("community", facts.community_code, None)]
        places += [p for layer, code in facts.zones for p in (("zone", layer, code), ("zone", layer, None))]
        near = [r for c in {"", facts.category[:2], facts.category} for p in places for r in index.get((c, p), ())]
        out[i] = choose(near, facts, data.street_units).department_code
    return out


def _facts(h: History, i: int, learned: _Learned | None) -> Facts:
    zones = [(layer[5:], codes[i]) for layer, codes in h.places.items()
             if layer.startswith("zone:") and codes[i] is not None and (learned is None or layer[5:] != learned.layer)]
    if learned is not None:
        zones += [(learned.layer, learned.codes[z]) for z in learned.cover[i]]
    return Facts(h.category[i], h.places["street"][i], h.places["community"][i], h.places["grid"][i], tuple(zones))


def _score(data: _Data, groups: list[_Group], choices: list[Choice], routed: np.ndarray) -> dict[str, np.ndarray]:
    """Fill each choice's confidence and held-out agreements; return every family's held-out predictions."""
    handler = data.history.handler
    families = {f: np.full(len(handler), None, dtype=object) for f in FAMILIES}
    for group, choice in zip(groups, choices):
        choice.confidence = float(np.mean(routed[group.train] == handler[group.train]))
        choice.holdout_cases = len(group.test)
        if not len(group.test):
            continue
        for family, labels in _family_predictions(data, group, choice).items():
            families[family][group.test] = data.label_names[labels]
            choice.holdout[family] = float(np.mean(families[family][group.test] == handler[group.test]))
        choice.holdout["rules"] = float(np.mean(routed[group.test] == handler[group.test]))
    return families


def _family_predictions(data: _Data, group: _Group, choice: Choice) -> dict[str, np.ndarray]:
    """Held-out labels of each family fitted on the whole training part (the best existing layer for 'layer')."""
    train, test, y = group.train, group.test, data.y[group.train]
    out = {"category": np.full(len(test), majority(y))}
    layers = [c for c in choice.candidates if c.family == "layer"]
    out["layer"] = out["category"]
    if layers:
        names, units = data.units[max(layers, key=lambda c: c.agreement).layer]
        out["layer"] = predict_layer(fit_layer(units[train], y, len(names)), units[test])
    out["learned"] = knn_vote(data.xy[train], y, data.xy[test])
    return out


def _suggestion(data, groups, choices, rows, notes, learned, routed, families) -> Suggestion:
    test, handler = data.test, data.history.handler
    overall = {f: float(np.mean(families[f][test] == handler[test])) for f in FAMILIES}
    overall["rules"] = float(np.mean(routed[test] == handler[test]))
    ruled = {c for g in groups for c in g.categories}
    unruled = sorted(set(data.history.category.tolist()) - ruled)
    return Suggestion(rows, notes, _zone_frame(data, learned), data.zone_layer, choices, overall,
                      data.history.case_id[test], handler[test], routed[test], int((~test).sum()),
                      data.history.unhandled, data.history.retired, unruled)


def _zone_frame(data: _Data, learned: _Learned | None) -> gpd.GeoDataFrame | None:
    """The learned zones as `citygrid zones import` reads them: code, name, and what each zone routes."""
    if learned is None:
        return None
    names = []
    for row in learned.tuples:
        deps = [data.departments[data.label_names[t]].name if data.label_names[t] in data.departments
                else data.label_names[t] for t in row]
        names.append(deps[0] if len(deps) == 1 else "; ".join(f"{g}: {d}" for g, d in zip(learned.groups, deps)))
    first = np.array([learned.cover[i][0] if learned.cover[i] else -1 for i in learned.train])
    cases = np.bincount(first[first >= 0], minlength=len(learned.codes))
    return gpd.GeoDataFrame({"code": learned.codes, "name": names, "cases": cases,
                             "vertices": shapely.get_num_coordinates(learned.zones)},
                            geometry=list(learned.zones), crs="EPSG:4326")


def _note(choice: Choice) -> str:
    tried = ", ".join(f"{c.label} {c.agreement:.1%}" for c in _best_per_family(choice.candidates))
    return (f"{choice.key} {choice.title}: {choice.chosen.label}; {choice.support} training cases, "
            f"confidence {choice.confidence:.1%}; cross-validated agreement: {tried}")


def _best_per_family(candidates: list[Candidate]) -> list[Candidate]:
    return [max((c for c in candidates if c.family == f), key=lambda c: c.agreement) for f in FAMILIES
            if any(c.family == f for c in candidates)]


# ---- writing ---------------------------------------------------------------------------------------------------

RULE_SUFFIXES = (".csv", ".yaml", ".yml")
ZONE_DRIVERS = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON"}


def check_paths(*, rules: str | os.PathLike | None = None, zones: str | os.PathLike | None = None) -> None:
    """Refuse output names whose format is unknown, before any work is done."""
    if rules is not None and Path(rules).suffix.lower() not in RULE_SUFFIXES:
        raise MiningError(f"--out {Path(rules).name!r} must end in .csv, .yaml or .yml")
    if zones is not None and Path(zones).suffix.lower() not in ZONE_DRIVERS:
        raise MiningError(f"--zones-out {Path(zones).name!r} must end in .gpkg, .geojson or .json")
    for path in (p for p in (rules, zones) if p is not None):
        if not Path(path).absolute().parent.is_dir():
            raise MiningError(f"cannot write {path}: the folder {Path(path).absolute().parent} does not exist")


def write_rules(path: str | os.PathLike, suggestion: Suggestion) -> None:
    """The rules in the import format: CSV with a comment line per category, or YAML (no comments)."""
    path = Path(path)
    check_paths(rules=path)
    if path.suffix.lower() in (".yaml", ".yml"):
        write_rows(path, columns=COLUMNS, rows=suggestion.rows)
        return
    with path.open("w", newline="", encoding="utf-8") as handle:
        handle.write(f"# suggested from history: {suggestion.training} training cases; held-out agreement "
                     f"{suggestion.overall['rules']:.1%} of {len(suggestion.holdout_ids)} cases\n")
        if suggestion.zones is not None:
            handle.write(f"# zone rules need the learned zones: citygrid zones import ZONES --layer "
                         f"{suggestion.zone_layer} --code-field code --name-field name\n")
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for i, row in enumerate(suggestion.rows):
            if i in suggestion.notes:
                handle.write(f"# {suggestion.notes[i]}\n")
            writer.writerow(row)


def write_zones(path: str | os.PathLike, suggestion: Suggestion) -> bool:
    """The learned zones as GeoPackage or GeoJSON (WGS84); False when no category chose learned zones."""
    path = Path(path)
    check_paths(zones=path)
    driver = ZONE_DRIVERS[path.suffix.lower()]
    if suggestion.zones is None:
        return False
    path.unlink(missing_ok=True)  # a GeoPackage keeps other layers, and `zones import` reads the first one
    suggestion.zones.to_file(path, driver=driver, engine="pyogrio", **({"layer": suggestion.zone_layer}
                                                                        if driver == "GPKG" else {}))
    return True

"""Routing as data: pure functions that pick the rule for a case and explain the choice.

Order of precedence: the most specific place (a zone with a code, a zone layer, then grid, community, street,
the whole district), then the most specific category (minor, major, any), then the higher priority. Equal keys
that can match the same case are refused at import (see `ties`), so the choice never depends on file order.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

PLACE_RANK = {"zone": 4, "grid": 3, "community": 2, "street": 1, None: 0}
PLACE_WORD = {"zone": "zone", "grid": "grid", "community": "community", "street": "street", None: "district"}


@dataclass(frozen=True)
class Rule:
    """One routing rule, as stored."""

    id: int | None
    line: int
    name: str
    category: str | None
    place_kind: str | None
    place_code: str | None
    zone_layer: str | None
    zone_code: str | None
    recipient_kind: str
    department_code: str | None
    unit_type: str | None
    priority: int = 0

    @property
    def key(self) -> tuple[int, int, int, int]:
        """Specificity: place, zone code, category, priority; higher wins."""
        return (PLACE_RANK[self.place_kind], int(self.zone_code is not None),
                len(self.category or ""), self.priority)

    def describe(self) -> str:
        """The rule in words."""
        where = PLACE_WORD[self.place_kind]
        if self.place_kind == "zone":
            where = f"zone layer {self.zone_layer}" + (f" zone {self.zone_code}" if self.zone_code else "")
        elif self.place_kind:
            where = f"{where} {self.place_code}"
        to = self.department_code if self.recipient_kind == "department" else f"street unit {self.unit_type}"
        return f"rule {self.name!r} (line {self.line}: category {self.category or 'any'}, {where} → {to})"


@dataclass(frozen=True)
class Facts:
    """What routing looks at: the category and the place of a case."""

    category: str
    street_code: str
    community_code: str
    grid_code: str
    zones: tuple[tuple[str, str], ...]  # (layer, code)


@dataclass(frozen=True)
class Decision:
    """The chosen department (None: the dispatcher's queue), the rule, and every candidate with its fate."""

    department_code: str | None
    rule: Rule | None
    candidates: list[dict]
    explanation: str
    inputs: dict


def matches(rule: Rule, facts: Facts) -> bool:
    """Whether a rule applies to a case."""
    if rule.category and not facts.category.startswith(rule.category):
        return False
    kind = rule.place_kind
    if kind is None:
        return True
    if kind == "zone":
        return any(layer == rule.zone_layer and (rule.zone_code is None or code == rule.zone_code)
                   for layer, code in facts.zones)
    return {"street": facts.street_code, "community": facts.community_code, "grid": facts.grid_code}[kind] \
        == rule.place_code


def recipient(rule: Rule, facts: Facts, street_units: dict[tuple[str, str], str]) -> str | None:
    """The department a rule sends to for this case, or None if the street has no such unit."""
    if rule.recipient_kind == "department":
        return rule.department_code
    return street_units.get((facts.street_code, rule.unit_type or ""))


def choose(rules: list[Rule], facts: Facts, street_units: dict[tuple[str, str], str]) -> Decision:
    """Pick the most specific matching rule that has a recipient; record why each other candidate lost."""
    found = sorted((r for r in rules if matches(r, facts)), key=lambda r: (r.key, -r.line), reverse=True)
    candidates, winner, department = [], None, None
    for rule in found:
        target = recipient(rule, facts, street_units)
        if winner is None and target is not None:
            winner, department, fate = rule, target, "chosen"
        elif target is None:
            fate = f"no {rule.unit_type} unit in street {facts.street_code}"
        else:
            fate = f"beaten by line {winner.line}: {_why(winner, rule)}"
        candidates.append({"rule_id": rule.id, "line": rule.line, "name": rule.name, "department": target,
                           "fate": fate, "rule": asdict(rule)})
    if winner is None:
        text = (f"no rule for category {facts.category} at grid {facts.grid_code} has a recipient: "
                "the case waits in the dispatcher's queue")
    else:
        text = f"{winner.describe()} sent it to {department}, the most specific of {len(found)} matching rule(s)"
    return Decision(department, winner, candidates, text, asdict(facts))


def _why(winner: Rule, loser: Rule) -> str:
    w, lo = winner.key, loser.key
    if w[:2] != lo[:2]:
        return f"more specific place ({_place(winner)} over {_place(loser)})"
    if w[2] != lo[2]:
        return f"more specific category ({winner.category or 'any'} over {loser.category or 'any'})"
    return f"higher priority ({winner.priority} over {loser.priority})"


def _place(rule: Rule) -> str:
    return PLACE_WORD[rule.place_kind] + (" with code" if rule.zone_code else "")


def _same_place(a: Rule, b: Rule) -> bool:
    return (a.place_kind, a.place_code, a.zone_layer, a.zone_code) == (b.place_kind, b.place_code, b.zone_layer,
                                                                      b.zone_code)


def _may_overlap(a: Rule, b: Rule) -> bool:
    """Two rules of equal specificity that could both match one case."""
    if (a.category or "") != (b.category or ""):
        return False
    if a.place_kind == "zone":
        # different zone layers may overlap on the ground (a river through a park): make the priority say
        return a.zone_layer != b.zone_layer or a.zone_code == b.zone_code
    return a.place_code == b.place_code


def ties(rules: list[Rule]) -> list[str]:
    """Pairs of rules equally specific that can match the same case: an import error."""
    out = []
    for i, a in enumerate(rules):
        for b in rules[i + 1:]:
            if a.key == b.key and _may_overlap(a, b):
                out.append(f"lines {a.line} and {b.line} tie ({a.describe()} vs {b.describe()}); "
                           "give one a higher priority or a narrower place")
    return out


def shadowed(rules: list[Rule]) -> list[str]:
    """Rules that another rule always beats (same category and place, higher priority): a warning."""
    out = []
    for a in rules:
        for b in rules:
            if a is not b and (a.category or "") == (b.category or "") and _same_place(a, b) \
                    and b.priority > a.priority and b.recipient_kind == "department":
                out.append(f"line {a.line} never applies: line {b.line} matches every case it does and wins "
                           f"on priority ({b.priority} > {a.priority})")
                break
    return out

"""axe-core (vendored from npm, used only by the tests) run on an open page: its serious and critical violations.

The page's Content-Security-Policy does not apply to what Playwright evaluates through the DevTools protocol, so
axe is evaluated into the page as it is, without loosening the policy for the test."""
from __future__ import annotations

from functools import cache
from pathlib import Path

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")

RUN = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ")) }));
}"""


@cache
def _source() -> str:
    return AXE.read_text(encoding="utf-8")


def violations(page, impacts=SERIOUS) -> list[dict]:
    """axe's violations of the page as it is now, of the given impacts: id, impact, help and up to 5 nodes each."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_source() + "\n;undefined")
    return [v for v in page.evaluate(RUN) if v["impact"] in impacts]


def serious_violations(page) -> list[str]:
    """One line per serious or critical violation (empty when the page passes): for an assert's message."""
    return [f"{v['impact']} {v['id']}: {v['help']} at {', '.join(v['nodes'])}" for v in violations(page)]

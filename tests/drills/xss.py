"""The stored-XSS drill: payloads in every text a user can set (tests/drills/xss_world.py), then every page of
tests/access_matrix.PAGES opened in headless Chromium for each role that sees it (and OPEN_PAGES as a stranger,
with a payload in the query), and every map popup and tooltip opened.

Counted: dialogs (page.on('dialog')), injected elements (an element with a payload's id, an on* attribute that
calls alert, a javascript: link), Content-Security-Policy violations (the CSP would hide an injection, so they are
counted apart), requests that tried to leave this machine (refused), and the planted texts each view must show
that it does not show as text (so a page that drops the text fails). A page joins by being listed in PAGES.

Usage: .venv/bin/python -m tests.drills.xss [--quick]
"""
from __future__ import annotations

import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import psycopg
from playwright.sync_api import sync_playwright

from tests.access_matrix import OPEN_PAGES, PAGES, ROLES
from tests.browser import ARGS, CHROMIUM, local_only, record_errors
from tests.drills.common import command, result, serving
from tests.drills.people_common import chancheng_database
from tests.drills.xss_payloads import Plants, payload_files
from tests.drills.xss_world import World, accounts, expectations, plant
from tests.people import bearer
from web.deps import COOKIE, CSRF_COOKIE

TITLE = "stored XSS: payloads in every user-set text, every page, popup and tooltip in Chromium"
# The quick version: these (page, user) pairs of PAGES and OPEN_PAGES, and the map's popups and tooltips.
QUICK = {("/map", "leader"), ("/cases/{case}", "leader"), ("/desk", "dispatcher"), ("/queue", "hws"),
         ("/m/mine", "officer"), ("/inbox", "hws"), ("/login", None), ("/docs", None)}
QUICK_IMPORTED_ROWS, IMPORTED_ROWS = 20, 200
QUICK_LAYER_ITEMS = 150  # popups and tooltips per map layer in the quick version (the full one opens every one)

# Before any script of a page: collect its CSP violations (Playwright's init scripts are not subject to the CSP).
WATCH_CSP = """window.__csp = []; document.addEventListener('securitypolicyviolation', e =>
  window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || '') + ' ' + (e.sample || '')));"""
# Elements a payload made: its id, an on* attribute calling alert, a javascript: link or source; inside a popup or
# tooltip, any script, frame or object too.
BAD = """(root, inner) => [...root.querySelectorAll('*')].filter(e => (e.id || '').startsWith('xss-')
  || [...e.attributes].some(a => a.name.startsWith('on') && a.value.includes('alert('))
  || /^\\s*javascript:/i.test(e.getAttribute('href') || e.getAttribute('src') || e.getAttribute('action') || '')
  || (inner && ['SCRIPT', 'IFRAME', 'OBJECT', 'EMBED'].includes(e.tagName))).length"""
PAGE_PROBE = f"""() => ({{bad: ({BAD})(document, false), csp: window.__csp || [],
  text: [document.title, document.body ? document.body.innerText : '',
         ...[...document.querySelectorAll('option')].map(o => o.text)].join('\\n')}})"""
# Every popup and tooltip the page's maps hold (the shared map's layers, the queue's small map), at most `most` of
# each layer (null: all): the popups opened one by one (a map shows one at a time), the tooltips all at once and
# read in one pass. Leaflet places each tooltip it opens (a layout each): 2,000 take about 20 s.
LAYERS_PROBE = f"""(most) => {{
  const bad = {BAD}, out = [], items = [];
  if (window.citygrid && window.citygrid.layers)
    for (const [key, layer] of Object.entries(window.citygrid.layers))
      layer.getLayers().slice(0, most === null ? undefined : most).forEach(l => items.push([key, l]));
  if (window.cgQueueMap) Object.values(window.cgQueueMap.markers).forEach(m => items.push(['queue', m]));
  const id = l => l.feature ? (l.feature.properties.id || l.feature.properties.code) : null;
  const read = (key, kind, l, node) => out.push({{key, kind, id: id(l), text: node ? node.innerText : '',
                                                  bad: node ? bad(node, true) : 0}});
  for (const [key, l] of items) if (l._map && l.getPopup && l.getPopup()) {{
    l.openPopup(); read(key, 'Popup', l, l.getPopup().getElement()); l.closePopup();
  }}
  const tips = items.filter(([key, l]) => l._map && l.getTooltip && l.getTooltip());
  tips.forEach(([key, l]) => l.openTooltip());
  tips.forEach(([key, l]) => read(key, 'Tooltip', l, l.getTooltip().getElement()));
  tips.forEach(([key, l]) => l.closeTooltip());
  return out;
}}"""
# the wall screen (meta.screen) has no filters
MAP_READY = """() => window.citygrid.ready && window.citygrid.views >= 1 && !window.citygrid.busy
  && (!window.citygrid.layers.cases || window.citygrid.meta.screen || window.citygrid.filtersReady)
  && (!window.citygrid.meta.dashboard || window.citygrid.dashboard)"""
LEVELS = {"streets": "street", "communities": "community", "grids": "grid"}
# Panels a page folds away (the map's case list): opened before the page is probed, so their texts are checked too.
OPEN_PANELS = "() => document.querySelectorAll('.citygrid-list-toggle').forEach(b => b.click())"


@dataclass
class Tally:
    views: int = 0
    popups: int = 0
    tooltips: int = 0
    dialogs: list = field(default_factory=list)
    injected: list = field(default_factory=list)
    csp: list = field(default_factory=list)
    blocked: list = field(default_factory=list)
    opened: set = field(default_factory=set)  # (page as listed, user)
    off_machine: Counter = field(default_factory=Counter)  # page as listed → requests it tried off the machine
    shown: int = 0
    not_shown: list = field(default_factory=list)
    errors: list = field(default_factory=list)

    def expect(self, texts, seen: str, where) -> None:
        """Each planted text must be in what the view shows (whitespace as the browser lays it out)."""
        seen = " ".join(seen.split())
        for text in texts:
            if " ".join(text.split()) in seen:
                self.shown += 1
            else:
                self.not_shown.append((where, text[:40]))


def views(world: World, quick: bool) -> list[tuple[str, str, str | None]]:
    """(page as listed, path to open, user) for every page of PAGES and every role that sees it, and OPEN_PAGES
    for a stranger; a case page for each labelled case as the leader and one readable case for every other role."""
    out = []
    for _, page, _, allowed in PAGES:
        for role in sorted(allowed):
            user = ROLES[role]
            if page == "/cases/{case}":
                readable = [c for c in world.cases.values() if world.reads(user, c)]
                out += [(page, f"/cases/{c}", user) for c in (readable if user == "leader" else readable[:1])]
            else:
                out.append((page, page, user))
    sample = world.plants("reflected query parameter", limit=200)
    out += [(page, f"{page}?next={quote(sample)}&lang={quote(sample)}", None) for _, page in OPEN_PAGES]
    return [v for v in out if not quick or (v[0], v[2]) in QUICK]


def settle(page, base: str, path: str) -> None:
    """Open a path and wait until its data is drawn: the map's first view (and filters, dashboard), or no more
    requests for the other pages."""
    page.goto(base + path, wait_until="load")
    if page.evaluate("() => !!(window.citygrid && window.citygrid.init)"):
        page.wait_for_function(MAP_READY, timeout=60_000)
    else:
        page.wait_for_load_state("networkidle", timeout=30_000)
    page.wait_for_timeout(200)  # an injected image's error event, a violation report


def visit(page, base: str, view: tuple, expected: dict, tally: Tally, *, layers: bool, quick: bool) -> None:
    """One view: the page, then (layers) its maps' popups and tooltips, each probed and checked."""
    listed, path, user = view
    before = len(tally.blocked)
    settle(page, base, path)
    if layers:
        for item in page.evaluate(LAYERS_PROBE, QUICK_LAYER_ITEMS if quick else None):
            tally.popups += item["kind"] == "Popup"
            tally.tooltips += item["kind"] == "Tooltip"
            if item["bad"]:
                tally.injected.append((path, user, item["key"], item["id"], item["bad"]))
            key = ("popup", item["id"]) if item["kind"] == "Popup" else ("tooltip", LEVELS.get(item["key"]),
                                                                          item["id"])
            if user == "leader":
                tally.expect(expected.get(key, ()), item["text"], key)
        page.wait_for_timeout(300)
    page.evaluate(OPEN_PANELS)
    page.wait_for_timeout(100)
    probe = page.evaluate(PAGE_PROBE)
    tally.views += 1
    tally.opened.add((listed, user))
    tally.off_machine[listed] += len(tally.blocked) - before
    tally.csp += [(path, user, v) for v in probe["csp"]]
    if probe["bad"]:
        tally.injected.append((path, user, "page", None, probe["bad"]))
    case = path.split("/")[2] if listed == "/cases/{case}" else None
    key = ("case", int(case)) if case and user == "leader" else ("page", listed, user)
    tally.expect(expected.get(key, ()), probe["text"], key)


def browse(world: World, expected: dict, quick: bool) -> Tally:
    """Every view in headless Chromium, one browser context per user (signed in by its session cookie)."""
    tally = Tally()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            contexts = {}
            for view in views(world, quick):
                user = view[2]
                if user not in contexts:
                    contexts[user] = _context(browser, world, user, tally)
                page = contexts[user]
                visit(page, world.base, view, expected, tally,
                      layers=view[0] in ("/map", "/queue") and (not quick or user == "leader"), quick=quick)
        finally:
            browser.close()
    return tally


def _context(browser, world: World, user: str | None, tally: Tally):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    context.route("**/*", local_only(tally.blocked))
    context.add_init_script(WATCH_CSP)
    if user:
        context.add_cookies([{"name": COOKIE, "value": world.tokens[user], "url": world.base},
                             {"name": CSRF_COOKIE, "value": "xss-drill", "url": world.base}])
    page = context.new_page()
    page.on("dialog", lambda dialog: (tally.dialogs.append((page.url, dialog.message)), dialog.dismiss()))
    record_errors(page, tally.errors, where=True)
    return page


def _reads(world: World):
    import httpx
    cache: dict = {}

    def reads(user: str, case_id: int) -> bool:
        if (user, case_id) not in cache:
            cache[user, case_id] = httpx.get(f"{world.base}/api/cases/{case_id}",
                                             headers=bearer(world.tokens[user])).status_code == 200
        return cache[user, case_id]
    return reads


def drill(url: str, base: str, tokens: dict, plants: Plants, *, quick: bool) -> tuple[dict, Tally]:
    """Plant (imports and HTTP) in a served Chancheng database whose reference files held payloads, browse, and
    return the figures with the tally behind them."""
    world = World(base, url, tokens, plants)
    world.reads = _reads(world)
    with tempfile.TemporaryDirectory() as folder:
        plant(world, Path(folder), imported_rows=QUICK_IMPORTED_ROWS if quick else IMPORTED_ROWS)
    tally = browse(world, expectations(url), quick)
    return figures(world, tally, quick), tally


def figures(world: World, tally: Tally, quick: bool) -> dict:
    with psycopg.connect(world.url) as conn:
        cases = conn.execute("SELECT count(*) FROM event_case").fetchone()[0]
    fields = Counter(f for f, _ in world.plants.texts.values())
    listed = {(page, ROLES[role]) for _, page, _, allowed in PAGES for role in allowed} | \
        {(page, None) for _, page in OPEN_PAGES}
    missed = {} if quick else {"listed pages × roles not opened": len(listed - tally.opened)}
    return {"payloads planted": len(world.plants.texts), "fields with payloads": len(fields), "cases": cases,
            "pages opened": tally.views, **missed, "popups opened": tally.popups, "tooltips opened": tally.tooltips,
            "dialogs": len(tally.dialogs), "injected elements": len(tally.injected),
            "CSP violations": len(tally.csp),
            "requests leaving the machine": sum(tally.off_machine.values()),
            "planted texts shown as text": tally.shown, "planted texts not shown": len(tally.not_shown),
            "script errors": len(tally.errors)}


TARGETS = {"listed pages × roles not opened": "= 0", "dialogs": "= 0", "injected elements": "= 0",
           "CSP violations": "= 0", "requests leaving the machine": "= 0", "planted texts not shown": "= 0",
           "planted texts shown as text": ">= 1", "script errors": "= 0"}


def run(quick: bool = False) -> dict:
    """The drill in a database of its own, served by `citygrid serve`."""
    plants = Plants()
    with tempfile.TemporaryDirectory() as folder, tempfile.TemporaryDirectory() as media_root:
        files = payload_files(plants, Path(folder))
        with chancheng_database("xss", **files) as url:
            tokens = accounts(url, plants)
            with serving(url, media_root=media_root) as base:
                found, tally = drill(url, base, tokens, plants, quick=quick)
    dialogs = [(page, n, plants.field_of(n)) for page, n in tally.dialogs]
    wrong = [*dialogs, *tally.injected, *tally.csp[:20], *tally.not_shown[:20], *tally.errors[:10]]
    return {**result(found, {name: target for name, target in TARGETS.items() if name in found}), "wrong": wrong}


if __name__ == "__main__":
    sys.exit(command(TITLE, run))

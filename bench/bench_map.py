"""The leader's map under load, driven in headless Chromium: first load, a zoom redraw, and the time from a
committed change to its appearance on the open map (server-sent events), measured twice in the same run:
baseline = the map with no case layer (CITYGRID_MAP_CASE_LIMIT=0: grids, dashboard and live feed only),
candidate = the map as configured: /api/map/cases gives each case in view up to CITYGRID_MAP_CASE_LIMIT
(default 1000) and counted cells beyond it, asked for again on every move, filter and (in cells mode) change.

Usage: DATABASE_URL=postgresql://…/citygrid .venv/bin/python bench/bench_map.py [changes]
(load the demo, then `bench/generate_cases.py 100000` for the 100,000-case figures). Needs /usr/bin/chromium.
"""
from __future__ import annotations

import os
import socket
import statistics
import sys
import threading
import time

import psycopg
import uvicorn
from playwright.sync_api import sync_playwright

from citygrid.app import build_app
from citygrid.settings import Settings
from dispatch.accounts import add_user, issue_token
from dispatch.actor import Actor
from dispatch.intake.service import submit_report
from dispatch.models import Policy

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def serve(settings: Settings) -> tuple[str, uvicorn.Server]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(build_app(settings), host="127.0.0.1", port=port, log_level="warning",
                                           timeout_graceful_shutdown=2))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server


def token(url: str) -> str:
    with psycopg.connect(url) as conn:
        if not conn.execute("SELECT 1 FROM app_user WHERE username = 'bench-leader'").fetchone():
            add_user(conn, username="bench-leader", roles=["leader"], password=os.urandom(16).hex())
        issued = issue_token(conn, username="bench-leader", label="bench")
        conn.commit()
    return issued


def measure(url: str, limit: int, changes: int) -> dict:
    base, server = serve(Settings(database_url=url, map_case_limit=limit))
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            context = browser.new_context(viewport={"width": 1600, "height": 900})
            context.add_cookies([{"name": "citygrid_token", "value": token(url), "url": base}])
            context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(base) else r.abort())
            page = context.new_page()
            started = time.perf_counter()
            page.goto(f"{base}/map")
            ready = "window.citygrid && window.citygrid.ready && window.citygrid.live"
            if limit:
                ready += " && window.citygrid.views >= 1 && !window.citygrid.busy"
            page.wait_for_function(ready, polling="raf", timeout=120_000)
            first = time.perf_counter() - started
            shown = page.evaluate("() => [window.citygrid.mode, window.citygrid.shown, "
                                  "document.querySelectorAll('.citygrid-cell').length]")
            zooms = [redraw(page, limit, +1 if i % 2 == 0 else -1) for i in range(6)]
            delays = [live_delay(url, page, i, limit) for i in range(changes)]
            requests = page.evaluate("() => performance.getEntriesByType('resource')"
                                     ".filter(e => e.name.includes('/api/map/cases')).map(e => e.duration)")
            browser.close()
    finally:
        server.should_exit = True
    return {"first": first, "shown": shown, "zooms": zooms, "delays": delays, "requests": requests}


def redraw(page, limit: int, step: int) -> float:
    """One zoom step, until the map is drawn again (with the case layer: until the new view is drawn)."""
    wait = "window.citygrid.views > v && !window.citygrid.busy" if limit else "true"
    return page.evaluate(f"""() => new Promise(done => {{
        const m = window.citygrid.map, t = performance.now(), v = window.citygrid.views || 0;
        m.once('zoomend', () => {{
            const check = () => ({wait}) ? requestAnimationFrame(() => done(performance.now() - t))
                                         : requestAnimationFrame(check);
            check();
        }});
        m.setZoom(m.getZoom() + {step}, {{animate: false}}); }})""")


def live_delay(url: str, page, i: int, limit: int) -> float:
    officer = Actor("bench-officer", frozenset({"grid_officer"}), street_code="440604012")
    with psycopg.connect(url) as conn:
        case_id = submit_report(conn, actor=officer, policy=Policy(), category_code="0104", lon=113.11 + i * 1e-4,
                                lat=23.02, description="bench live").case_id
        conn.commit()
        committed = time.perf_counter()
    shown = f"window.citygrid.shownCase === {case_id}" if limit else \
        f"window.citygrid.lastCase && window.citygrid.lastCase.id === {case_id}"
    page.wait_for_function(f"() => {shown}", polling="raf", timeout=30_000)
    return time.perf_counter() - committed


def pct(values: list[float], q: float) -> float:
    v = sorted(values)
    return v[max(0, round(q * len(v)) - 1)] if v else float("nan")


def main() -> int:
    changes = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/citygrid")
    with psycopg.connect(url) as conn:
        total = conn.execute("SELECT count(*) FROM event_case").fetchone()[0]
    limit = Settings(database_url=url).map_case_limit
    print(f"cases in the database: {total:,}; {changes} live changes per run")
    for label, case_limit in (("baseline  (no case layer)", 0),
                              (f"candidate (server view: points up to {limit:,}, else cells)", limit)):
        r = measure(url, case_limit, changes)
        mode, shown, cells = r["shown"]
        drawn = f"{mode}: {shown:,} cases in {cells} cells" if mode == "cells" else f"{mode}: {shown}"
        print(f"{label}: first load {r['first'] * 1000:6.0f} ms ({drawn if case_limit else 'no cases'}), "
              f"zoom redraw p50 {statistics.median(r['zooms']):4.0f} ms max {max(r['zooms']):4.0f} ms, "
              f"change → map p50 {statistics.median(r['delays']) * 1000:4.0f} ms p95 {pct(r['delays'], .95) * 1000:4.0f} ms")
        if r["requests"]:
            print(f"    /api/map/cases as the browser saw it: {len(r['requests'])} requests, "
                  f"p50 {statistics.median(r['requests']):.0f} ms, max {max(r['requests']):.0f} ms")
    print("targets (issue 4): first load < 2 s, redraw < 500 ms, change → map p95 < 1 s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

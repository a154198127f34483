"""The leader's map under load, driven in headless Chromium: first load, a zoom redraw, and the time from a
committed change to its marker on the open map (server-sent events), measured twice in the same run:
baseline = the map with no case layer (CITYGRID_MAP_CASE_LIMIT=0), candidate = the map as configured
(up to CITYGRID_MAP_CASE_LIMIT cases, default 5000, open ones first, of however many the database holds).

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
from dispatch.actor import Actor
from dispatch.intake import submit_report
from dispatch.models import Policy
from web.accounts import add_user, issue_token

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
            page.wait_for_function("window.citygrid && window.citygrid.ready && window.citygrid.live",
                                   timeout=120_000)
            first = time.perf_counter() - started
            drawn = page.evaluate("() => window.citygrid.layers.cases.getLayers().length")
            zoom = page.evaluate("""() => new Promise(done => { const m = window.citygrid.map, t = performance.now();
                m.once('zoomend', () => requestAnimationFrame(() => done(performance.now() - t)));
                m.setZoom(m.getZoom() + 1, {animate: false}); })""")
            delays = [live_delay(url, page, i) for i in range(changes)]
            browser.close()
    finally:
        server.should_exit = True
    return {"first": first, "drawn": drawn, "zoom_ms": zoom, "delays": delays}


def live_delay(url: str, page, i: int) -> float:
    officer = Actor("bench-officer", frozenset({"grid_officer"}), street_code="440604012")
    with psycopg.connect(url) as conn:
        case_id = submit_report(conn, actor=officer, policy=Policy(), category_code="0104", lon=113.11 + i * 1e-4,
                                lat=23.02, description="bench live").case_id
        conn.commit()
        committed = time.perf_counter()
    page.wait_for_function(f"() => window.citygrid.lastCase && window.citygrid.lastCase.id === {case_id}",
                           polling="raf", timeout=30_000)
    return time.perf_counter() - committed


def main() -> int:
    changes = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/citygrid")
    with psycopg.connect(url) as conn:
        total = conn.execute("SELECT count(*) FROM event_case").fetchone()[0]
    limit = Settings(database_url=url).map_case_limit
    print(f"cases in the database: {total:,}; {changes} live changes per run")
    for label, case_limit in (("baseline  (no case layer)", 0), (f"candidate (up to {limit:,} cases, open first)", limit)):
        r = measure(url, case_limit, changes)
        d = sorted(r["delays"])
        p95 = d[max(0, round(0.95 * len(d)) - 1)] if d else float("nan")
        print(f"{label}: first load {r['first'] * 1000:7.0f} ms ({r['drawn']:,} markers), zoom redraw "
              f"{r['zoom_ms']:6.0f} ms, change → map p50 {statistics.median(d) * 1000:5.0f} ms "
              f"p95 {p95 * 1000:5.0f} ms")
    print("targets (issue 4): first load < 2 s, redraw < 500 ms, change → map p95 < 1 s; "
          "beyond the limit the map draws only the open and newest cases as markers, clustered (grid shading and the dashboard count all)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""指挥大屏 /screen over a long run: reports filed through the API (one every --every seconds) while the wall screen is
open in headless Chromium; the page's JS heap (after a forced garbage collection) and DOM nodes are sampled every
--sample seconds.

Every report adds a case to the map, so the heap grows with the data whether or not anything leaks. The baseline,
measured in the same run, is therefore a fresh /screen opened at the end on the same cases: a page that has run for
the whole bench should hold no more than a page that has just loaded them. The first minute's heap is printed too.

Target: the long-running page's heap is at most 1.2× the fresh page's (the exit status is 1 otherwise).

Usage: .venv/bin/python bench/bench_screen.py [--minutes 10] [--every 0.5] [--sample 30] [--quick (2 minutes)]
"""
from __future__ import annotations

import argparse
import sys
import time

from playwright.sync_api import sync_playwright

from benchdb import drop_city, machine, make_city, serving
from tests.browser import ARGS, CHROMIUM, local_only, sign_in_form
from tests.screen_load import Reporter, dom_nodes, heap_used, measuring

BOUND = 1.2


def open_screen(browser, base: str, blocked: list[str]):
    """A signed-in /screen at 1920×1080 whose map and figures have loaded."""
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    context.route("**/*", local_only(blocked))
    page = context.new_page()
    sign_in_form(page, base, "leader", "/screen")
    page.wait_for_function("() => window.citygrid && window.citygrid.ready && window.citygrid.live && "
                           "window.citygrid.views >= 1 && window.citygrid.screenRefreshes >= 1", timeout=60_000)
    return page


def run(base: str, *, minutes: float, every: float, sample: float) -> tuple[list[tuple[float, int, int]], int, int]:
    """(seconds since the start, heap bytes, DOM nodes) every `sample` seconds while reports are filed; then the
    heap and DOM nodes of a fresh /screen on the same cases."""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        blocked: list[str] = []
        page = open_screen(browser, base, blocked)
        cdp, reporter = measuring(page), Reporter(base)
        start, samples = time.monotonic(), []
        while time.monotonic() - start < minutes * 60:
            reporter.run(sample, every=every, page=page)
            samples.append((time.monotonic() - start, heap_used(cdp), dom_nodes(cdp)))
            print(f"{samples[-1][0]:7.0f} s  heap {samples[-1][1] / 1e6:7.2f} MB  nodes {samples[-1][2]:6d}  "
                  f"filed {reporter.filed}  received {page.evaluate('() => window.citygrid.received')}", flush=True)
        page.wait_for_timeout(3000)  # the last refresh and pulses end
        samples.append((time.monotonic() - start, heap_used(cdp), dom_nodes(cdp)))
        fresh = open_screen(browser, base, blocked)
        fresh.wait_for_timeout(3000)
        fresh_cdp = measuring(fresh)
        fresh_heap, fresh_nodes = heap_used(fresh_cdp), dom_nodes(fresh_cdp)
        shown = (page.evaluate("() => window.citygrid.shown"), fresh.evaluate("() => window.citygrid.shown"))
        print(f"cases on the map: long-running page {shown[0]}, fresh page {shown[1]}")
        assert not blocked, blocked
        browser.close()
    return samples, fresh_heap, fresh_nodes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--every", type=float, default=0.5, help="seconds between reports")
    parser.add_argument("--sample", type=float, default=30, help="seconds between heap samples")
    parser.add_argument("--quick", action="store_true", help="2 minutes")
    args = parser.parse_args()
    if args.quick:
        args.minutes = 2
    print(machine())
    url, _ = make_city("citygrid_bench_screen")
    try:
        with serving(url) as base:
            samples, fresh, fresh_nodes = run(base, minutes=args.minutes, every=args.every, sample=args.sample)
    finally:
        drop_city(url)
    first = [s for s in samples if s[0] <= 60] or samples[:1]
    end, end_nodes = samples[-1][1], samples[-1][2]
    print(f"first minute (max) {max(s[1] for s in first) / 1e6:.2f} MB; after {samples[-1][0]:.0f} s "
          f"{end / 1e6:.2f} MB, {end_nodes} nodes")
    print(f"baseline: a fresh /screen on the same cases {fresh / 1e6:.2f} MB, {fresh_nodes} nodes")
    print(f"long-running / fresh: heap {end / fresh:.3f}, nodes {end_nodes / fresh_nodes:.3f} (bound {BOUND})")
    return 0 if end <= BOUND * fresh and end_nodes <= BOUND * fresh_nodes else 1


if __name__ == "__main__":
    sys.exit(main())

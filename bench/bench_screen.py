"""指挥大屏 /screen over a long run: reports filed through the API (one every --every seconds) while the wall screen is
open in headless Chromium; the page's JS heap (after a forced garbage collection) and DOM nodes are sampled every
--sample seconds and compared against the first minute's baseline (the same check as tests/test_screen.py, longer).

Target: the heap at the end is at most 1.5× the first minute's (the exit status is 1 otherwise).

Usage: .venv/bin/python bench/bench_screen.py [--minutes 10] [--every 0.5] [--sample 30]
"""
from __future__ import annotations

import argparse
import sys
import time

from playwright.sync_api import sync_playwright

from benchdb import drop_city, machine, make_city, serving
from tests.browser import ARGS, CHROMIUM, local_only, sign_in_form
from tests.screen_load import Reporter, dom_nodes, heap_used, measuring

BOUND = 1.5


def run(base: str, *, minutes: float, every: float, sample: float) -> list[tuple[float, int, int]]:
    """(seconds since the start, heap bytes, DOM nodes) every `sample` seconds while reports are filed."""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
        blocked: list[str] = []
        context.route("**/*", local_only(blocked))
        page = context.new_page()
        sign_in_form(page, base, "leader", "/screen")
        page.wait_for_function("() => window.citygrid && window.citygrid.ready && window.citygrid.live",
                               timeout=60_000)
        cdp, reporter = measuring(page), Reporter(base)
        start, samples = time.monotonic(), []
        while time.monotonic() - start < minutes * 60:
            reporter.run(sample, every=every, page=page)
            samples.append((time.monotonic() - start, heap_used(cdp), dom_nodes(cdp)))
            print(f"{samples[-1][0]:7.0f} s  heap {samples[-1][1] / 1e6:7.2f} MB  nodes {samples[-1][2]:6d}  "
                  f"filed {reporter.filed}  received {page.evaluate('() => window.citygrid.received')}", flush=True)
        assert not blocked, blocked
        browser.close()
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--every", type=float, default=0.5, help="seconds between reports")
    parser.add_argument("--sample", type=float, default=30, help="seconds between heap samples")
    args = parser.parse_args()
    print(machine())
    url, _ = make_city("citygrid_bench_screen")
    try:
        with serving(url) as base:
            samples = run(base, minutes=args.minutes, every=args.every, sample=args.sample)
    finally:
        drop_city(url)
    first = [s for s in samples if s[0] <= 60] or samples[:1]
    baseline, end = max(s[1] for s in first), samples[-1][1]
    print(f"baseline (first minute, max) {baseline / 1e6:.2f} MB, end {end / 1e6:.2f} MB, "
          f"ratio {end / baseline:.3f} (bound {BOUND})")
    return 0 if end <= BOUND * baseline else 1


if __name__ == "__main__":
    sys.exit(main())

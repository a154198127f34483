"""Shared by tests/test_screen.py and bench/bench_screen.py: reports filed through the API while /screen is open,
and the page's JS heap measured through the DevTools protocol after a forced garbage collection."""
from __future__ import annotations

import itertools
import time

import httpx

# points inside the district, spread over its streets (石湾, 祖庙, 张槎, 南庄)
POINTS = [(113.12, 23.02), (113.1187, 23.03), (113.118, 22.987), (113.155, 22.998), (113.06, 23.034),
          (113.012, 22.979), (113.10, 22.996)]
CATEGORIES = ["0102", "0505"]


def token(base: str, username: str) -> str:
    """A bearer token from the sign-in API."""
    answer = httpx.post(f"{base}/api/tokens", json={"username": username, "password": f"{username}-password-1"})
    answer.raise_for_status()
    return answer.json()["token"]


class Reporter:
    """Files reports through POST /api/reports, one point after another."""

    def __init__(self, base: str, username: str = "officer") -> None:
        self.client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token(base, username)}"},
                                   timeout=30)
        self.points = itertools.cycle(POINTS)
        self.categories = itertools.cycle(CATEGORIES)
        self.filed = 0

    def file(self) -> int:
        """One report; its case id."""
        lon, lat = next(self.points)
        answer = self.client.post("/api/reports", json={"category": next(self.categories), "lon": lon, "lat": lat,
                                                         "description": f"大屏测试 {self.filed}"})
        answer.raise_for_status()
        self.filed += 1
        return answer.json()["case_id"]

    def run(self, seconds: float, *, every: float = 0.5, page=None) -> int:
        """File reports for `seconds` (a report each `every` s); with page, let the page work meanwhile."""
        end, n = time.monotonic() + seconds, 0
        while time.monotonic() < end:
            self.file()
            n += 1
            if page is not None:
                page.wait_for_timeout(every * 1000)
            else:
                time.sleep(every)
        return n


    def simulate(self, seconds: float, page, *, every: float = 0.5) -> int:
        """`seconds` of live events on the page's own clock (Playwright's fake timers, installed before the page
        loaded): a report, then the page's timers run for `every` s, without waiting for them in real time."""
        n = int(seconds / every)
        for _ in range(n):
            self.file()
            page.clock.run_for(int(every * 1000))
        return n


def heap_used(cdp) -> int:
    """The page's JS heap in use, in bytes, right after a full garbage collection."""
    cdp.send("HeapProfiler.collectGarbage")
    metrics = cdp.send("Performance.getMetrics")["metrics"]
    return int(next(m["value"] for m in metrics if m["name"] == "JSHeapUsedSize"))


def dom_nodes(cdp) -> int:
    """The page's DOM nodes (after the same collection)."""
    metrics = cdp.send("Performance.getMetrics")["metrics"]
    return int(next(m["value"] for m in metrics if m["name"] == "Nodes"))


def measuring(page):
    """A DevTools session on the page with the performance metrics on."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")
    return cdp

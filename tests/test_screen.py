"""指挥大屏 /screen in headless Chromium: laid out for the wall, live, accessible, and its heap stays bounded."""
from __future__ import annotations

import pytest

from tests.axe import serious_violations
from tests.browser import guarded_page, sign_in_form
from tests.screen_load import Reporter, dom_nodes, heap_used, measuring
from tests.test_map_browser import server  # noqa: F401 (fixture)

WALLS = {"screen-1080.png": (1920, 1080), "screen-2160.png": (3840, 2160), "screen-phone-390.png": (390, 844)}
WARM_UP_S, RUN_S = 10, 60
BOUND = 1.5  # the heap after the run is at most this times the heap after the warm-up


@pytest.fixture
def wall(browser):
    """A page of the given wall size, every non-local request refused."""
    opened = []

    def open_page(width: int, height: int):
        opened.append(guarded_page(browser, width, height))
        return opened[-1]

    yield open_page
    for page in opened:
        page.context.close()


def open_screen(page, base: str) -> None:
    sign_in_form(page, base, "leader", "/screen")
    page.wait_for_function("() => window.citygrid && window.citygrid.ready && window.citygrid.views >= 1 && "
                           "window.citygrid.screenRefreshes >= 1 && window.citygrid.live", timeout=30_000)


def boxes(page) -> dict:
    return page.evaluate("""() => Object.fromEntries(['.sc-left', '.sc-right', '.folium-map', '.sc-top'].map(s => {
      const r = document.querySelector(s).getBoundingClientRect();
      return [s, [Math.round(r.left), Math.round(r.top), Math.round(r.right), Math.round(r.bottom)]]; }))""")


@pytest.mark.browser
@pytest.mark.parametrize("shot", sorted(WALLS))
def test_the_wall_screen_fills_the_wall_dark_without_controls(server, wall, artifacts, shot):  # noqa: F811
    base, url = server
    width, height = WALLS[shot]
    page = wall(width, height)
    reporter = Reporter(base)
    reporter.file()
    open_screen(page, base)
    b = boxes(page)
    assert b[".sc-left"][2] <= b[".folium-map"][0] and b[".folium-map"][2] <= b[".sc-right"][0]  # side by side
    assert b[".sc-top"][3] <= b[".folium-map"][1] and all(r[2] <= width and r[3] <= height for r in b.values())
    assert page.evaluate("() => document.documentElement.scrollWidth <= innerWidth && "
                         "document.documentElement.scrollHeight <= innerHeight")
    assert page.locator(".leaflet-control-zoom, .leaflet-control-layers, select, button").count() == 0
    assert page.evaluate("() => getComputedStyle(document.body).backgroundColor") == "rgb(7, 17, 31)"
    assert page.locator(".sc-today .sc-figure").count() == 5
    assert page.locator(".sc-today .sc-figure b").first.inner_text() == "1"  # reported today
    assert page.locator(".sc-trend canvas").count() == 1
    assert serious_violations(page) == []
    page.screenshot(path=str(artifacts / shot))
    assert page.blocked == [] and page.js_errors == []


@pytest.mark.browser
def test_a_live_change_pulses_and_the_figures_follow(server, wall):  # noqa: F811
    base, url = server
    page = wall(1920, 1080)
    open_screen(page, base)
    before = page.evaluate("() => window.citygrid.screenRefreshes")
    case_id = Reporter(base).file()
    page.wait_for_function(f"() => window.citygrid.lastCase && window.citygrid.lastCase.id === {case_id}",
                           timeout=15_000)
    assert page.evaluate("() => window.citygrid.pulses") == 1
    assert page.locator("path.sc-pulse").count() == 1
    page.wait_for_function(f"() => window.citygrid.screenRefreshes > {before}", timeout=15_000)
    assert page.locator(".sc-today .sc-figure b").first.inner_text() == "1"
    page.wait_for_function("() => document.querySelectorAll('path.sc-pulse').length === 0", timeout=15_000)


@pytest.mark.browser
def test_the_wall_screen_heap_stays_bounded_under_live_events(server, wall):  # noqa: F811
    """60 s of live events on the page's clock (a report every 0.5 s; the page's refresh throttle, pulses and
    minute refresh run on fake timers), so the run takes seconds; bench/bench_screen.py runs it in real time."""
    base, url = server
    page = wall(1920, 1080)
    page.clock.install()
    open_screen(page, base)
    cdp = measuring(page)
    reporter = Reporter(base)

    def settle():  # every event reached the page, and the last refresh and pulses have ended
        page.wait_for_function(f"() => window.citygrid.received >= {reporter.filed}", timeout=15_000)
        page.clock.run_for(4000)
        page.wait_for_function("() => !window.citygrid.busy", timeout=15_000)

    reporter.simulate(WARM_UP_S, page)
    settle()
    warm, warm_nodes = heap_used(cdp), dom_nodes(cdp)
    samples = [warm]
    for _ in range(RUN_S // 10):
        reporter.simulate(10, page)
        samples.append(heap_used(cdp))
    settle()
    end, end_nodes = heap_used(cdp), dom_nodes(cdp)
    print(f"heap samples (bytes): {samples + [end]}; nodes {warm_nodes} -> {end_nodes}; filed {reporter.filed}")
    received = page.evaluate("() => window.citygrid.received")
    assert received >= reporter.filed - 1 and reporter.filed >= RUN_S  # every report reached the page
    assert page.evaluate("() => window.citygrid.screenRefreshes") >= RUN_S // 5
    assert end <= BOUND * warm, f"heap grew from {warm} to {end} bytes: {samples}"
    assert end_nodes <= BOUND * warm_nodes
    assert page.js_errors == []

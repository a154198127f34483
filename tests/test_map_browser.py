"""The map in headless Chromium with every non-local request refused."""
from __future__ import annotations

import psycopg
import pytest

from citygrid.settings import Settings
from dispatch.intake.service import submit_report
from dispatch.models import Policy
from tests.browser import guarded_page, running_app, sign_in_form
from tests.casecopies import add_copies
from tests.people import actor, add_cast

@pytest.fixture
def server(chancheng_url):
    with psycopg.connect(chancheng_url) as conn:
        add_cast(conn, ["leader", "officer", "leader_shiwan"])
    with running_app(Settings(database_url=chancheng_url)) as base:
        yield base, chancheng_url


@pytest.fixture
def page(browser):
    """A 1400×900 page of the module's Chromium, every non-local request refused (page.blocked, page.js_errors)."""
    opened = guarded_page(browser, 1400, 900)
    yield opened
    opened.context.close()


def sign_in(page, base: str, username: str, *, live: bool = False) -> None:
    """Use the real sign-in form, as a person would; wait for the map's first view of the cases (and the feed)."""
    sign_in_form(page, base, username, "/map")
    page.wait_for_function("() => window.citygrid && window.citygrid.ready && window.citygrid.views >= 1 && "
                           "!window.citygrid.busy"
                           + (" && window.citygrid.live" if live else ""), timeout=30_000)


def select_and_wait(page, name: str, value: str) -> None:
    """Change a filter and wait for the server's answer to be drawn."""
    before = page.evaluate("() => window.citygrid.views")
    page.select_option(f"select[name={name}]", value)
    page.wait_for_function(f"() => window.citygrid.views > {before} && !window.citygrid.busy", timeout=15_000)


def file_report(url: str, *, category: str, lon: float, lat: float, description: str) -> None:
    with psycopg.connect(url) as conn:
        submit_report(conn, actor=actor("officer"), policy=Policy(), category_code=category, lon=lon, lat=lat,
                      description=description)
        conn.commit()


def db_counts(url: str) -> dict:
    with psycopg.connect(url) as conn:
        counts = dict(conn.execute(
            "SELECT lv, count(*) FROM grid_release r JOIN LATERAL (VALUES ('streets', r.street_layer_id), "
            "('communities', r.community_layer_id), ('grids', r.grid_layer_id)) v(lv, id) ON true "
            "JOIN grid_feature f ON f.layer_id = v.id WHERE r.is_active GROUP BY lv").fetchall())
        counts["cases"] = conn.execute("SELECT count(*) FROM event_case").fetchone()[0]
    return counts


DRAWN = """
() => Object.fromEntries(Object.entries(window.citygrid.layers).map(([key, layer]) => {
  let drawn = 0;
  layer.eachLayer(f => { if (f._path && f._path.isConnected && f._path.getAttribute('d')) drawn++; });
  return [key, drawn];
}))
"""


@pytest.mark.browser
def test_map_draws_every_feature_offline(server, page, artifacts):
    base, url = server
    for lon, lat in ((113.12, 23.02), (113.03, 22.985), (113.1187, 23.0300)):
        file_report(url, category="0102", lon=lon, lat=lat, description="test")
    with psycopg.connect(url) as conn:  # the third one is overdue
        conn.execute("UPDATE event_case SET deadline = now() - interval '1 hour', yellow_at = now() - "
                     "interval '2 hours' WHERE id = (SELECT max(id) FROM event_case)")
    sign_in(page, base, "leader")
    drawn = page.evaluate(DRAWN)
    assert drawn == db_counts(url)
    assert drawn["grids"] > 1000 and drawn["cases"] == 3
    colours = page.evaluate("() => { const c = []; window.citygrid.layers.cases.eachLayer("
                            "m => c.push(m._path.getAttribute('fill'))); return c.sort(); }")
    assert colours == ["#2e7d32", "#c62828", "#e65100"]  # on time: green; overdue: red; waiting: orange
    shaded = page.evaluate("() => { const c = {}; window.citygrid.layers.grids.eachLayer(g => { "
                           "const f = g._path.getAttribute('fill'); if (f !== '#607d8b') c[f] = (c[f] || 0) + 1; }); "
                           "return c; }")
    assert shaded == {"#ef6c00": 2, "#c62828": 1}  # grids with open cases; the grid with the overdue one
    assert page.blocked == [] and page.js_errors == []
    assert "禅城区" in page.locator(".citygrid-title").inner_text()
    page.screenshot(path=str(artifacts / "map.png"))


@pytest.mark.browser
def test_user_text_in_a_popup_is_shown_as_text(server, page, artifacts):
    base, url = server
    evil = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">${window.__pwned = 3}'
    file_report(url, category="0505", lon=113.12, lat=23.02, description=evil)
    sign_in(page, base, "leader")
    page.evaluate("() => window.citygrid.layers.cases.eachLayer(m => m.openPopup())")
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert evil in popup.inner_text()
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator(".leaflet-popup-content img").count() == 0
    page.screenshot(path=str(artifacts / "map-popup.png"))


@pytest.mark.browser
def test_open_details_stay_open_when_the_view_reloads(server, page):
    base, url = server
    file_report(url, category="0102", lon=113.12, lat=23.02, description="还开着 still open")
    sign_in(page, base, "leader")
    page.evaluate("() => window.citygrid.layers.cases.eachLayer(m => m.openPopup())")
    page.locator(".leaflet-popup-content").wait_for()
    before = page.evaluate("() => window.citygrid.views")
    page.evaluate("() => window.citygrid.map.panBy([-150, -100], {animate: false})")  # a move reloads the view
    page.wait_for_function(f"() => window.citygrid.views > {before} && !window.citygrid.busy", timeout=15_000)
    assert page.locator(".leaflet-popup-content").count() == 1
    assert "还开着 still open" in page.locator(".leaflet-popup-content").inner_text()


@pytest.mark.browser
def test_a_street_leader_sees_only_their_street(server, page):
    base, url = server
    file_report(url, category="0102", lon=113.12, lat=23.02, description="祖庙")
    file_report(url, category="0102", lon=113.1180, lat=22.9870, description="石湾")
    sign_in(page, base, "leader_shiwan")
    assert page.evaluate(DRAWN)["cases"] == 1


CASE_IDS = "() => { const ids = {}; window.citygrid.layers.cases.eachLayer(m => { " \
           "ids[m.feature.properties.id] = [m.feature.properties.status, m._path && m._path.getAttribute('fill')]; " \
           "}); return ids; }"


@pytest.mark.browser
def test_the_open_map_shows_new_and_changed_cases_without_reload(server, page, artifacts):
    base, url = server
    sign_in(page, base, "leader", live=True)
    assert page.evaluate(CASE_IDS) == {}
    with psycopg.connect(url) as conn:
        done = submit_report(conn, actor=actor("officer"), policy=Policy(), category_code="0102", lon=113.121,
                             lat=23.021, description="<b>live</b> 新上报")
        conn.commit()
    page.wait_for_function(f"() => window.citygrid.lastCase && window.citygrid.lastCase.id === {done.case_id}",
                           timeout=15_000)
    assert page.evaluate(CASE_IDS)[str(done.case_id)] == ["dispatched", "#2e7d32"]
    # the dashboard beside the map counts it too, without reload
    page.wait_for_function("() => window.citygrid.dashboard && window.citygrid.dashboard.today.reported === 1",
                           timeout=15_000)
    assert "今日 " in page.locator(".citygrid-dash").inner_text()
    from dispatch.casework.cases import Request, act
    with psycopg.connect(url) as conn:
        act(conn, case_id=done.case_id, action="return", actor=actor("hws"), policy=Policy(),
            request=Request(note="不归我们"))
        conn.commit()
    page.wait_for_function("() => window.citygrid.lastCase.status === 'returned'", timeout=15_000)
    assert page.evaluate(CASE_IDS)[str(done.case_id)] == ["returned", "#e65100"]  # one marker, restyled
    page.evaluate("() => window.citygrid.layers.cases.eachLayer(m => m.openPopup())")
    popup = page.locator(".leaflet-popup-content").inner_text()
    assert "<b>live</b> 新上报" in popup
    with psycopg.connect(url) as conn:  # written from a UTC session, shown in Asia/Shanghai time
        created = conn.execute("SELECT to_char(created_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') "
                               "FROM event_case WHERE id = %s", (done.case_id,)).fetchone()[0]
    assert created in popup
    assert page.blocked == [] and page.js_errors == []
    page.screenshot(path=str(artifacts / "map-live.png"))


@pytest.mark.browser
def test_a_revoked_session_sends_the_open_map_to_sign_in(server, page):
    base, url = server
    sign_in(page, base, "leader", live=True)
    with psycopg.connect(url) as conn:  # e.g. an administrator deactivated the account or reset its password
        from dispatch.accounts import set_password
        set_password(conn, username="leader", password="leader-password-2")
        conn.commit()
    page.wait_for_url(f"{base}/login?next=%2Fmap", timeout=15_000)
    assert page.locator("input[name=username]").count() == 1
    assert page.blocked == [] and page.js_errors == []


@pytest.mark.browser
def test_live_cases_past_the_limit_turn_the_view_into_cells(server, page):
    base, url = server
    file_report(url, category="0102", lon=113.12, lat=23.02, description="the first")
    add_copies(url, 998)  # the limit is 1000: the map draws each case
    sign_in(page, base, "leader", live=True)
    assert page.evaluate("() => [window.citygrid.mode, window.citygrid.shown]") == ["points", 999]
    file_report(url, category="0102", lon=113.12, lat=23.02, description="the 1000th")
    page.wait_for_function("() => window.citygrid.shown === 1000", timeout=15_000)
    assert page.evaluate("() => window.citygrid.mode") == "points"
    file_report(url, category="0102", lon=113.121, lat=23.021, description="the 1001st")
    page.wait_for_function("() => window.citygrid.mode === 'cells'", timeout=15_000)
    assert page.evaluate("() => [window.citygrid.shown, window.citygrid.layers.cases.getLayers().length]") == [1001, 0]
    page.evaluate("() => window.citygrid.map.setView([23.02, 113.12], 18)")  # zoomed in: a case far away
    page.wait_for_function("() => window.citygrid.mode === 'points' && !window.citygrid.busy")
    held = page.evaluate("() => window.citygrid.layers.cases.getLayers().length")
    file_report(url, category="0102", lon=113.0, lat=22.98, description="far west")
    page.wait_for_function("() => window.citygrid.lastCase && window.citygrid.lastCase.description === 'far west'",
                           timeout=15_000)
    assert page.evaluate("() => window.citygrid.layers.cases.getLayers().length") == held  # not put on the map
    assert page.js_errors == []


@pytest.mark.browser
def test_the_live_feed_respects_scope(server, page):
    base, url = server
    sign_in(page, base, "leader_shiwan", live=True)
    file_report(url, category="0102", lon=113.12, lat=23.02, description="祖庙: not for 石湾")
    file_report(url, category="0102", lon=113.1180, lat=22.9870, description="石湾")
    page.wait_for_function("() => window.citygrid.lastCase && window.citygrid.lastCase.description === '石湾'",
                           timeout=15_000)
    assert page.evaluate("() => window.citygrid.received") == 1


@pytest.mark.browser
def test_no_dashboard_for_a_grid_officer(server, page):
    base, url = server
    sign_in(page, base, "officer")
    assert page.locator(".citygrid-dash").count() == 0 and page.js_errors == []


@pytest.mark.browser
def test_filters_narrow_the_cases_and_apply_to_live_updates(server, page):
    base, url = server
    file_report(url, category="0102", lon=113.12, lat=23.02, description="litter")      # → S-012-HWS, 祖庙
    file_report(url, category="0201", lon=113.1187, lat=23.0300, description="ads")     # 02 宣传广告
    file_report(url, category="0102", lon=113.1180, lat=22.9870, description="石湾")   # waits for intake
    sign_in(page, base, "leader", live=True)
    page.wait_for_function("() => window.citygrid.filtersReady", timeout=30_000)
    select_and_wait(page, "major", "01")
    assert page.evaluate("() => window.citygrid.shown") == 2
    select_and_wait(page, "street", "440604012")
    assert page.evaluate("() => window.citygrid.shown") == 1
    select_and_wait(page, "status", "overdue")
    assert page.evaluate("() => window.citygrid.shown") == 0
    select_and_wait(page, "status", "")
    file_report(url, category="0201", lon=113.121, lat=23.021, description="live ads")  # filtered out on arrival
    page.wait_for_function("() => window.citygrid.lastCase && window.citygrid.lastCase.description === 'live ads'",
                           timeout=15_000)
    assert page.evaluate("() => window.citygrid.layers.cases.getLayers().length") == 1
    select_and_wait(page, "major", "")
    select_and_wait(page, "street", "")
    assert page.evaluate("() => window.citygrid.shown") == 4 and page.js_errors == []


CLUSTER_COUNT = """() => {
  let inClusters = 0, clusters = 0;
  document.querySelectorAll('.marker-cluster').forEach(c => { clusters++; inClusters += Number(c.innerText); });
  let singles = 0;
  window.citygrid.layers.cases.eachLayer(m => { if (m._path && m._path.isConnected) singles++; });
  return {clusters, inClusters, singles};
}"""


@pytest.mark.browser
def test_many_cases_cluster_when_zoomed_out_and_a_heat_map_toggles(server, page, artifacts):
    base, url = server
    file_report(url, category="0102", lon=113.12, lat=23.02, description="seed")
    add_copies(url, 399)  # 399 more, scattered around 祖庙
    sign_in(page, base, "leader")
    assert page.js_errors == [] and page.evaluate("() => window.citygrid.clustered"), page.js_errors
    page.wait_for_function(f"() => {{ const c = ({CLUSTER_COUNT})(); return c.clusters > 0 && "
                           "c.inClusters + c.singles === 400; }", timeout=15_000)
    zoomed_out = page.evaluate(CLUSTER_COUNT)
    assert zoomed_out["clusters"] > 0 and zoomed_out["inClusters"] + zoomed_out["singles"] == 400
    assert zoomed_out["singles"] < 100  # clusters, not 400 markers
    page.screenshot(path=str(artifacts / "map-clusters.png"))
    page.evaluate("() => window.citygrid.map.setView([23.02, 113.12], 17, {animate: false})")
    page.wait_for_function("() => document.querySelectorAll('.marker-cluster').length === 0", timeout=15_000)
    assert page.evaluate(CLUSTER_COUNT)["singles"] > 0
    page.evaluate("() => window.citygrid.map.setZoom(12, {animate: false})")
    page.wait_for_function("() => window.citygrid.filtersReady", timeout=15_000)
    page.check("input[name=heat]")
    page.wait_for_function("() => window.citygrid.heat && document.querySelector('canvas.leaflet-heatmap-layer')",
                           timeout=15_000)
    page.screenshot(path=str(artifacts / "map-heat.png"))
    assert page.blocked == [] and page.js_errors == []


GRID_FILL = "(code) => { let fill = null; window.citygrid.layers.grids.eachLayer(g => { " \
            "if (g.feature.properties.code === code) fill = g._path.getAttribute('fill'); }); return fill; }"
CELL_TOTAL = "() => [...document.querySelectorAll('.citygrid-cell')].reduce((n, c) => n + Number(c.innerText), 0)"


@pytest.mark.browser
def test_beyond_the_limit_the_server_counts_cells_that_follow_live_changes(chancheng_url, page, artifacts):
    with psycopg.connect(chancheng_url) as conn:
        add_cast(conn, ["leader", "officer"])
    file_report(chancheng_url, category="0102", lon=113.12, lat=23.02, description="seed")
    add_copies(chancheng_url, 199)
    with running_app(Settings(database_url=chancheng_url, map_case_limit=50)) as base:
        sign_in(page, base, "leader", live=True)
        assert page.evaluate("() => window.citygrid.mode") == "cells"
        assert page.evaluate(CELL_TOTAL) == 200 == page.evaluate("() => window.citygrid.shown")
        assert page.evaluate("() => window.citygrid.layers.cases.getLayers().length") == 0  # no case markers
        page.screenshot(path=str(artifacts / "map-cells.png"))
        # a new report in a grid with no case yet: the cell count and the grid's shading follow, without reload
        with psycopg.connect(chancheng_url) as conn:
            done = submit_report(conn, actor=actor("officer"), policy=Policy(), category_code="0102", lon=113.1180,
                                 lat=22.9870, description="石湾 live")
            conn.commit()
            grid = conn.execute("SELECT grid_code FROM event_case WHERE id = %s", (done.case_id,)).fetchone()[0]
        assert page.evaluate(GRID_FILL, grid) == "#607d8b"
        page.wait_for_function(f"() => window.citygrid.shownCase === {done.case_id}", timeout=15_000)
        assert page.evaluate(CELL_TOTAL) == 201
        page.wait_for_function(f"() => ({GRID_FILL})('{grid}') === '#2e7d32' || ({GRID_FILL})('{grid}') === "
                               "'#ef6c00'", timeout=15_000)
        # a click on the biggest cell zooms into it, until the cases there come one by one
        zoom = page.evaluate("() => window.citygrid.map.getZoom()")
        for _ in range(6):
            if page.evaluate("() => window.citygrid.mode") == "points":
                break
            views = page.evaluate("() => window.citygrid.views")
            page.evaluate("() => { const cells = [...document.querySelectorAll('.citygrid-cell')]; "
                          "cells.sort((a, b) => Number(b.innerText) - Number(a.innerText)); cells[0].click(); }")
            page.wait_for_function(f"() => window.citygrid.views > {views}", timeout=15_000)
        assert page.evaluate("() => window.citygrid.map.getZoom()") > zoom
        assert page.evaluate("() => window.citygrid.mode") == "points"
        assert 0 < page.evaluate("() => window.citygrid.layers.cases.getLayers().length") <= 50
        page.screenshot(path=str(artifacts / "map-cells-zoomed.png"))
        assert page.blocked == [] and page.js_errors == []

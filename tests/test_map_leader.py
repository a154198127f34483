"""The leader's map as a person uses it (issue 12): header, details of any case, legend, dashboard, case list."""
from __future__ import annotations

import time

import psycopg
import pytest

from tests.axe import serious_violations
from tests.casecopies import add_copies
from tests.people import add_messages
from tests.test_map_browser import file_report, page, server, sign_in  # noqa: F401 (fixtures)

EAST = (113.158, 22.997)  # the district's eastern tip (石湾), where the dashboard used to sit


def newest_case(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT max(id) FROM event_case").fetchone()[0]


def marker_point(page, case_id: int) -> dict:
    """Where a case's marker is on the screen (page coordinates)."""
    return page.evaluate("""(id) => { let p = null; const map = window.citygrid.map;
      window.citygrid.layers.cases.eachLayer(m => { if (m.feature.properties.id === id) {
        const c = map.latLngToContainerPoint(m.getLatLng()), r = map.getContainer().getBoundingClientRect();
        p = { x: r.left + c.x, y: r.top + c.y }; } });
      return p; }""", case_id)


@pytest.mark.browser
def test_a_case_in_the_east_is_clickable_at_the_first_view(server, page, artifacts):  # noqa: F811
    base, url = server
    file_report(url, category="0102", lon=EAST[0], lat=EAST[1], description="东边的案件 " + "长描述 " * 300)
    case_id = newest_case(url)
    sign_in(page, base, "leader")
    at = marker_point(page, case_id)
    on_top = page.evaluate("([x, y]) => { const n = document.elementFromPoint(x, y); "
                           "return n && n.closest('.leaflet-marker-pane, .leaflet-overlay-pane') !== null; }",
                           [at["x"], at["y"]])
    assert on_top, "the marker is covered by a panel"
    centre = page.evaluate("() => window.citygrid.map.getCenter()")
    page.mouse.click(at["x"], at["y"])
    details = page.locator(".leaflet-popup-content .citygrid-details")
    details.wait_for()
    assert f"#{case_id}" in details.inner_text()
    assert details.locator("a.citygrid-case-link").get_attribute("href") == f"/cases/{case_id}"
    assert page.evaluate("() => window.citygrid.map.getCenter()") == centre  # opening details moves nothing
    box = details.bounding_box()
    assert box["height"] <= 260  # a long description scrolls inside the details
    page.wait_for_function("() => getComputedStyle(document.querySelector('.leaflet-popup')).opacity === '1'")
    page.screenshot(path=str(artifacts / "map-details.png"))
    assert page.js_errors == []


@pytest.mark.browser
def test_the_header_has_sign_out_and_the_unread_count(server, page):  # noqa: F811
    base, url = server
    add_messages(url, "leader", 3)
    sign_in(page, base, "leader")
    header = page.locator("header.cg-top")
    assert header.locator("button[type=submit]").inner_text() == "退出"
    inbox = header.locator("a.cg-inbox")
    assert inbox.get_attribute("href") == "/inbox"
    assert inbox.inner_text().replace(" ", "") == "消息3"
    assert "leader" in header.locator(".cg-who").inner_text()
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    header.locator("button[type=submit]").click()
    page.wait_for_url(lambda u: "/map" not in u)
    assert "/login" in page.goto(f"{base}/map").url  # signed out for real


@pytest.mark.browser
def test_legend_dashboard_tab_and_none_overdue(server, page, artifacts):  # noqa: F811
    base, url = server
    file_report(url, category="0102", lon=113.12, lat=23.02, description="x")
    sign_in(page, base, "leader")
    legend = page.locator(".citygrid-legend")
    assert legend.locator(".citygrid-legend-row").all_inner_texts() == ["超期", "预警", "正常", "已办结",
                                                                        "未派遣（无时限）"]
    colours = legend.locator(".citygrid-legend-dot").evaluate_all("ns => ns.map(n => n.style.background)")
    assert colours == ["rgb(198, 40, 40)", "rgb(249, 168, 37)", "rgb(46, 125, 50)", "rgb(158, 158, 158)",
                       "rgb(230, 81, 0)"]
    page.wait_for_function("() => window.citygrid.dashboard !== undefined")
    dash = page.locator(".citygrid-dash")
    assert "暂无" in dash.inner_text()  # 超期最久 with nothing overdue
    wide = dash.bounding_box()["width"]
    page.screenshot(path=str(artifacts / "map-desktop.png"))
    page.click(".citygrid-dash-toggle")
    assert page.evaluate("() => window.citygrid.dashboardCollapsed") is True
    assert dash.bounding_box()["width"] < wide / 2 and dash.bounding_box()["height"] < 60
    page.click(".citygrid-dash-toggle")
    assert dash.bounding_box()["width"] == wide
    assert serious_violations(page) == []


@pytest.mark.browser
def test_case_list_sorted_by_deadline_opens_details(server, page):  # noqa: F811
    base, url = server
    for lon in (113.11, 113.12, 113.13):
        file_report(url, category="0102", lon=lon, lat=23.02, description="x")
    with psycopg.connect(url) as conn:  # deadlines in the opposite order of the ids
        conn.execute("UPDATE event_case SET deadline = now() + (1000 - id) * interval '1 hour'")
        ids = [r[0] for r in conn.execute("SELECT id FROM event_case ORDER BY deadline")]
    sign_in(page, base, "leader")
    page.click(".citygrid-list-toggle")
    assert page.evaluate("() => window.citygrid.listed") == ids
    page.click(".citygrid-list-sort")
    assert page.evaluate("() => window.citygrid.listed") == ids[::-1]
    page.locator(".citygrid-list-item").first.click()
    details = page.locator(".leaflet-popup-content .citygrid-details")
    details.wait_for()
    assert f"#{ids[-1]}" in details.inner_text()


@pytest.mark.browser
def test_a_crowded_view_lists_the_held_cases_by_deadline_from_the_server(server, page):  # noqa: F811
    base, url = server
    for lon in (113.11, 113.12, 113.13):
        file_report(url, category="0102", lon=lon, lat=23.02, description="x")
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE event_case SET deadline = now() + (1000 - id) * interval '1 hour'")
        ids = [r[0] for r in conn.execute("SELECT id FROM event_case ORDER BY deadline")]
    add_copies(url, 1100)  # more than the map draws one by one; reported, so no department holds them
    sign_in(page, base, "leader")
    assert page.evaluate("() => window.citygrid.mode") == "cells"
    page.click(".citygrid-list-toggle")
    page.wait_for_function("(n) => (window.citygrid.listed || []).length === n", arg=len(ids))
    assert page.evaluate("() => window.citygrid.listed") == ids
    assert "放大地图" in page.locator(".citygrid-list-note").inner_text()
    page.click(".citygrid-list-sort")
    page.wait_for_function("(first) => window.citygrid.listed[0] === first", arg=ids[-1])
    page.locator(".citygrid-list-item").first.click()
    details = page.locator(".leaflet-popup-content .citygrid-details")
    details.wait_for()
    assert f"#{ids[-1]}" in details.inner_text()
    assert page.evaluate("() => window.citygrid.map.getZoom()") >= 17
    page.wait_for_function("() => !window.citygrid.busy && window.citygrid.mode === 'points'")
    assert details.is_visible()  # the reload at the new zoom leaves the details open
    assert page.js_errors == []


def figure(page, n: int) -> str:
    return page.locator(".citygrid-dash .figures b").nth(n).inner_text()


@pytest.mark.browser
def test_dashboard_follows_the_street_filter_and_nothing_due_shows_a_dash(server, page):  # noqa: F811
    base, url = server
    file_report(url, category="0102", lon=113.12, lat=23.02, description="祖庙")
    file_report(url, category="0102", lon=113.118, lat=22.987, description="石湾")
    sign_in(page, base, "leader")
    page.wait_for_function("() => window.citygrid.evaluation !== undefined && window.citygrid.filtersReady")
    assert figure(page, 0) == "2"  # reported today
    with psycopg.connect(url) as conn:
        sent = conn.execute("SELECT array_agg(DISTINCT department_code ORDER BY department_code) FROM event_case "
                            "WHERE department_code IS NOT NULL").fetchone()[0]
    rows = page.locator(".citygrid-dash table").first.locator("tr[data-code]")
    assert sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.code)")) == sent  # dispatched, none due yet
    for cells in rows.evaluate_all("rs => rs.map(r => [...r.cells].map(c => c.textContent))"):
        assert cells[1:] == ["0", "—", "—"], cells  # not 按期 0 %, 得分 50
    loads = page.evaluate("() => window.citygrid.dashboardLoads")
    page.select_option("select[name=street]", "440604010")  # 石湾
    page.wait_for_function(f"() => window.citygrid.dashboardLoads > {loads}", timeout=15_000)
    assert figure(page, 0) == "1"
    streets = page.locator(".citygrid-dash table").nth(1).locator("tr[data-code]")
    assert streets.evaluate_all("rs => rs.map(r => r.dataset.code)") == ["440604010"]
    assert page.locator(".citygrid-dash table").first.locator("tr[data-code]").count() <= 1


CONTROLS = """() => {
  const sel = ['.cg-top a', '.cg-top button', '.leaflet-control-zoom', '.leaflet-control-layers',
               '.citygrid-filters-toggle', '.citygrid-list-toggle', '.citygrid-dash', '.citygrid-legend',
               '.leaflet-control-scale', '.leaflet-control-attribution'];
  return sel.flatMap(s => [...document.querySelectorAll(s)]).filter(n => n.offsetWidth && n.offsetHeight)
    .map(n => { const r = n.getBoundingClientRect();
      return { name: n.className || n.tagName, left: r.left, top: r.top, right: r.right, bottom: r.bottom,
               node: n }; })
    .map((c, i, all) => ({ ...c, inside: all.filter(o => o.node !== c.node && o.node.contains(c.node)).length }))
    .filter(c => !c.inside).map(({ node, inside, ...c }) => c);
}"""


def overlapping(boxes: list[dict]) -> list[tuple[str, str]]:
    found = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            if a["left"] < b["right"] - 0.5 and b["left"] < a["right"] - 0.5 and \
                    a["top"] < b["bottom"] - 0.5 and b["top"] < a["bottom"] - 0.5:
                found.append((a["name"], b["name"]))
    return found


@pytest.mark.browser
@pytest.mark.parametrize("width,height", [(360, 640), (390, 844)])
def test_phone_layout_has_no_overlapping_controls(server, page, artifacts, width, height):  # noqa: F811
    base, url = server
    file_report(url, category="0102", lon=EAST[0], lat=EAST[1], description="x")
    page.set_viewport_size({"width": width, "height": height})
    sign_in(page, base, "leader")
    page.wait_for_function("() => window.citygrid.filtersReady && window.citygrid.dashboard !== undefined")
    boxes = page.evaluate(CONTROLS)
    assert len(boxes) >= 10
    assert overlapping(boxes) == []
    assert all(b["right"] <= width and b["left"] >= 0 for b in boxes), boxes
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    header = page.locator("header.cg-top").bounding_box()
    assert header["height"] <= 44 and page.locator("header.cg-top button").inner_text() == "退出"
    assert not page.locator("select[name=street]").is_visible()  # the filters are folded away
    page.screenshot(path=str(artifacts / f"map-phone-{width}.png"))
    assert serious_violations(page) == []
    page.click(".citygrid-filters-toggle")
    sheet = page.locator(".citygrid-filters").bounding_box()
    assert page.locator("select[name=street]").is_visible() and sheet["width"] <= width
    page.click(".citygrid-filters-close")
    assert not page.locator("select[name=street]").is_visible()
    page.click(".citygrid-dash-toggle")  # the dashboard tab opens
    assert page.locator(".citygrid-dash .figures").is_visible()


@pytest.mark.browser
def test_street_and_community_names_show_where_they_fit_without_a_base_map(server, page, artifacts):  # noqa: F811
    base, url = server
    sign_in(page, base, "leader")
    assert page.locator(".leaflet-tile").count() == 0  # no base map: names are all there is
    shown = page.evaluate("() => window.citygrid.labelsShown")
    assert shown == {"streets": 4, "communities": 0}  # the whole district: street names only
    names = page.locator(".citygrid-label-streets").all_inner_texts()
    assert "祖庙街道办事处" in names and all(page.locator(".citygrid-label-streets").nth(i).is_visible()
                                              for i in range(4))
    page.evaluate("() => window.citygrid.map.setView([23.03, 113.11], 15, { animate: false })")
    page.wait_for_function("() => window.citygrid.labelsShown.communities > 0")
    assert page.locator(".citygrid-label-communities").count() == page.evaluate(
        "() => window.citygrid.labelsShown.communities")
    page.evaluate("() => window.citygrid.map.setZoom(17, { animate: false })")
    page.wait_for_function("() => window.citygrid.labelsShown.streets === 0")
    page.screenshot(path=str(artifacts / "map-labels.png"))


@pytest.mark.browser
def test_most_overdue_shows_the_department_name_with_its_code_on_hover(server, page):  # noqa: F811
    base, url = server
    file_report(url, category="0102", lon=113.12, lat=23.02, description="x")
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE event_case SET deadline = now() - interval '2 hours', yellow_at = now() - "
                     "interval '3 hours'")
        code, name = conn.execute("SELECT d.code, d.name FROM event_case c JOIN department d "
                                  "ON d.code = c.department_code").fetchone()
    sign_in(page, base, "leader")
    page.wait_for_function("() => window.citygrid.dashboard !== undefined")
    item = page.locator(".citygrid-dash ol li span[title]")
    assert item.count() == 1 and item.inner_text() == name and item.get_attribute("title") == code
    assert code not in page.locator(".citygrid-dash ol").inner_text()


@pytest.mark.browser
def test_slow_rankings_are_asked_for_less_often_than_the_figures(server, page):  # noqa: F811
    base, url = server

    def slow(route):  # each evaluation takes 0.4 s, as at a million cases: the rankings wait 20 × that
        time.sleep(0.4)
        route.continue_()

    page.route("**/api/evaluation?*", slow)
    sign_in(page, base, "leader", live=True)
    page.wait_for_function("() => window.citygrid.rankingLoads === 1 && window.citygrid.dashboardLoads === 1")
    for n in range(3):  # each change refreshes today's figures within about a second
        file_report(url, category="0102", lon=113.12 + n / 1000, lat=23.02, description=f"change {n}")
        page.wait_for_function(f"() => window.citygrid.dashboard.today.reported === {n + 1}", timeout=15_000)
    assert page.evaluate("() => window.citygrid.rankingLoads") == 1
    assert page.evaluate("() => window.citygrid.dashboardLoads") >= 4
    # the last change of a quiet spell still reaches the rankings: asked for again once they are due
    page.wait_for_function("() => window.citygrid.rankingLoads === 2", timeout=30_000)
    assert page.js_errors == []

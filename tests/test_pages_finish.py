"""Issue 12 (part B), the people's pages in headless Chromium: department names, small maps with context, the desk
without duplicates, the report page's limits and refusals, the inbox, the case page's 404, phone layouts and axe.

Every non-local request is refused; people sign in through the real /login form; cases are made through the same
domain code the API uses.
"""
from __future__ import annotations

import json

import psycopg
import pytest
from playwright.sync_api import expect

from citygrid.settings import Settings
from dispatch.casework import outbox
from dispatch.intake.service import MAX_DESCRIPTION, submit_report
from dispatch.models import Policy
from tests.axe import serious_violations
from tests.browser import guarded_page, running_app, signed_in_pages
from tests.people import actor, add_cast, add_messages
from tests.test_desk_pages import Site
from web.schemas import MAX_NOTE

pytestmark = pytest.mark.browser

CAST = ["officer", "hws", "dispatcher", "intake", "shift"]
HERE = {"latitude": 23.02, "longitude": 113.12}  # 祖庙街道: 0102 goes to S-012-HWS 祖庙街道环卫所
HWS_NAME = "祖庙街道环卫所"
PHONES = [(360, 640), (390, 844)]


@pytest.fixture
def server(chancheng_url, tmp_path):
    with psycopg.connect(chancheng_url) as conn:
        add_cast(conn, CAST)
    with running_app(Settings(database_url=chancheng_url, media_root=str(tmp_path))) as base:
        yield Site(base, chancheng_url, tmp_path)




@pytest.fixture
def open_as(server, browser):
    """open_as(name, path, width=1280, height=900, gps=True): signed in as `name` at HERE (gps False: the
    position is refused)."""
    with signed_in_pages(browser, server.base) as open_page:
        yield lambda username, path, width=1280, height=900, gps=True: open_page(
            username, path, width, height, geolocation=HERE if gps else None)


def deliver(server) -> None:
    """Run the outbox once, as the worker does: notifications land in the inboxes."""
    with psycopg.connect(server.url) as conn:
        outbox.deliver(conn)
        conn.commit()


# 1. names, maps and details

def test_departments_are_named_with_the_code_in_a_tooltip(server, open_as):
    case_id = server.new_case()
    queue = open_as("hws", "/queue")
    heading = queue.locator("h1 .cg-dept")
    expect(heading).to_have_text(HWS_NAME)
    assert heading.get_attribute("title").endswith("S-012-HWS")
    assert "S-012-HWS" not in queue.inner_text("h1")
    dept = queue.locator(f".cg-case[data-case='{case_id}'] .cg-dept")
    expect(dept).to_have_text(HWS_NAME)
    case = open_as("dispatcher", f"/cases/{case_id}")
    summary = case.locator("#summary .cg-dept")
    expect(summary).to_have_text(HWS_NAME)
    assert summary.get_attribute("data-code") == "S-012-HWS"
    expect(case.locator("#routing .cg-muted .cg-dept")).to_have_text(HWS_NAME)
    expect(case.locator("#routing tr.cg-chosen .cg-dept")).to_have_text(HWS_NAME)


def test_the_case_page_has_a_map_and_one_line_columns(server, open_as, artifacts):
    case_id = server.handled()
    page = open_as("dispatcher", f"/cases/{case_id}")
    page.wait_for_function("() => window.cgCaseMap && document.querySelectorAll('#case-map .cg-grid-outline').length"
                           " > 0 && document.querySelectorAll('#case-map .cg-street-outline').length > 0")
    where = page.evaluate("() => { const p = window.cgCaseMap.marker.getLatLng(); return [p.lng, p.lat]; }")
    assert abs(where[0] - 113.12) < 1e-6 and abs(where[1] - 23.02) < 1e-6
    expect(page.locator("#case-map .cg-map-label").first).to_be_visible()
    expect(page.locator("#history tbody tr[data-action='handle']")).to_have_count(1)
    # the text of each heading and short cell on one line: its text's height is under two lines
    heights = page.evaluate("""() => [...document.querySelectorAll('#history th, #history td.cg-nowrap')]
      .filter(c => c.textContent.trim()).map(c => {
        const range = document.createRange();
        range.selectNodeContents(c);
        const lines = range.getBoundingClientRect().height / parseFloat(getComputedStyle(c).lineHeight);
        return [c.textContent, lines]; })""")
    tall = [(text, lines) for text, lines in heights if lines > 1.5]
    assert len(heights) > 8 and tall == [], tall
    for name in ("操作", "照片"):
        cell = page.locator("#history th", has_text=name).first
        box, line = cell.bounding_box(), cell.evaluate("c => parseFloat(getComputedStyle(c).lineHeight)")
        assert box["width"] > 1.5 * line, (name, box)
    page.screenshot(path=str(artifacts / "case-desktop.png"), full_page=True)


def test_the_queue_map_shows_the_grids_and_streets_around(server, open_as, artifacts):
    server.new_case()
    page = open_as("hws", "/queue")
    page.wait_for_function("() => document.querySelectorAll('#queue-map .cg-grid-outline').length > 3 &&"
                           " document.querySelectorAll('#queue-map .cg-street-outline').length > 0")
    expect(page.locator("#queue-map .cg-map-label").first).to_be_attached()
    with psycopg.connect(server.url) as conn:
        grids = conn.execute("SELECT count(*) FROM grid_feature f JOIN grid_release r ON r.grid_layer_id = f.layer_id"
                             " WHERE r.is_active").fetchone()[0]
    drawn = page.locator("#queue-map .cg-grid-outline").count()
    assert 3 < drawn < grids / 4  # the grids around the cases, not the whole district's
    page.wait_for_function("() => !document.querySelector('#queue-map .leaflet-zoom-anim')")
    page.screenshot(path=str(artifacts / "queue-desktop.png"), full_page=True)


def test_the_desk_lists_each_case_once_and_says_why_no_light(server, open_as, artifacts):
    server.new_case()
    with psycopg.connect(server.url) as conn:  # the same spot again: registered, waits for a dispatcher
        twin = submit_report(conn, actor=actor("officer"), policy=Policy(), category_code="0102", lon=113.12,
                             lat=23.02, description="同一处垃圾").case_id
        conn.commit()
    alone = server.new_case(description="另一处垃圾", lon=113.13)  # far from the others: no duplicate
    server.act(alone, "return", "hws", note="不属于本部门职责")
    page = open_as("dispatcher", "/desk")
    dup = page.locator(f"#sec-duplicates .cg-case[data-case='{twin}']")
    expect(dup.locator("button[data-action=merge]")).to_have_count(1)
    expect(dup.locator("form[data-action=dispatch]")).to_have_count(1)  # its own list's actions stay at hand
    expect(page.locator(f".cg-case[data-case='{twin}']")).to_have_count(1)
    own = page.locator(f"#sec-dispatch .cg-case[data-case='{alone}']")
    expect(own).to_have_count(1)
    expect(own.locator(".cg-light")).to_have_text("未派遣")  # returned: no clock runs until it is dispatched
    expect(own.locator(".cg-detail .cg-dept")).to_have_text(HWS_NAME)  # who returned it, by name
    expect(dup.locator(".cg-light")).to_have_text("未派遣")
    assert page.locator(".cg-light", has_text="—").count() == 0
    page.screenshot(path=str(artifacts / "desk-desktop.png"), full_page=True)


# 4. a mistyped case address

def test_a_case_address_that_is_no_number_gets_the_notice_page(server, open_as):
    page = open_as("dispatcher", "/desk")
    for path in ("/cases/abc", "/cases/0", "/cases/99999999999999999999"):
        answer = page.goto(f"{server.base}{path}")
        assert answer.status == 404 and answer.headers["content-type"].startswith("text/html"), path
        expect(page.locator("#notice")).to_contain_text("没有这个案件")
        expect(page.locator(".cg-top .cg-logout")).to_be_visible()


# 2. the officer's report page

def test_a_point_outside_the_district_disables_submit_and_says_what_to_do(server, open_as, tmp_path):
    page = open_as("officer", "/m", 390, 844)
    page.wait_for_function("() => document.getElementById('m-coords').textContent.startsWith('113.12')")
    expect(page.locator("#m-submit")).to_be_enabled()
    page.evaluate("() => window.cgOfficerMap.map.fire('click', {latlng: L.latLng(23.3, 113.4)})")
    expect(page.locator("#m-submit")).to_be_disabled()
    expect(page.locator("#m-place")).to_contain_text("请把图钉拖到区界")
    assert "outside" not in page.inner_text("#m-place")
    page.evaluate("() => window.cgOfficerMap.map.fire('click', {latlng: L.latLng(23.02, 113.12)})")
    expect(page.locator("#m-submit")).to_be_enabled()
    expect(page.locator("#m-place")).to_have_class("cg-muted")


def test_a_refused_report_offers_no_retry(server, open_as, tmp_path):
    from tests.test_officer_pages import fill_report

    page = open_as("officer", "/m", 390, 844)
    calls = []

    def busy_then_outside(route):
        calls.append(route.request.method)
        if len(calls) == 1:  # first the server is busy: that one may succeed later, so 重试 is offered
            route.fulfill(status=503, content_type="application/json",
                          body=json.dumps({"error": "Busy", "message": "busy, try again"}))
            return
        body = route.request.post_data_json | {"lon": 113.4, "lat": 23.3}  # then the server itself refuses it
        route.continue_(post_data=json.dumps(body))

    page.route("**/api/reports", busy_then_outside)
    fill_report(page, tmp_path, "区外的点")
    page.locator("#m-retry").click()
    expect(page.locator("#m-error")).to_contain_text("上报未被接受")
    expect(page.locator("#m-error")).to_contain_text("请把图钉拖到区界")
    assert page.locator("#m-retry").count() == 0
    assert page.evaluate("() => sessionStorage.getItem('cg.officer.pending')") is None
    expect(page.locator("#m-submit")).to_be_enabled()


def test_the_description_counts_down_from_the_limit(server, open_as):
    page = open_as("officer", "/m", 390, 844)
    assert page.get_attribute("#m-desc", "maxlength") == str(MAX_DESCRIPTION)
    expect(page.locator("#m-desc-count")).to_have_text(f"还可输入 {MAX_DESCRIPTION} 字")
    page.fill("#m-desc", "井盖缺失")
    expect(page.locator("#m-desc-count")).to_have_text(f"还可输入 {MAX_DESCRIPTION - 4} 字")
    case_id = server.handled()  # the notes of actions take their limit from the API's one definition too
    page.goto(f"{server.base}/m/tasks")
    expect(page.locator(f"#m-check .m-case[data-case-id='{case_id}'] textarea")).to_have_attribute(
        "maxlength", str(MAX_NOTE))
    queue = open_as("hws", "/queue")
    other = server.new_case(lon=113.125)
    queue.reload()
    queue.locator(f".cg-case[data-case='{other}'] button[data-action=return]").click()
    expect(queue.locator("textarea[name=note]")).to_have_attribute("maxlength", str(MAX_NOTE))


def test_gps_denied_says_so_in_chinese_only(server, open_as):
    page = open_as("officer", "/m", 390, 844, gps=False)
    page.wait_for_function("() => document.getElementById('m-gps').textContent.startsWith('无法获取')")
    assert page.inner_text("#m-gps") == "无法获取 GPS 定位，请点击地图放置图钉"


def test_long_descriptions_are_clamped_with_expand(server, open_as, artifacts):
    long = "路边垃圾堆放，" * (MAX_DESCRIPTION // 7)
    case_id = server.new_case(description=long[:MAX_DESCRIPTION])
    page = open_as("officer", "/m/mine", 390, 844)
    text = page.locator(f".m-case[data-case-id='{case_id}'] .m-desc")
    more = page.locator(f".m-case[data-case-id='{case_id}'] .cg-more")
    expect(more).to_be_visible()
    expect(more).to_have_text("展开")
    assert text.bounding_box()["height"] < 200
    page.screenshot(path=str(artifacts / "mine-phone.png"), full_page=False)
    more.click()
    expect(more).to_have_text("收起")
    assert text.bounding_box()["height"] > 1000
    queue = open_as("hws", "/queue")
    expect(queue.locator(f".cg-case[data-case='{case_id}'] .cg-more")).to_have_text("展开")
    short = server.new_case(description="井盖缺失", lon=113.125)
    queue.reload()
    expect(queue.locator(f".cg-case[data-case='{short}'] .cg-desc")).to_have_text("井盖缺失")
    expect(queue.locator(f".cg-case[data-case='{short}'] .cg-more")).to_be_hidden()


# 3. the inbox

def test_the_inbox_says_when_empty_labels_its_button_and_counts_unread(server, open_as, artifacts):
    page = open_as("hws", "/inbox", 390, 844)
    expect(page.locator("#messages")).to_have_text("暂无消息")
    expect(page.locator(".cg-inbox .cg-badge")).to_be_hidden()
    server.new_case()
    server.new_case(lon=113.125)
    deliver(server)
    page.reload()
    expect(page.locator("#messages .cg-row")).to_have_count(2)
    expect(page.locator(".cg-inbox .cg-badge")).to_have_text("2")
    assert "2 条未读" in page.get_attribute(".cg-inbox", "aria-label")
    buttons = page.locator("#messages button")
    expect(buttons.first).to_have_attribute("aria-label", "标为已读")
    page.screenshot(path=str(artifacts / "inbox-phone.png"), full_page=True)
    buttons.first.click()
    expect(page.locator(".cg-inbox .cg-badge")).to_have_text("1")
    queue = open_as("hws", "/queue")  # every page's header carries the count
    expect(queue.locator(".cg-inbox .cg-badge")).to_have_text("1")


def test_beyond_99_unread_every_header_says_99_plus(server, open_as):
    add_messages(server.url, "hws", 120)
    queue = open_as("hws", "/queue")  # the count app.js asks for
    expect(queue.locator(".cg-inbox .cg-badge")).to_have_text("99+")
    assert "99+ 条未读" in queue.get_attribute(".cg-inbox", "aria-label")
    page = open_as("hws", "/map")  # the count the server writes into the map's header
    expect(page.locator(".cg-inbox .cg-badge")).to_have_text("99+")
    assert "99+ 条未读" in page.get_attribute(".cg-inbox", "aria-label")


# 5, 6. phone layouts and accessibility

def pages_of(server) -> list[tuple[str, str]]:
    case_id = server.handled()
    return [("officer", "/m"), ("officer", "/m/mine"), ("officer", "/m/tasks"), ("hws", "/queue"),
            ("hws", "/inbox"), ("dispatcher", "/desk"), ("shift", "/desk"), ("dispatcher", f"/cases/{case_id}")]


HEADER = """() => {
  const top = document.querySelector('.cg-top'), kids = [...top.children].filter(k => k.offsetParent !== null);
  const boxes = kids.map(k => k.getBoundingClientRect());
  const overlaps = [];
  boxes.forEach((a, i) => boxes.slice(i + 1).forEach((b, j) => {
    if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1)
      overlaps.push([kids[i].className, kids[i + 1 + j].className]); }));
  const logout = top.querySelector('.cg-logout').getBoundingClientRect();
  const nav = top.querySelector('.cg-nav').getBoundingClientRect(), inbox = top.querySelector('.cg-inbox');
  const inboxBox = inbox.getBoundingClientRect();
  return {scroll: document.documentElement.scrollWidth, inner: innerWidth, height: top.getBoundingClientRect().height,
          rows: new Set(boxes.map(b => Math.round((b.top + b.bottom) / 2 / 8))).size, overlaps: overlaps,
          logoutInside: logout.right <= innerWidth && logout.left >= 0,
          inboxShown: inboxBox.right <= nav.right + 1 && inboxBox.width > 0};
}"""


@pytest.mark.parametrize("width, height", PHONES)
def test_every_page_fits_a_phone_with_a_one_line_header(server, open_as, artifacts, width, height):
    for who, path in pages_of(server):
        page = open_as(who, path, width, height)
        page.wait_for_load_state("networkidle")
        got = page.evaluate(HEADER)
        assert got["scroll"] <= got["inner"], (path, got)
        assert got["rows"] == 1 and got["height"] < 60 and got["overlaps"] == [], (path, got)
        assert got["logoutInside"] and got["inboxShown"], (path, got)  # 退出 and 消息 in sight, not scrolled away
        if path == "/m":
            page.screenshot(path=str(artifacts / f"report-phone-{width}.png"), full_page=True)
        page.context.close()


@pytest.mark.parametrize("width, height", [(1280, 900), (390, 844)])
def test_every_page_passes_axe(server, open_as, browser, width, height):
    found = {}
    for who, path in pages_of(server) + [("hws", "/cases/abc")]:
        page = open_as(who, path, width, height)
        page.wait_for_load_state("networkidle")
        found[f"{who} {path}"] = serious_violations(page)
        unlabelled = page.evaluate("() => [...document.querySelectorAll('button')].filter(b => "
                                   "!(b.getAttribute('aria-label') || b.textContent.trim())).map(b => b.outerHTML)")
        assert unlabelled == [], (path, unlabelled)
        page.context.close()
    login = guarded_page(browser, width, height)
    login.goto(f"{server.base}/login")
    found["stranger /login"] = serious_violations(login)
    login.context.close()
    assert {k: v for k, v in found.items() if v} == {}

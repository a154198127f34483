"""The whole closed loop across the real pages, in headless Chromium, with every non-local request refused.

One app server, one browser, one context per person, everyone signed in through the real /login form:
the leader's map stays open from start to end and must follow the case without a reload while the grid officer
reports it on a phone (/m), the department signs for it and reports back (/queue), the officer checks it on site
(/m/tasks), the shift leader closes it (/desk); the case page then tells the whole story.
"""
from __future__ import annotations


import psycopg
import pytest
from PIL import Image
from playwright.sync_api import expect

from citygrid.settings import Settings
from tests.people import add_cast
from tests.browser import local_only, record_errors, running_app, sign_in_form

pytestmark = pytest.mark.browser

EVIL = "<img src=x onerror=window.__pwned=1>"
DESCRIPTION = f"{EVIL} 祖庙路口垃圾堆放，气味很大"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2,
         "geolocation": {"latitude": 23.02, "longitude": 113.12}}  # 祖庙街道: 0102 goes to S-012-HWS by the rules
DESKTOP = {"viewport": {"width": 1400, "height": 900}}
LIVE = 20_000  # ms to wait for a change to reach the open map
RANKINGS = 70_000  # the dashboard's rankings follow within 20× their load time, at most 60 s (dashboard.js)

# [status, fill colour] of every marker of one case on the open map (one entry when all is well)
MARKERS = """(id) => { const out = []; window.citygrid.layers.cases.eachLayer(m => {
  if (m.feature.properties.id === id) out.push([m.feature.properties.status, m._path && m._path.getAttribute('fill')]);
}); return out; }"""
MARKER_COUNT = "() => { let n = 0; window.citygrid.layers.cases.eachLayer(() => n++); return n; }"
# what the dashboard beside the map shows now: today's counts, S-012-HWS's indicators this month, and the fill of
# the case's unit grid on the map
BOARD = """([grid]) => { const d = window.citygrid.dashboard, e = window.citygrid.evaluation;
  if (!d || !e) return null;
  const dep = e.department.rows.find(r => r.code === 'S-012-HWS');
  let fill = null;
  window.citygrid.layers.grids.eachLayer(g => { if (g.feature.properties.code === grid) fill = g._path.getAttribute('fill'); });
  return {today: d.today, department: dep ? [dep.current.due, dep.current.handled, dep.current.closed] : null,
          text: document.querySelector('.citygrid-dash').innerText, grid: fill}; }"""


@pytest.fixture
def server(chancheng_url, tmp_path):
    with psycopg.connect(chancheng_url) as conn:
        add_cast(conn, ["officer", "hws", "shift", "leader"])
    with running_app(Settings(database_url=chancheng_url, media_root=str(tmp_path / "media"))) as base:
        yield base, chancheng_url




class People:
    """One browser context per person; every request that leaves 127.0.0.1 is refused and recorded."""

    def __init__(self, browser, base: str) -> None:
        self.browser, self.base = browser, base
        self.blocked: list[str] = []
        self.js_errors: list[str] = []
        self.pages: list = []

    def watch(self, page):
        record_errors(page, self.js_errors, where=True)
        self.pages.append(page)
        return page

    def sign_in(self, username: str, path: str, **context):
        """A fresh context for `username`, signed in through the real form, showing `path`."""
        ctx = self.browser.new_context(locale="zh-CN", **(context or DESKTOP))
        if "geolocation" in context:
            ctx.grant_permissions(["geolocation"], origin=self.base)
        ctx.route("**/*", local_only(self.blocked))
        page = self.watch(ctx.new_page())
        sign_in_form(page, self.base, username, path)
        return page


def db(url: str, query: str, *args) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, args).fetchall()


def status(url: str, case_id: int) -> str:
    return db(url, "SELECT status FROM event_case WHERE id = %s", case_id)[0][0]


def jpeg(tmp_path, name: str, colour: str) -> str:
    path = tmp_path / name
    Image.new("RGB", (64, 48), colour).save(path, "JPEG")
    return str(path)


def wait_on_map(leader, case_id: int, case_status: str) -> None:
    """The open map hears of the change (no reload) and restyles the case's one marker."""
    leader.wait_for_function(
        "([id, s]) => window.citygrid.lastCase && window.citygrid.lastCase.id === id"
        " && window.citygrid.lastCase.status === s", arg=[case_id, case_status], timeout=LIVE)
    leader.wait_for_function(f"([id, s]) => {{ const m = ({MARKERS})(id); return m.length === 1 && m[0][0] === s; }}",
                             arg=[case_id, case_status], timeout=LIVE)


def wait_on_board(leader, grid: str, *, today: dict, department: list | None, fill: str) -> dict:
    """The dashboard and the grid shading follow the step (today's figures and the shading about a second after a
    change, the rankings within 20× their load time)."""
    want = {"today": today, "department": department, "grid": fill}
    leader.wait_for_function(
        f"([grid, want]) => {{ const b = ({BOARD})([grid]); return b !== null && b.grid === want.grid"
        " && JSON.stringify(b.department) === JSON.stringify(want.department)"
        " && Object.keys(want.today).every(k => b.today[k] === want.today[k]); }", arg=[grid, want],
        timeout=RANKINGS)
    return leader.evaluate(BOARD, [grid])


def test_the_closed_loop_across_the_pages(server, browser, tmp_path, artifacts):
    base, url = server
    people = People(browser, base)

    # 1. The leader opens the map: live, and no cases yet.
    leader = people.sign_in("leader", "/map")
    leader.wait_for_function("() => window.citygrid && window.citygrid.ready && window.citygrid.live"
                             " && window.citygrid.views >= 1 && window.citygrid.dashboard", timeout=30_000)
    assert leader.evaluate(MARKER_COUNT) == 0
    grid = db(url, "SELECT code FROM grid_feature f JOIN grid_release r ON f.layer_id = r.grid_layer_id "
                   "WHERE r.is_active AND ST_Covers(f.geom, ST_SetSRID(ST_MakePoint(113.12, 23.02), 4326))")[0][0]
    board = wait_on_board(leader, grid, today={"reported": 0, "open": 0, "closed": 0}, department=None,
                          fill="#607d8b")
    leader.screenshot(path=str(artifacts / "loop-0-leader-map-empty.png"))

    # 2. The grid officer reports from a phone: GPS pin, category by search, description, one photo.
    officer = people.sign_in("officer", "/m", **PHONE)
    officer.wait_for_function("() => document.getElementById('m-coords').textContent.startsWith('113.12')")
    expect(officer.locator("#m-place")).to_contain_text("祖庙")
    officer.fill("#m-cat-search", "0102")
    officer.click("#m-cat-list button[data-code='0102']")
    expect(officer.locator("#m-cat-chosen")).to_contain_text("0102")
    officer.fill("#m-desc", DESCRIPTION)
    officer.set_input_files("#m-photos input[type=file]", jpeg(tmp_path, "before.jpg", "olive"))
    officer.wait_for_function("() => document.querySelectorAll('#m-photos .m-thumb').length === 1"
                              " && !document.querySelector('#m-photos .m-thumb span')")  # uploaded
    officer.click("#m-submit")
    result = officer.locator("#m-result")
    expect(result).to_be_visible()
    expect(result).to_contain_text("已上报")
    case_id = int(result.get_attribute("data-case-id"))
    expect(result).to_contain_text(f"#{case_id}")
    expect(result).to_contain_text("已派遣")
    expect(result.locator(".m-dept")).to_have_text("祖庙街道环卫所")  # the department's name, the code in a tooltip
    expect(result.locator(".m-dept")).to_have_attribute("title", "S-012-HWS")
    assert db(url, "SELECT id, status, department_code, description, reporter FROM event_case") == [
        (case_id, "dispatched", "S-012-HWS", DESCRIPTION, "officer")]
    officer.screenshot(path=str(artifacts / "loop-1-officer-report.png"), full_page=True)

    # 3. Without a reload, the leader's map shows the new case: dispatched, on time (green); its popup as text.
    wait_on_map(leader, case_id, "dispatched")
    assert leader.evaluate(MARKERS, case_id) == [["dispatched", "#2e7d32"]]
    assert leader.evaluate(MARKER_COUNT) == 1
    # the dashboard counts it (reported, dispatched, open; 环卫所 listed, nothing due yet) and its grid turns orange
    board = wait_on_board(leader, grid, today={"reported": 1, "dispatched": 1, "open": 1, "overdue": 0, "closed": 0},
                          department=[0, 0, 0], fill="#ef6c00")  # dispatched, in time: not yet due
    assert "祖庙街道环卫所" in board["text"]
    leader.evaluate("(id) => window.citygrid.layers.cases.eachLayer(m => {"
                    " if (m.feature.properties.id === id) m.openPopup(); })", case_id)
    popup = leader.locator(".leaflet-popup-content")
    expect(popup).to_contain_text(DESCRIPTION)
    expect(popup).to_contain_text(f"#{case_id}")
    assert popup.locator("img").count() == 0
    assert leader.evaluate("() => window.__pwned") is None
    leader.screenshot(path=str(artifacts / "loop-2-leader-map-new.png"))

    # 4. The department signs for it and reports back with a note and a photo.
    hws = people.sign_in("hws", "/queue")
    card = hws.locator(f".cg-case[data-case='{case_id}']")
    expect(card.locator(".cg-light-green")).to_have_count(1)
    expect(card.locator(".cg-desc")).to_have_text(DESCRIPTION)
    expect(card.locator(".cg-status")).to_have_text("已派遣待签收")
    card.get_by_role("button", name="签收").click()
    expect(card.locator(".cg-status")).to_have_text("处置中")
    expect(hws.locator("#flash")).to_contain_text("签收")
    card.get_by_role("button", name="处置反馈").click()
    form = card.locator("form[data-action=handle]")
    form.locator("textarea[name=note]").fill("已清运完毕，现场恢复整洁")
    form.locator("input[type=file]").set_input_files(jpeg(tmp_path, "after.jpg", "green"))
    expect(form.locator(".cg-photos img")).to_have_count(1)
    hws.screenshot(path=str(artifacts / "loop-3-handler-queue.png"), full_page=True)
    form.get_by_role("button", name="处置反馈").click()
    expect(hws.locator("#flash")).to_contain_text("处置反馈")
    expect(card).to_have_count(0)  # handled: no longer the department's to do
    assert status(url, case_id) == "handled"
    photos = db(url, "SELECT a.uploaded_by, h.action, h.actor, h.attachments @> to_jsonb(a.id) FROM attachment a "
                     "JOIN case_history h ON h.id = a.history_id WHERE a.case_id = %s ORDER BY a.id", case_id)
    assert photos == [("officer", "report", "officer", True), ("hws", "handle", "hws", True)]
    wait_on_map(leader, case_id, "handled")
    wait_on_board(leader, grid, today={"open": 1, "closed": 0}, department=[1, 1, 0], fill="#ef6c00")

    # 5. The officer checks it on site and passes it.
    officer.goto(f"{base}/m/tasks")
    task = officer.locator(f"#m-check .m-case[data-case-id='{case_id}']")
    expect(task.locator(".m-desc")).to_have_text(DESCRIPTION)
    expect(task.locator(".m-status")).to_have_text("已处置待核查")
    officer.screenshot(path=str(artifacts / "loop-4-officer-check.png"), full_page=True)
    task.get_by_role("button", name="核查通过").click()
    expect(task).to_have_count(0)
    expect(officer.locator("#m-flash")).to_contain_text(f"#{case_id}")
    expect(officer.locator("#m-flash")).to_contain_text("已核查")
    assert status(url, case_id) == "checked"
    wait_on_map(leader, case_id, "checked")
    wait_on_board(leader, grid, today={"open": 1, "closed": 0}, department=[1, 1, 0], fill="#ef6c00")

    # 6. The shift leader closes it from the desk; the map turns the marker grey.
    shift = people.sign_in("shift", "/desk")
    row = shift.locator(f"#sec-close .cg-case[data-case='{case_id}']")
    expect(row.locator(".cg-status")).to_have_text("已核查待结案")
    expect(row.locator(".cg-desc")).to_have_text(DESCRIPTION)
    shift.screenshot(path=str(artifacts / "loop-5-shift-desk.png"), full_page=True)
    row.get_by_role("button", name="结案").click()
    expect(shift.locator("#flash")).to_contain_text(f"#{case_id}")
    expect(shift.locator("#sec-close .cg-empty")).to_be_visible()
    assert status(url, case_id) == "closed"
    wait_on_map(leader, case_id, "closed")
    assert leader.evaluate(MARKERS, case_id) == [["closed", "#9e9e9e"]]
    assert leader.evaluate(MARKER_COUNT) == 1
    # closed: nothing open, one closed today, closed in 环卫所's figures, the grid no longer shaded
    wait_on_board(leader, grid, today={"reported": 1, "dispatched": 1, "open": 0, "closed": 1}, department=[1, 1, 1],
                  fill="#607d8b")
    leader.screenshot(path=str(artifacts / "loop-5-leader-map-closed.png"))

    # 7. The case page, as the leader (a second tab: the map stays open), tells the whole story.
    case = people.watch(leader.context.new_page())
    case.goto(f"{base}/cases/{case_id}")
    history = case.locator("#history tbody tr")
    expect(history).to_have_count(7)
    assert [history.nth(i).get_attribute("data-action") for i in range(7)] == [
        "report", "register", "dispatch", "accept", "handle", "check_ok", "close"]
    expect(case.locator("#history")).to_contain_text("已清运完毕，现场恢复整洁")
    expect(case.locator("#summary")).to_contain_text(DESCRIPTION)
    expect(case.locator("#summary")).to_contain_text("已结案")
    expect(case.locator("#summary .cg-desc")).to_have_text(DESCRIPTION)
    thumbs = case.locator("#photos img")
    expect(thumbs).to_have_count(2)  # one before (reported), one after (reported back)
    case.wait_for_function("() => [...document.querySelectorAll('#photos img')].every(i => i.complete"
                           " && i.naturalWidth > 0)")
    assert all(thumbs.nth(i).get_attribute("src").startswith("/api/media/") for i in range(2))
    expect(case.locator("#history tr[data-action=report] .cg-photos img")).to_have_count(1)
    expect(case.locator("#history tr[data-action=handle] .cg-photos img")).to_have_count(1)
    case.screenshot(path=str(artifacts / "loop-6-leader-final.png"), full_page=True)

    # Nobody's page ran the description, and nothing tried to leave the machine.
    for page in people.pages:
        assert page.locator("img[src=x]").count() == 0, page.url
        assert page.evaluate("() => window.__pwned") is None, page.url
    assert leader.evaluate("() => window.citygrid.received") >= 5  # report, accept, handle, check, close
    assert people.blocked == [], people.blocked
    assert people.js_errors == [], people.js_errors

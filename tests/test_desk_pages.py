"""The work pages in headless Chromium: the department's queue, the dispatch desk and the case page.

Every non-local request is refused; people sign in through the real /login form; cases are made and moved on
through the same domain code the API uses.
"""
from __future__ import annotations

import io
from datetime import timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from PIL import Image
from playwright.sync_api import expect

from citygrid.settings import Settings
from dispatch.casework import case_repo
from dispatch.casework.cases import Request, act
from dispatch.intake.service import submit_report
from dispatch.models import Policy
from events.media import LocalMediaStore, clean_photo
from tests.browser import running_app, signed_in_pages
from tests.people import actor, add_cast

pytestmark = pytest.mark.browser

EVIL = "<img src=x onerror=window.__pwned=1>"
TZ = ZoneInfo("Asia/Shanghai")
CAST = ["officer", "hws", "cgzd", "dispatcher", "intake", "shift", "leader"]


def jpeg(colour: str = "green") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, format="JPEG")
    return buffer.getvalue()


@pytest.fixture
def server(chancheng_url, tmp_path):
    with psycopg.connect(chancheng_url) as conn:
        add_cast(conn, CAST)
    with running_app(Settings(database_url=chancheng_url, media_root=str(tmp_path))) as base:
        yield Site(base, chancheng_url, tmp_path)


class Site:
    """The running app, its database and its media folder."""

    def __init__(self, base: str, url: str, media_root) -> None:
        self.base, self.url, self.media = base, url, LocalMediaStore(media_root)

    def new_case(self, description: str = "路边垃圾堆放", *, lon: float = 113.12) -> int:
        """A grid officer's report (暴露垃圾), dispatched by the rules to 祖庙 环卫站 S-012-HWS."""
        with psycopg.connect(self.url) as conn:
            done = submit_report(conn, actor=actor("officer"), policy=Policy(), category_code="0102", lon=lon,
                                 lat=23.02, description=description)
            conn.commit()
        assert done.status == "dispatched" and done.department_code == "S-012-HWS"
        return done.case_id

    def act(self, case_id: int, action: str, who: str, **request) -> None:
        with psycopg.connect(self.url) as conn:
            act(conn, case_id=case_id, action=action, actor=actor(who), policy=Policy(), request=Request(**request))
            conn.commit()

    def photo(self, who: str) -> int:
        """A photo stored and recorded as `who`'s upload, as POST /api/media would."""
        photo = clean_photo(jpeg("orange"))
        key = self.media.put(photo)
        with psycopg.connect(self.url) as conn:
            media_id = case_repo.insert_attachment(
                conn, storage_key=key, content_type=photo.content_type, size_bytes=len(photo.content),
                width=photo.width, height=photo.height, sha256=photo.sha256, uploaded_by=who)
            conn.commit()
        return media_id

    def handled(self, *, lon: float = 113.12) -> int:
        """A case the department has reported back on, with an after-photo."""
        case_id = self.new_case(lon=lon)
        self.act(case_id, "accept", "hws")
        self.act(case_id, "handle", "hws", note="已清运完毕", attachments=[self.photo("hws")])
        return case_id

    def row(self, case_id: int) -> dict:
        with psycopg.connect(self.url) as conn:
            cur = conn.execute("SELECT status, department_code, deadline FROM event_case WHERE id = %s", (case_id,))
            return dict(zip(("status", "department_code", "deadline"), cur.fetchone()))




@pytest.fixture
def open_as(server, browser):
    """open_as(name, path): a fresh browser session signed in as `name` through the form, showing `path`."""
    with signed_in_pages(browser, server.base) as open_page:
        yield open_page


def card(page, case_id: int):
    return page.locator(f".cg-case[data-case='{case_id}']")


def test_a_handler_accepts_and_reports_back_with_a_photo(server, open_as, artifacts):
    case_id = server.new_case()
    page = open_as("hws", "/queue")
    row = card(page, case_id)
    expect(row.locator(".cg-light-green")).to_have_count(1)
    expect(row).to_contain_text("0102")
    expect(page.locator("#queue-map path.leaflet-interactive[fill='#2e7d32']")).to_have_count(1)
    row.locator("button[data-action=accept]").click()
    expect(row.locator(".cg-status")).to_have_text("处置中")
    row.locator("button[data-action=handle]").click()
    form = row.locator("form[data-action=handle]")
    form.locator("textarea[name=note]").fill("已清理完毕，现场恢复整洁")
    form.locator("input[type=file]").set_input_files(
        files=[{"name": "after.jpg", "mimeType": "image/jpeg", "buffer": jpeg()}])
    expect(form.locator(".cg-photos img")).to_have_count(1)
    page.screenshot(path=str(artifacts / "queue.png"), full_page=True)
    form.locator("button[type=submit]").click()
    expect(card(page, case_id)).to_have_count(0)  # handled: no longer the department's to do
    expect(page.locator("#flash")).to_contain_text("处置反馈")
    assert server.row(case_id)["status"] == "handled"
    with psycopg.connect(server.url) as conn:
        linked = conn.execute("SELECT a.uploaded_by, h.action FROM attachment a JOIN case_history h "
                              "ON h.id = a.history_id WHERE a.case_id = %s", (case_id,)).fetchall()
    assert linked == [("hws", "handle")]


def test_another_department_neither_lists_nor_opens_the_case(server, open_as):
    case_id = server.new_case()
    page = open_as("cgzd", "/queue")
    expect(page.locator("#cases .cg-empty")).to_be_visible()
    assert card(page, case_id).count() == 0
    response = page.goto(f"{server.base}/cases/{case_id}")
    assert response.status == 404
    expect(page.locator("h1")).to_contain_text("404")
    assert page.locator("#summary").count() == 0
    assert page.goto(f"{server.base}/desk").status == 403  # not a dispatcher
    page.goto(f"{server.base}/queue?lang=en")
    expect(page.locator("h1")).to_contain_text("Cases")
    expect(page.locator("#cases .cg-empty")).to_have_text("Nothing here")


def test_a_returned_case_is_dispatched_again_from_the_desk(server, open_as, artifacts):
    case_id = server.new_case()
    server.act(case_id, "return", "hws", note="不属于本部门职责")
    page = open_as("dispatcher", "/desk")
    row = page.locator("#sec-dispatch").locator(f".cg-case[data-case='{case_id}']")
    expect(row.locator(".cg-status")).to_have_text("已回退")
    expect(row.locator(".cg-routing")).to_contain_text("S-012-HWS")  # the rule that sent it there
    expect(row).to_contain_text("不属于本部门职责")
    row.locator("select[name=department_code]").select_option("S-012-CGZD")
    page.screenshot(path=str(artifacts / "desk.png"), full_page=True)
    row.locator("form[data-action=dispatch] button[type=submit]").click()
    expect(page.locator("#flash")).to_contain_text(f"#{case_id}")
    assert server.row(case_id) | {"deadline": None} == {"status": "dispatched", "department_code": "S-012-CGZD",
                                                       "deadline": None}
    expect(page.locator("#sec-dispatch .cg-empty")).to_be_visible()
    assert page.locator("#sec-extensions").count() == 0  # the shift leader's sections are not the dispatcher's


def test_the_shift_leader_approves_an_extension_and_closes(server, open_as):
    extended = server.new_case()
    server.act(extended, "accept", "hws")
    old = server.row(extended)["deadline"].astimezone(TZ)
    wanted = (old + timedelta(days=2)).replace(second=0, microsecond=0)
    server.act(extended, "request_extension", "hws", note="需协调环卫车辆", new_deadline=wanted)
    checked = server.handled(lon=113.123)  # far enough not to be a likely duplicate of the first
    server.act(checked, "check_ok", "officer")
    page = open_as("shift", "/desk")
    assert page.locator("#sec-dispatch").count() == 0  # a shift leader does not dispatch
    row = page.locator("#sec-extensions").locator(f".cg-case[data-case='{extended}']")
    expect(row).to_contain_text("需协调环卫车辆")
    row.locator("button[data-action=approve_extension]").click()
    field = row.locator("input[name=new_deadline]")
    expect(field).to_have_value(f"{wanted:%Y-%m-%dT%H:%M}")  # the requested deadline is offered
    granted = wanted + timedelta(days=1, hours=1)
    field.fill(f"{granted:%Y-%m-%dT%H:%M}")
    row.locator("form[data-action=approve_extension] button[type=submit]").click()
    expect(page.locator("#sec-extensions .cg-empty")).to_be_visible()
    assert server.row(extended)["status"] == "accepted" and server.row(extended)["deadline"] == granted
    page.locator("#sec-close").locator(f".cg-case[data-case='{checked}'] button[data-action=close]").click()
    expect(page.locator("#sec-close .cg-empty")).to_be_visible()
    assert server.row(checked)["status"] == "closed"


def test_the_case_page_shows_history_photos_and_routing(server, open_as, artifacts):
    case_id = server.handled()
    page = open_as("dispatcher", f"/cases/{case_id}")
    history = page.locator("#history tbody tr")
    expect(history.locator("xpath=self::tr[@data-action='handle']")).to_have_count(1)
    assert history.count() >= 4  # report, dispatch, accept, handle
    expect(page.locator("#history")).to_contain_text("已清运完毕")
    expect(page.locator("#summary")).to_contain_text("已处置待核查")
    thumbs = page.locator("#photos img")
    expect(thumbs).to_have_count(1)
    page.wait_for_function("() => [...document.querySelectorAll('#photos img')].every(i => i.naturalWidth > 0)")
    assert thumbs.first.get_attribute("src").startswith("/api/media/")
    expect(page.locator("#routing .cg-explanation")).to_contain_text("S-012-HWS")
    expect(page.locator("#routing tr.cg-chosen")).to_have_count(1)
    page.screenshot(path=str(artifacts / "case.png"), full_page=True)


def test_user_text_is_shown_as_text_everywhere(server, open_as):
    case_id = server.new_case(description=EVIL)
    queue = open_as("hws", "/queue")
    expect(card(queue, case_id).locator(".cg-desc")).to_have_text(EVIL)
    server.act(case_id, "return", "hws", note=EVIL)
    desk = open_as("dispatcher", "/desk")
    row = desk.locator("#sec-dispatch").locator(f".cg-case[data-case='{case_id}']")
    expect(row.locator(".cg-desc")).to_have_text(EVIL)
    expect(row.locator(".cg-detail")).to_contain_text(EVIL)
    case = open_as("dispatcher", f"/cases/{case_id}")
    expect(case.locator("#summary")).to_contain_text(EVIL)
    expect(case.locator("#history")).to_contain_text(EVIL)
    for page in (queue, desk, case):
        assert page.locator("img[src=x]").count() == 0
        assert page.evaluate("() => window.__pwned") is None


def test_a_likely_duplicate_is_merged_from_the_desk(server, open_as):
    first = server.new_case()
    with psycopg.connect(server.url) as conn:  # a second report on the same spot waits for a dispatcher
        second = submit_report(conn, actor=actor("officer"), policy=Policy(), category_code="0102", lon=113.12,
                               lat=23.02, description="同一处垃圾")
        conn.commit()
    assert second.status == "registered"
    page = open_as("intake", "/desk")
    row = page.locator("#sec-duplicates").locator(f".cg-case[data-case='{second.case_id}']")
    row.locator(f"button[data-action=merge][data-into='{first}']").click()
    expect(page.locator("#flash")).to_contain_text(f"#{second.case_id}")
    assert server.row(second.case_id)["status"] == "merged"


def test_on_a_gcj02_base_map_the_queue_map_is_shifted_onto_it(chancheng_url, tmp_path, browser):
    from gis.crs import wgs84_to_gcj02

    with psycopg.connect(chancheng_url) as conn:
        add_cast(conn, ["officer", "hws"])
    settings = Settings(database_url=chancheng_url, media_root=str(tmp_path), tiles="custom",
                        tile_url="http://127.0.0.1:9/{z}/{x}/{y}.png", tile_crs="gcj02")
    with running_app(settings) as base, signed_in_pages(browser, base) as open_as:
        case_id = Site(base, chancheng_url, tmp_path).new_case()
        page = open_as("hws", "/queue")
        page.wait_for_function(f"() => window.cgQueueMap && window.cgQueueMap.markers[{case_id}]"
                               " && document.querySelectorAll('#queue-map path').length >= 2")
        drawn = page.evaluate(f"() => {{ const p = window.cgQueueMap.markers[{case_id}].getLatLng(); "
                              "return [p.lng, p.lat]; }")
        x, y = wgs84_to_gcj02(113.12, 23.02)
        assert abs(drawn[0] - float(x)) < 1e-6 and abs(drawn[1] - float(y)) < 1e-6
        code, first = page.evaluate("""async () => {
            const f = (await (await fetch('/api/layers/street')).json()).features[0];
            return [f.properties.code, f.geometry.coordinates.flat(3).slice(0, 2)]; }""")
        drawn_street = """(code) => { let drawn = null;
            window.cgQueueMap.map.eachLayer(l => { if (l.feature && l.feature.properties.code === code
                                                     && l.feature.geometry) drawn = l.getLatLngs().flat(3)[0]; });
            return drawn && [drawn.lng, drawn.lat]; }"""
        page.wait_for_function(drawn_street, arg=code)  # the street outlines arrive after the markers
        drawn = page.evaluate(drawn_street, code)
        x, y = wgs84_to_gcj02(*first)
        assert abs(drawn[0] - float(x)) < 1e-7 and abs(drawn[1] - float(y)) < 1e-7

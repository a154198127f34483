"""The grid officer's phone pages in headless Chromium at 390×844, GPS granted, every non-local request refused."""
from __future__ import annotations


import psycopg
import pytest
from PIL import Image
from playwright.sync_api import sync_playwright

from citygrid.settings import Settings
from dispatch.casework import case_repo
from dispatch.casework.cases import Request, act
from dispatch.intake.service import submit_report
from dispatch.models import Policy
from tests.browser import ARGS, CHROMIUM, local_only, record_errors, running_app, sign_in_form
from tests.people import actor, add_cast

HERE = {"latitude": 23.02, "longitude": 113.12}  # 祖庙街道: 0102 goes to S-012-HWS


@pytest.fixture
def server(chancheng_url, tmp_path):
    with psycopg.connect(chancheng_url) as conn:
        add_cast(conn, ["officer", "hws", "intake"])
    with running_app(Settings(database_url=chancheng_url, media_root=str(tmp_path / "media"))) as base:
        yield base, chancheng_url


@pytest.fixture
def phone(server):
    base, _ = server
    blocked: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                      device_scale_factor=2, locale="zh-CN", geolocation=HERE)
        context.grant_permissions(["geolocation"], origin=base)
        context.route("**/*", local_only(blocked))
        page = context.new_page()
        page.blocked, page.js_errors = blocked, []
        record_errors(page, page.js_errors)
        yield page
        browser.close()


def sign_in(page, base: str, username: str, path: str = "/m") -> None:
    """The real sign-in form, coming back to the page asked for."""
    sign_in_form(page, base, username, path)


def jpeg(tmp_path, name: str = "photo.jpg"):
    path = tmp_path / name
    Image.new("RGB", (64, 48), (90, 120, 60)).save(path, "JPEG")
    return str(path)


def attach(page, scope: str, path: str, count: int = 1) -> None:
    """Choose a photo in a picker and wait until it is uploaded."""
    page.set_input_files(f"{scope} input[type=file]", path)
    page.wait_for_function("([s, n]) => document.querySelectorAll(s + ' .m-thumb').length === n && "
                           "!document.querySelector(s + ' .m-thumb span')", arg=[scope, count])


def fill_report(page, tmp_path, description: str, category: str = "0102") -> None:
    """Wait for the GPS pin, pick the category by search, describe, add one photo, submit."""
    page.wait_for_function("() => document.getElementById('m-coords').textContent.startsWith('113.12')")
    page.fill("#m-cat-search", category)
    page.click(f"#m-cat-list button[data-code='{category}']")
    page.fill("#m-desc", description)
    attach(page, "#m-photos", jpeg(tmp_path))
    page.click("#m-submit")


def shown_case(page, other_than: int | None = None) -> int:
    """The case id of the success message (waiting for a new one when other_than is given)."""
    page.wait_for_function("(old) => { const r = document.getElementById('m-result');"
                           " return !r.hidden && r.dataset.caseId && r.dataset.caseId !== String(old); }",
                           arg=other_than)
    return int(page.get_attribute("#m-result", "data-case-id"))


def cases(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT id, status, department_code FROM event_case ORDER BY id").fetchall()


@pytest.mark.browser
def test_an_officer_reports_with_a_photo(server, phone, tmp_path, artifacts):
    base, url = server
    sign_in(phone, base, "officer")
    assert "坐标系 WGS84 (EPSG:4326)" in phone.inner_text("#m-crs")
    phone.wait_for_function("() => document.querySelectorAll('#m-map path.leaflet-interactive, #m-map path').length >= 4")
    fill_report(phone, tmp_path, "垃圾桶满溢")
    case_id = shown_case(phone)
    assert cases(url) == [(case_id, "dispatched", "S-012-HWS")]
    with psycopg.connect(url) as conn:
        linked = conn.execute("SELECT a.id, a.case_id, h.action, h.attachments FROM attachment a "
                              "JOIN case_history h ON h.id = a.history_id").fetchall()
        crs = conn.execute("SELECT input_crs FROM report WHERE case_id = %s", (case_id,)).fetchone()[0]
    assert [(row[1], row[2], row[3]) for row in linked] == [(case_id, "report", [linked[0][0]])]
    assert "4326" in crs
    phone.wait_for_function("() => document.querySelector('#m-result .m-dept').textContent === '祖庙街道环卫所'")
    assert phone.get_attribute("#m-result .m-dept", "title") == "S-012-HWS"  # the name, the code in a tooltip
    assert "已派遣" in phone.inner_text("#m-result")
    assert phone.input_value("#m-desc") == "" and phone.locator("#m-photos .m-thumb").count() == 0
    phone.screenshot(path=str(artifacts / "officer-report.png"), full_page=True)
    assert phone.blocked == [] and phone.js_errors == []


@pytest.mark.browser
def test_a_likely_duplicate_is_shown_before_filing(server, phone, tmp_path):
    base, url = server
    sign_in(phone, base, "officer")
    fill_report(phone, tmp_path, "第一次")
    first = shown_case(phone)
    fill_report(phone, tmp_path, "第二次，同一处")
    dups = phone.locator("#m-dups")
    dups.wait_for()
    assert f"#{first}" in dups.inner_text() and "m" in dups.inner_text()
    assert len(cases(url)) == 1  # nothing is filed until the officer confirms
    phone.click("#m-anyway")
    second = shown_case(phone, other_than=first)
    assert [c[0] for c in cases(url)] == [first, second]
    assert phone.js_errors == []


@pytest.mark.browser
def test_a_resend_after_a_lost_answer_files_one_case(server, phone, tmp_path):
    base, url = server
    sign_in(phone, base, "officer")
    reached: list[int] = []

    def lose_the_answer(route):
        if route.request.method == "POST" and not reached:
            reached.append(route.fetch().status)  # the server files the case…
            route.abort()  # …but the phone never hears back
        else:
            route.continue_()

    phone.route("**/api/reports", lose_the_answer)
    fill_report(phone, tmp_path, "网络中断")
    retry = phone.locator("#m-retry")
    retry.wait_for()
    assert reached == [201] and len(cases(url)) == 1
    assert phone.input_value("#m-desc") == "网络中断"  # the form is kept
    assert phone.evaluate("() => sessionStorage.getItem('cg.officer.pending')") is not None
    with phone.expect_response("**/api/reports") as answer:
        retry.click()
    assert answer.value.headers.get("idempotent-replay") == "true"
    assert shown_case(phone) == cases(url)[0][0] and len(cases(url)) == 1
    assert phone.evaluate("() => sessionStorage.getItem('cg.officer.pending')") is None


@pytest.mark.browser
def test_a_description_is_shown_as_text(server, phone, tmp_path):
    base, _ = server
    evil = "<img src=x onerror=window.__pwned=1>"
    sign_in(phone, base, "officer")
    fill_report(phone, tmp_path, evil)
    case_id = shown_case(phone)
    phone.goto(f"{base}/m/mine")
    card = phone.locator(f".m-case[data-case-id='{case_id}']")
    card.wait_for()
    assert card.locator(".m-desc").inner_text() == evil
    assert phone.locator("#m-mine img").count() == 0
    assert card.get_attribute("href") is None and card.locator(f"a[href='/cases/{case_id}']").count() == 1
    assert phone.evaluate("() => window.__pwned") is None
    assert phone.js_errors == []


def public_report(url: str, description: str) -> int:
    with psycopg.connect(url) as conn:
        done = submit_report(conn, actor=actor("intake"), policy=Policy(), category_code="0102", lon=113.12,
                             lat=23.02, description=description, public=True, source="open311")
        conn.commit()
    assert done.status == "awaiting_verification"
    return done.case_id


@pytest.mark.browser
def test_an_officer_verifies_a_public_report(server, phone, tmp_path, artifacts):
    base, url = server
    case_id, gone = public_report(url, "市民：路边有垃圾"), public_report(url, "市民：同一堆垃圾")
    sign_in(phone, base, "officer", "/m/tasks")
    card = phone.locator(f"#m-verify .m-case[data-case-id='{case_id}']")
    card.wait_for()
    card.locator("button[data-action=reject]").click()  # no reason: refused on the page
    assert "请填写原因" in card.inner_text()
    attach(phone, f"#m-verify .m-case[data-case-id='{case_id}']", jpeg(tmp_path))
    phone.screenshot(path=str(artifacts / "officer-tasks.png"), full_page=True)
    card.locator("button[data-action=register]").click()
    card.wait_for(state="detached")
    with psycopg.connect(url) as conn:
        status = conn.execute("SELECT status FROM event_case WHERE id = %s", (case_id,)).fetchone()[0]
        photos = conn.execute("SELECT h.action FROM attachment a JOIN case_history h ON h.id = a.history_id "
                              "WHERE a.case_id = %s", (case_id,)).fetchall()
        act(conn, case_id=gone, action="reject", actor=actor("intake"), policy=Policy(),
            request=Request(note="重复"))  # someone else decides meanwhile
        conn.commit()
    assert status == "dispatched" and photos == [("register",)]
    other = phone.locator(f"#m-verify .m-case[data-case-id='{gone}']")
    other.locator("button[data-action=register]").click()
    phone.wait_for_function("(id) => document.querySelector(`.m-case[data-case-id='${id}'] .m-task-error`)"
                            ".textContent.length > 0", arg=gone)
    assert other.locator("button[data-action=register]").is_enabled()  # refused: the card stays, with the reason
    assert phone.js_errors == []


def handled_case(url: str, description: str, lon: float) -> int:
    """An officer's report dispatched to S-012-HWS, accepted and handled with a photo."""
    with psycopg.connect(url) as conn:
        done = submit_report(conn, actor=actor("officer"), policy=Policy(), category_code="0102", lon=lon,
                             lat=23.02, description=description)
        photo = case_repo.insert_attachment(conn, storage_key="x", content_type="image/jpeg", size_bytes=1,
                                            width=1, height=1, sha256="0" * 64, uploaded_by="hws")
        act(conn, case_id=done.case_id, action="accept", actor=actor("hws"), policy=Policy())
        act(conn, case_id=done.case_id, action="handle", actor=actor("hws"), policy=Policy(),
            request=Request(note="已清理", attachments=[photo]))
        conn.commit()
    return done.case_id


@pytest.mark.browser
def test_an_officer_checks_handled_cases_on_site(server, phone):
    base, url = server
    failed, passed = handled_case(url, "一", 113.12), handled_case(url, "二", 113.121)
    sign_in(phone, base, "officer", "/m/tasks")
    first = phone.locator(f"#m-check .m-case[data-case-id='{failed}']")
    first.wait_for()
    first.locator("textarea").fill("仍有垃圾")
    first.locator("button[data-action=check_fail]").click()
    first.wait_for(state="detached")
    phone.locator(f"#m-check .m-case[data-case-id='{passed}'] button[data-action=check_ok]").click()
    phone.locator(f"#m-check .m-case[data-case-id='{passed}']").wait_for(state="detached")
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT id, status, rework_count FROM event_case ORDER BY id").fetchall()
    assert rows == [(failed, "accepted", 1), (passed, "checked", 0)]
    assert phone.js_errors == []


@pytest.mark.browser
def test_a_non_officer_gets_a_403_page(server, phone):
    base, _ = server
    sign_in(phone, base, "hws", "/m")
    for path in ("/m", "/m/mine", "/m/tasks"):
        answer = phone.goto(f"{base}{path}")
        assert answer.status == 403
        assert "仅供网格员" in phone.inner_text("#m-denied")
        assert phone.locator("#m-report, #m-page").count() == 0


@pytest.mark.browser
def test_without_gps_a_tap_places_the_pin(server, phone, tmp_path):
    base, _ = server
    sign_in(phone, base, "officer")
    phone.context.clear_permissions()  # the officer refused GPS
    phone.goto(f"{base}/m?lang=en")
    phone.wait_for_function("() => document.getElementById('m-gps').textContent.startsWith('No GPS position')")
    assert phone.inner_text("h1") == "Report an issue" and "WGS84 (EPSG:4326)" in phone.inner_text("#m-crs")
    assert phone.inner_text("#m-coords") == "—"
    phone.wait_for_function("() => document.querySelectorAll('#m-map path').length >= 4")
    phone.tap("#m-map", position={"x": 200, "y": 120})
    phone.wait_for_function("() => document.getElementById('m-coords').textContent.startsWith('113.')")
    phone.wait_for_function("() => document.getElementById('m-place').textContent.length > 0")
    assert phone.inner_text("#m-gps") == "Position set by hand"
    assert phone.get_attribute("#m-place", "class") == "cg-muted"  # located inside the district
    (tmp_path / "not-a-photo.jpg").write_text("hello")
    phone.set_input_files("#m-photos input[type=file]", str(tmp_path / "not-a-photo.jpg"))
    phone.wait_for_function("() => document.querySelector('#m-photos .cg-error').textContent.includes('not-a-photo.jpg: ')")
    assert phone.locator("#m-photos .m-thumb").count() == 0  # the API's refusal is shown, the thumbnail dropped
    assert phone.js_errors == []


@pytest.mark.browser
def test_on_a_gcj02_base_map_the_pin_is_drawn_shifted_and_the_page_still_sends_wgs84(chancheng_url, tmp_path):
    """Tiles in GCJ-02 (Amap-style): GPS (WGS84) is drawn shifted onto them, a tap is shifted back before sending."""
    from gis.crs import gcj02_to_wgs84, wgs84_to_gcj02

    with psycopg.connect(chancheng_url) as conn:
        add_cast(conn, ["officer"])
    settings = Settings(database_url=chancheng_url, media_root=str(tmp_path / "media"), tiles="custom",
                        tile_url="http://127.0.0.1:9/{z}/{x}/{y}.png", tile_crs="gcj02")  # no tile server: fine
    blocked: list[str] = []
    with running_app(settings) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                      locale="zh-CN", geolocation=HERE)
        context.grant_permissions(["geolocation"], origin=base)
        context.route("**/*", local_only(blocked))
        phone = context.new_page()
        errors: list[str] = []
        phone.on("pageerror", lambda exc: errors.append(str(exc)))
        sign_in(phone, base, "officer")
        phone.wait_for_function("() => document.getElementById('m-coords').textContent.startsWith('113.12')")
        assert phone.inner_text("#m-coords") == "113.120000, 23.020000"  # what is sent: the GPS fix, WGS84
        drawn = phone.evaluate("() => { const p = window.cgOfficerMap.marker().getLatLng(); return [p.lng, p.lat]; }")
        x, y = wgs84_to_gcj02(113.12, 23.02)
        assert abs(drawn[0] - float(x)) < 1e-7 and abs(drawn[1] - float(y)) < 1e-7  # drawn on the GCJ-02 tiles
        phone.wait_for_function("() => document.querySelectorAll('#m-map path').length >= 4")
        # the street outlines too: a vertex as drawn is the API's (WGS84) vertex, shifted
        pair = phone.evaluate("""async () => {
            const api = await (await fetch('/api/layers/street')).json(), f = api.features[0];
            let drawn = null;
            window.cgOfficerMap.map.eachLayer(l => { if (l.feature && l.feature.properties.code === f.properties.code
                                                        && l.feature.geometry) drawn = l.getLatLngs().flat(3)[0]; });
            return [f.geometry.coordinates.flat(3).slice(0, 2), drawn && [drawn.lng, drawn.lat]]; }""")
        x, y = wgs84_to_gcj02(*pair[0])
        assert pair[1] is not None and abs(pair[1][0] - float(x)) < 1e-7 and abs(pair[1][1] - float(y)) < 1e-7
        # a tap at a point of the GCJ-02 map keeps (and sends) the WGS84 point under it
        phone.evaluate("() => window.cgOfficerMap.map.fire('click', {latlng: L.latLng(23.03, 113.13)})")
        phone.wait_for_function("() => document.getElementById('m-gps').textContent.length > 0 && "
                                "!document.getElementById('m-coords').textContent.startsWith('113.120000')")
        lon, lat = (float(v) for v in phone.inner_text("#m-coords").split(", "))
        want = gcj02_to_wgs84(113.13, 23.03)
        assert abs(lon - float(want[0])) < 2e-6 and abs(lat - float(want[1])) < 2e-6
        assert 0.003 < 113.13 - lon < 0.008  # moved back west by Chancheng's offset
        browser.close()
    assert blocked == [] and errors == []

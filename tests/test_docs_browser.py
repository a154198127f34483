"""The API docs and the site icon in headless Chromium with every request off the machine refused: /docs draws
its operations from the vendored Swagger UI under the policy of every page, and no page load answers a 404."""
from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright

from citygrid.settings import Settings
from tests.axe import serious_violations
from tests.browser import ARGS, CHROMIUM, local_only, record_errors, running_app

pytestmark = pytest.mark.browser


@pytest.fixture
def browsed(chancheng_url, tmp_path):
    """A page of a fresh context on the running app: (base, page, blocked requests, errors, failed responses)."""
    with running_app(Settings(database_url=chancheng_url, media_root=str(tmp_path))) as base, \
            sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1366, "height": 768})
        blocked, errors, failed = [], [], []
        context.route("**/*", local_only(blocked))
        page = context.new_page()
        record_errors(page, errors)
        page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        try:
            yield base, page, blocked, errors, failed
        finally:
            browser.close()


def test_api_docs_render_their_operations_offline(browsed, artifacts):
    base, page, blocked, errors, failed = browsed
    page.goto(f"{base}/docs")
    page.wait_for_function("() => document.querySelectorAll('.opblock').length >= 20", timeout=30_000)
    assert page.locator(".opblock-summary-path", has_text="/api/cases/{case_id}").count() >= 1
    assert serious_violations(page) == [], serious_violations(page)
    page.locator(".opblock-summary", has_text="/api/health").first.click()  # an operation opens, and runs
    page.click(".opblock.is-open .try-out__btn")
    page.click(".opblock.is-open .execute")
    answered = page.locator(".opblock.is-open .live-responses-table tbody .response-col_status")
    answered.first.wait_for()
    assert answered.first.inner_text().strip() == "200"  # the API answered the page's own request
    page.screenshot(path=str(artifacts / "docs-try-it-out-1366x768.png"))
    page.set_viewport_size({"width": 360, "height": 640})
    page.locator(".opblock.is-open").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "docs-try-it-out-360x640.png"))
    assert serious_violations(page) == [], serious_violations(page)
    assert (blocked, errors, failed) == ([], [], [])


def test_docs_policy_is_the_policy_of_every_page(browsed):
    import httpx
    base = browsed[0]
    docs, login = httpx.get(f"{base}/docs"), httpx.get(f"{base}/login")
    strip = lambda csp: csp.split("'nonce-")[0] + csp.split("'nonce-")[1].split("'", 1)[1]  # noqa: E731
    assert strip(docs.headers["content-security-policy"]) == strip(login.headers["content-security-policy"])
    assert "cdn" not in docs.text and "https://" not in docs.text.split("<body>")[0]
    assert httpx.get(f"{base}/redoc").status_code == 404  # one docs page, not a second one needing a CDN


def test_no_page_load_answers_a_404_for_the_icon(browsed):
    base, page, blocked, errors, failed = browsed
    for path in ("/login", "/docs"):
        page.goto(f"{base}{path}", wait_until="networkidle")
    icon = page.request.get(f"{base}/favicon.ico")
    assert icon.status == 200 and icon.headers["content-type"] == "image/x-icon"
    assert icon.body()[:4] == b"\x00\x00\x01\x00"  # an ICO file's header
    assert failed == [] and blocked == []

"""Every page at desktop, phone and (the leader's map and wall screen) wall size, in headless Chromium with every
request off the machine refused: a screenshot of each in test-artifacts/ (page-role-WxH.png), and on each no
horizontal overflow, laid out at the screen's width (a phone shrinks a page without a viewport width), no serious
or critical axe violation, no failed response (a 404: a missing icon, script or
image), no refused request, no script error or CSP refusal.

The pages are tests/access_matrix.PAGES (each as one role allowed to see it) and OPEN_PAGES (as a stranger), so a
page joins by being listed there. One browser for the module; one context per person and kind of screen."""
from __future__ import annotations

import re

import psycopg
import pytest

from citygrid.settings import Settings
from dispatch.intake.service import submit_report
from dispatch.models import Policy
from tests.access_matrix import OPEN_PAGES, PAGES, ROLES, seed
from tests.axe import serious_violations
from tests.browser import local_only, record_errors, running_app
from tests.conftest import url_for
from tests.drills.xss import settle
from tests.people import actor
from web.deps import COOKIE, CSRF_COOKIE

pytestmark = pytest.mark.browser

DESKTOP, PHONES, WALL = (1366, 768), [(360, 640), (390, 844)], (1920, 1080)
WALL_PAGES = {"/map", "/screen"}
# who opens a page listed for several roles: the first of these it allows ("/" as the officer: it goes on to /m;
# the inbox as the handler, who has a message there)
CHOICE = {"/": ["grid_officer"], "/inbox": ["handler"]}
PREFERRED = ["leader", "handler", "dispatcher", "grid_officer", "shift_leader", "dept_head", "intake", "admin"]
OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"


def sweep() -> list[tuple[str, str | None]]:
    """(page as listed, role) for every page: PAGES as one role allowed to see it, OPEN_PAGES as a stranger."""
    out = []
    for _, page, _, allowed in PAGES:
        out.append((page, next(r for r in CHOICE.get(page, PREFERRED) + sorted(allowed) if r in allowed)))
    return out + [(page, None) for _, page in OPEN_PAGES]


def sizes(page: str) -> list[tuple[int, int]]:
    return [DESKTOP, *PHONES, *([WALL] if page in WALL_PAGES else [])]


@pytest.fixture(scope="module")
def site(databases, chancheng_template, tmp_path_factory):
    """The app on a Chancheng database with the cast, the matrix's closed case and two open ones (one with a
    description at the 4,000-character limit); yields (base, tokens, ids)."""
    url = url_for(databases.create(template=chancheng_template, suffix="sweep"))
    media = tmp_path_factory.mktemp("sweep-media")
    with psycopg.connect(url) as conn:
        tokens, ids = seed(conn, media)
        for lon, text in ((113.115, "路边垃圾堆放"), (113.125, "井盖破损，" * 800)):
            submit_report(conn, actor=actor("officer"), policy=Policy(), category_code="0102", lon=lon, lat=23.02,
                          description=text)
        conn.commit()
    with running_app(Settings(database_url=url, media_root=str(media))) as base:
        yield base, tokens, ids




class Screens:
    """One page (in its own context) per person and kind of screen, kept for the module, each watched for
    refused requests, failed responses and script or CSP errors."""

    def __init__(self, browser, base: str, tokens: dict) -> None:
        self.browser, self.base, self.tokens, self.open = browser, base, tokens, {}

    def page(self, user: str | None, phone: bool):
        if (user, phone) not in self.open:
            context = self.browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN",
                                               is_mobile=phone, has_touch=phone)
            watched = {"blocked": [], "errors": [], "failed": []}
            context.route("**/*", local_only(watched["blocked"]))
            if user:
                context.add_cookies([{"name": COOKIE, "value": self.tokens[user], "url": self.base},
                                     {"name": CSRF_COOKIE, "value": "sweep", "url": self.base}])
            page = context.new_page()
            record_errors(page, watched["errors"])
            page.on("response", lambda r: watched["failed"].append(f"{r.status} {r.url}") if r.status >= 400
                    else None)
            self.open[user, phone] = (page, watched)
        return self.open[user, phone]


@pytest.fixture(scope="module")
def screens(browser, site):
    return Screens(browser, site[0], site[1])


def look(page, watched: dict, base: str, path: str, size: tuple[int, int], shot) -> list[str]:
    """Open the path at the size, take its screenshot, and return what is wrong with it."""
    for found in watched.values():
        found.clear()
    page.set_viewport_size({"width": size[0], "height": size[1]})
    settle(page, base, path)
    page.screenshot(path=str(shot))
    if "/login" not in path and "/login?next=" in page.url:
        return [f"sent to sign in ({page.url}): the sweep did not see the page"]
    wrong = [f"a horizontal overflow of {over} px" for over in [page.evaluate(OVERFLOW)] if over > 1]
    laid_out = page.evaluate("() => window.innerWidth")
    if laid_out != size[0]:  # a phone lays a page without a viewport width out at 980 px and shrinks it
        wrong.append(f"laid out {laid_out} px wide on a {size[0]} px screen (no viewport width for phones)")
    wrong += [f"axe {v}" for v in serious_violations(page)]
    wrong += [f"failed response {r}" for r in watched["failed"]]
    wrong += [f"refused request off the machine {r}" for r in watched["blocked"]]
    wrong += [f"script or CSP error {e}" for e in watched["errors"]]
    return wrong


@pytest.mark.parametrize("listed,role", sweep(), ids=[f"{p}-{r or 'stranger'}" for p, r in sweep()])
def test_every_page_at_every_size(listed, role, site, screens, artifacts):
    base, tokens, ids = site
    user = ROLES[role] if role else None
    path = listed.replace("{case}", str(ids["case"]))
    wrong = []
    for size in sizes(listed):
        page, watched = screens.page(user, phone=size[0] < 500)
        name = re.sub(r"[^a-z0-9]+", "-", listed.lower()).strip("-") or "home"
        shot = artifacts / f"{name}-{role or 'stranger'}-{size[0]}x{size[1]}.png"
        wrong += [f"{size[0]}×{size[1]}: {w}" for w in look(page, watched, base, path, size, shot)]
    assert wrong == [], "\n".join(wrong)

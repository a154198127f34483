"""What every browser test shares: the app served from a thread, Chromium's flags, and the guard that refuses
every request leaving this machine (and records it, so a test can assert none was tried)."""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Iterator
from urllib.parse import urlparse

import uvicorn

from citygrid.app import build_app
from citygrid.procs import free_port  # noqa: F401 (the tests import it from here)
from citygrid.settings import Settings

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
LOCAL = {"127.0.0.1", "localhost"}


@contextmanager
def running_app(settings: Settings):
    """The app on a free local port, in a thread, until the block ends; yields its base URL."""
    config = uvicorn.Config(build_app(settings), host="127.0.0.1", port=free_port(), log_level="warning",
                            timeout_graceful_shutdown=3)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    assert server.started, "server did not start"
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def local_only(blocked: list):
    """A route handler that lets local requests through and aborts (and records) every other one."""
    def guard(route) -> None:
        if urlparse(route.request.url).hostname in LOCAL:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()
    return guard


def record_errors(page, errors: list, *, where: bool = False) -> None:
    """Collect a page's uncaught script errors and Content-Security-Policy refusals (a blocked script, style,
    image or request) in `errors`; where: prefix each with the page's URL."""
    def add(text: str) -> None:
        errors.append(f"{page.url}: {text}" if where else text)

    page.on("pageerror", lambda exc: add(str(exc)))
    page.on("console", lambda msg: add(msg.text) if "Content Security Policy" in msg.text else None)


def sign_in_form(page, base: str, username: str, path: str) -> None:
    """The real sign-in form (password "<name>-password-1" from tests/people.py), coming back to `path`."""
    assert "/login?next=" in page.goto(f"{base}{path}").url
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f"{username}-password-1")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{path}")


def guarded_page(browser, width: int = 1280, height: int = 900, *, geolocation: dict | None = None):
    """A page in a new zh-CN context of that size (a phone's touch below 600 px wide): every non-local request
    refused and recorded in page.blocked, script errors and CSP refusals in page.js_errors; with geolocation, the
    position is granted to every origin."""
    phone = width < 600
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN",
                                  is_mobile=phone, has_touch=phone, geolocation=geolocation)
    if geolocation:
        context.grant_permissions(["geolocation"])
    page = context.new_page()
    page.blocked, page.js_errors = [], []
    context.route("**/*", local_only(page.blocked))
    record_errors(page, page.js_errors)
    return page


@contextmanager
def signed_in_pages(browser, base: str) -> Iterator:
    """open_as(name, path, width, height, geolocation=None): a fresh session signed in as `name` through the
    form, showing `path`. At the end, no page may have asked off the machine or hit a script error."""
    pages = []

    def open_as(username: str, path: str, width: int = 1280, height: int = 900, geolocation: dict | None = None):
        page = guarded_page(browser, width, height, geolocation=geolocation)
        sign_in_form(page, base, username, path)
        pages.append(page)
        return page

    try:
        yield open_as
    finally:
        for page in pages:
            page.context.close()
    for page in pages:
        assert page.blocked == [], page.blocked
        assert page.js_errors == [], page.js_errors

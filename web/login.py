"""The sign-in page: a form with a CSRF token; success sets the HttpOnly session cookie and opens the map."""
from __future__ import annotations

import html
from datetime import timedelta
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from dispatch import accounts
from web.deps import COOKIE, CSRF_COOKIE, Config, Conn, csrf_matches, new_csrf_value, sign_in_with_password

router = APIRouter(include_in_schema=False)

PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>citygrid 登录 sign in</title>
<style>body{{font:16px system-ui,sans-serif;max-width:22rem;margin:4rem auto;padding:0 1rem}}
input,button{{font:inherit;width:100%;padding:.6rem;margin:.3rem 0;box-sizing:border-box}}
.err{{color:#b71c1c}}</style></head><body><h1>citygrid 一张图</h1>
<form method="post" action="/login"><input type="hidden" name="csrf" value="{csrf}">
<input type="hidden" name="next" value="{next}">
<label>用户名 User name<input name="username" autocomplete="username" required value="{username}"></label>
<label>密码 Password<input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">登录 Sign in</button></form><p class="err">{error}</p></body></html>"""


def _page(request: Request, config, *, error: str = "", username: str = "", status: int = 200,
          next_path: str = "") -> HTMLResponse:
    # double-submit CSRF: the same random value in a cookie and in the form; another site can set neither
    token = request.cookies.get(CSRF_COOKIE) or new_csrf_value()
    response = HTMLResponse(PAGE.format(csrf=html.escape(token), username=html.escape(username),
                                        error=html.escape(error), next=html.escape(next_path)), status_code=status)
    _set_csrf(response, config, token)
    return response


def _set_csrf(response, config, value: str) -> None:
    # readable by the pages' scripts (they echo it in X-CSRF-Token); another site can neither read nor set it
    response.set_cookie(CSRF_COOKIE, value, httponly=False, samesite="strict", secure=config.secure_cookies)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, config: Config) -> HTMLResponse:
    """The sign-in form."""
    return _page(request, config, next_path=_local(request.query_params.get("next", "")))


def _local(path: str) -> str:
    """Only a path on this site may follow sign-in (never another site: no open redirect)."""
    return path if path.startswith("/") and not path.startswith("//") and "\\" not in path else ""


@router.post("/login")
async def login_submit(request: Request, conn: Conn, config: Config):
    """Check the CSRF token and the password; on success set the session cookie and go to the map."""
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    username, password = form.get("username", [""])[0], form.get("password", [""])[0]
    next_path = _local(form.get("next", [""])[0])
    if not csrf_matches(request, form.get("csrf", [""])[0]):
        return _page(request, config, error="这个表单已过期，请重试 The form expired; please try again",
                     username=username, status=403, next_path=next_path)
    try:
        token = await run_in_threadpool(sign_in_with_password, request, conn, username=username,  # Argon2: off the loop
                                        password=password, ttl=timedelta(hours=config.token_ttl_hours))
    except (accounts.Unauthenticated, accounts.TooManyAttempts) as exc:
        status = 429 if isinstance(exc, accounts.TooManyAttempts) else 401
        return _page(request, config, error=str(exc), username=username, status=status, next_path=next_path)
    response = RedirectResponse(next_path or "/", status_code=303)
    response.set_cookie(COOKIE, token, max_age=int(config.token_ttl_hours * 3600), httponly=True,
                        samesite="strict", secure=config.secure_cookies)
    _set_csrf(response, config, new_csrf_value())  # rotated: a value planted before sign-in is worth nothing now
    return response

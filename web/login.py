"""A minimal sign-in page for the map: the form posts a password, the answer sets an HttpOnly cookie."""
from __future__ import annotations

import html
from datetime import timedelta
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from web import accounts
from web.deps import COOKIE, Config, Conn

router = APIRouter(include_in_schema=False)

PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>citygrid 登录 sign in</title>
<style>body{{font:16px system-ui,sans-serif;max-width:22rem;margin:4rem auto;padding:0 1rem}}
input,button{{font:inherit;width:100%;padding:.6rem;margin:.3rem 0;box-sizing:border-box}}
.err{{color:#b71c1c}}</style></head><body><h1>citygrid 一张图</h1>
<form method="post" action="/login"><label>用户名 User name<input name="username" autocomplete="username"
required></label><label>密码 Password<input name="password" type="password" autocomplete="current-password"
required></label><button type="submit">登录 Sign in</button></form><p class="err">{error}</p></body></html>"""


@router.get("/login", response_class=HTMLResponse)
def login_page() -> HTMLResponse:
    """The sign-in form."""
    return HTMLResponse(PAGE.format(error=""))


@router.post("/login")
async def login_submit(request: Request, conn: Conn, config: Config):
    """Check the password; on success set the token cookie and go to the map."""
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    username, password = form.get("username", [""])[0], form.get("password", [""])[0]
    try:
        token = accounts.login(conn, username=username, password=password,
                               ttl=timedelta(hours=config.token_ttl_hours))
    except accounts.Unauthenticated as exc:
        return HTMLResponse(PAGE.format(error=html.escape(str(exc))), status_code=401)
    response = RedirectResponse("/map", status_code=303)
    response.set_cookie(COOKIE, token, max_age=int(config.token_ttl_hours * 3600), httponly=True,
                        samesite="strict", secure=config.secure_cookies)
    return response

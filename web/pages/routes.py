"""The pages' common routes: the start page by role, sign-out, the inbox."""
from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from dispatch import accounts
from web.deps import COOKIE, Conn, csrf_matches
from web.pages.common import home_of, page_actor, render

router = APIRouter(include_in_schema=False)


@router.get("/")
def start(request: Request, conn: Conn):
    """Each role's first page; the sign-in form for strangers."""
    return RedirectResponse(home_of(page_actor(request, conn)), status_code=303)


@router.post("/logout")
async def logout(request: Request, conn: Conn):
    """End the session: the token is revoked and the cookie cleared (the form carries the CSRF token)."""
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    token = request.cookies.get(COOKIE)
    if token and csrf_matches(request, form.get("csrf", [""])[0]):
        await run_in_threadpool(accounts.revoke, conn, token=token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.get("/inbox")
def inbox_page(request: Request, conn: Conn):
    """Notifications of the signed-in user (the list is fetched from /api/inbox by the page)."""
    return render(request, page_actor(request, conn), "inbox.html")

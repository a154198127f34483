"""What every page shares: the signed-in actor (or a redirect to sign in), the language, the template."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from dispatch.accounts import Unauthenticated
from dispatch.actor import Actor
from dispatch.casework.outbox import unread_count
from web.deps import CSRF_COOKIE, actor_of
from web.pages.i18n import TEXT, pick, translator
from web.security import script_nonce

TEMPLATES = Path(__file__).resolve().parent / "templates"
# autoescape on: every value put into a page is HTML-escaped unless a template says otherwise
env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))

# Where each role starts, first match wins.
HOME = [("grid_officer", "/m"), ("handler", "/queue"), ("dept_head", "/queue"), ("dispatcher", "/desk"),
        ("intake", "/desk"), ("shift_leader", "/desk"), ("leader", "/map"), ("admin", "/map")]


class SignInFirst(Exception):
    """The page needs a signed-in user."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.target = target


def page_actor(request: Request, conn) -> Actor:
    """The signed-in actor (looked up on the request's connection), or SignInFirst (a redirect to /login)."""
    try:
        return actor_of(request, conn)
    except Unauthenticated:
        raise SignInFirst(request.url.path) from None


def home_of(actor: Actor) -> str:
    """The first page of the actor's main role."""
    return next((path for role, path in HOME if role in actor.roles), "/map")


def page_lang(request: Request) -> str:
    """The page language: the query's, else the cookie's, else zh-CN."""
    return pick(request.query_params.get("lang"), request.cookies.get("citygrid_lang"))


UNREAD_SHOWN = 99  # more than this shows as "99+"


def unread_label(conn, username: str) -> str:
    """The unread count as the header shows it: "" for none, "99+" beyond UNREAD_SHOWN."""
    n = unread_count(conn, username=username, cap=UNREAD_SHOWN + 1)
    return "" if not n else f"{UNREAD_SHOWN}+" if n > UNREAD_SHOWN else str(n)


def layout(request: Request, actor: Actor) -> dict:
    """The values base.html needs: actor, language, translator, CSRF token, path, nonce and app.js's texts."""
    lang = page_lang(request)
    t = translator(lang)
    return {"actor": actor, "lang": lang, "t": t, "csrf": request.cookies.get(CSRF_COOKIE, ""),
            "path": request.url.path, "nonce": script_nonce(request),
            "common": {key[2:]: t(key) for key in TEXT if key.startswith("c_")}}


def render(request: Request, actor: Actor, template: str, *, status: int = 200, **values) -> HTMLResponse:
    """Render a page with the shared layout values (actor, language, CSRF token, nav)."""
    shared = layout(request, actor)
    lang = shared["lang"]
    html = env.get_template(template).render(**shared, **values)
    response = HTMLResponse(html, status_code=status)
    if request.query_params.get("lang") == lang:
        response.set_cookie("citygrid_lang", lang, samesite="strict", max_age=365 * 86400)
    return response


def sign_in_redirect(exc: SignInFirst) -> RedirectResponse:
    """Send the browser to the sign-in form, coming back afterwards."""
    return RedirectResponse(f"/login?next={quote(exc.target)}", status_code=303)

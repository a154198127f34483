"""The shared page header (web/pages/templates/header.html) and the texts, for the pages folium builds (/map,
/screen): the same template, language choice and unread count as the other pages."""
from __future__ import annotations

from fastapi import Request

from dispatch.actor import Actor
from web.deps import CSRF_COOKIE
from web.pages.common import env, page_lang, unread_label
from web.pages.i18n import TEXT, translator


def header_html(request: Request, conn, actor: Actor) -> str:
    """The header of the other pages, rendered for this request (escaped by the template)."""
    lang = page_lang(request)
    return env.get_template("header.html").render(
        actor=actor, lang=lang, t=translator(lang), csrf=request.cookies.get(CSRF_COOKIE, ""),
        unread=unread_label(conn, actor.username))


def texts(lang: str, prefixes: tuple[str, ...] = ("mp_", "sc_", "c_light_")) -> dict[str, str]:
    """The texts the map's and the wall screen's scripts show, in the page language (the deadline lights' names
    are the other pages' own)."""
    t = translator(lang)
    return {key: t(key) for key in TEXT if key.startswith(prefixes)}

"""The grid officer's phone pages: report an issue, my reports, verifications and on-site checks.

The pages are shells; officer.js fetches and sends everything through the JSON API (which checks roles and scope
again). A signed-in user without the grid_officer role gets a 403 page instead of the form.
"""
from __future__ import annotations

from fastapi import APIRouter, Request

from dispatch.intake.service import MAX_DESCRIPTION
from dispatch.permissions import may
from web.deps import Conn
from web.pages.common import page_actor, page_lang, render
from web.pages.i18n import TEXT, translator
from web.schemas import MAX_NOTE

router = APIRouter(include_in_schema=False)

JS_KEYS = tuple(key for key in TEXT if key.startswith("m_"))  # the texts officer.js needs, in the page language


def officer_page(request: Request, conn, template: str, **values):
    """The page for a grid officer; a short 403 page for anyone else (strangers are sent to sign in)."""
    actor = page_actor(request, conn)
    if not may(actor, "use_officer_pages"):
        return render(request, actor, template, status=403, denied=True)
    return render(request, actor, template, denied=False, texts=page_texts(request), **values)


def page_texts(request: Request) -> dict[str, str]:
    """The texts officer.js shows, in the page's language (the same choice render makes)."""
    t = translator(page_lang(request))
    return {key: t(key) for key in JS_KEYS}


@router.get("/m")
def report_page(request: Request, conn: Conn):
    """Report an issue: GPS pin on a small map, category, description, 1-9 photos."""
    config = request.app.state.config
    return officer_page(request, conn, "officer_report.html", tile_url=config.tile_url,
                        tile_attribution=config.tile_attribution, map_crs=config.tile_crs,
                        description_max=MAX_DESCRIPTION)


@router.get("/m/mine")
def mine_page(request: Request, conn: Conn):
    """The cases this officer reported, newest first."""
    return officer_page(request, conn, "officer_mine.html")


@router.get("/m/tasks")
def tasks_page(request: Request, conn: Conn):
    """Public reports to verify and handled cases to check on site."""
    return officer_page(request, conn, "officer_tasks.html", note_max=MAX_NOTE)

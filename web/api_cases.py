"""The JSON API of the workflow: queues, actions, routing explanations, duplicates, photos and the inbox."""
from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from core.errors import NotFound
from dispatch.actor import can_read, scope_filter
from dispatch.casework import case_repo, outbox
from dispatch.casework.cases import Request as ActionRequest
from dispatch.casework.cases import act
from dispatch.casework.workflow import STATUSES, STEPS
from dispatch.routing import repo
from events import repo as events_repo
from events.errors import CaseNotFound
from events.media import InvalidPhoto, clean_photo
from web.api import readable_case
from web.deps import Config, Conn, CurrentActor, CurrentPolicy, actor_with
from web.pages.common import unread_label
from web.schemas import PHOTO_ANSWER, PHOTOS, ActionIn, ActionOut, IdPath, MediaOut

router = APIRouter(prefix="/api")

PhotoTaker = actor_with("upload_photos", brief=True)  # no connection held while a phone uploads

QUEUES = {
    "dispatch": ["reported", "registered", "returned"],
    "verify": ["awaiting_verification"],
    "department": ["dispatched", "accepted", "extension_requested"],
    "extensions": ["extension_requested"],
    "check": ["handled"],
    "close": ["checked"],
    "mine": [],
    "open": ["reported", "awaiting_verification", "registered", "returned", "dispatched", "accepted",
             "extension_requested", "handled", "checked"],
}


@router.get("/cases")
def list_cases(conn: Conn, actor: CurrentActor,
               queue: Literal[tuple(QUEUES)] | None = Query(default=None, description="a work queue"),
               status: Literal[STATUSES] | None = Query(default=None, description="one status"),
               limit: int = Query(default=200, ge=1, le=2000)) -> list[dict]:
    """Cases the actor may see, soonest deadline first, optionally one queue or status."""
    if queue == "mine":  # what I reported, whoever holds it now (the reporter follows their report)
        return case_repo.reported_by(conn, username=actor.username, limit=limit)
    statuses = [status] if status else QUEUES.get(queue) if queue else None
    rows = [r for r in case_repo.list_cases(conn, statuses=statuses, limit=limit, **scope_filter(actor))
            if can_read(actor, r)]
    if queue == "verify" and actor.grid_codes:
        seen = {r["id"] for r in rows}
        rows += [r for r in case_repo.uncovered_awaiting(conn, grids=sorted(actor.grid_codes), limit=limit)
                 if r["id"] not in seen]
    return rows


@router.post("/cases/{case_id}/actions/{action}", response_model=ActionOut)
def case_action(conn: Conn, actor: CurrentActor, policy: CurrentPolicy, case_id: IdPath,
                action: Literal[tuple(STEPS)], body: ActionIn | None = None) -> ActionOut:
    """Take a workflow action (accept, return, handle, check_ok…); refused actions change nothing."""
    body = body or ActionIn()
    readable_case(conn, actor, case_id)
    done = act(conn, case_id=case_id, action=action, actor=actor, policy=policy, request=ActionRequest(
        note=body.note, attachments=body.attachments, department_code=body.department_code,
        new_deadline=body.new_deadline, into_case_id=body.into_case_id, expected_version=body.version))
    return ActionOut(**done.__dict__)


@router.get("/cases/{case_id}/routing")
def why_routed(conn: Conn, actor: CurrentActor, case_id: IdPath) -> list[dict]:
    """Why did this case go where it went: every routing decision with inputs, winner and beaten candidates."""
    readable_case(conn, actor, case_id)
    return repo.decisions(conn, case_id=case_id)


@router.get("/cases/{case_id}/duplicates")
def duplicates(conn: Conn, actor: CurrentActor, policy: CurrentPolicy, case_id: IdPath) -> list[dict]:
    """Open cases of the same category within the category's radius and the time window."""
    case = readable_case(conn, actor, case_id)
    found = events_repo.likely_duplicates(conn, case_id=case.id, category_code=case.category_code, lon=case.lon,
                                          lat=case.lat, window=policy.duplicate_window)
    return [d for d in found if can_read(actor, d)]


@router.post("/media", response_model=MediaOut, status_code=201,
             openapi_extra={"requestBody": {"required": True, "content": PHOTOS}})
async def upload_photo(request: Request, actor: PhotoTaker, config: Config) -> MediaOut:
    """Upload one photo as the raw request body; it is checked by decoding and stored without GPS metadata."""
    if request.headers.get("content-type", "").startswith("multipart/"):
        raise InvalidPhoto("send the photo itself as the request body (curl --data-binary @photo.jpg), "
                           "not as a multipart form")
    data = await _body(request, limit=config.max_photo_bytes)  # no connection is held while a phone uploads
    photo = await run_in_threadpool(clean_photo, data, max_bytes=config.max_photo_bytes)  # off the event loop
    key = await run_in_threadpool(request.app.state.media.put, photo)
    db = request.app.state.db
    async with db.slot():
        media_id = await run_in_threadpool(_record_photo, db, photo, key, actor.username)
    return MediaOut(id=media_id, content_type=photo.content_type, width=photo.width, height=photo.height,
                    size_bytes=len(photo.content))


def _record_photo(db, photo, key: str, username: str) -> int:
    with db.connection() as conn:
        return case_repo.insert_attachment(
            conn, storage_key=key, content_type=photo.content_type, size_bytes=len(photo.content),
            width=photo.width, height=photo.height, sha256=photo.sha256, uploaded_by=username)


async def _body(request: Request, *, limit: int) -> bytes:
    """The request body, refused as soon as it grows past the limit (never read whole into memory)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise InvalidPhoto(f"the file is larger than the limit of {limit / 1_000_000:.0f} MB; "
                               "send a smaller photo")
        chunks.append(chunk)
    return b"".join(chunks)


@router.get("/media/{media_id}", response_class=Response,
            responses={200: PHOTO_ANSWER})
def read_photo(conn: Conn, actor: CurrentActor, request: Request, media_id: IdPath) -> Response:
    """A stored photo, to its uploader or to anyone who may see its case."""
    row = case_repo.attachment(conn, attachment_id=media_id)
    if row is None or not (row["uploaded_by"] == actor.username or _sees_case(conn, actor, row["case_id"])):
        raise NotFound(f"no photo {media_id}")
    return Response(request.app.state.media.get(row["storage_key"]), media_type=row["content_type"],
                    headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"})


def _sees_case(conn, actor, case_id: int | None) -> bool:
    try:
        return case_id is not None and readable_case(conn, actor, case_id) is not None
    except CaseNotFound:
        return False


@router.get("/inbox")
def read_inbox(conn: Conn, actor: CurrentActor, unread: bool = False) -> list[dict]:
    """The actor's notifications, newest first."""
    return outbox.inbox(conn, username=actor.username, unread=unread)


@router.get("/inbox/unread")
def unread_badge(conn: Conn, actor: CurrentActor) -> dict:
    """The header's unread count as every page shows it: "" for none, "99+" beyond 99."""
    return {"label": unread_label(conn, actor.username)}


@router.post("/inbox/{message_id}/read", status_code=204)
def mark_read(conn: Conn, actor: CurrentActor, message_id: IdPath) -> None:
    """Mark one notification read."""
    if not outbox.mark_read(conn, username=actor.username, message_id=message_id):
        raise NotFound(f"no message {message_id} in your inbox")

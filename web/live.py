"""Live updates: one LISTEN connection per app process fans PostgreSQL notifications out to server-sent events.

The database trigger (migration 0008) announces every new or changed case on `case_changed`. Each open map holds
one SSE stream; a notification goes only to the streams whose user may read that case.

The same connection listens on `citygrid_reference` (migration 0012): a changed reference table drops what the
process cached from it (dispatch/intake/reference.py); a lost connection drops everything once it is back, since
notifications sent while it was away are lost.

A stream lives only as long as its token: the database announces every revoked token on `token_revoked`
(migration 0014: sign-out, password change or reset, deactivation) and the Hub ends the streams opened with it at
once; each stream also checks its token again every `stream_recheck_seconds` (expiry; notices lost while the
connection was down), taking a database slot only for that moment. An ended stream's last event is `signin`
(`{"reason": ...}`): the page goes to the sign-in form instead of reconnecting.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from dataclasses import dataclass, field

import psycopg
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from dispatch.accounts import Unauthenticated, token_digest
from dispatch.actor import Actor, can_read
from dispatch.intake.reference import Reference
from web.db import Unavailable
from web.deps import BriefActor, look_up_briefly, require_token
from web.map.shift import point_to_gcj02

log = logging.getLogger("citygrid.live")
router = APIRouter(prefix="/api")
HEARTBEAT_SECONDS = 15
QUEUE_SIZE = 1000
REFERENCE_CHANNEL = "citygrid_reference"
REVOKED_CHANNEL = "token_revoked"


@dataclass(eq=False)
class Subscriber:
    """One open stream: whose it is, the token it was opened with (its hash), its queue, and why it ended."""

    actor: Actor
    digest: str
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    recheck: asyncio.Event = field(default_factory=asyncio.Event)  # check the token now, not at the next period
    reason: str = ""

    def end(self, reason: str) -> None:
        self.reason = self.reason or reason
        self.ended.set()


class Hub:
    """Subscribers and the task that listens to the database."""

    def __init__(self, database_url: str, timezone: str, reference: Reference | None = None) -> None:
        self.url, self.timezone, self.reference = database_url, timezone, reference
        self.subscribers: set[Subscriber] = set()
        self.task: asyncio.Task | None = None
        self.listening = asyncio.Event()  # set while LISTEN is active: a stream opens only after it

    async def start(self) -> None:
        self.task = asyncio.create_task(self._listen())

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    async def _listen(self) -> None:
        while True:  # reconnect after a database restart
            try:
                async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
                    await conn.execute("SELECT set_config('TimeZone', %s, false)", (self.timezone,))
                    await conn.execute("LISTEN case_changed")
                    await conn.execute("LISTEN " + REFERENCE_CHANNEL)
                    await conn.execute("LISTEN " + REVOKED_CHANNEL)
                    if self.reference is not None:
                        self.reference.invalidate()  # whatever changed while nobody listened
                    for subscriber in list(self.subscribers):  # a revocation may have been missed meanwhile
                        subscriber.recheck.set()
                    self.listening.set()
                    async for note in conn.notifies():
                        if note.channel == REFERENCE_CHANNEL:
                            if self.reference is not None:
                                self.reference.table_changed(note.payload)
                        elif note.channel == REVOKED_CHANNEL:
                            self.revoked(note.payload)
                        else:
                            self.publish(json.loads(note.payload))
            except psycopg.Error as exc:
                self.listening.clear()
                log.warning("live feed lost its database connection (%s); retrying", exc)
                await asyncio.sleep(2)

    def publish(self, case: dict) -> None:
        """Hand a changed case to every subscriber allowed to read it."""
        for subscriber in list(self.subscribers):
            if can_read(subscriber.actor, case):
                with contextlib.suppress(asyncio.QueueFull):  # a stalled client misses updates, not the others
                    subscriber.queue.put_nowait(case)

    def revoked(self, digest: str) -> None:
        """End every stream opened with the revoked token."""
        for subscriber in list(self.subscribers):
            if subscriber.digest == digest:
                subscriber.end("revoked")


@router.get("/events", response_class=StreamingResponse, responses={200: {
    "description": "the stream", "content": {"text/event-stream": {"schema": {"type": "string"}}}}})
async def events(request: Request, actor: BriefActor) -> StreamingResponse:
    """Server-sent events: `case` events with the changed case's map properties, for cases the user may read;
    a last `signin` event when the token is revoked or expires (the stream then ends)."""
    # BriefActor: no connection is held while the stream stays open
    hub: Hub = request.app.state.hub
    subscriber = Subscriber(actor, token_digest(require_token(request)))
    hub.subscribers.add(subscriber)
    every = request.app.state.config.stream_recheck_seconds

    async def stream():
        try:
            await asyncio.wait_for(hub.listening.wait(), timeout=30)  # no "open" before changes can be heard
            yield "retry: 3000\n\n"
            checked = asyncio.get_running_loop().time()
            while not await request.is_disconnected():
                now = asyncio.get_running_loop().time()
                if subscriber.recheck.is_set() or now - checked >= every:
                    subscriber.recheck.clear()
                    checked = now
                    await _recheck(request, subscriber)
                if subscriber.ended.is_set():
                    yield f"event: signin\ndata: {json.dumps({'reason': subscriber.reason})}\n\n"
                    return
                case = await _next(subscriber, timeout=min(HEARTBEAT_SECONDS, max(0.0, checked + every - now)))
                if case is None:
                    if not subscriber.ended.is_set():
                        yield ": keep-alive\n\n"
                    continue
                if request.app.state.config.tile_crs == "gcj02":  # the open map is drawn in GCJ-02
                    case = {**case, **dict(zip(("lon", "lat"), point_to_gcj02(case["lon"], case["lat"])))}
                yield f"event: case\ndata: {json.dumps(case, ensure_ascii=False)}\n\n"
        finally:
            hub.subscribers.discard(subscriber)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


async def _next(subscriber: Subscriber, *, timeout: float) -> dict | None:
    """The next case for the stream, or None when `timeout` passes, the stream ends or a recheck is asked for."""
    getter = asyncio.ensure_future(subscriber.queue.get())
    others = {asyncio.ensure_future(subscriber.ended.wait()), asyncio.ensure_future(subscriber.recheck.wait())}
    done, pending = await asyncio.wait({getter, *others}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    return getter.result() if getter in done and not subscriber.ended.is_set() else None


async def _recheck(request: Request, subscriber: Subscriber) -> None:
    """Look the token up again (a slot only for the lookup); a token no longer valid ends the stream."""
    try:
        await look_up_briefly(request)
    except Unauthenticated:
        subscriber.end("expired")
    except (Unavailable, psycopg.OperationalError):
        log.info("live stream of %s: token not rechecked, the database is away", subscriber.actor.username)

"""Live updates: one LISTEN connection per app process fans PostgreSQL notifications out to server-sent events.

The database trigger (migration 0008) announces every new or changed case on `case_changed`. Each open map holds
one SSE stream; a notification goes only to the streams whose user may read that case.

The same connection listens on `citygrid_reference` (migration 0012): a changed reference table drops what the
process cached from it (dispatch/reference.py); a lost connection drops everything once it is back, since
notifications sent while it was away are lost.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging

import psycopg
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from dispatch.actor import can_read
from dispatch.reference import Reference
from web.deps import actor_briefly
from web.map.shift import point_to_gcj02

log = logging.getLogger("citygrid.live")
router = APIRouter(prefix="/api")
HEARTBEAT_SECONDS = 15
QUEUE_SIZE = 1000
REFERENCE_CHANNEL = "citygrid_reference"


class Hub:
    """Subscribers (actor, queue) and the task that listens to the database."""

    def __init__(self, database_url: str, timezone: str, reference: Reference | None = None) -> None:
        self.url, self.timezone, self.reference = database_url, timezone, reference
        self.subscribers: set[tuple] = set()
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
                    if self.reference is not None:
                        self.reference.invalidate()  # whatever changed while nobody listened
                    self.listening.set()
                    async for note in conn.notifies():
                        if note.channel == REFERENCE_CHANNEL:
                            if self.reference is not None:
                                self.reference.table_changed(note.payload)
                        else:
                            self.publish(json.loads(note.payload))
            except psycopg.Error as exc:
                self.listening.clear()
                log.warning("live feed lost its database connection (%s); retrying", exc)
                await asyncio.sleep(2)

    def publish(self, case: dict) -> None:
        """Hand a changed case to every subscriber allowed to read it."""
        for actor, queue in list(self.subscribers):
            if can_read(actor, case):
                with contextlib.suppress(asyncio.QueueFull):  # a stalled client misses updates, not the others
                    queue.put_nowait(case)


@router.get("/events", response_class=StreamingResponse)
async def events(request: Request) -> StreamingResponse:
    """Server-sent events: `case` events with the changed case's map properties, for cases the user may read."""
    actor = await actor_briefly(request)  # no connection is held while the stream stays open
    hub: Hub = request.app.state.hub
    queue: asyncio.Queue = asyncio.Queue(QUEUE_SIZE)
    entry = (actor, queue)
    hub.subscribers.add(entry)

    async def stream():
        try:
            await asyncio.wait_for(hub.listening.wait(), timeout=30)  # no "open" before changes can be heard
            yield "retry: 3000\n\n"
            while not await request.is_disconnected():
                try:
                    case = await asyncio.wait_for(queue.get(), timeout=HEARTBEAT_SECONDS)
                except asyncio.TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if request.app.state.config.tile_crs == "gcj02":  # the open map is drawn in GCJ-02
                    case = {**case, **dict(zip(("lon", "lat"), point_to_gcj02(case["lon"], case["lat"])))}
                yield f"event: case\ndata: {json.dumps(case, ensure_ascii=False)}\n\n"
        finally:
            hub.subscribers.discard(entry)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

"""The app's database: one pool behind an admission gate, so that no request ever waits for a second connection.

Why a gate: sync routes and dependencies run in worker threads. If threads wait inside the pool for a connection
while the requests that hold the connections wait for a thread to finish, nothing moves until the pool times out
(a burst then stalls the server). So a request first takes a *slot* on the event loop (an asyncio semaphore, no
thread held while it waits); there are exactly as many slots as connections, and as many threads as slots plus
a little headroom, so a request holding a slot always finds a connection and a thread at once. A request that gets
no slot within `wait` seconds, or no connection (the database is down), is answered 503 with Retry-After.

While the database is down, requests are refused at once instead of each waiting `wait` seconds, and a watcher
asks the pool to reconnect every half second, so the app is back within a second of the database.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import anyio.to_thread
import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from core.errors import DomainError

log = logging.getLogger("citygrid.web")
THREAD_HEADROOM = 4          # threads beyond the connections: static files, photo decoding, page rendering
PROBE_SECONDS = 0.5          # how often a down database is tried again


class Unavailable(DomainError):
    """The database cannot serve this request now; the client should retry after `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Database:
    """A connection pool of `size`, an admission gate of `size` slots, and the database's health."""

    def __init__(self, url: str, *, timezone: str, size: int, wait: float,
                 connection_class: type[psycopg.Connection] = psycopg.Connection) -> None:
        self.size, self.wait = size, wait
        self.down_since: float | None = None
        self._slots: asyncio.Semaphore | None = None
        self._watcher: asyncio.Task | None = None

        def configure(conn: psycopg.Connection) -> None:
            conn.execute("SELECT set_config('TimeZone', %s, false)", (timezone,))
            conn.commit()
            self.down_since = None  # a new connection: the database answers again

        # reconnect_timeout: a failed reconnection gives up after a few seconds instead of backing off for
        # minutes, so a waiting request (or the watcher) starts a fresh attempt soon after the database is back
        self.pool = ConnectionPool(url, min_size=size, max_size=size, timeout=wait, configure=configure,
                                   reconnect_timeout=3, connection_class=connection_class, open=False,
                                   name="citygrid")

    async def open(self) -> None:
        """Open the pool (waiting for the first connections), size the thread pool, start the watcher."""
        await asyncio.to_thread(self.pool.open, wait=True, timeout=15)
        self._slots = asyncio.Semaphore(self.size)
        anyio.to_thread.current_default_thread_limiter().total_tokens = self.size + THREAD_HEADROOM
        self._watcher = asyncio.create_task(self._watch())

    async def close(self) -> None:
        """Stop the watcher and close the pool."""
        if self._watcher:
            self._watcher.cancel()
        await asyncio.to_thread(self.pool.close)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Admission: wait (on the event loop) for one of the pool's connections to be ours, or refuse with 503."""
        if self.down_since is not None and self.pool.get_stats().get("pool_available", 0) == 0:
            raise Unavailable("the database is not reachable right now; try again in a few seconds",
                              retry_after=2)
        try:
            await asyncio.wait_for(self._slots.acquire(), timeout=self.wait)
        except TimeoutError:
            raise Unavailable("the server is busy; try again in a moment", retry_after=1) from None
        try:
            yield
        finally:
            self._slots.release()

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A connection for the holder of a slot: committed on success, rolled back on an exception."""
        try:
            with self.pool.connection() as conn:
                try:
                    yield conn
                except psycopg.OperationalError:
                    if conn.broken or conn.closed:
                        self._mark_down()
                    raise
        except PoolTimeout:
            self._mark_down()
            raise Unavailable("the database is not reachable right now; try again in a few seconds",
                              retry_after=2) from None

    def _mark_down(self) -> None:
        if self.down_since is None:
            self.down_since = time.monotonic()
            log.warning("database unreachable: answering 503 until it is back")

    async def _watch(self) -> None:
        # While down, check the idle connections (the pool drops broken ones and starts new attempts).
        while True:
            await asyncio.sleep(PROBE_SECONDS)
            if self.down_since is not None:
                try:
                    await asyncio.to_thread(self.pool.check)
                except Exception:  # the watcher must outlive any one failed check
                    log.exception("pool check failed")

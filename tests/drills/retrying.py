"""Clients that file reports as phones and hotline systems do, for the drills that break something under load
(kill9, restart) and the benchmark of the database restart: each report has its own Idempotency-Key, and is sent
again with the same key after a connection error, a timeout or a 503 (waiting as Retry-After says, at most a
second) until it is acknowledged. Every answer is kept; what the database kept is checked against them.

The key is also written into the report's description, so duplicates are counted from the cases themselves, not
from the idempotency table that is under test.
"""
from __future__ import annotations

import asyncio
import math
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import psycopg

from tests.people import bearer

RETRIED = {0, 503}   # 0: no answer at all (refused, broken connection, timeout)
TIMEOUT = 10         # seconds a client waits for an answer
GRACE = 30           # after the load ends, how long a report not yet acknowledged is still retried


@dataclass(frozen=True)
class Answer:
    """One attempt: when it was sent (monotonic s), how long it took, its status (0: none), whether a 503 said
    when to retry."""

    started: float
    took: float
    code: int
    retry_after: bool
    error: str = ""  # the client's exception when there was no answer

    @property
    def ended(self) -> float:
        return self.started + self.took


@dataclass
class Load:
    """What the clients saw: every answer, and the case id of each acknowledged report by its key."""

    label: str
    answers: list[Answer] = field(default_factory=list)
    acked: dict[str, int] = field(default_factory=dict)
    replays: int = 0  # acknowledgements that replayed the answer to an earlier attempt (Idempotent-Replay)
    deadline: float = math.inf  # set when the load ends: no retry after it

    def first_success(self, after: float) -> float | None:
        """Seconds from `after` to the end of the first acknowledged attempt sent at or after it (None: none)."""
        ends = [a.ended for a in self.answers if 200 <= a.code < 300 and a.started >= after]
        return min(ends) - after if ends else None

    def cut_off(self, moment: float) -> int:
        """How many attempts were under way at `moment` and got no answer."""
        return sum(1 for a in self.answers if a.code == 0 and a.started < moment <= a.ended)


def _pause(retry_after: str | None) -> float:
    # jittered, so that the clients do not come back in lockstep
    wait = min(float(retry_after), 1.0) if retry_after else 0.2
    return wait * random.uniform(0.5, 1.0)


async def _file(client: httpx.AsyncClient, token: str, point: tuple[float, float], load: Load) -> None:
    """One report, sent until it is acknowledged, refused (not 503) or the load's deadline has passed."""
    key = uuid.uuid4().hex
    body = {"category": "0102", "lon": point[0], "lat": point[1], "description": f"{load.label} {key}"}
    headers = {**bearer(token), "Idempotency-Key": key}
    while time.monotonic() < load.deadline:
        started = time.monotonic()
        try:
            r = await client.post("/api/reports", json=body, headers=headers)
            code, retry_after, error = r.status_code, r.headers.get("retry-after"), ""
        except httpx.HTTPError as exc:
            code, retry_after, error = 0, None, type(exc).__name__
        load.answers.append(Answer(started, time.monotonic() - started, code, retry_after is not None, error))
        if 200 <= code < 300:
            load.acked[key] = r.json()["case_id"]
            load.replays += r.headers.get("idempotent-replay") == "true"
            return
        if code not in RETRIED:
            return
        await asyncio.sleep(_pause(retry_after))


async def _client(client: httpx.AsyncClient, token: str, points: list, load: Load, stop: asyncio.Event,
                  first: int) -> None:
    i = first
    while not stop.is_set():
        await _file(client, token, points[i % len(points)], load)
        i += 1


async def under_load(base: str, token: str, points: list, *, clients: int, label: str,
                     disrupt: Callable[[], Awaitable]) -> tuple[Load, object]:
    """`clients` clients file reports while `disrupt()` runs; then they file no new ones and finish those under way
    (retried for up to GRACE seconds). The load and what disrupt returned."""
    load, stop = Load(label), asyncio.Event()
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=TIMEOUT) as client:
        tasks = [asyncio.create_task(_client(client, token, points, load, stop, k * 50)) for k in range(clients)]
        try:
            marks = await disrupt()
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        stop.set()
        load.deadline = time.monotonic() + GRACE
        await asyncio.gather(*tasks)
    return load, marks


def kept(url: str, load: Load) -> dict:
    """What the database kept of the load: reports acknowledged, acknowledged but lost, duplicates (cases beyond
    the first for one key), and cases filed for a key whose client never got an acknowledgement."""
    with psycopg.connect(url) as conn:
        per_key = dict(conn.execute(
            "SELECT substr(description, length(%(p)s) + 1), count(*) FROM event_case "
            "WHERE starts_with(description, %(p)s) GROUP BY description", {"p": f"{load.label} "}).fetchall())
        found = dict(conn.execute("SELECT id, description FROM event_case WHERE id = ANY(%s)",
                                  (list(load.acked.values()),)).fetchall())
    lost = sum(1 for key, case_id in load.acked.items() if found.get(case_id) != f"{load.label} {key}")
    return {"reports acknowledged (2xx)": len(load.acked), "acknowledged lost": lost,
            "duplicates": sum(n - 1 for n in per_key.values()),
            "filed, never acknowledged": sum(1 for key in per_key if key not in load.acked)}


def answered(load: Load) -> dict:
    """The answers by kind: 5xx other than 503, 503 without Retry-After, other refusals, 503s, none."""
    codes = Counter(a.code for a in load.answers)
    errors = Counter(a.error for a in load.answers if a.code == 0)
    return {"attempts": len(load.answers), "acknowledged by a replay of an earlier attempt": load.replays,
            "answers >= 500 other than 503": sum(n for c, n in codes.items() if c >= 500 and c != 503),
            "503 without Retry-After": sum(1 for a in load.answers if a.code == 503 and not a.retry_after),
            "refusals other than 503 (4xx)": sum(n for c, n in codes.items() if 400 <= c < 500),
            "503 answers": codes[503], "no answer (refused, broken, timed out)": codes[0],
            "no answer, by the client's error": ", ".join(f"{e} {n}" for e, n in errors.most_common()) or "none"}


INTEGRITY = {"acknowledged lost": "= 0", "duplicates": "= 0", "answers >= 500 other than 503": "= 0",
             "503 without Retry-After": "= 0", "refusals other than 503 (4xx)": "= 0",
             "filed, never acknowledged": "= 0"}


def seconds(values: list[float | None]) -> str:
    """Per-round times for the table: '0.41 / 0.52 / none'."""
    return " / ".join("none" if v is None else f"{v:.2f}" for v in values)


def worst(values: list[float | None]) -> float | None:
    """The largest of per-round times; None if any round had none (a target on it is then missed)."""
    return None if not values or None in values else max(values)

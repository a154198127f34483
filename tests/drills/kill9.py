"""Kill -9 drill: `citygrid serve` with two worker processes (as production runs it) is killed with SIGKILL, the
server and each of its workers by id, as a crash or the OOM killer would, while clients keep filing reports with
Idempotency-Keys and retry them as phones do (tests/drills/retrying.py); it is started again at once on the same
port, as a supervisor would, several rounds in a row. Then: nothing acknowledged is lost, no report is filed twice,
no answer is >= 500 other than 503, and the first success comes within 5 s of the restart.

The times of each round, in seconds: "after start" counts from the moment the new `citygrid serve` process is
spawned; "after listening" from the moment its port accepts connections (uvicorn listens once its first worker
has started the app); the first success is the end of the first 2xx answer to a request sent after that moment.
tests/test_drill_kill9.py runs one round in the normal suite and asserts the counts only.

Usage: .venv/bin/python -m tests.drills.kill9 [--quick] [--rounds 3] [--clients 12]
"""
from __future__ import annotations

import asyncio
import sys
import time
import uuid
from contextlib import ExitStack

from citygrid.procs import family, free_port, kill9, listens, outlived
from tests.drills.common import ZUMIAO, city, command, inside_points, result
from tests.drills.retrying import INTEGRITY, answered, kept, seconds, under_load, worst
from tests.served import server

TITLE = "kill -9 of citygrid serve (2 workers) under retrying clients with idempotency keys"
WORKERS = 2
LOAD_SECONDS = 3      # of load before each kill, and again once the new server answers
LIMIT_SECONDS = 5     # the target: first success within this long of the restart


class Restartable:
    """`citygrid serve --workers 2` on one port, killed and started again; every process it ever had is stopped
    by its id when the block ends, whatever happened."""

    def __init__(self, url: str, port: int) -> None:
        self.url, self.port = url, port
        self.base = f"http://127.0.0.1:{port}"
        self.stack, self.proc, self.pids, self.outlived = ExitStack(), None, [], []

    def start(self) -> None:
        """Start the server; return once it answers."""
        _, self.proc = self.stack.enter_context(
            server(self.url, self.port, "--workers", str(WORKERS), quiet=True))

    def kill(self) -> list[int]:
        """SIGKILL the server and its workers; the ids killed."""
        killed = kill9(self.proc)
        self.pids += killed
        self.stack.close()  # it is dead already: this only leaves its block
        return killed

    def __enter__(self) -> Restartable:
        return self

    def __exit__(self, *exc) -> None:
        last = family(self.proc) if self.proc is not None and self.proc.poll() is None else []
        self.pids += last
        self.stack.close()  # SIGTERM to the server (its workers stop with it), SIGKILL if it does not stop
        self.outlived = outlived(last)  # a worker or helper the server left behind is killed too, by its id


async def _when(check, timeout: float = 60) -> float | None:
    """The moment check() first holds (polled every 10 ms), None if not within timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return time.monotonic()
        await asyncio.sleep(0.01)
    return None


async def _rounds(srv: Restartable, rounds: int) -> list[dict]:
    """Each round: load, kill -9, start again at once, load; the moments of each round."""
    marks = []
    for _ in range(rounds):
        await asyncio.sleep(LOAD_SECONDS)
        kill = time.monotonic()
        killed = await asyncio.to_thread(srv.kill)
        left = len(await asyncio.to_thread(outlived, killed, timeout=10))
        await _when(lambda: not listens(srv.port)(), timeout=10)
        start = time.monotonic()
        listening = asyncio.create_task(_when(listens(srv.port)))
        try:
            await asyncio.to_thread(srv.start)
        except BaseException:
            listening.cancel()
            raise
        marks.append({"kill": kill, "killed": len(killed), "left": left, "start": start,
                      "listening": await listening})
        await asyncio.sleep(LOAD_SECONDS)
    return marks


def drill(url: str, officer_token: str, *, rounds: int = 3, clients: int = 12) -> dict:
    """The drill on an existing Chancheng database (with a Zumiao officer's token): its figures and targets."""
    points = inside_points(url, 500, street=ZUMIAO)
    label = f"kill9 drill {uuid.uuid4().hex[:8]}"
    with Restartable(url, free_port()) as srv:
        srv.start()
        load, marks = asyncio.run(under_load(srv.base, officer_token, points, clients=clients, label=label,
                                             disrupt=lambda: _rounds(srv, rounds)))
    after_start = [load.first_success(m["start"]) for m in marks]
    after_listening = [load.first_success(m["listening"]) if m["listening"] else None for m in marks]
    figures = {"rounds (kill -9, start again)": len(marks),
               "processes killed (server and workers)": sum(m["killed"] for m in marks),
               "requests cut off by the kill": sum(load.cut_off(m["kill"]) for m in marks),
               "killed processes still running": sum(m["left"] for m in marks),
               "processes that outlived the final stop": len(srv.outlived),
               **kept(url, load), **answered(load),
               "first success after start, worst round (s)": worst(after_start),
               "first success after start, per round (s)": seconds(after_start),
               "first success after listening, worst round (s)": worst(after_listening),
               "first success after listening, per round (s)": seconds(after_listening),
               "listening after start, per round (s)": seconds(
                   [m["listening"] - m["start"] if m["listening"] else None for m in marks])}
    targets = {"rounds (kill -9, start again)": f"= {rounds}",
               "processes killed (server and workers)": f">= {rounds * (WORKERS + 1)}",
               "requests cut off by the kill": ">= 1", "killed processes still running": "= 0",
               "processes that outlived the final stop": "= 0", "reports acknowledged (2xx)": ">= 100", **INTEGRITY,
               "first success after start, worst round (s)": f"<= {LIMIT_SECONDS} s",
               "first success after listening, worst round (s)": f"<= {LIMIT_SECONDS} s"}
    return result(figures, targets)


def run(quick: bool = False, rounds: int = 3, clients: int = 12) -> dict:
    """The drill in its own database (quick: one round, 6 clients)."""
    with city("kill9", cast=("officer",)) as (url, tokens):
        return drill(url, tokens["officer"], rounds=1 if quick else rounds, clients=6 if quick else clients)


if __name__ == "__main__":
    sys.exit(command(TITLE, run))

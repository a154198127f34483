"""Child processes, started, waited for and stopped in one way: the demo's worker, and the servers that the tests
and benchmarks run (`citygrid serve`, uvicorn apps)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager


def stop(proc: subprocess.Popen, *, timeout: float = 15) -> None:
    """Ask a child to stop (SIGTERM), and kill it if it has not stopped within `timeout` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def kill9(proc: subprocess.Popen) -> list[int]:
    """SIGKILL a child and every process it started (a server's workers), each by its id, as a crash would;
    returns the ids killed."""
    pids = family(proc)
    _sigkill(pids)
    proc.wait()
    return pids


def family(proc: subprocess.Popen) -> list[int]:
    """The ids of a child and of every process it started, as they are now."""
    return [proc.pid, *_descendants(proc.pid)]


def alive(pids: list[int]) -> list[int]:
    """Those of `pids` that still run (a zombie, dead but not yet reaped by its parent, does not)."""
    def runs(pid: int) -> bool:
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
        except (FileNotFoundError, ProcessLookupError, IndexError):
            return False
    return [pid for pid in pids if runs(pid)]


def outlived(pids: list[int], *, timeout: float = 5) -> list[int]:
    """Wait up to `timeout` seconds for `pids` to end; SIGKILL those still running, each by its id, and return them."""
    deadline = time.monotonic() + timeout
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    left = alive(pids)
    _sigkill(left)
    return left


def _sigkill(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:  # it ended by itself meanwhile
            pass


def _descendants(pid: int) -> list[int]:
    """The children of a process, their children and so on (Linux /proc)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            children = [int(c) for c in f.read().split()]
    except FileNotFoundError:
        return []
    return [d for c in children for d in (c, *_descendants(c))]


@contextmanager
def running(cmd: list[str], *, ready: Callable[[], bool] | None = None, timeout: float = 60,
            **popen) -> Iterator[subprocess.Popen]:
    """`cmd` as a child process until the block ends; with `ready`, the block starts once ready() is true."""
    proc = subprocess.Popen(cmd, **popen)
    try:
        deadline = time.monotonic() + timeout
        while ready is not None and not ready():
            if proc.poll() is not None:
                raise RuntimeError(f"{cmd[:4]} exited with {proc.returncode} before it was ready")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{cmd[:4]} was not ready within {timeout:g} s")
            time.sleep(0.1)
        yield proc
    finally:
        stop(proc)


def answers(url: str) -> Callable[[], bool]:
    """A readiness check: `url` answers 200."""
    def check() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                return r.status == 200
        except OSError:
            return False
    return check


def listens(port: int, host: str = "127.0.0.1") -> Callable[[], bool]:
    """A readiness check: something accepts connections on host:port."""
    def check() -> bool:
        with socket.socket() as s:
            return s.connect_ex((host, port)) == 0
    return check


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

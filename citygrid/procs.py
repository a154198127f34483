"""Child processes, started, waited for and stopped in one way: the demo's worker, and the servers that the tests
and benchmarks run (`citygrid serve`, uvicorn apps)."""
from __future__ import annotations

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

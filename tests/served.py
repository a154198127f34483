"""The production server as a separate process (`citygrid serve`), for tests that need a real uvicorn under load."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager

import httpx

from tests.browser import free_port


@contextmanager
def served(database_url: str, **settings: str):
    """`citygrid serve` on a free loopback port against `database_url`; yields its base URL.

    settings: extra CITYGRID_<NAME> environment values (e.g. db_connections="4")."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "CITYGRID_ENV": "development",
           **{f"CITYGRID_{k.upper()}": v for k, v in settings.items()}}
    proc = subprocess.Popen([sys.executable, "-m", "citygrid", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"citygrid serve stopped: {proc.stderr.read()[-2000:]}")
            try:
                if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise AssertionError("citygrid serve did not answer within 30 s")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()

"""The production server as a separate process (`citygrid serve`), for tests that need a real uvicorn under load."""
from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager

from citygrid.procs import answers, free_port, running


@contextmanager
def served(database_url: str, *args: str, **settings: str):
    """`citygrid serve` on a free loopback port against `database_url`; yields its base URL once it answers.

    args: more command-line options; settings: CITYGRID_<NAME> environment values (e.g. db_connections="4")."""
    with server(database_url, free_port(), *args, **settings) as (base, _):
        yield base


@contextmanager
def server(database_url: str, port: int, *args: str, quiet: bool = False, **settings: str):
    """`citygrid serve` on `port` (as served; quiet: without its output); yields its base URL and the process,
    for drills that kill it."""
    out = subprocess.DEVNULL if quiet else None
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DATABASE_URL": database_url, "CITYGRID_ENV": "development",
           **{f"CITYGRID_{k.upper()}": v for k, v in settings.items()}}
    with running([sys.executable, "-m", "citygrid", "serve", "--port", str(port), *args], env=env,
                 stdout=out, stderr=out, ready=answers(f"{base}/api/health")) as proc:
        yield base, proc

"""What the server benchmarks share: a fresh Chancheng database with accounts and `citygrid serve` as a process (both
from tests/drills/common.py, which the drills share), and latency summaries. Not a benchmark itself."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from citygrid.procs import answers, free_port, running  # noqa: E402,F401 (free_port: for the benchmarks)
from tests.drills import common  # noqa: E402
from tests.drills.common import inside_points, pct, serving  # noqa: E402,F401 (for the benchmarks)

SERVER = os.environ.get("CITYGRID_BENCH_SERVER", "postgresql://postgres@127.0.0.1:5432/postgres")


def make_city(name: str, server: str = SERVER) -> tuple[str, dict[str, str]]:
    """A new database `name` (dropped first if it exists) with the Chancheng demo data and the accounts officer,
    leader and hws (a handler); returns its URL and a bearer token per account."""
    return common.make_city(name, server)


def drop_city(url: str, server: str = SERVER) -> None:
    """Drop a benchmark database."""
    common.drop_city(url, server)


def machine() -> str:
    """One line about the machine the numbers were measured on."""
    import platform

    with psycopg.connect(SERVER) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
    return f"{os.cpu_count()} cores, Python {platform.python_version()}, PostgreSQL {version}"

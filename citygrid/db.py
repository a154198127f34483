"""Single database connections for CLI commands (the app opens its own pool in web.app)."""
from __future__ import annotations

import psycopg


def connect(url: str, *, timezone: str) -> psycopg.Connection:
    """One connection in the deployment's time zone; the caller commits."""
    conn = psycopg.connect(url)
    conn.execute("SELECT set_config('TimeZone', %s, false)", (timezone,))
    conn.commit()
    return conn

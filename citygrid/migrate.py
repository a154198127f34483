"""Ordered SQL migrations, each applied once in its own transaction and recorded."""
from __future__ import annotations

from importlib import resources

import psycopg

LOCK_KEY = 7_402_604  # advisory lock so two upgrades never race


def migration_files() -> list[tuple[str, str]]:
    """Return (version, sql) for every shipped migration, in order."""
    folder = resources.files("citygrid") / "migrations"
    files = sorted(f for f in folder.iterdir() if f.name.endswith(".sql"))
    return [(f.name.removesuffix(".sql"), f.read_text(encoding="utf-8")) for f in files]


def upgrade(conn: psycopg.Connection) -> list[str]:
    """Apply the migrations not yet recorded; return the versions applied now."""
    conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migration ("
            " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        conn.commit()
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migration")}
        conn.commit()  # so each migration below runs in a transaction of its own
        applied = []
        for version, sql in migration_files():
            if version in done:
                continue
            with conn.transaction():
                conn.execute(sql)
                conn.execute("INSERT INTO schema_migration (version) VALUES (%s)", (version,))
            applied.append(version)
        return applied
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
        conn.commit()

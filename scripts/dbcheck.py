"""Facts about a PostgreSQL URL for the set-up scripts: major version, PostGIS available, server local."""
from __future__ import annotations

import sys

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo


def main(argv: list[str]) -> int:
    create = "--create" in argv
    url = [a for a in argv if a != "--create"][0]
    params = conninfo_to_dict(url)
    target = params.get("dbname", "postgres")
    try:
        with psycopg.connect(make_conninfo(url, dbname="postgres"), autocommit=True, connect_timeout=5) as conn:
            if create and not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (target,)).fetchone():
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(target)))
            major = conn.execute("SELECT current_setting('server_version_num')::int / 10000").fetchone()[0]
            postgis = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'").fetchone()
    except psycopg.Error as exc:
        print(f"unreachable: {exc}".strip().splitlines()[0], file=sys.stderr)
        return 2
    host = params.get("host", "localhost")
    local = host in ("localhost", "127.0.0.1", "::1", "") or host.startswith("/")
    print(major, "yes" if postgis else "no", "yes" if local else "no")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

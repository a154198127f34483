"""What the server benchmarks share: a fresh Chancheng database with accounts, `citygrid serve` as a process,
and latency summaries. Not a benchmark itself."""
from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from citygrid import migrate  # noqa: E402
from citygrid.procs import answers, free_port, running  # noqa: E402,F401 (free_port: for the benchmarks)
from citygrid.demo import CATEGORIES, DEPARTMENTS, RULES, SERVICE_ATTRIBUTES, load_chancheng  # noqa: E402
from dispatch.departments import import_departments  # noqa: E402
from dispatch.rules import import_rules  # noqa: E402
from events.service import import_categories  # noqa: E402
from web.accounts import add_user, issue_token  # noqa: E402
from web.open311.attributes import import_attributes  # noqa: E402

SERVER = os.environ.get("CITYGRID_BENCH_SERVER", "postgresql://postgres@127.0.0.1:5432/postgres")
ZUMIAO = "440604012"
# accounts of the benchmarks: name → (roles, scope)
ACCOUNTS = {"officer": (["grid_officer"], {"street_code": ZUMIAO}), "leader": (["leader"], {}),
            "handler": (["handler"], {"department_code": "S-012-HWS"})}


def make_city(name: str, server: str = SERVER) -> tuple[str, dict[str, str]]:
    """A new database `name` (dropped first if it exists) with the Chancheng demo data and the accounts;
    returns its URL and a bearer token per account."""
    with psycopg.connect(make_conninfo(server, dbname="postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_conninfo(server, dbname=name)
    with psycopg.connect(url) as conn:
        migrate.upgrade(conn)
        load_chancheng(conn, widths=(6, 3, 3, 2))
        import_categories(conn, path=CATEGORIES)
        import_departments(conn, path=DEPARTMENTS)
        import_rules(conn, path=RULES, by="bench")
        import_attributes(conn, path=SERVICE_ATTRIBUTES)
        tokens = {}
        for user, (roles, scope) in ACCOUNTS.items():
            add_user(conn, username=user, roles=roles, password=f"{user}-bench-password", **scope)
            tokens[user] = issue_token(conn, username=user, label="bench")
        conn.commit()
    return url, tokens


def drop_city(url: str, server: str = SERVER) -> None:
    """Drop a benchmark database."""
    name = conninfo_to_dict(url)["dbname"]
    with psycopg.connect(make_conninfo(server, dbname="postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def serving(url: str, *args: str, **settings: str):
    """`citygrid serve` (uvloop, httptools, no access log) on a free port; yields the base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DATABASE_URL": url, "CITYGRID_ENV": "development",
           **{f"CITYGRID_{k.upper()}": v for k, v in settings.items()}}
    with running([sys.executable, "-m", "citygrid", "serve", "--port", str(port), *args], env=env, cwd=ROOT,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, ready=answers(f"{base}/api/health")):
        yield base


def inside_points(url: str, n: int, *, street: str | None = None, seed: int = 7) -> list[tuple[float, float]]:
    """n random points inside the district (or inside one street)."""
    from gis import repo as gis_repo
    from gis.locator import locate_many

    with psycopg.connect(url) as conn:
        ids = gis_repo.active_layer_ids(conn)
        codes, _, _, geoms = gis_repo.layer_features(conn, layer_id=ids["street"])
    rng = np.random.default_rng(seed)
    lon, lat = rng.uniform(112.98, 113.16, n * 40), rng.uniform(22.93, 23.08, n * 40)
    found = locate_many(codes, geoms, lon, lat)
    return [(float(x), float(y)) for x, y, c in zip(lon, lat, found) if c and (street is None or c == street)][:n]


def pct(values, q: float) -> float:
    """The q-th percentile (0-100) of values, in the values' unit; nan for none."""
    return float(np.percentile(values, q)) if len(values) else float("nan")


def machine() -> str:
    """One line about the machine the numbers were measured on."""
    import platform

    with psycopg.connect(SERVER) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
    return f"{os.cpu_count()} cores, Python {platform.python_version()}, PostgreSQL {version}"

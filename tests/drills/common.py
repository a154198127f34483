"""What the drills share (and the test templates and the benchmarks use too): a fresh Chancheng database with
accounts, made outside pytest; points inside the district; targets and whether a figure meets one."""
from __future__ import annotations

import argparse
import contextlib
import inspect
import io
import json
import operator
import os
import re
import sys
import uuid
from contextlib import contextmanager

import numpy as np
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from citygrid import migrate
from citygrid.demo import CATEGORIES, DEPARTMENTS, RULES, SERVICE_ATTRIBUTES, load_chancheng
from citygrid.procs import free_port
from dispatch.routing.departments import import_departments
from dispatch.routing.rules import import_rules
from events.service import import_categories
from tests.people import add_cast
from tests.served import server
from web.open311.attributes import import_attributes

SERVER = os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
WIDTHS = (6, 3, 3, 2)
ZUMIAO = "440604012"


def seed_chancheng(conn: psycopg.Connection, *, by: str) -> None:
    """The shipped Chancheng release (active), categories, sample departments, active sample rules and the sample
    Open311 service attributes, into a migrated database. Does not commit."""
    load_chancheng(conn, widths=WIDTHS)
    import_categories(conn, path=CATEGORIES)
    import_departments(conn, path=DEPARTMENTS)
    import_rules(conn, path=RULES, by=by)
    import_attributes(conn, path=SERVICE_ATTRIBUTES)


def _admin(server: str) -> psycopg.Connection:
    return psycopg.connect(make_conninfo(server, dbname="postgres"), autocommit=True)


def make_city(name: str, server: str = SERVER, cast=("officer", "leader", "hws")) -> tuple[str, dict[str, str]]:
    """A new database `name` (dropped first if it exists), migrated and seeded, with the cast members of
    tests/people.py as accounts; returns its URL and a bearer token per account."""
    drop_city(make_conninfo(server, dbname=name), server)
    with _admin(server) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_conninfo(server, dbname=name)
    with psycopg.connect(url) as conn:
        migrate.upgrade(conn)
        seed_chancheng(conn, by="drill")
        tokens = add_cast(conn, list(cast))
    return url, tokens


def drop_city(url: str, server: str = SERVER) -> None:
    """Drop a database made by make_city."""
    with _admin(server) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(conninfo_to_dict(url)["dbname"])))


@contextmanager
def city(drill: str, server: str = SERVER, cast=("officer", "leader", "hws")):
    """A throwaway Chancheng database `cg_drill_<drill>_<random>` for one drill; yields (url, tokens), then drops it."""
    url, tokens = make_city(f"cg_drill_{drill}_{uuid.uuid4().hex[:6]}", server, cast)
    try:
        yield url, tokens
    finally:
        drop_city(url, server)


@contextmanager
def serving(url: str, *args: str, **settings: str):
    """`citygrid serve` on a free loopback port, without its output; yields the base URL once it answers."""
    with server(url, free_port(), *args, quiet=True, **settings) as (base, _):
        yield base


def cli(url: str, *args) -> tuple[int | str, str]:
    """Run `citygrid ARGS` in this process as the command line does (citygrid.cli.main); (exit code, or 'crash'
    with the exception for an error main does not turn into a one-line reason; its output)."""
    from citygrid.cli import main

    out = io.StringIO()
    saved_argv, saved_url = sys.argv, os.environ.get("DATABASE_URL")
    sys.argv, os.environ["DATABASE_URL"] = ["citygrid", *map(str, args)], url
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            main()
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    except Exception as exc:  # a traceback for the operator: the command line's 500
        code = f"crash: {type(exc).__name__}: {exc}"
    finally:
        sys.argv = saved_argv
        if saved_url is None:
            del os.environ["DATABASE_URL"]
        else:
            os.environ["DATABASE_URL"] = saved_url
    return code, out.getvalue()


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


_OPS = {"=": operator.eq, "<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}
_TARGET = re.compile(r"^\s*(<=|>=|=|<|>)\s*(-?[0-9.]+)\s*\S*\s*$")


def met(value, target: str) -> bool:
    """Whether a figure meets a target written as '= 0', '<= 5 s', '>= 100' (a missing figure never does)."""
    found = _TARGET.match(target)
    if not found:
        raise ValueError(f"a target is an operator, a number and maybe a unit, not {target!r}")
    return value is not None and _OPS[found[1]](value, float(found[2]))


def pct(values, q: float) -> float:
    """The q-th percentile (0-100) of values, in the values' unit; nan for none."""
    return float(np.percentile(values, q)) if len(values) else float("nan")


def result(figures: dict, targets: dict[str, str]) -> dict:
    """A drill's answer: its figures, the targets of some of them, and whether every target was met."""
    return {"figures": figures, "targets": targets,
            "ok": all(met(figures.get(name), target) for name, target in targets.items())}


def command(title: str, run) -> int:
    """`python -m tests.drills.<name>`: --quick, and an option for each other keyword of run (with run's default);
    prints the figures and what went wrong; 1 if a target was missed."""
    ap = argparse.ArgumentParser(description=title)
    ap.add_argument("--quick", action="store_true", help="the drill's short version")
    for name, parameter in inspect.signature(run).parameters.items():
        if name != "quick":
            ap.add_argument(f"--{name}", type=type(parameter.default), default=parameter.default)
    outcome = run(**vars(ap.parse_args()))
    show(outcome)
    for line in outcome.get("wrong", []):
        print("  wrong:", line)
    if "details" in outcome:
        print(json.dumps(outcome["details"], indent=1, ensure_ascii=False, default=str))
    return 0 if outcome["ok"] else 1


def show(outcome: dict) -> None:
    """Print one drill's figures (for `python -m tests.drills.<name>`)."""
    for name, value in outcome["figures"].items():
        target = outcome["targets"].get(name, "")
        mark = "" if not target else " ok" if met(value, target) else " MISSED"
        print(f"{name}: {value} {target}{mark}")
    print("all targets met" if outcome["ok"] else "some target MISSED")

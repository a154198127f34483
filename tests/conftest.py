"""Test databases on a real PostgreSQL + PostGIS server.

DATABASE_URL names the server (its database part is ignored); without it, the local server on 127.0.0.1:5432.
Each run creates two template databases (bare schema; schema + Chancheng grids + categories), clones a fresh
database from a template for every test that writes, and drops everything it created at the end.
"""
from __future__ import annotations

import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from citygrid import migrate
from tests.drills.common import seed_chancheng

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
SERVER_URL = os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
RUN = uuid.uuid4().hex[:8]


def url_for(dbname: str) -> str:
    """A URL to `dbname` on the test server."""
    return make_conninfo(SERVER_URL, dbname=dbname)


def _admin() -> psycopg.Connection:
    return psycopg.connect(url_for("postgres"), autocommit=True)


class Databases:
    """Creates and drops this run's databases."""

    def __init__(self) -> None:
        self.created: list[str] = []
        self.counter = 0

    def create(self, *, template: str | None = None, suffix: str = "") -> str:
        self.counter += 1
        name = f"cg_test_{RUN}_{suffix or self.counter}"
        with _admin() as conn:
            query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            if template:
                query += sql.SQL(" TEMPLATE {} STRATEGY FILE_COPY").format(sql.Identifier(template))
            conn.execute(query)
        self.created.append(name)
        return name

    def drop_all(self) -> None:
        """Drop them all, four at a time (each drop waits on the disk; a few hundred one by one took 18 s)."""
        def drop(names: list[str]) -> None:
            with _admin() as conn:
                for name in names:
                    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

        names = self.created  # a clone does not need its template: each is a copy of its own
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(drop, [names[i::4] for i in range(4)]))


@pytest.fixture(scope="session")
def databases():
    dbs = Databases()
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session")
def bare_template(databases) -> str:
    """Schema only."""
    name = databases.create(suffix="bare")
    with psycopg.connect(url_for(name)) as conn:
        migrate.upgrade(conn)
    return name


@pytest.fixture(scope="session")
def chancheng_template(databases, bare_template) -> str:
    """Schema, the shipped Chancheng release (active), categories, sample departments, active sample rules and
    the sample Open311 service attributes."""
    name = databases.create(template=bare_template, suffix="chancheng")
    with psycopg.connect(url_for(name)) as conn:
        seed_chancheng(conn, by="conftest")
        conn.commit()
    return name


@pytest.fixture(scope="session")
def shared_url(databases, chancheng_template) -> str:
    """One Chancheng database for read-only tests: never write to it."""
    return url_for(databases.create(template=chancheng_template, suffix="shared"))


@pytest.fixture
def chancheng_url(databases, chancheng_template) -> str:
    """A fresh, writable Chancheng database for one test."""
    return url_for(databases.create(template=chancheng_template))


@pytest.fixture
def bare_url(databases, bare_template) -> str:
    """A fresh database with the schema and nothing else."""
    return url_for(databases.create(template=bare_template))


@pytest.fixture
def shared_conn(shared_url):
    with psycopg.connect(shared_url) as conn:
        yield conn
        conn.rollback()


@pytest.fixture
def conn(chancheng_url):
    with psycopg.connect(chancheng_url) as conn:
        yield conn


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium under Playwright, one per test module (each test opens its own contexts)."""
    from playwright.sync_api import sync_playwright

    from tests.browser import ARGS, CHROMIUM
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield launched
        finally:
            launched.close()

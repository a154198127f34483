"""What the access and XSS drills share: a Chancheng database of their own, made and dropped by the drill."""
from __future__ import annotations

import uuid
from contextlib import contextmanager
from pathlib import Path

import psycopg

from citygrid import migrate
from citygrid.demo import CATEGORIES, DEPARTMENTS, GRIDS, RULES, SERVICE_ATTRIBUTES, load_chancheng
from dispatch.routing.departments import import_departments
from dispatch.routing.rules import import_rules
from events.service import import_categories
from tests.conftest import Databases
from tests.drills.common import WIDTHS
from web.open311.attributes import import_attributes


@contextmanager
def chancheng_database(name: str, *, grids: Path = GRIDS, categories: Path = CATEGORIES,
                       departments: Path = DEPARTMENTS, rules: Path = RULES):
    """A fresh database `cg_test_drill_<name>_<run>` with the schema, the grids (active), categories, departments,
    rules and Open311 attributes; yields its URL and drops it afterwards."""
    from tests.conftest import url_for
    databases = Databases()
    try:
        url = url_for(databases.create(suffix=f"drill_{name}_{uuid.uuid4().hex[:6]}"))
        with psycopg.connect(url) as conn:
            migrate.upgrade(conn)
            load_chancheng(conn, widths=WIDTHS, folder=grids)
            import_categories(conn, path=categories)
            import_departments(conn, path=departments)
            import_rules(conn, path=rules, by="drill")
            import_attributes(conn, path=SERVICE_ATTRIBUTES)
            conn.commit()
        yield url
    finally:
        databases.drop_all()

"""The Chancheng demo: load the shipped grids and categories, add sample reports."""
from __future__ import annotations

from pathlib import Path

import psycopg

import secrets

from dispatch.accounts import add_user, set_password
from dispatch.actor import Actor
from dispatch.intake.service import submit_report
from dispatch.models import Policy
from dispatch.routing.departments import import_departments
from dispatch.routing.repo import active_rules
from dispatch.routing.rules import import_rules
from events.service import import_categories
from gis import repo as gis_repo
from gis.service import create_release, import_grid_layer
from web.open311.attributes import import_attributes

REPO = Path(__file__).resolve().parents[1]
GRIDS = REPO / "data" / "grids"
CATEGORIES = REPO / "data" / "categories" / "categories.csv"
DEPARTMENTS = REPO / "data" / "departments" / "chancheng_departments.csv"
RULES = REPO / "data" / "rules" / "chancheng_rules.csv"
SERVICE_ATTRIBUTES = REPO / "data" / "open311" / "attributes.csv"
CHANCHENG_LAYERS = [
    ("district", "chancheng_district.geojson", None),
    ("street", "chancheng_streets.geojson", "parent"),
    ("community", "chancheng_communities.geojson", "parent"),
    ("grid", "chancheng_grids.geojson", "parent"),
]

# (category, lon, lat in WGS84, description): places inside each of the four streets.
SAMPLE_REPORTS = [
    ("0102", 113.1187, 23.0300, "祖庙路口垃圾桶满溢，垃圾散落人行道"),
    ("0505", 113.1090, 23.0205, "消防通道有机动车乱停放，堵塞通道"),
    ("0110", 113.1180, 22.9870, "石湾路段人行道砖松动破损，约 3 平方米"),
    ("0406", 113.1050, 23.0420, "张槎路下穿隧道积水约 20 厘米"),
    ("0201", 113.0300, 22.9850, "南庄村道电线杆上大量非法小广告"),
    ("0301", 113.1300, 23.0050, "夜间施工噪音扰民，22 点后仍在作业"),
]


def load_chancheng(conn: psycopg.Connection, *, widths: tuple[int, ...], folder: Path = GRIDS) -> int | None:
    """Import the four shipped levels and activate them as one release, unless a release is already active."""
    if gis_repo.active_layer_ids(conn) is not None:
        return None
    for level, filename, parent_field in CHANCHENG_LAYERS:
        import_grid_layer(conn, path=folder / filename, level=level, code_field="code", name_field="name",
                          parent_field=parent_field, widths=widths)
    return create_release(conn, name="Chancheng reference grids (derived, approximate)", activate=True)


# Demo accounts (development only): (username, roles, scope).
DEMO_USERS = [
    ("leader", ["leader"], {}),
    ("intake", ["intake"], {}),
    ("dispatcher", ["dispatcher"], {}),
    ("shift-leader", ["shift_leader"], {}),
    ("officer-zumiao", ["grid_officer"], {"street_code": "440604012"}),
    ("officer-shiwan", ["grid_officer"], {"street_code": "440604010"}),
    ("officer-zhangcha", ["grid_officer"], {"street_code": "440604011"}),
    ("officer-nanzhuang", ["grid_officer"], {"street_code": "440604100"}),
    ("handler-zumiao-hws", ["handler"], {"department_code": "S-012-HWS"}),
    ("head-zumiao-hws", ["dept_head"], {"department_code": "S-012-HWS"}),
    ("admin", ["admin"], {}),
]
STREET_OFFICER = {"440604012": "officer-zumiao", "440604010": "officer-shiwan", "440604011": "officer-zhangcha",
                  "440604100": "officer-nanzhuang"}


def demo_users(conn: psycopg.Connection) -> dict[str, str]:
    """Create the demo accounts if missing and give each a fresh random password; returns name → password."""
    exists = {r[0] for r in conn.execute("SELECT username FROM app_user").fetchall()}
    passwords = {}
    for username, roles, scope in DEMO_USERS:
        password = secrets.token_urlsafe(9)
        if username in exists:
            set_password(conn, username=username, password=password)
        else:
            add_user(conn, username=username, roles=roles, password=password, **scope)
        passwords[username] = password
    return passwords


def add_sample_reports(conn: psycopg.Connection, *, policy: Policy) -> int:
    """File the sample reports once (only into an empty case table), each by its street's grid officer."""
    if conn.execute("SELECT EXISTS (SELECT 1 FROM event_case)").fetchone()[0]:
        return 0
    from gis.locator import locate
    for category, lon, lat, text in SAMPLE_REPORTS:
        street = locate(conn, lon=lon, lat=lat, crs="EPSG:4326").street.code
        officer = Actor(STREET_OFFICER[street], frozenset({"grid_officer"}), street_code=street)
        submit_report(conn, actor=officer, policy=policy, category_code=category, lon=lon, lat=lat,
                      description=text, source="demo")
    return len(SAMPLE_REPORTS)


def prepare(conn: psycopg.Connection, *, widths: tuple[int, ...], policy: Policy) -> dict:
    """Everything the demo needs in the database; safe to run again."""
    release = load_chancheng(conn, widths=widths)
    categories = import_categories(conn, path=CATEGORIES)
    departments = import_departments(conn, path=DEPARTMENTS)
    import_attributes(conn, path=SERVICE_ATTRIBUTES)
    if not active_rules(conn):
        import_rules(conn, path=RULES, by="demo")
    passwords = demo_users(conn)
    reports = add_sample_reports(conn, policy=policy)
    return {"release": release, "categories": categories, "departments": departments, "sample_reports": reports,
            "passwords": passwords}

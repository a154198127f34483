"""The stored-XSS drill's world: payloads (tests/drills/xss_payloads.py) in every text a user can set, through the
channel each text comes by.

Files an operator imports (category, department, rule and grid names, a zone layer, an events CSV), accounts with
display names, and over HTTP against the served app: reports (descriptions), every workflow note (return,
extension, refusal, report back, failed check, reopen, the reject reason), Open311 fields (description, names,
e-mail, attributes, media_url) and a calendar's day names. Each planted text carries a numbered payload of
every kind (see xss_payloads.KINDS), so a dialog's number or an injected element's id names the field it came from.

`expectations` then reads back from the database which planted texts each view must show as text: a case page
its description, category, department, places, notes and routing rules; a map popup its description and
category; a tooltip its feature's name; the map its district, the filters' names, and the list pages their cases.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
from PIL import Image

from dispatch.accounts import add_user, issue_token
from dispatch.api_clients import add_client
from dispatch.casework.outbox import deliver
from gis.service import import_zone_layer
from tests.drills.common import cli, inside_points
from tests.drills.xss_payloads import MARK, Plants
from tests.people import CAST, bearer
from web.api_cases import QUEUES

# ---- over HTTP, as people and client systems set them ----------------------------------------------------------

@dataclass
class World:
    base: str
    url: str
    tokens: dict
    plants: Plants
    cases: dict = field(default_factory=dict)  # label → case id
    reads: object = None                        # (user, case id) → whether the user may read the case


def accounts(url: str, plants: Plants) -> dict[str, str]:
    """The cast of tests/people.py, each with a payload as display name and a token (no password: the browser is
    signed in by its session cookie)."""
    tokens = {}
    with psycopg.connect(url) as conn:
        for name, (roles, scope) in CAST.items():
            add_user(conn, username=name, roles=roles, display_name=plants("display name", limit=200), **scope)
            tokens[name] = issue_token(conn, username=name, label="xss drill")
        conn.commit()
    return tokens


def _png(colour: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 6), colour).save(out, "PNG")
    return out.getvalue()


class Channel:
    """The served app as its users reach it: each call as a cast member, refused calls stop the drill."""

    def __init__(self, world: World) -> None:
        self.world, self.http, self.photos = world, httpx.Client(base_url=world.base, timeout=60), 0

    def call(self, who: str | None, method: str, path: str, **kwargs) -> dict:
        headers = {**(bearer(self.world.tokens[who]) if who else {}), **kwargs.pop("headers", {})}
        answer = self.http.request(method, path, headers=headers, **kwargs)
        assert answer.status_code < 300, (method, path, answer.status_code, answer.text[:300])
        return answer.json() if answer.content else {}

    def photo(self, who: str) -> int:
        self.photos += 1
        colour = ("red", "green", "blue", "orange", "purple")[self.photos % 5]
        return self.call(who, "POST", "/api/media", content=_png(colour),
                         headers={"content-type": "image/png"})["id"]

    def act(self, case_id: int, action: str, who: str, *, note: bool = False, photo: bool = False, **body) -> None:
        if note:
            body["note"] = self.world.plants(f"note of {action}")
        if photo:
            body["attachments"] = [self.photo(who)]
        self.call(who, "POST", f"/api/cases/{case_id}/actions/{action}", json=body)

    def report(self, who: str, category: str, lon: float, lat: float) -> int:
        return self.call(who, "POST", "/api/reports", json={
            "category": category, "lon": lon, "lat": lat,
            "description": self.world.plants("report description")})["case_id"]


LATER = "2027-06-30T17:30:00+08:00"


def plant_cases(channel: Channel) -> dict[str, int]:
    """The labelled cases: A walks the whole workflow with a note at every step that takes one; B is rejected;
    C comes by Open311; E and F stay with their departments; G has an extension approved; R waits for intake."""
    c = {"A": channel.report("officer", "0102", 113.12, 23.02)}
    for action, who, extra in [("return", "hws", {"note": True}),
                               ("dispatch", "dispatcher", {"department_code": "S-012-HWS"}),
                               ("accept", "hws", {}), ("request_extension", "hws", {"note": True}),
                               ("refuse_extension", "shift", {"note": True}),
                               ("handle", "hws", {"note": True, "photo": True}),
                               ("check_fail", "officer", {"note": True}),
                               ("handle", "hws", {"note": True, "photo": True}),
                               ("check_ok", "officer", {}), ("close", "shift", {}),
                               ("reopen", "shift", {"note": True})]:
        channel.act(c["A"], action, who, **extra)
    c["B"] = channel.report("intake", "0102", 113.1187, 23.0300)
    channel.act(c["B"], "reject", "intake", note=True)
    c["C"] = open311_report(channel)
    c["E"] = channel.report("officer", "0201", 113.1187, 23.0300)
    c["F"] = channel.report("officer", "0102", 113.124, 23.02)
    c["G"] = channel.report("officer", "0102", 113.128, 23.02)
    channel.act(c["G"], "accept", "hws")
    channel.act(c["G"], "request_extension", "hws", note=True)
    channel.act(c["G"], "approve_extension", "shift", new_deadline=LATER)
    c["R"] = channel.report("intake", "0201", 113.1150, 23.0250)
    return c


def open311_report(channel: Channel) -> int:
    """An Open311 request from a public client system with a payload in every field it keeps."""
    plants = channel.world.plants
    with psycopg.connect(channel.world.url) as conn:
        key = add_client(conn, name="xss-drill", trust="public", rate_per_minute=1000)
        conn.commit()
    form = {"api_key": key, "service_code": "0505", "lat": "23.0210", "long": "113.1210",
            "description": plants("open311 description"), "first_name": plants("open311 first_name", limit=200),
            "last_name": plants("open311 last_name", limit=200), "email": plants("open311 email", limit=200),
            "phone": plants("open311 phone", limit=200), "device_id": plants("open311 device_id", limit=200),
            "account_id": plants("open311 account_id", limit=200),
            "attribute[plate]": plants("open311 attribute", limit=200), "attribute[blocking][]": "sidewalk",
            "media_url": "https://example.org/photo.jpg?" + plants("open311 media_url", limit=150)}
    answer = channel.http.post("/open311/v2/requests.json", data=form)
    assert answer.status_code == 200, answer.text
    return int(answer.json()[0]["service_request_id"])


def plant_calendar(channel: Channel) -> None:
    """A year of the working calendar with payloads as day names and source."""
    plants = channel.world.plants
    days = [{"date": f"2031-0{m}-01", "kind": "holiday", "name": plants("calendar day name", limit=100)}
            for m in (1, 5)]
    channel.call("admin", "PUT", "/api/admin/calendar/2031",
                 json={"year": 2031, "days": days, "source": plants("calendar source", limit=200)})


def plant_imports(world: World, folder: Path, rows: int) -> None:
    """An events CSV (`citygrid events import`) of `rows` reports with payload descriptions across the district and
    the categories, and a zone layer (`citygrid zones import`) whose layer and zone names are payloads."""
    with psycopg.connect(world.url) as conn:
        codes = [c for (c,) in conn.execute("SELECT code FROM category ORDER BY code")]
    path = folder / "events.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(["source_id", "category", "lon", "lat", "reported_at", "description"])
        for i, (lon, lat) in enumerate(inside_points(world.url, rows, seed=11)):
            out.writerow([f"x{i}", codes[i % len(codes)], lon, lat, "2026-11-20T09:00+08:00",
                          world.plants("imported description")])
    code, output = cli(world.url, "events", "import", path, "--source", "xss")
    assert code == 0 and f"imported {rows}" in output, output
    zones = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "P1", "name": world.plants("zone name")},
         "geometry": {"type": "Polygon", "coordinates": [[[113.11, 23.01], [113.13, 23.01], [113.13, 23.03],
                                                          [113.11, 23.03], [113.11, 23.01]]]}}]}
    (folder / "zones.geojson").write_text(json.dumps(zones, ensure_ascii=False), encoding="utf-8")
    with psycopg.connect(world.url) as conn:
        import_zone_layer(conn, path=folder / "zones.geojson", layer=world.plants("zone layer name", limit=200),
                          code_field="code", name_field="name")
        conn.commit()


def plant(world: World, folder: Path, *, imported_rows: int) -> None:
    """Every channel: the imports first (the zone covers the cases filed next), then HTTP; the outbox delivered so
    the inboxes hold their messages."""
    plant_imports(world, folder, imported_rows)
    channel = Channel(world)
    try:
        world.cases = plant_cases(channel)
        plant_calendar(channel)
    finally:
        channel.http.close()
    with psycopg.connect(world.url) as conn:
        deliver(conn)
        conn.commit()


# ---- what must be shown as text, read back from the database ---------------------------------------------------

CASE_TEXTS = """
SELECT e.id, e.description, c.name, c.major_code, d.name, e.street_name, e.community_name, e.grid_name,
       e.status, e.department_code, e.reporter,
       (SELECT array_agg(h.note) FROM case_history h WHERE h.case_id = e.id AND h.note <> ''),
       (SELECT array_agg(r.name) FROM routing_decision rd JOIN routing_rule r ON r.id = rd.rule_id
        WHERE rd.case_id = e.id)
FROM event_case e JOIN category c ON c.code = e.category_code LEFT JOIN department d ON d.code = e.department_code
"""
FEATURES = """
SELECT l.level, f.code, f.name FROM grid_release r
JOIN grid_layer l ON l.id IN (r.district_layer_id, r.street_layer_id, r.community_layer_id, r.grid_layer_id)
JOIN grid_feature f ON f.layer_id = l.id WHERE r.is_active
"""


def planted(texts) -> set[str]:
    """The texts that hold a payload."""
    return {t for t in texts if t and MARK in t}


def expectations(url: str) -> dict:
    """What each view must show as text: ("case", id), ("popup", id), ("tooltip", level, code), ("page", path,
    user) → the planted texts."""
    out: dict = {}
    with psycopg.connect(url) as conn:
        cases = conn.execute(CASE_TEXTS).fetchall()
        features = conn.execute(FEATURES).fetchall()
        majors = [n for (n,) in conn.execute("SELECT name FROM category_major")]
        departments = [n for (n,) in conn.execute("SELECT name FROM department")]
    for (case_id, description, category, _, department, street, community, grid, status, held_by, reporter,
         notes, rules) in cases:
        out[("case", case_id)] = planted([description, category, department, street, community, grid,
                                          *(notes or []), *(rules or [])])
        out[("popup", case_id)] = planted([description, category])
        for path, user, shown in (("/queue", "hws", held_by == "S-012-HWS" and status in QUEUES["department"]),
                                  ("/desk", "dispatcher", status in QUEUES["dispatch"] + QUEUES["verify"]),
                                  ("/m/mine", "officer", reporter == "officer")):
            if shown:
                out.setdefault(("page", path, user), set()).update(planted([description]))
    for level, code, name in features:
        if level != "district":
            out[("tooltip", level, code)] = planted([name])
    shown_on_map = [name for level, _, name in features if level in ("district", "street")]
    out[("page", "/map", "leader")] = planted([*shown_on_map, *majors, *departments])
    return out

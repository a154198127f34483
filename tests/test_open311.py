"""Open311 GeoReport v2 (/open311/v2/): the public schemas, strengthened, every error code, JSON and XML alike.

The schemas in tests/data/open311/ are copied unchanged from open311/schema-validation (see its README there).
They are loose, so each answer is also checked against the stricter schemas below: an object or a non-empty
array at the top, exactly the spec's fields, formats checked with a FormatChecker, and schemas of our own for
the answers the repository does not cover (POST, tokens, discovery, errors).
"""
from __future__ import annotations

import io
import json
import threading
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

import psycopg
import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft7Validator, FormatChecker
from PIL import Image
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from citygrid.app import build_app
from citygrid.settings import Settings
from dispatch.api_clients import add_client, revoke_client
from dispatch.intake.service import submit_report
from dispatch.models import Policy
from gis.crs import wgs84_to_gcj02
from tests.casecopies import add_copies
from tests.people import actor, add_cast, bearer

SCHEMAS = Path(__file__).parent / "data" / "open311"
REGISTRY = Registry().with_resources(
    (path.name, Resource.from_contents(json.loads(path.read_text()), default_specification=DRAFT7))
    for path in SCHEMAS.glob("*.json") if path.name != "swagger.json")
TZ = ZoneInfo("Asia/Shanghai")
REQUEST_FIELDS = ["service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                  "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
                  "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url"]
STRICT = {
    "services.json": {"type": "array", "minItems": 1, "items": {
        "allOf": [{"$ref": "service.json"}], "type": "object",
        "required": ["service_code", "service_name", "description", "metadata", "type", "keywords", "group"],
        "additionalProperties": False, "properties": {k: True for k in (
            "service_code", "service_name", "description", "metadata", "type", "keywords", "group")}}},
    "service-definition.json": {"allOf": [{"$ref": "service-definition.json"}], "type": "object",
                                "additionalProperties": False, "properties": {
        "service_code": {"type": "string"}, "attributes": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["variable", "code", "datatype", "required", "datatype_description",
                                           "order", "description"],
            "properties": {"values": {"type": "array", "items": {"type": "object"}}}}}}},
    "requests.json": {"allOf": [{"$ref": "requests.json"}], "type": "array", "items": {
        "type": "object", "required": REQUEST_FIELDS, "additionalProperties": False,
        "properties": {"service_request_id": {"pattern": "^[0-9]+$"},
                       "requested_datetime": {"type": "string", "format": "date-time"},
                       "lat": {"type": "number", "minimum": 22, "maximum": 24},
                       "long": {"type": "number", "minimum": 112, "maximum": 114}, **{
                           f: True for f in REQUEST_FIELDS if f not in ("lat", "long", "service_request_id",
                                                                        "requested_datetime")}}}},
    "post": {"type": "array", "minItems": 1, "maxItems": 1, "items": {
        "type": "object", "required": ["service_request_id", "token", "service_notice", "account_id"],
        "additionalProperties": False, "properties": {
            "service_request_id": {"type": "string", "pattern": "^[0-9]+$"},
            "token": {"type": "string", "minLength": 16}, "service_notice": {"type": ["string", "null"]},
            "account_id": {"type": ["string", "null"]}}}},
    "token": {"type": "array", "minItems": 1, "maxItems": 1, "items": {
        "type": "object", "required": ["service_request_id", "token"], "additionalProperties": False,
        "properties": {"service_request_id": {"type": "string", "pattern": "^[0-9]+$"},
                       "token": {"type": "string"}}}},
    "discovery": {"type": "object", "required": ["changeset", "contact", "key_service", "endpoints"],
                  "additionalProperties": False, "properties": {
        "changeset": {"type": "string", "format": "date-time"}, "contact": {"type": ["string", "null"]},
        "key_service": {"type": "string"}, "endpoints": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["specification", "url", "changeset", "type", "formats"],
            "additionalProperties": False, "properties": {
                "specification": {"const": "http://wiki.open311.org/GeoReport_v2"},
                "url": {"type": "string", "format": "uri"}, "changeset": {"type": "string", "format": "date-time"},
                "type": {"enum": ["production", "test"]},
                "formats": {"type": "array", "items": {"enum": ["text/xml", "application/json"]},
                            "minItems": 2}}}}}},
    "errors": {"type": "array", "minItems": 1, "items": {
        "type": "object", "required": ["code", "description"], "additionalProperties": False,
        "properties": {"code": {"type": "integer"}, "description": {"type": "string", "minLength": 10}}}},
}
# XML: the root and the name of each item, by answer
XML_SHAPE = {"services.json": ("services", "service"), "requests.json": ("service_requests", "request"),
             "post": ("service_requests", "request"), "token": ("service_requests", "request"),
             "errors": ("errors", "error")}


def check(body, kind: str) -> None:
    """Valid under the strict schema (which includes the public one where there is one)."""
    Draft7Validator(STRICT[kind], registry=REGISTRY, format_checker=FormatChecker()).validate(body)
    if kind in ("services.json", "requests.json"):  # and under the public one alone, as published
        Draft7Validator(json.loads((SCHEMAS / kind).read_text()), registry=REGISTRY,
                        format_checker=FormatChecker()).validate(body)


def xml_items(text: bytes, kind: str) -> list[dict]:
    """The items of an XML answer as {field: text} (nested lists as lists of dicts)."""
    root_name, item_name = XML_SHAPE[kind]
    root = ET.fromstring(text)  # well-formed, or this raises
    assert root.tag == root_name
    return [{child.tag: child.text or "" for child in item} for item in root]


def same_fields(json_items: list[dict], xml: list[dict]) -> None:
    assert len(json_items) == len(xml)
    for j, x in zip(json_items, xml):
        assert set(j) == set(x)
        for key, value in j.items():
            text = "" if value is None else ("true" if value is True else "false" if value is False else str(value))
            if isinstance(value, list):
                continue
            assert x[key] == text, (key, x[key], text)


@pytest.fixture
def o311(chancheng_url, tmp_path):
    with psycopg.connect(chancheng_url) as conn:
        tokens = add_cast(conn, ["officer", "leader"])
        keys = {"hotline": add_client(conn, name="hotline-12345", trust="public", source="12345", rate_per_minute=500),
                "trusted": add_client(conn, name="city-app", trust="trusted", source="app", rate_per_minute=500),
                "tiny": add_client(conn, name="tiny", trust="public", rate_per_minute=3)}
        conn.commit()
    app = build_app(Settings(database_url=chancheng_url, media_root=str(tmp_path / "media")))
    with TestClient(app) as client:
        client.url, client.keys, client.tokens = chancheng_url, keys, tokens
        yield client


def post(client, key: str | None, fmt: str = "json", **fields):
    form = {"service_code": "0102", "lat": "23.02", "long": "113.12", "description": "路口垃圾", **fields}
    if key:
        form["api_key"] = client.keys[key]
    return client.post(f"/open311/v2/requests.{fmt}", data={k: v for k, v in form.items() if v is not None})


def counts(url: str) -> tuple:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT (SELECT count(*) FROM event_case), (SELECT count(*) FROM report), "
                            "(SELECT count(*) FROM case_history)").fetchone()


def case_row(url: str, case_id: int) -> dict:
    with psycopg.connect(url) as conn:
        cur = conn.cursor()
        cur.execute("SELECT c.status, c.department_code, c.source, c.reporter, ST_X(c.geom), ST_Y(c.geom), "
                    "r.input_crs, r.media_url, r.attributes, r.contact, c.deadline FROM event_case c "
                    "JOIN report r ON r.case_id = c.id WHERE c.id = %s", (case_id,))
        names = [d.name for d in cur.description]
        return dict(zip(names, cur.fetchone()))


# ---- discovery and services -----------------------------------------------------------------------------------

def test_discovery_in_json_and_xml(o311):
    body = o311.get("/open311/v2/discovery.json").json()
    check(body, "discovery")
    assert body["endpoints"][0]["url"] == "http://testserver/open311/v2"
    root = ET.fromstring(o311.get("/open311/v2/discovery.xml").content)
    assert root.tag == "discovery" and root.findtext("changeset") == body["changeset"]
    endpoint = root.find("endpoints/endpoint")
    assert endpoint.findtext("url") == body["endpoints"][0]["url"]
    assert [f.text for f in endpoint.findall("formats/format")] == ["text/xml", "application/json"]


def test_services_list_the_public_categories_only(o311):
    response = o311.get("/open311/v2/services.json")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    services = response.json()
    check(services, "services.json")
    with psycopg.connect(o311.url) as conn:
        public = [r[0] for r in conn.execute("SELECT code FROM category WHERE public ORDER BY code")]
        hidden = [r[0] for r in conn.execute("SELECT code FROM category WHERE NOT public")]
    assert [s["service_code"] for s in services] == public
    assert hidden and not set(hidden) & {s["service_code"] for s in services}  # 06, 07, 0409 never appear
    assert {"0409", "0601"} <= set(hidden)
    xml = o311.get("/open311/v2/services.xml")
    assert xml.headers["content-type"].startswith("text/xml")
    same_fields(services, xml_items(xml.content, "services.json"))


def test_a_service_definition_lists_its_attributes_and_the_crs_extension(o311):
    body = o311.get("/open311/v2/services/0401.json").json()
    check(body, "service-definition.json")
    assert [a["code"] for a in body["attributes"]] == ["size", "traffic_blocked", "crs"]
    size = body["attributes"][0]
    assert size["required"] is True and size["datatype"] == "singlevaluelist"
    assert [v["key"] for v in size["values"]] == ["small", "medium", "large"]
    crs = o311.get("/open311/v2/services/0102.json").json()["attributes"]
    assert [a["code"] for a in crs] == ["crs"] and [v["key"] for v in crs[0]["values"]] == ["wgs84", "gcj02"]
    root = ET.fromstring(o311.get("/open311/v2/services/0401.xml").content)
    assert root.tag == "service_definition" and root.findtext("service_code") == "0401"
    attrs = root.findall("attributes/attribute")
    assert [a.findtext("code") for a in attrs] == ["size", "traffic_blocked", "crs"]
    assert attrs[0].findtext("required") == "true"
    assert [v.findtext("key") for v in attrs[0].findall("values/value")] == ["small", "medium", "large"]


@pytest.mark.parametrize("code", ["0409", "0601", "9999", "x"])
def test_an_unknown_or_non_public_service_is_404(o311, code):
    for fmt in ("json", "xml"):
        response = o311.get(f"/open311/v2/services/{code}.{fmt}")
        assert response.status_code == 404
    body = o311.get(f"/open311/v2/services/{code}.json").json()
    check(body, "errors")
    assert body[0]["code"] == 404 and code in body[0]["description"]


# ---- POST requests --------------------------------------------------------------------------------------------

def test_a_trusted_system_registers_and_routes_at_once(o311):
    response = post(o311, "trusted", account_id="u-77", email="someone@example.org")
    assert response.status_code == 200, response.text
    body = response.json()
    check(body, "post")
    case_id = int(body[0]["service_request_id"])
    assert body[0]["account_id"] == "u-77"
    row = case_row(o311.url, case_id)
    assert row["status"] == "dispatched" and row["department_code"] == "S-012-HWS"  # as the rules say
    assert row["source"] == "app" and row["reporter"] == "open311:city-app"
    assert row["contact"] == {"email": "someone@example.org", "account_id": "u-77"}
    one = o311.get(f"/open311/v2/requests/{case_id}.json").json()
    check(one, "requests.json")
    request = one[0]
    assert request["status"] == "open" and request["agency_responsible"] == "祖庙街道环卫所"
    assert request["expected_datetime"] == row["deadline"].astimezone(TZ).isoformat(timespec="seconds")
    assert "someone@example.org" not in json.dumps(one, ensure_ascii=False)  # contact data is never returned
    token = o311.get(f"/open311/v2/tokens/{body[0]['token']}.json").json()
    check(token, "token")
    assert token == [{"service_request_id": str(case_id), "token": body[0]["token"]}]
    same_fields(token, xml_items(o311.get(f"/open311/v2/tokens/{body[0]['token']}.xml").content, "token"))


def test_a_provisional_deadline_is_said_in_service_notice(o311):
    # A 300-working-day limit from today always reaches past the last year of the known holiday calendar.
    with psycopg.connect(o311.url) as conn:
        conn.execute("UPDATE category SET time_limit = '300wd' WHERE code = '0102'")
    body = post(o311, "trusted").json()
    case_id = body[0]["service_request_id"]
    year = case_row(o311.url, int(case_id))["deadline"].astimezone(TZ).year
    assert "provisional" in body[0]["service_notice"] and f"{year}年节假日" in body[0]["service_notice"]
    request = o311.get(f"/open311/v2/requests/{case_id}.json").json()[0]
    assert request["expected_datetime"].startswith(str(year))
    assert f"the holiday calendar of {year} is not known yet" in request["service_notice"]
    xml = xml_items(o311.get(f"/open311/v2/requests/{case_id}.xml").content, "requests.json")[0]
    assert xml["service_notice"] == request["service_notice"]
    with psycopg.connect(o311.url) as conn:  # once counted on a known calendar, the notice goes
        conn.execute("UPDATE event_case SET deadline_provisional = false WHERE id = %s", (int(case_id),))
    assert o311.get(f"/open311/v2/requests/{case_id}.json").json()[0]["service_notice"] is None


def test_a_public_channel_waits_for_verification(o311):
    response = post(o311, "hotline", fmt="xml")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/xml")
    items = xml_items(response.content, "post")
    case_id = int(items[0]["service_request_id"])
    assert set(items[0]) == {"service_request_id", "token", "service_notice", "account_id"}
    row = case_row(o311.url, case_id)
    assert row["status"] == "awaiting_verification" and row["source"] == "12345"
    request = o311.get(f"/open311/v2/requests/{case_id}.json").json()[0]
    assert request["status"] == "open" and request["agency_responsible"] is None
    assert "核实" in request["status_notes"]


def test_gcj02_coordinates_are_declared_with_the_crs_attribute(o311):
    x, y = wgs84_to_gcj02(113.12, 23.02)
    response = post(o311, "trusted", lat=str(float(y)), long=str(float(x)), **{"attribute[crs]": "gcj02"})
    assert response.status_code == 200, response.text
    row = case_row(o311.url, int(response.json()[0]["service_request_id"]))
    assert abs(row["st_x"] - 113.12) < 1e-6 and abs(row["st_y"] - 23.02) < 1e-6 and row["input_crs"] == "gcj02"
    assert row["attributes"] == {}  # crs is consumed, not stored as an attribute


def test_a_client_may_send_its_own_service_codes_once_they_are_mapped(o311, tmp_path):
    from dispatch.exchange.bulk_import import load_aliases

    mapping = tmp_path / "12345.csv"
    mapping.write_text("foreign_code,category,foreign_name\nHW-01,0102,垃圾\nGA-99,0409,群体事件\n", encoding="utf-8")
    assert post(o311, "hotline", service_code="HW-01").status_code == 400  # not mapped yet
    with psycopg.connect(o311.url) as conn:
        load_aliases(conn, path=mapping, source="12345")  # the hotline's source
    done = post(o311, "hotline", service_code="HW-01")
    assert done.status_code == 200, done.text
    request = o311.get(f"/open311/v2/requests/{done.json()[0]['service_request_id']}.json").json()[0]
    assert request["service_code"] == "0102"
    hidden = post(o311, "hotline", service_code="GA-99")  # mapped onto a non-public category: still refused
    assert hidden.status_code == 400 and "not found" in hidden.json()[0]["description"]
    assert post(o311, "trusted", service_code="HW-01").status_code == 400  # another source: not its mapping


def test_attributes_are_checked_and_stored(o311):
    ok = post(o311, "trusted", service_code="0505", **{"attribute[plate]": "粤E12345",
                                                        "attribute[blocking][]": ["fire_lane", "sidewalk"]})
    assert ok.status_code == 200, ok.text
    row = case_row(o311.url, int(ok.json()[0]["service_request_id"]))
    assert row["attributes"] == {"plate": "粤E12345", "blocking": ["fire_lane", "sidewalk"]}
    depth = post(o311, "trusted", service_code="0406", **{"attribute[depth_cm]": "15"})
    assert depth.status_code == 200
    assert case_row(o311.url, int(depth.json()[0]["service_request_id"]))["attributes"] == {"depth_cm": 15.0}


def test_a_clients_media_url_is_stored_as_a_link_and_never_fetched(o311):
    hits = []

    class Recorder(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        link = f"http://127.0.0.1:{server.server_port}/photo.jpg"
        response = post(o311, "hotline", media_url=link)
        case_id = response.json()[0]["service_request_id"]
        assert case_row(o311.url, int(case_id))["media_url"] == link
        assert o311.get(f"/open311/v2/requests/{case_id}.json").json()[0]["media_url"] == link
        assert o311.get(f"/open311/v2/requests.json?service_request_id={case_id}").json()[0]["media_url"] == link
    finally:
        server.shutdown()
    assert hits == []


def photo_case(o311, category: str) -> tuple[int, int]:
    """An officer's report with one photo, through the officer API."""
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), "olive").save(buffer, format="JPEG")
    headers = bearer(o311.tokens["officer"])
    media = o311.post("/api/media", content=buffer.getvalue(), headers=headers).json()["id"]
    response = o311.post("/api/reports", headers=headers, json={"category": category, "lon": 113.12, "lat": 23.02,
                                                               "description": "with a photo",
                                                               "attachments": [media]})
    assert response.status_code == 201, response.text
    return response.json()["case_id"], media


def test_our_photos_are_media_urls_only_for_public_categories(o311):
    case_id, media = photo_case(o311, "0102")
    request = o311.get(f"/open311/v2/requests/{case_id}.json").json()[0]
    assert request["media_url"] == f"http://testserver/open311/v2/media/{media}"
    image = o311.get(f"/open311/v2/media/{media}")
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(image.content)).size == (32, 24)
    hidden_case, hidden_media = photo_case(o311, "0409")  # 群发性事件: not public
    assert o311.get(f"/open311/v2/media/{hidden_media}").status_code == 404
    assert o311.get(f"/open311/v2/requests/{hidden_case}.json").status_code == 404


BAD_POSTS = [
    ({"key": None}, 403, "api_key is required"),
    ({"key": "wrong"}, 403, "not valid"),
    ({"service_code": None}, 400, "service_code is required"),
    ({"service_code": "0409"}, 400, "not found"),  # not public: as if it did not exist
    ({"service_code": "7777"}, 400, "not found"),
    ({"lat": None, "long": None, "address_string": "祖庙路 1 号"}, 400, "no geocoder"),
    ({"lat": "north", "long": "113.12"}, 400, "must be numbers"),
    ({"lat": "39.9", "long": "116.4"}, 400, "outside"),
    ({"description": "长" * 4001}, 400, "limit is 4000"),
    ({"media_url": "file:///etc/passwd"}, 400, "media_url"),
    ({"attribute[colour]": "red"}, 400, "unknown attribute"),
    ({"attribute[crs]": "bd09"}, 400, "not one of"),
    ({"service_code": "0401"}, 400, "attribute[size] is required"),
    ({"service_code": "0401", "attribute[size]": "huge"}, 400, "not one of"),
    ({"service_code": "0406", "attribute[depth_cm]": "deep"}, 400, "not a number"),
    ({"jurisdiction_id": "110101"}, 404, "jurisdiction_id"),
]


@pytest.mark.parametrize("fields, code, says", BAD_POSTS, ids=[b[2] for b in BAD_POSTS])
def test_a_bad_post_gets_the_spec_error_and_changes_nothing(o311, fields, code, says):
    before = counts(o311.url)
    fields = dict(fields)
    key = fields.pop("key", "trusted")
    if key == "wrong":
        o311.keys["wrong"] = "o311_not-a-key"
    for fmt in ("json", "xml"):
        response = post(o311, key, fmt=fmt, **fields)
        assert response.status_code == code, response.text
        if fmt == "json":
            check(response.json(), "errors")
            assert response.json()[0]["code"] == code and says in response.json()[0]["description"]
        else:
            items = xml_items(response.content, "errors")
            assert items[0]["code"] == str(code) and says in items[0]["description"]
    assert counts(o311.url) == before


def test_a_form_is_read_as_utf8_raw_or_escaped_and_multipart_too(o311):
    """curl -d sends raw UTF-8 bytes, browsers and httpx %-escape them: both are UTF-8 (the spec)."""
    raw = f"api_key={o311.keys['trusted']}&service_code=0102&lat=23.02&long=113.12&description=路口垃圾 堆放".encode()
    done = o311.post("/open311/v2/requests.json", content=raw,
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert done.status_code == 200, done.text
    assert case_row(o311.url, int(done.json()[0]["service_request_id"]))["status"] == "dispatched"
    one = o311.get(f"/open311/v2/requests/{done.json()[0]['service_request_id']}.json").json()[0]
    assert one["description"] == "路口垃圾 堆放"
    multipart = o311.post("/open311/v2/requests.json", files={"x": (None, "")}, data={
        "api_key": o311.keys["trusted"], "service_code": "0102", "lat": "23.02", "long": "113.12",
        "description": "多部分 multipart"})
    assert multipart.status_code == 200, multipart.text
    before = counts(o311.url)
    latin1 = o311.post("/open311/v2/requests.json", content=raw.replace("路口".encode(), b"\xe9t\xe9"),
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert latin1.status_code == 400 and "not UTF-8" in latin1.json()[0]["description"]
    huge = o311.post("/open311/v2/requests.json", content=raw + b"&pad=" + b"x" * 70_000,
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert huge.status_code == 400 and "larger than 64 KB" in huge.json()[0]["description"]
    broken = o311.post("/open311/v2/requests.xml", content=b"true",  # what the schema drill sent: no boundary
                       headers={"Content-Type": "multipart/form-data"})
    assert broken.status_code == 400, broken.text
    assert broken.text.startswith("<?xml") and "form cannot be read" in broken.text
    assert counts(o311.url) == before


def test_a_json_body_is_refused_the_spec_posts_a_form(o311):
    response = o311.post("/open311/v2/requests.json", json={"api_key": o311.keys["trusted"], "service_code": "0102",
                                                            "lat": 23.02, "long": 113.12})
    assert response.status_code == 400 and "form" in response.json()[0]["description"]


def test_the_right_jurisdiction_is_accepted_and_a_revoked_key_is_refused(o311):
    assert post(o311, "trusted", jurisdiction_id="440604").status_code == 200
    assert o311.get("/open311/v2/services.json?jurisdiction_id=440604").status_code == 200
    assert o311.get("/open311/v2/services.json?jurisdiction_id=440605").status_code == 404
    with psycopg.connect(o311.url) as conn:
        revoke_client(conn, name="city-app")
    response = post(o311, "trusted")
    assert response.status_code == 403 and "revoked" in response.json()[0]["description"]


def test_each_key_has_its_own_rate_limit(o311):
    answers = [o311.get(f"/open311/v2/services.json?api_key={o311.keys['tiny']}").status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    limited = post(o311, "tiny")
    assert limited.status_code == 429 and "3 calls a minute" in limited.json()[0]["description"]
    assert post(o311, "hotline").status_code == 200  # another key is not affected
    assert o311.get("/open311/v2/services.json").status_code == 200  # nor a keyless read


# ---- GET requests ---------------------------------------------------------------------------------------------

def officer_case(url: str, category: str = "0102", lon: float = 113.12, text: str = "x") -> int:
    with psycopg.connect(url) as conn:
        done = submit_report(conn, actor=actor("officer"), policy=Policy(), category_code=category, lon=lon,
                             lat=23.02, description=text)
        conn.commit()
    return done.case_id


def test_get_requests_filters_as_the_spec_says(o311):
    litter, ads, hidden = officer_case(o311.url), officer_case(o311.url, "0201"), officer_case(o311.url, "0409")
    old = officer_case(o311.url, text="old")
    with psycopg.connect(o311.url) as conn:  # one case from 100 days ago, one closed
        conn.execute("UPDATE event_case SET created_at = now() - interval '100 days' WHERE id = %s", (old,))
        conn.execute("ALTER TABLE event_case DISABLE TRIGGER event_case_workflow")
        conn.execute("UPDATE event_case SET status = 'closed', closed_at = now() WHERE id = %s", (ads,))
        conn.execute("ALTER TABLE event_case ENABLE TRIGGER event_case_workflow")

    def ids(query: str = "") -> list[int]:
        body = o311.get(f"/open311/v2/requests.json{query}").json()
        check(body, "requests.json")
        return sorted(int(r["service_request_id"]) for r in body)

    assert ids() == sorted([litter, ads])  # the last 90 days; never the non-public 0409
    assert ids("?status=open") == [litter] and ids("?status=closed") == [ads]
    assert ids("?status=open,closed") == sorted([litter, ads])
    assert ids("?service_code=0201") == [ads] and ids("?service_code=0102,0201") == sorted([litter, ads])
    assert ids(f"?service_request_id={old},{hidden},{litter}&status=closed") == sorted([old, litter])  # ids win
    start = (datetime.now(TZ) - timedelta(days=101)).isoformat(timespec="seconds")
    end = (datetime.now(TZ) - timedelta(days=99)).isoformat(timespec="seconds")
    assert ids(f"?start_date={start.replace('+', '%2B')}&end_date={end.replace('+', '%2B')}") == [old]
    assert ids(f"?start_date={start.replace('+', '%2B')}") == [old]  # start only: the 90 days after it
    closed = o311.get(f"/open311/v2/requests/{ads}.json").json()[0]
    assert closed["status"] == "closed" and closed["status_notes"].startswith("已结案")
    json_items = o311.get("/open311/v2/requests.json").json()
    same_fields(json_items, xml_items(o311.get("/open311/v2/requests.xml").content, "requests.json"))


@pytest.mark.parametrize("query, says", [
    ("?start_date=2026-01-01T00:00:00%2B08:00&end_date=2026-06-01T00:00:00%2B08:00", "more than 90 days"),
    ("?start_date=2026-06-01T00:00:00%2B08:00&end_date=2026-05-01T00:00:00%2B08:00", "after end_date"),
    ("?start_date=yesterday", "ISO 8601"),
    ("?status=pending", "status takes"),
    ("?service_request_id=1,abc", "comma-separated"),
])
def test_bad_filters_are_400(o311, query, says):
    response = o311.get(f"/open311/v2/requests.json{query}")
    assert response.status_code == 400 and says in response.json()[0]["description"]
    check(response.json(), "errors")


def test_at_most_1000_requests_by_default(o311):
    officer_case(o311.url)
    add_copies(o311.url, 1004)
    body = o311.get("/open311/v2/requests.json").json()
    assert len(body) == 1000
    check(body, "requests.json")


def test_unknown_request_token_and_format(o311):
    for path in ("/open311/v2/requests/999999.json", "/open311/v2/requests/abc.json", "/open311/v2/tokens/nope.json"):
        response = o311.get(path)
        assert response.status_code == 404 and response.json()[0]["code"] == 404
    response = o311.get("/open311/v2/services.csv")
    assert response.status_code == 404 and ".csv" in response.json()[0]["description"]


def test_reads_can_require_a_key(chancheng_url, tmp_path):
    with psycopg.connect(chancheng_url) as conn:
        key = add_client(conn, name="reader", trust="public")
        conn.commit()
    settings = Settings(database_url=chancheng_url, media_root=str(tmp_path), open311_public_read=False)
    with TestClient(build_app(settings)) as client:
        assert client.get("/open311/v2/services.json").status_code == 403
        assert client.get(f"/open311/v2/services.json?api_key={key}").status_code == 200


def test_odd_input_is_a_spec_error_never_a_500(o311):
    """Found by review: each of these once answered 500 or unreadable XML."""
    control = post(o311, "hotline", fmt="xml", description="bad\x01char", account_id="acc\x02")
    assert control.status_code == 200
    ET.fromstring(control.content)  # well-formed
    case_id = xml_items(control.content, "post")[0]["service_request_id"]
    for path in (f"/open311/v2/requests/{case_id}.xml", "/open311/v2/requests.xml"):
        root = ET.fromstring(o311.get(path).content)
        assert any(r.findtext("description") == "bad\ufffdchar" for r in root)
    assert o311.get(f"/open311/v2/requests/{case_id}.json").json()[0]["description"] == "bad\x01char"
    echoed = post(o311, "trusted", fmt="xml", **{"attribute[\x01x]": "1"})
    assert echoed.status_code == 400 and ET.fromstring(echoed.content).tag == "errors"
    before = counts(o311.url)
    for value in ("nan", "inf", "1e400"):
        bad = post(o311, "trusted", service_code="0406", **{"attribute[depth_cm]": value})
        assert bad.status_code == 400 and "finite" in bad.json()[0]["description"], value
    for path, code in (("/open311/v2/requests/².json", 404), ("/open311/v2/requests/99999999999999999999.json", 404),
                       ("/open311/v2/requests.json?service_request_id=²", 400),
                       ("/open311/v2/requests.json?end_date=0001-01-05", 400),
                       ("/open311/v2/requests.json?start_date=9999-12-30", 400),
                       ("/open311/v2/services/01%0002.json", 400), ("/open311/v2/tokens/ab%00c.json", 400),
                       ("/open311/v2/requests.json?service_code=01%0002", 400)):
        answer = o311.get(path)
        assert answer.status_code == code, (path, answer.text)
        check(answer.json(), "errors")
    for field in ("description", "service_code", "email"):
        nul = post(o311, "trusted", **{field: "a\x00b"})
        assert nul.status_code == 400 and "NUL" in nul.json()[0]["description"], field
    assert counts(o311.url) == before


def test_an_alias_to_a_hidden_category_is_answered_like_an_unknown_code(o311, tmp_path):
    from dispatch.exchange.bulk_import import load_aliases

    mapping = tmp_path / "a.csv"
    mapping.write_text("foreign_code,category\nX9,0601\n", encoding="utf-8")
    with psycopg.connect(o311.url) as conn:
        load_aliases(conn, path=mapping, source="12345")
    hidden, unknown = post(o311, "hotline", service_code="X9"), post(o311, "hotline", service_code="X8")
    assert hidden.json()[0]["description"] == unknown.json()[0]["description"].replace("X8", "X9")
    assert "0601" not in hidden.text

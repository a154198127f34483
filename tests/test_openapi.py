"""The OpenAPI document says the truth (web/openapi.py): every status an operation answers is documented with the body
it comes with, the constraints the handlers enforce are in the schema, the photos' content types are declared, and a
405 names every method the address takes. The schemathesis drill (tests/test_drill_schema.py) holds the document
against the served app; these hold it against the app's own answers, operation by operation."""
import re

import psycopg
import pytest
from fastapi.testclient import TestClient

from citygrid.app import build_app
from citygrid.settings import Settings
from tests.people import add_cast, bearer

CHANGES = {"post", "put", "patch", "delete"}
OPEN = {("get", "/api/health"), ("post", "/api/tokens"), ("get", "/map"), ("get", "/screen")}  # no token needed
# (the map and the wall screen send the browser to the sign-in page)


@pytest.fixture(scope="module")
def served(databases, chancheng_template, tmp_path_factory):
    from tests.conftest import url_for
    url = url_for(databases.create(template=chancheng_template))
    with psycopg.connect(url) as conn:
        tokens = add_cast(conn, ["officer", "admin"])
    app = build_app(Settings(database_url=url, media_root=str(tmp_path_factory.mktemp("media"))))
    with TestClient(app) as client:
        yield client, client.get("/openapi.json").json(), tokens


def operations(doc):
    return [(method, path, op) for path, ops in doc["paths"].items() for method, op in ops.items()]


def concrete(path: str) -> str:
    values = {"year": "2030", "level": "street", "action": "register", "fmt": "json", "username": "nobody_here"}
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "1"), path)


def test_every_operation_that_needs_a_token_says_so_and_documents_the_401_it_answers(served):
    client, doc, _ = served
    for method, path, op in operations(doc):
        if path.startswith("/open311/") or (method, path) in OPEN:
            continue
        answer = client.request(method, concrete(path), headers={"Authorization": ""})
        assert answer.status_code == 401, (method, path, answer.status_code)
        assert "401" in op["responses"] and op.get("security"), (method, path)
        assert answer.json().keys() >= {"error", "message"} and answer.headers["www-authenticate"] == "Bearer"


def test_every_json_operation_documents_422_and_503_with_the_error_body_and_writes_document_403(served):
    _, doc, _ = served
    error = {"$ref": "#/components/schemas/ErrorOut"}
    for method, path, op in operations(doc):
        if path.startswith("/open311/"):
            assert {"400", "403", "404", "429", "503"} <= op["responses"].keys() and "422" not in op["responses"]
            continue
        for status in ("422", "503"):
            assert op["responses"][status]["content"]["application/json"]["schema"] == error, (method, path, status)
        if method in CHANGES and op.get("security"):
            assert "403" in op["responses"], (method, path)  # a page's session without its CSRF header
    assert doc["components"]["securitySchemes"].keys() == {"bearer", "session"}


def test_the_table_of_what_routes_raise_names_only_real_routes(served):
    from web.openapi import RAISES
    from web.routes import api_routes

    client, _, _ = served
    routes = {(m, r.path) for r in api_routes(client.app) for m in r.methods}
    assert set(RAISES) <= routes, set(RAISES) - routes


def test_a_body_the_framework_cannot_read_is_a_422_in_the_error_shape(served):
    client, _, tokens = served
    answer = client.post("/api/reports", content=b"\xff\xfe{", headers={**bearer(tokens["officer"]),
                                                                      "Content-Type": "application/json"})
    assert answer.status_code == 422 and answer.json()["error"] == "InvalidRequest", answer.text
    unknown = client.get("/api/no-such-thing")
    assert unknown.status_code == 404 and unknown.json()["error"] == "NotFound"


def test_a_405_names_every_method_of_the_address(served):
    client, doc, _ = served
    answer = client.put("/open311/v2/requests.json")
    assert answer.status_code == 405 and set(answer.headers["allow"].split(", ")) - {"HEAD"} == {"GET", "POST"}
    for path, ops in doc["paths"].items():
        answer = client.request("PATCH", concrete(path))
        assert answer.status_code == 405, path
        allowed = set(answer.headers["allow"].split(", ")) - {"HEAD"}
        assert allowed == {m.upper() for m in ops}, (path, allowed)


def test_photos_and_downloads_declare_their_content_types(served):
    _, doc, _ = served
    photo = doc["paths"]["/api/media/{media_id}"]["get"]["responses"]["200"]["content"]
    assert set(photo) == {"image/jpeg", "image/png", "image/webp"}
    assert set(doc["paths"]["/api/media"]["post"]["requestBody"]["content"]) == set(photo)
    assert set(doc["paths"]["/open311/v2/media/{media_id}"]["get"]["responses"]["200"]["content"]) == set(photo)
    download = doc["paths"]["/api/export"]["get"]["responses"]["200"]["content"]
    assert "application/geo+json" in download and any(kind.startswith("text/csv") for kind in download)
    assert set(doc["paths"]["/api/events"]["get"]["responses"]["200"]["content"]) == {"text/event-stream"}
    assert set(doc["paths"]["/open311/v2/services.{fmt}"]["get"]["responses"]["200"]["content"]) == \
           {"application/json", "text/xml"}


def parameter(doc, method, path, name):
    return next(p["schema"] for p in doc["paths"][path][method]["parameters"] if p["name"] == name)


def test_the_constraints_the_handlers_enforce_are_in_the_schema(served):
    _, doc, _ = served
    schemas = doc["components"]["schemas"]
    assert parameter(doc, "get", "/api/export", "format")["enum"] == ["csv", "geojson", "gpkg", "xlsx"]
    assert parameter(doc, "get", "/api/export", "status")["enum"] == ["", "open", "overdue", "finished"]
    assert parameter(doc, "get", "/api/map/cases", "zoom").items() >= {"minimum": 0, "maximum": 22}.items()
    assert parameter(doc, "get", "/api/evaluation", "by")["enum"]
    assert "pattern" in parameter(doc, "get", "/api/evaluation", "period")
    assert parameter(doc, "get", "/api/layers/{level}", "level")["enum"] == ["district", "street", "community",
                                                                            "grid"]
    assert "pattern" in parameter(doc, "get", "/api/locate", "crs")
    assert parameter(doc, "get", "/api/cases/{case_id}", "case_id")["minimum"] == 1
    assert parameter(doc, "get", "/open311/v2/requests.{fmt}", "fmt")["enum"] == ["json", "xml"]
    report = schemas["ReportIn"]["properties"]
    assert report["category"]["pattern"] == "^[0-9]{4}$" and "pattern" in report["crs"]
    assert schemas["RuleIn"]["properties"]["recipient_kind"]["enum"] == ["department", "street_unit"]
    form = doc["paths"]["/open311/v2/requests.{fmt}"]["post"]["requestBody"]["content"]
    assert form["application/x-www-form-urlencoded"]["schema"]["required"] == ["api_key", "service_code", "lat",
                                                                               "long"]


def test_a_date_given_as_a_number_is_refused_as_the_schema_says(served):
    client, _, tokens = served
    answer = client.post("/api/cases/1/actions/approve_extension", json={"new_deadline": 0},
                         headers=bearer(tokens["admin"]))
    assert answer.status_code == 422 and answer.json()["details"][0]["field"] == "new_deadline", answer.text
    typed = client.post("/api/reports", json={"category": "0102", "lon": "113.12", "lat": 23.02},
                        headers=bearer(tokens["officer"]))
    assert typed.status_code == 422 and typed.json()["details"][0]["field"] == "lon", typed.text

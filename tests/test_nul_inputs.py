"""The NUL catalogue: a NUL character in every text field of every endpoint is a 4xx, and changes nothing."""
import psycopg
import pytest
from fastapi.testclient import TestClient

from citygrid.app import build_app
from citygrid.settings import Settings
from tests.drills.bad_common import changed, digest
from tests.people import add_cast, bearer

N = "bad\x00text"
RULE = {"name": "r", "category": "0102", "recipient_kind": "department", "department": "S-012-HWS"}
SINCE = {"since": "2026-01-01T00:00:00+08:00", "until": "2026-02-01T00:00:00+08:00"}
REPORT = {"category": "0102", "lon": 113.12, "lat": 23.02}
DAYS = [{"date": "2027-01-01", "kind": "holiday", "name": "元旦"}]

# (who, method, path, request keyword arguments): {case} is a case the handler "hws" holds
CATALOGUE = [
    (None, "POST", "/api/tokens", {"json": {"username": N, "password": "whatever-1234"}}),
    (None, "POST", "/api/tokens", {"json": {"username": "officer", "password": N}}),
    ("officer", "POST", "/api/reports", {"json": {**REPORT, "description": N}}),
    ("officer", "POST", "/api/reports", {"json": {**REPORT, "category": "01\x0002"}}),
    ("officer", "POST", "/api/reports", {"json": {**REPORT, "crs": "EPSG:4326\x00"}}),
    ("officer", "POST", "/api/reports", {"content": '{"category": "0102", "lon": 113.12, "lat": 23.02, "description": "\\ud800"}',
                                         "headers": {"content-type": "application/json"}}),
    ("officer", "GET", "/api/reports/nearby", {"params": {**REPORT, "category": N}}),
    ("officer", "GET", "/api/reports/nearby", {"params": {**REPORT, "crs": "EPSG:4326\x00"}}),
    ("officer", "GET", "/api/locate", {"params": {"lon": 113.12, "lat": 23.02, "crs": N}}),
    ("officer", "GET", "/api/cases", {"params": {"queue": N}}),
    ("hws", "POST", "/api/cases/{case}/actions/accept", {"json": {"note": N}}),
    ("hws", "POST", "/api/cases/{case}/actions/return", {"json": {"note": N}}),
    ("admin", "POST", "/api/cases/{case}/actions/dispatch", {"json": {"department_code": N}}),
    ("admin", "PUT", "/api/admin/calendar/2027", {"json": {"year": 2027, "days": [{**DAYS[0], "name": N}]}}),
    ("admin", "PUT", "/api/admin/calendar/2027", {"json": {"year": 2027, "days": DAYS, "source": N}}),
    ("admin", "POST", "/api/admin/rules", {"json": {"name": N, "rules": [RULE]}}),
    ("admin", "POST", "/api/admin/rules", {"json": {"name": "ok", "rules": [{**RULE, "name": N}]}}),
    ("admin", "POST", "/api/admin/rules", {"json": {"name": "ok", "rules": [{**RULE, "department": N}]}}),
    ("admin", "POST", "/api/admin/rules", {"json": {"name": "ok", "rules": [{**RULE, "place_code": N}]}}),
    ("admin", "POST", "/api/admin/rules/check", {"json": {"rules": [{**RULE, "zone_code": N}], **SINCE}}),
    ("admin", "GET", "/api/evaluation", {"params": {"period": N}}),
    ("admin", "GET", "/api/evaluation", {"params": {"period": "2026-11", "by": N}}),
    ("admin", "GET", "/api/map/cases", {"params": {"west": 113, "south": 22.9, "east": 113.2, "north": 23.1,
                                                   "zoom": 14, "department": N}}),
    ("admin", "GET", "/api/map/cases", {"params": {"west": 113, "south": 22.9, "east": 113.2, "north": 23.1,
                                                   "zoom": 14, "street": N}}),
    ("admin", "GET", "/api/export", {"params": {"format": "csv", "street": N}}),
    ("admin", "GET", "/api/export", {"params": {"format": "csv", "since": N}}),
    ("admin", "GET", "/api/layers/street%00", {}),
    ("admin", "GET", "/api/cases/{case}/routing", {"params": {"x": N}}),
    ("officer", "GET", "/api/inbox", {"params": {"unread": N}}),
    (None, "GET", "/open311/v2/requests.json", {"params": {"service_code": N}}),
    (None, "GET", "/open311/v2/requests.json", {"params": {"status": N}}),
    (None, "GET", "/open311/v2/services.json", {"params": {"jurisdiction_id": N}}),
    (None, "POST", "/open311/v2/requests.json", {"data": {"api_key": "k", "service_code": "0102", "lat": "23.02",
                                                          "long": "113.12", "description": N}}),
    (None, "POST", "/open311/v2/requests.json", {"files": {"description": (None, N)},
                                                 "data": {"api_key": "k", "service_code": "0102"}}),
]


@pytest.fixture(scope="module")
def served(databases, chancheng_template, tmp_path_factory):
    from tests.conftest import url_for
    url = url_for(databases.create(template=chancheng_template))
    with psycopg.connect(url) as conn:
        tokens = add_cast(conn, ["officer", "hws", "admin"])
    app = build_app(Settings(database_url=url, media_root=str(tmp_path_factory.mktemp("media"))))
    with TestClient(app, raise_server_exceptions=False) as client:
        case = client.post("/api/reports", json=REPORT, headers=bearer(tokens["officer"])).json()["case_id"]
        for token in tokens.values():
            client.get("/api/me", headers=bearer(token))  # the tokens' first use is recorded before the baseline
        yield client, tokens, case, url


@pytest.mark.parametrize("who,method,path,kwargs", CATALOGUE,
                         ids=[f"{m} {p} {sorted(k.get('json') or k.get('params') or k.get('data') or {})}"
                              for _, m, p, k in CATALOGUE])
def test_a_nul_is_a_4xx_and_changes_nothing(served, who, method, path, kwargs):
    kwargs = dict(kwargs)
    client, tokens, case, url = served
    headers = (bearer(tokens[who]) if who else {}) | kwargs.pop("headers", {})
    with psycopg.connect(url) as conn:
        before = digest(conn)
    response = client.request(method, path.format(case=case), headers=headers, **kwargs)
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert response.text and "Traceback" not in response.text
    with psycopg.connect(url) as conn:
        assert changed(before, digest(conn)) == []


def test_a_nul_in_the_sign_in_form_is_refused(served):
    client, tokens, case, url = served
    client.get("/login")
    csrf = client.cookies.get("citygrid_csrf")
    with psycopg.connect(url) as conn:
        before = digest(conn)
    response = client.post("/login", data={"csrf": csrf, "username": N, "password": "whatever-1234"})
    assert 400 <= response.status_code < 500, response.text
    with psycopg.connect(url) as conn:
        assert changed(before, digest(conn)) == []


@pytest.mark.parametrize("error", [psycopg.errors.UntranslatableCharacter, psycopg.errors.CharacterNotInRepertoire,
                                   psycopg.errors.NumericValueOutOfRange, psycopg.errors.InvalidTextRepresentation,
                                   psycopg.errors.DatetimeFieldOverflow])
def test_a_data_error_of_the_database_is_a_422_logged_without_its_values(error, caplog):
    from fastapi import FastAPI

    from web import errors
    app = FastAPI()
    errors.register(app)

    @app.get("/boom")
    def boom():
        raise error("invalid byte sequence: secret-value-0x00")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
    assert response.status_code == 422 and response.json()["error"] == "InvalidInput"
    assert "secret-value" not in response.text and "secret-value" not in caplog.text
    assert "Traceback" not in caplog.text

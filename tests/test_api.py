"""The JSON API: reports open cases; every input error answers 4xx with a message and writes nothing."""
import psycopg
import pytest
from fastapi.testclient import TestClient

from citygrid import migrate
from citygrid.app import build_app
from citygrid.settings import DEFAULT_DATABASE_URL, Settings, StartupRefused, check_can_serve
from tests.people import add_cast, bearer


@pytest.fixture
def client(chancheng_url, tmp_path):
    with psycopg.connect(chancheng_url) as conn:
        tokens = add_cast(conn, ["officer", "intake"])
    app = build_app(Settings(database_url=chancheng_url, media_root=str(tmp_path / "media")))
    with TestClient(app, headers=bearer(tokens["officer"])) as client:
        client.tokens = tokens
        yield client


def counts(url):
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT (SELECT count(*) FROM event_case), (SELECT count(*) FROM report), "
                            "(SELECT count(*) FROM case_history)").fetchone()


def test_report_opens_a_case_with_its_grid_chain_and_history(client):
    response = client.post("/api/reports", json={"category": "0102", "lon": 113.12, "lat": 23.02,
                                                 "description": "垃圾满溢"})
    assert response.status_code == 201, response.text
    body = response.json()
    case = client.get(f"/api/cases/{body['case_id']}").json()
    located = client.get("/api/locate", params={"lon": 113.12, "lat": 23.02}).json()
    assert case["grid"] == located["grid"] == body["location"]["grid"]
    assert case["street"]["code"] == "440604012" and case["category_name"] == "暴露垃圾"
    assert case["report_ids"] == [body["report_id"]]
    # a grid officer's report registers at once and the sample rules route 0102 to the street's 环卫所
    assert case["status"] == body["status"] == "dispatched" and case["department_code"] == "S-012-HWS"
    assert [h["action"] for h in case["history"]] == ["report", "register", "dispatch"]
    assert case["created_at"].endswith("+08:00")  # stored with zone, shown in Asia/Shanghai


def test_gcj02_report_lands_in_the_same_grid(client):
    from gis.crs import wgs84_to_gcj02
    gx, gy = wgs84_to_gcj02(113.12, 23.02)
    plain = client.get("/api/locate", params={"lon": 113.12, "lat": 23.02}).json()
    shifted = client.post("/api/reports", json={"category": "0102", "lon": float(gx), "lat": float(gy),
                                                "crs": "gcj02"}).json()
    assert shifted["location"]["grid"] == plain["grid"]


BAD = [
    ({"lon": 113.12, "lat": 23.02}, "category: Field required"),
    ({"category": "0102", "lat": 23.02}, "lon: Field required"),
    ({"category": "0102", "lon": "east", "lat": 23.02}, "lon: Input should be a valid number"),
    ({"category": "0102", "lon": 213.12, "lat": 23.02}, "lon must be within -180..180"),
    ({"category": "0102", "lon": 113.12, "lat": 95}, "lat within -90..90"),
    ({"category": "0102", "lon": 113.12, "lat": 23.02, "crs": "mars"}, "unknown coordinate system 'mars'"),
    ({"category": "9999", "lon": 113.12, "lat": 23.02}, "unknown category '9999'"),
    ({"category": "0102", "lon": 113.5, "lat": 23.02}, "outside 禅城区 (440604)"),
    ({"category": "0102", "lon": 113.12, "lat": 23.02, "description": "x" * 4001}, "at most 4000 characters"),
    ({"category": "0102", "lon": 113.12, "lat": 23.02, "extra": 1}, "extra: Extra inputs are not permitted"),
]


@pytest.mark.parametrize("payload,message", BAD)
def test_bad_reports_answer_4xx_with_a_message_and_write_nothing(client, chancheng_url, payload, message):
    before = counts(chancheng_url)
    response = client.post("/api/reports", json=payload)
    assert 400 <= response.status_code < 500, response.text
    assert message in response.json()["message"]
    assert counts(chancheng_url) == before


def test_malformed_json_is_a_4xx(client):
    response = client.post("/api/reports", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422 and response.json()["message"]


def test_unknown_case_is_404(client):
    response = client.get("/api/cases/999999")
    assert response.status_code == 404 and response.json()["message"] == "no case 999999"


def test_layers_and_categories(client):
    grids = client.get("/api/layers/grid").json()
    assert 1000 <= len(grids["features"]) <= 2000
    assert client.get("/api/layers/nowhere").status_code == 422  # the document names the four levels
    assert len(client.get("/api/categories").json()) >= 50


def test_production_needs_its_own_database_and_development_stays_local():
    with pytest.raises(StartupRefused, match="production needs its own DATABASE_URL"):
        check_can_serve(Settings(env="production", database_url=DEFAULT_DATABASE_URL), "0.0.0.0")
    check_can_serve(Settings(env="production", database_url="postgresql://app:s3cret@db/citygrid"), "0.0.0.0")
    with pytest.raises(StartupRefused, match="only on localhost"):
        check_can_serve(Settings(), "0.0.0.0")
    check_can_serve(Settings(), "127.0.0.1")
    assert Settings().host == "127.0.0.1"


def test_migrations_are_idempotent_and_recorded(bare_url):
    with psycopg.connect(bare_url) as conn:
        assert migrate.upgrade(conn) == []
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migration ORDER BY version")]
        assert versions == [v for v, _ in migrate.migration_files()]
        assert conn.execute("SELECT extname FROM pg_extension WHERE extname = 'postgis'").fetchone()


def test_every_endpoint_but_health_and_sign_in_needs_a_token(client):
    anonymous = {"Authorization": ""}
    for method, path in [("get", "/api/cases/1"), ("get", "/api/categories"), ("get", "/api/locate?lon=113.1&lat=23"),
                         ("post", "/api/reports"), ("get", "/api/layers/grid"), ("get", "/api/cases"),
                         ("get", "/api/inbox"), ("post", "/api/media")]:
        response = client.request(method, path, headers=anonymous)
        assert response.status_code == 401, (path, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
    assert client.get("/api/cases", headers=bearer("cg_not-a-real-token")).status_code == 401
    assert client.get("/api/health", headers=anonymous).status_code == 200
    assert client.get("/map", headers=anonymous, follow_redirects=False).headers["location"] == "/login?next=/map"


def test_sign_in_gives_a_token_and_sign_out_revokes_it(client):
    wrong = client.post("/api/tokens", json={"username": "officer", "password": "nope-nope-nope"})
    assert wrong.status_code == 401 and wrong.json()["message"] == "wrong user name or password"
    token = client.post("/api/tokens", json={"username": "officer", "password": "officer-password-1"}).json()["token"]
    assert client.get("/api/me", headers=bearer(token)).json()["roles"] == ["grid_officer"]
    assert client.delete("/api/tokens/current", headers=bearer(token)).status_code == 204
    assert client.get("/api/me", headers=bearer(token)).status_code == 401


def test_a_token_records_its_last_use_at_most_once_a_minute_in_the_requests_own_statement(client, chancheng_url):
    def last_used():
        with psycopg.connect(chancheng_url) as conn:
            return conn.execute("SELECT t.last_used_at FROM api_token t JOIN app_user u ON u.id = t.user_id "
                                "WHERE u.username = 'officer'").fetchone()[0]

    assert client.get("/api/me").status_code == 200
    first = last_used()
    assert first is not None
    assert client.get("/api/me").status_code == 200
    assert last_used() == first  # within the minute: no write
    with psycopg.connect(chancheng_url) as conn:
        conn.execute("UPDATE api_token SET last_used_at = last_used_at - interval '2 minutes'")
    assert client.get("/api/me").status_code == 200
    assert last_used() >= first  # two minutes later: written again (it was moved back 2 minutes)


def test_a_failed_sign_in_is_recorded_although_the_request_is_refused(client, chancheng_url):
    assert client.post("/api/tokens", json={"username": "officer", "password": "wrong-password-x"}).status_code == 401
    with psycopg.connect(chancheng_url) as conn:
        assert conn.execute("SELECT count(*) FROM login_attempt WHERE username = 'officer' AND NOT ok"
                            ).fetchone()[0] == 1

"""Sign-in: throttled after repeated failures, CSRF-protected forms, and cookie sessions that cannot be ridden."""
import re

import psycopg
import pytest
from fastapi.testclient import TestClient

from citygrid.app import build_app
from citygrid.settings import Settings
from tests.people import add_cast


@pytest.fixture
def client(chancheng_url, tmp_path):
    with psycopg.connect(chancheng_url) as conn:
        add_cast(conn, ["officer", "hws", "leader"])
    with TestClient(build_app(Settings(database_url=chancheng_url, media_root=str(tmp_path)))) as client:
        client.url = chancheng_url
        yield client


def sign_in(client, username, password):
    return client.post("/api/tokens", json={"username": username, "password": password})


def test_five_failures_pause_that_name_but_not_others(client):
    for _ in range(5):
        assert sign_in(client, "officer", "wrong-password").status_code == 401
    paused = sign_in(client, "officer", "officer-password-1")  # even the right password waits now
    assert paused.status_code == 429 and "too many failed sign-ins" in paused.json()["message"]
    assert sign_in(client, "leader", "leader-password-1").status_code == 201
    with psycopg.connect(client.url) as conn:  # the failures were kept although each request rolled back
        failures = conn.execute("SELECT count(*) FROM login_attempt WHERE username = 'officer' AND NOT ok")
        assert failures.fetchone()[0] == 5


def test_unknown_names_count_too(client):
    for _ in range(5):
        sign_in(client, "nobody", "x")
    assert sign_in(client, "nobody", "x").status_code == 429


def form_token(client) -> str:
    page = client.get("/login")
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def test_the_login_form_needs_its_csrf_token(client):
    token = form_token(client)
    forged = client.post("/login", data={"username": "leader", "password": "leader-password-1", "csrf": "forged"},
                         follow_redirects=False)
    assert forged.status_code == 403 and "expired" in forged.text
    good = client.post("/login", data={"username": "leader", "password": "leader-password-1", "csrf": token},
                       follow_redirects=False)
    assert good.status_code == 303 and good.headers["location"] == "/"
    assert client.get("/", follow_redirects=False).headers["location"] == "/map"  # a leader starts on the map
    cookie = good.headers["set-cookie"]
    assert "citygrid_token=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie


def test_a_wrong_password_on_the_form_is_shown_escaped(client):
    token = form_token(client)
    page = client.post("/login", data={"username": "<b>x</b>", "password": "nope", "csrf": token})
    assert page.status_code == 401 and "&lt;b&gt;x&lt;/b&gt;" in page.text and "<b>x</b>" not in page.text


def test_a_cookie_session_must_echo_the_csrf_token_to_change_anything(client):
    token = form_token(client)
    client.post("/login", data={"username": "officer", "password": "officer-password-1", "csrf": token})
    body = {"category": "0102", "lon": 113.12, "lat": 23.02}
    riding = client.post("/api/reports", json=body)  # the browser sends the cookie, but not the header
    assert riding.status_code == 403 and "CSRF" in riding.json()["message"]
    assert client.get("/api/me").json()["username"] == "officer"  # reading needs no header
    done = client.post("/api/reports", json=body, headers={"X-CSRF-Token": client.cookies["citygrid_csrf"]})
    assert done.status_code == 201


def test_sign_in_returns_to_the_page_asked_for_but_never_to_another_site(client):
    assert client.get("/inbox", follow_redirects=False).headers["location"] == "/login?next=/inbox"
    for target, expected in (("/inbox", "/inbox"), ("//evil.example/x", "/"), ("https://evil.example", "/")):
        client.cookies.clear()
        token = form_token(client)
        done = client.post("/login", data={"username": "officer", "password": "officer-password-1", "csrf": token,
                                           "next": target}, follow_redirects=False)
        assert done.headers["location"] == expected
    assert client.get("/", follow_redirects=False).headers["location"] == "/m"  # an officer starts on the phone page


@pytest.mark.parametrize("who", ["officer", "hws", "leader"])
def test_the_inbox_page_renders_for_every_role(client, who):
    token = form_token(client)
    client.post("/login", data={"username": who, "password": f"{who}-password-1", "csrf": token})
    page = client.get("/inbox")
    assert page.status_code == 200 and 'name="csrf-token"' in page.text and who in page.text

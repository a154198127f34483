"""Security headers on every kind of response (pages, API, static files, errors, docs), from one middleware; the
pages' and the folium map's inline scripts carry the response's CSP nonce, so the policy needs no 'unsafe-inline'."""
import re

import psycopg
import pytest
from fastapi.testclient import TestClient

from citygrid.app import build_app
from citygrid.settings import Settings
from tests.people import add_cast, bearer

COMMON = {"x-frame-options": "DENY", "x-content-type-options": "nosniff", "referrer-policy": "same-origin"}


@pytest.fixture
def world(chancheng_url, tmp_path):
    with psycopg.connect(chancheng_url) as conn:
        tokens = add_cast(conn, ["leader", "dispatcher", "officer"])
    with TestClient(build_app(Settings(database_url=chancheng_url, media_root=str(tmp_path)))) as client:
        yield client, tokens


def page_session(client, username: str) -> None:
    """Sign in through the form, so the client holds the session and CSRF cookies."""
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    assert client.post("/login", data={"username": username, "password": f"{username}-password-1", "csrf": csrf},
                       follow_redirects=False).status_code == 303


def check(response) -> str:
    """The common headers are there, and the CSP is strict; returns the response's nonce."""
    for name, value in COMMON.items():
        assert response.headers.get(name) == value, (response.request.url, name)
    assert "strict-transport-security" not in response.headers  # plain HTTP
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    script = re.search(r"script-src ([^;]*)", csp).group(1)
    assert "'unsafe-inline'" not in script and "'unsafe-eval'" not in script
    nonce = re.search(r"'nonce-([^']+)'", script)
    return nonce.group(1) if nonce else ""


def inline_scripts_have(html: str, nonce: str) -> int:
    """Every inline script tag carries the nonce (files from 'self' and data blocks need none)."""
    tags = [t for t in re.findall(r"<script\b[^>]*>", html, re.IGNORECASE)
            if " src=" not in t and 'type="application/json"' not in t]
    for tag in tags:
        assert f'nonce="{nonce}"' in tag, tag
    return len(tags)


def test_every_kind_of_response_has_the_headers(world):
    client, tokens = world
    responses = {
        "health": client.get("/api/health"),
        "api error 401": client.get("/api/me"),
        "api 422": client.post("/api/tokens", json={}),
        "api 404": client.get("/api/cases/999999", headers=bearer(tokens["leader"])),
        "api json": client.get("/api/me", headers=bearer(tokens["leader"])),
        "unknown path": client.get("/no/such/page"),
        "static map js": client.get("/static/map/citygrid.js"),
        "static page css": client.get("/static/pages/app.css"),
        "vendor": client.get("/static/vendor/leaflet/leaflet.js"),
        "sign-in page": client.get("/login"),
        "redirect": client.get("/", follow_redirects=False),
        "openapi": client.get("/openapi.json"),
        "open311": client.get("/open311/v2/services.json"),
        "405": client.put("/api/health"),
    }
    for name, response in responses.items():
        check(response)
    assert responses["static map js"].status_code == 200 and responses["405"].status_code == 405


def test_pages_and_the_map_run_their_inline_scripts_by_nonce(world):
    client, tokens = world
    folium = client.get("/map", headers=bearer(tokens["leader"]))
    assert folium.status_code == 200
    assert inline_scripts_have(folium.text, check(folium)) >= 1
    page_session(client, "dispatcher")
    inline = 0
    for path in ("/desk", "/inbox", "/cases/999999"):
        page = client.get(path)
        assert page.status_code in (200, 404) and "<html" in page.text
        inline += inline_scripts_have(page.text, check(page))
    assert inline >= 2
    first, second = check(client.get("/desk")), check(client.get("/desk"))
    assert first != second  # a fresh nonce per response
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert inline_scripts_have(docs.text, check(docs)) >= 1


def test_hsts_only_under_tls(chancheng_url, tmp_path):
    def hsts(settings: Settings, base_url: str = "http://testserver") -> str | None:
        with TestClient(build_app(settings), base_url=base_url) as client:
            return client.get("/api/health").headers.get("strict-transport-security")

    plain = Settings(database_url=chancheng_url, media_root=str(tmp_path))
    assert hsts(plain) is None
    # the app serves TLS itself
    assert "max-age=" in hsts(plain.model_copy(update={"ssl_certfile": "c.pem", "ssl_keyfile": "k.pem"}))
    # behind a trusted TLS proxy uvicorn sets the scheme from X-Forwarded-Proto: the app sees https
    assert "max-age=" in hsts(plain, base_url="https://testserver")

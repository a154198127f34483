"""Sign-in hardening: the CSRF cookie is replaced at sign-in, and the throttle keys on the peer address unless a
proxy named in CITYGRID_TRUSTED_PROXIES forwarded the request (a forged X-Forwarded-For changes nothing)."""
import re

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from citygrid.app import build_app
from citygrid.settings import Settings
from tests.people import add_cast
from tests.served import served


def test_a_planted_csrf_value_does_not_survive_sign_in(chancheng_url, tmp_path):
    with psycopg.connect(chancheng_url) as conn:
        add_cast(conn, ["dispatcher"])
    with TestClient(build_app(Settings(database_url=chancheng_url, media_root=str(tmp_path)))) as client:
        planted = "planted-by-someone-else-0123456789"
        client.cookies.set("citygrid_csrf", planted, domain="testserver.local")
        form = client.get("/login").text
        assert f'value="{planted}"' in form  # before sign-in the form echoes whatever the browser holds
        signed = client.post("/login", data={"username": "dispatcher", "password": "dispatcher-password-1",
                                             "csrf": planted}, follow_redirects=False)
        assert signed.status_code == 303
        fresh = client.cookies.get("citygrid_csrf")
        assert fresh and fresh != planted
        # the old value is refused, the new one is what the pages echo and what the API accepts
        page = client.get("/desk")
        assert f'content="{fresh}"' in page.text and planted not in page.text
        read = {"X-CSRF-Token": planted}
        assert client.post("/api/inbox/999999/read", headers=read).status_code == 403
        assert client.post("/api/inbox/999999/read", headers={"X-CSRF-Token": fresh}).status_code == 404
        logout = client.post("/logout", data={"csrf": fresh}, follow_redirects=False)
        assert logout.status_code == 303
        with psycopg.connect(chancheng_url) as conn:
            assert conn.execute("SELECT count(*) FROM api_token WHERE label = 'login' AND revoked_at IS NOT NULL"
                                ).fetchone()[0] == 1


def fail_with_forged_addresses(base: str, count: int) -> list[int]:
    """`count` wrong passwords, each for another name and with another forged X-Forwarded-For."""
    with httpx.Client(base_url=base, timeout=20) as client:
        return [client.post("/api/tokens", json={"username": f"nobody{n}", "password": "wrong-password"},
                            headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code for n in range(count)]


def test_a_forged_forwarded_for_does_not_escape_the_throttle(chancheng_url):
    with served(chancheng_url) as base:  # no trusted proxy: the peer (127.0.0.1) is the client
        statuses = fail_with_forged_addresses(base, 21)
    assert statuses[:20] == [401] * 20 and statuses[20] == 429
    with psycopg.connect(chancheng_url) as conn:
        assert conn.execute("SELECT array_agg(DISTINCT client) FROM login_attempt").fetchone()[0] == ["127.0.0.1"]


def test_a_trusted_proxy_forwards_the_client_address(chancheng_url):
    with served(chancheng_url, trusted_proxies="10.0.0.1, 127.0.0.0/8") as base:
        assert fail_with_forged_addresses(base, 3) == [401] * 3
    with psycopg.connect(chancheng_url) as conn:
        clients = conn.execute("SELECT array_agg(DISTINCT client ORDER BY client) FROM login_attempt").fetchone()[0]
    assert clients == ["203.0.113.0", "203.0.113.1", "203.0.113.2"]


def test_a_trusted_proxy_that_is_not_an_address_is_refused_at_start():

    with pytest.raises(ValidationError, match="'proxy.internal' is not an IP address or network"):
        Settings(trusted_proxies="10.0.0.1, proxy.internal")
    assert Settings(trusted_proxies="10.0.0.1, 10.1.0.0/16").trusted_proxy_list() == ["10.0.0.1", "10.1.0.0/16"]

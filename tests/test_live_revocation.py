"""A live stream (/api/events) lives only as long as its token: a revocation (sign-out, password change or reset,
deactivation) ends it at once through the database's NOTIFY; an expired token ends it at the periodic recheck.
The last event tells the page to sign in again."""
import json

import httpx
import psycopg
import pytest

from citygrid.settings import Settings
from dispatch.intake.service import submit_report
from dispatch.models import Policy
from tests.browser import running_app
from tests.people import actor, add_cast, bearer

READ_TIMEOUT = 10  # a stream that does not end fails the test instead of hanging (keep-alives come every 15 s)


def open_stream(client: httpx.Client, base: str, token: str):
    """Open /api/events; returns (context, line iterator) after the stream's first line (it listens by then)."""
    ctx = client.stream("GET", f"{base}/api/events", headers=bearer(token), timeout=READ_TIMEOUT)
    response = ctx.__enter__()
    assert response.status_code == 200
    lines = response.iter_lines()
    assert next(lines) == "retry: 3000"
    return ctx, lines


def final_event(ctx, lines) -> dict:
    """Read to the end of the stream: the last event must be `signin`; returns its data."""
    try:
        rest = [line for line in lines if line and not line.startswith(":")]
    finally:
        ctx.__exit__(None, None, None)
    assert rest[-2] == "event: signin", rest
    return json.loads(rest[-1].removeprefix("data: "))


@pytest.fixture
def world(chancheng_url):
    with psycopg.connect(chancheng_url) as conn:
        tokens = add_cast(conn, ["leader", "admin", "dispatcher"])
    with running_app(Settings(database_url=chancheng_url)) as base, httpx.Client() as client:
        yield client, base, tokens, chancheng_url


def test_sign_out_ends_the_stream_at_once(world):
    client, base, tokens, url = world
    other_ctx, other = open_stream(client, base, tokens["dispatcher"])
    ctx, lines = open_stream(client, base, tokens["leader"])
    assert client.delete(f"{base}/api/tokens/current", headers=bearer(tokens["leader"])).status_code == 204
    assert final_event(ctx, lines) == {"reason": "revoked"}  # by the notice: the recheck comes only every 60 s
    # another user's stream goes on: a new case still reaches it
    with psycopg.connect(url) as conn:
        submit_report(conn, actor=actor("officer"), policy=Policy(), category_code="0102", lon=113.12, lat=23.02,
                      description="still live")
        conn.commit()
    try:
        assert next(line for line in other if line.startswith("event:")) == "event: case"
    finally:
        other_ctx.__exit__(None, None, None)


def test_password_change_reset_and_deactivation_end_streams(world):
    client, base, tokens, url = world
    ctx, lines = open_stream(client, base, tokens["leader"])
    changed = client.post(f"{base}/api/me/password", headers=bearer(tokens["leader"]),
                          json={"old_password": "leader-password-1", "new_password": "leader-password-2"})
    assert changed.status_code == 204
    assert final_event(ctx, lines) == {"reason": "revoked"}

    ctx, lines = open_stream(client, base, tokens["dispatcher"])
    reset = client.post(f"{base}/api/admin/users/dispatcher/password", headers=bearer(tokens["admin"]))
    assert reset.status_code == 200 and reset.json()["password"]
    assert final_event(ctx, lines) == {"reason": "revoked"}

    with psycopg.connect(url) as conn:
        from dispatch.accounts import issue_token
        fresh = issue_token(conn, username="leader")
        conn.commit()
    ctx, lines = open_stream(client, base, fresh)
    assert client.post(f"{base}/api/admin/users/leader/deactivate", headers=bearer(tokens["admin"])).status_code == 200
    assert final_event(ctx, lines) == {"reason": "revoked"}


def test_an_expired_token_ends_the_stream_at_the_recheck(chancheng_url):
    with psycopg.connect(chancheng_url) as conn:
        tokens = add_cast(conn, ["leader"])
    with running_app(Settings(database_url=chancheng_url, stream_recheck_seconds=0.5)) as base, \
            httpx.Client() as client:
        ctx, lines = open_stream(client, base, tokens["leader"])
        with psycopg.connect(chancheng_url) as conn:  # expiry sends no notice: only the recheck can see it
            conn.execute("UPDATE api_token SET expires_at = now()")
            conn.commit()
        assert final_event(ctx, lines) == {"reason": "expired"}

"""Password reset and deactivation: the admin API, one's own password change, and `citygrid users ...`; the same
account functions (web/accounts.py) behind both, each revoking the tokens it must."""
import psycopg
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from citygrid.app import build_app
from citygrid.cli import app as cli
from citygrid.settings import Settings
from tests.people import add_cast, bearer


@pytest.fixture
def world(chancheng_url, tmp_path):
    with psycopg.connect(chancheng_url) as conn:
        tokens = add_cast(conn, ["admin", "leader", "dispatcher"])
    with TestClient(build_app(Settings(database_url=chancheng_url, media_root=str(tmp_path)))) as client:
        yield client, tokens, chancheng_url


def sign_in(client, username: str, password: str) -> int:
    return client.post("/api/tokens", json={"username": username, "password": password}).status_code


def me(client, token: str) -> int:
    return client.get("/api/me", headers=bearer(token)).status_code


def test_an_admin_resets_a_password(world):
    client, tokens, _ = world
    admin = bearer(tokens["admin"])
    generated = client.post("/api/admin/users/leader/password", headers=admin)
    assert generated.status_code == 200 and len(generated.json()["password"]) >= 10
    assert me(client, tokens["leader"]) == 401  # the old token is revoked
    assert sign_in(client, "leader", "leader-password-1") == 401
    assert sign_in(client, "leader", generated.json()["password"]) == 201
    given = client.post("/api/admin/users/leader/password", headers=admin, json={"password": "chosen-password-9"})
    assert given.status_code == 200 and given.json()["password"] is None
    assert sign_in(client, "leader", "chosen-password-9") == 201
    assert client.post("/api/admin/users/leader/password", headers=admin, json={"password": "short"}
                       ).status_code == 422
    assert client.post("/api/admin/users/nobody/password", headers=admin).status_code == 404
    refused = client.post("/api/admin/users/admin/password", headers=bearer(tokens["dispatcher"]))
    assert refused.status_code == 403 and refused.json()["error"] == "Forbidden"


def test_deactivation_revokes_and_refuses_and_activation_lets_in_again(world):
    client, tokens, url = world
    admin = bearer(tokens["admin"])
    assert client.post("/api/admin/users/leader/deactivate", headers=admin).json() == {"username": "leader",
                                                                                        "active": False}
    assert me(client, tokens["leader"]) == 401 and sign_in(client, "leader", "leader-password-1") == 401
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM api_token t JOIN app_user u ON u.id = t.user_id "
                            "WHERE u.username = 'leader' AND t.revoked_at IS NULL").fetchone()[0] == 0
    assert client.post("/api/admin/users/leader/activate", headers=admin).status_code == 200
    assert sign_in(client, "leader", "leader-password-1") == 201 and me(client, tokens["leader"]) == 401
    itself = client.post("/api/admin/users/admin/deactivate", headers=admin)
    assert itself.status_code == 409 and "own account" in itself.json()["message"]
    assert me(client, tokens["admin"]) == 200
    assert client.post("/api/admin/users/nobody/deactivate", headers=admin).status_code == 404
    assert client.post("/api/admin/users/admin/deactivate", headers=bearer(tokens["dispatcher"])).status_code == 403
    assert me(client, tokens["admin"]) == 200


def test_one_changes_ones_own_password_with_the_old_one(world):
    client, tokens, _ = world
    mine = bearer(tokens["dispatcher"])
    wrong = client.post("/api/me/password", headers=mine,
                        json={"old_password": "not-my-password", "new_password": "dispatcher-password-2"})
    assert wrong.status_code == 403 and me(client, tokens["dispatcher"]) == 200
    assert client.post("/api/me/password", headers=mine, json={"old_password": "dispatcher-password-1",
                                                               "new_password": "short"}).status_code == 422
    ok = client.post("/api/me/password", headers=mine,
                     json={"old_password": "dispatcher-password-1", "new_password": "dispatcher-password-2"})
    assert ok.status_code == 204 and me(client, tokens["dispatcher"]) == 401
    assert sign_in(client, "dispatcher", "dispatcher-password-2") == 201


def run(url, *args, input=None):
    return CliRunner().invoke(cli, list(args), env={"DATABASE_URL": url}, input=input)


def test_the_cli_resets_deactivates_and_activates(world):
    client, tokens, url = world
    reset = run(url, "users", "reset-password", "leader")
    assert reset.exit_code == 0, reset.output
    password = reset.output.split("new password (shown once): ")[1].strip()
    assert me(client, tokens["leader"]) == 401 and sign_in(client, "leader", password) == 201
    assert run(url, "users", "reset-password", "leader", "--password-stdin", input="from-stdin-pass\n").exit_code == 0
    assert sign_in(client, "leader", "from-stdin-pass") == 201
    assert run(url, "users", "deactivate", "leader").exit_code == 0
    assert sign_in(client, "leader", "from-stdin-pass") == 401
    assert run(url, "users", "activate", "leader").exit_code == 0
    assert sign_in(client, "leader", "from-stdin-pass") == 201
    unknown = run(url, "users", "deactivate", "nobody")
    assert unknown.exit_code == 1 and "no user 'nobody'" in str(unknown.exception)

"""An Idempotency-Key reused with a different body is refused (422 IdempotencyKeyReused); the same body replays."""
from tests.test_report_api import BODY, api, cases  # noqa: F401  (the fixture)


def test_a_key_reused_with_another_body_is_refused_and_files_nothing(api):
    key = api.as_("officer") | {"Idempotency-Key": "reuse-me"}
    first = api.post("/api/reports", json=BODY, headers=key)
    assert first.status_code == 201
    other = api.post("/api/reports", json={**BODY, "description": "另一件事 something else"}, headers=key)
    assert other.status_code == 422, other.text
    assert other.json()["error"] == "IdempotencyKeyReused" and "different" in other.json()["message"]
    assert cases(api.url) == 1
    same = api.post("/api/reports", json={"lat": BODY["lat"], **BODY}, headers=key)  # same fields, another order
    assert same.status_code == 201 and same.json() == first.json() and same.headers["idempotent-replay"] == "true"
    urgent = api.post("/api/reports", json={**BODY, "urgent": True}, headers=key)
    assert urgent.status_code == 422 and cases(api.url) == 1


def test_the_fingerprint_covers_method_path_and_the_canonical_body():
    from web.idempotency import fingerprint
    a = fingerprint("POST", "/api/reports", {"b": 1, "a": [1, 2]})
    assert a == fingerprint("POST", "/api/reports", {"a": [1, 2], "b": 1})
    assert a != fingerprint("POST", "/api/other", {"b": 1, "a": [1, 2]})
    assert a != fingerprint("PUT", "/api/reports", {"b": 1, "a": [1, 2]})
    assert a != fingerprint("POST", "/api/reports", {"b": 2, "a": [1, 2]})

"""Filing from a phone: photos with the report, likely duplicates before sending, one case per idempotency key
however often the phone resends, and "my reports"."""
import io
import threading

import psycopg
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from citygrid.app import build_app
from citygrid.settings import Settings
from dispatch.accounts import revoke
from tests.people import add_cast, bearer

BODY = {"category": "0102", "lon": 113.12, "lat": 23.02, "description": "满溢"}


@pytest.fixture
def api(chancheng_url, tmp_path):
    with psycopg.connect(chancheng_url) as conn:
        tokens = add_cast(conn, ["officer", "officer2", "hws"])
    with TestClient(build_app(Settings(database_url=chancheng_url, media_root=str(tmp_path)))) as client:
        client.as_ = lambda who: bearer(tokens[who])
        client.url = chancheng_url
        yield client


def cases(url):
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM event_case").fetchone()[0]


def photo(api, who="officer"):
    out = io.BytesIO()
    Image.new("RGB", (16, 12), "gray").save(out, "JPEG")
    return api.post("/api/media", content=out.getvalue(), headers=api.as_(who)).json()["id"]


def test_a_report_carries_its_photos(api):
    ids = [photo(api), photo(api)]
    done = api.post("/api/reports", json={**BODY, "attachments": ids}, headers=api.as_("officer")).json()
    case = api.get(f"/api/cases/{done['case_id']}", headers=api.as_("officer")).json()
    assert case["history"][0]["action"] == "report" and case["history"][0]["attachments"] == ids
    again = api.post("/api/reports", json={**BODY, "lon": 113.13, "attachments": ids}, headers=api.as_("officer"))
    assert again.status_code == 422 and "already used" in again.json()["message"]
    theirs = api.post("/api/reports", json={**BODY, "attachments": [photo(api, "hws")]}, headers=api.as_("officer"))
    assert theirs.status_code == 422 and cases(api.url) == 1
    too_many = api.post("/api/reports", json={**BODY, "attachments": list(range(1, 11))}, headers=api.as_("officer"))
    assert too_many.status_code == 422


def test_the_same_idempotency_key_files_one_case(api):
    key = {"Idempotency-Key": "5b1f0c1e-0d4e-4d7a-9a55-3f1a7b2f6c10"}
    first = api.post("/api/reports", json=BODY, headers=api.as_("officer") | key)
    second = api.post("/api/reports", json=BODY, headers=api.as_("officer") | key)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json() and second.headers["idempotent-replay"] == "true"
    assert cases(api.url) == 1
    other_user = api.post("/api/reports", json={**BODY, "lon": 113.1180, "lat": 22.9870},
                          headers=api.as_("officer2") | key)
    assert other_user.json()["case_id"] != first.json()["case_id"]  # keys belong to their user
    bad = api.post("/api/reports", json=BODY, headers=api.as_("officer") | {"Idempotency-Key": "x" * 300})
    assert bad.status_code == 422 and cases(api.url) == 2


def test_a_failed_first_attempt_does_not_block_the_retry(api):
    key = {"Idempotency-Key": "k-1"}
    assert api.post("/api/reports", json={**BODY, "category": "9999"}, headers=api.as_("officer") | key).status_code == 422
    assert api.post("/api/reports", json=BODY, headers=api.as_("officer") | key).status_code == 201


def test_two_resends_at_the_same_moment_file_one_case(api):
    key = {"Idempotency-Key": "race"}
    barrier, answers = threading.Barrier(2), []

    def send():
        barrier.wait()
        answers.append(api.post("/api/reports", json=BODY, headers=api.as_("officer") | key).json()["case_id"])

    threads = [threading.Thread(target=send) for _ in range(2)]
    [t.start() for t in threads]
    [t.join(timeout=30) for t in threads]
    assert len(answers) == 2 and answers[0] == answers[1] and cases(api.url) == 1


def test_nearby_shows_likely_duplicates_before_filing(api):
    first = api.post("/api/reports", json=BODY, headers=api.as_("officer")).json()["case_id"]
    near = api.get("/api/reports/nearby", params={"category": "0102", "lon": 113.12003, "lat": 23.02002},
                   headers=api.as_("officer")).json()
    assert [d["id"] for d in near] == [first] and 0 < near[0]["distance_m"] < 30
    assert api.get("/api/reports/nearby", params={"category": "0201", "lon": 113.12, "lat": 23.02},
                   headers=api.as_("officer")).json() == []
    assert api.get("/api/reports/nearby", params={"category": "0102", "lon": 113.12, "lat": 23.02},
                   headers=api.as_("officer2")).json() == []  # 石湾's officer does not see 祖庙's cases
    assert cases(api.url) == 1


def test_my_reports_follow_the_reporter(api):
    mine = api.post("/api/reports", json={**BODY, "lon": 113.1180, "lat": 22.9870},
                    headers=api.as_("officer")).json()["case_id"]  # outside 祖庙: waits for intake
    listed = api.get("/api/cases", params={"queue": "mine"}, headers=api.as_("officer")).json()
    assert [c["id"] for c in listed] == [mine] and listed[0]["status"] == "reported"
    assert api.get(f"/api/cases/{mine}", headers=api.as_("officer")).status_code == 200
    assert api.get("/api/cases", params={"queue": "mine"}, headers=api.as_("officer2")).json() == []


@pytest.mark.parametrize("body", [{}, {"category": "0102"}, {**BODY, "lon": "east"}])
def test_a_token_that_no_longer_signs_in_is_refused_before_the_body_is_judged(api, body):
    # The intake looks its token up with its work (one round trip), so the schema refuses a bad body first;
    # the refusal must still be about who is asking, and tell a stranger nothing about the body.
    assert api.post("/api/reports", json=body, headers=api.as_("officer")).status_code == 422
    with psycopg.connect(api.url) as conn:
        revoke(conn, token=api.as_("officer")["Authorization"][7:])
    answer = api.post("/api/reports", json=body, headers=api.as_("officer"))
    assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"
    assert "details" not in answer.json()
    assert cases(api.url) == 0


def test_a_subnormal_latitude_is_a_point_like_any_other(api):
    # radians() of 5e-324 underflows in PostgreSQL: the duplicate search must not turn it into "cannot be stored"
    report = api.post("/api/reports", json={**BODY, "lat": 5e-324}, headers=api.as_("officer"))
    assert report.status_code == 422 and "outside" in report.json()["message"]
    nearby = api.get("/api/reports/nearby", params={"category": "0102", "lon": 113.12, "lat": 5e-324},
                     headers=api.as_("officer"))
    assert nearby.status_code == 200 and nearby.json() == []

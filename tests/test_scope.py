"""Scope: nobody reads or touches cases, photos or statistics outside their grids, street or department."""
from datetime import datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from citygrid.app import build_app
from citygrid.settings import Settings
from dispatch.accounts import add_user, issue_token
from tests.people import ZUMIAO, add_cast, bearer


@pytest.fixture
def api(chancheng_url, tmp_path):
    with psycopg.connect(chancheng_url) as conn:
        tokens = add_cast(conn)
        # a district-bureau handler whose account also names a street: the street must not widen what it sees
        add_user(conn, username="szgl_z", roles=["handler"], password="x" * 12, department_code="D-SZGL",
                 street_code=ZUMIAO)
        add_user(conn, username="disp_shiwan", roles=["dispatcher", "intake"], password="x" * 12,
                 street_code="440604010")
        tokens |= {name: issue_token(conn, username=name) for name in ("szgl_z", "disp_shiwan")}
        conn.commit()
    with TestClient(build_app(Settings(database_url=chancheng_url, media_root=str(tmp_path / "m")))) as client:
        client.as_ = lambda who: bearer(tokens[who])
        client.url = chancheng_url
        yield client


def report(api, who="officer", lon=113.12, lat=23.02, text="zumiao secret", category="0102"):
    response = api.post("/api/reports", headers=api.as_(who),
                        json={"category": category, "lon": lon, "lat": lat, "description": text})
    assert response.status_code == 201, response.text
    return response.json()["case_id"]


def rows(url, sql_text):
    with psycopg.connect(url) as conn:
        return conn.execute(sql_text).fetchall()


def test_a_handler_with_a_street_sees_only_its_departments_cases(api):
    case_id = report(api)  # held by S-012-HWS
    assert api.get(f"/api/cases/{case_id}", headers=api.as_("szgl_z")).status_code == 404
    assert api.get("/api/cases", headers=api.as_("szgl_z")).json() == []
    assert api.get("/map", headers=api.as_("szgl_z")).status_code == 200  # the map takes the bearer header too
    view = "/api/map/cases?west=112.9&south=22.9&east=113.3&north=23.2&zoom=12"
    assert api.get(view, headers=api.as_("szgl_z")).json()["features"] == []
    assert [f["properties"]["description"] for f in api.get(view, headers=api.as_("leader")).json()["features"]] \
        == ["zumiao secret"]


def test_a_merge_into_a_case_out_of_scope_is_refused_and_writes_nothing(api):
    zumiao = report(api)
    report(api, who="officer2", lon=113.1180, lat=22.9870, text="shiwan")
    second = report(api, who="officer2", lon=113.1181, lat=22.9871, text="shiwan again")  # a likely duplicate: held
    before = rows(api.url, "SELECT count(*) FROM case_history")
    answer = api.post(f"/api/cases/{second}/actions/merge", json={"into_case_id": zumiao},
                      headers=api.as_("disp_shiwan"))
    assert answer.status_code == 404 and answer.json()["message"] == f"no case {zumiao} to merge into"
    assert rows(api.url, "SELECT count(*) FROM case_history") == before
    assert rows(api.url, "SELECT count(*) FROM report WHERE joined_case_id IS NOT NULL") == [(0,)]


def test_photos_of_other_departments_are_not_found(api):
    import io

    from PIL import Image
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "PNG")
    theirs = api.post("/api/media", content=out.getvalue(), headers=api.as_("cgzd")).json()["id"]
    answer = api.get(f"/api/media/{theirs}", headers=api.as_("hws"))
    assert answer.status_code == 404 and answer.json()["message"] == f"no photo {theirs}"


def test_a_street_leader_sees_only_street_statistics(api):
    report(api)
    period = datetime.now().strftime("%Y-%m")
    for by in ("department", "district"):
        answer = api.get("/api/evaluation", params={"period": period, "by": by}, headers=api.as_("leader_shiwan"))
        assert answer.status_code == 403 and "street 440604010 only" in answer.json()["message"]
    streets = api.get("/api/evaluation", params={"period": period, "by": "street"},
                      headers=api.as_("leader_shiwan")).json()["rows"]
    assert {r["code"] for r in streets} <= {"440604010"}


def officers(api, who):
    period = datetime.now().strftime("%Y-%m")
    return api.get("/api/evaluation", params={"period": period, "by": "officer"}, headers=api.as_(who))


def test_per_officer_statistics_are_for_leaders_a_street_leader_sees_the_officers_of_their_street(api):
    report(api)                                                     # officer: 祖庙
    report(api, who="officer2", lon=113.1180, lat=22.9870)          # officer2: 石湾
    assert {r["code"] for r in officers(api, "leader").json()["rows"]} == {"officer", "officer2"}
    assert {r["code"] for r in officers(api, "leader_shiwan").json()["rows"]} == {"officer2"}
    for who in ("hws_head", "dispatcher", "shift", "admin", "disp_shiwan"):
        answer = officers(api, who)
        assert answer.status_code == 403 and "per grid officer" in answer.json()["message"], who


def test_every_department_head_reads_the_department_ranking(api):
    report(api)
    period = datetime.now().strftime("%Y-%m")
    answer = api.get("/api/evaluation", params={"period": period}, headers=api.as_("hws_head"))
    assert answer.status_code == 200 and "S-012-HWS" in {r["code"] for r in answer.json()["rows"]}


@pytest.mark.parametrize("body, message", [
    ({"note": "x", "new_deadline": "2026-12-01T10:00:00"}, "timezone"),
    ({"note": "x", "new_deadline": "9999-12-31T10:00:00+08:00"}, "within a year"),
])
def test_extension_deadlines_are_checked(api, body, message):
    case_id = report(api)
    api.post(f"/api/cases/{case_id}/actions/accept", headers=api.as_("hws"))
    before = rows(api.url, "SELECT count(*) FROM case_history")
    answer = api.post(f"/api/cases/{case_id}/actions/request_extension", json=body, headers=api.as_("hws"))
    assert answer.status_code == 422 and message in answer.json()["message"].lower()
    assert rows(api.url, "SELECT count(*) FROM case_history") == before


def test_a_far_approved_extension_is_refused(api):
    case_id = report(api)
    api.post(f"/api/cases/{case_id}/actions/accept", headers=api.as_("hws"))
    api.post(f"/api/cases/{case_id}/actions/request_extension", json={"note": "x"}, headers=api.as_("hws"))
    far = (datetime.now().astimezone() + timedelta(days=800)).isoformat()
    answer = api.post(f"/api/cases/{case_id}/actions/approve_extension", json={"new_deadline": far},
                      headers=api.as_("shift"))
    assert answer.status_code == 422 and "within a year" in answer.json()["message"]


def test_rule_priority_out_of_range_is_a_clear_error(api):
    rule = {"name": "x", "category": "0102", "recipient_kind": "department", "department": "D-CGZF",
            "priority": 2 ** 40}
    answer = api.post("/api/admin/rules", json={"name": "x", "rules": [rule]}, headers=api.as_("admin"))
    assert answer.status_code == 422 and "priority" in answer.json()["message"]

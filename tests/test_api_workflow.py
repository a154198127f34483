"""The workflow over HTTP: photos, actions, queues, explanations, and bad input that answers clearly and changes
nothing."""
import io

import psycopg
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from citygrid.app import build_app
from citygrid.settings import Settings
from tests.people import add_cast, bearer


@pytest.fixture
def api(chancheng_url, tmp_path):
    with psycopg.connect(chancheng_url) as conn:
        tokens = add_cast(conn)
    app = build_app(Settings(database_url=chancheng_url, media_root=str(tmp_path / "media")))
    with TestClient(app) as client:
        client.as_ = lambda who: bearer(tokens[who])
        client.url = chancheng_url
        yield client


def snapshot(url):
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT (SELECT count(*) FROM event_case), (SELECT count(*) FROM case_history), "
                            "(SELECT count(*) FROM attachment), (SELECT count(*) FROM report), "
                            "(SELECT count(*) FROM outbox), (SELECT count(*) FROM routing_decision), "
                            "(SELECT string_agg(status || version, ',' ORDER BY id) FROM event_case)").fetchone()


def jpeg_with_gps() -> bytes:
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (23.0, 1.0, 12.0), 3: "E", 4: (113.0, 7.0, 21.0)}
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "red").save(out, "JPEG", exif=exif)
    return out.getvalue()


def file_case(api) -> int:
    response = api.post("/api/reports", headers=api.as_("officer"),
                        json={"category": "0102", "lon": 113.12, "lat": 23.02, "description": "满溢"})
    assert response.status_code == 201, response.text
    return response.json()["case_id"]


def test_the_loop_over_http_with_a_photo(api):
    case_id = file_case(api)
    queue = api.get("/api/cases", params={"queue": "department"}, headers=api.as_("hws")).json()
    assert [c["id"] for c in queue] == [case_id] and queue[0]["light"] == "green"
    assert api.get("/api/cases", params={"queue": "department"}, headers=api.as_("cgzd")).json() == []
    assert api.post(f"/api/cases/{case_id}/actions/accept", json={}, headers=api.as_("hws")).status_code == 200
    upload = api.post("/api/media", content=jpeg_with_gps(), headers=api.as_("hws"))
    assert upload.status_code == 201, upload.text
    photo = upload.json()
    stored = api.get(f"/api/media/{photo['id']}", headers=api.as_("hws"))
    assert stored.headers["content-type"] == "image/jpeg"
    assert not Image.open(io.BytesIO(stored.content)).getexif()  # GPS and all EXIF gone
    done = api.post(f"/api/cases/{case_id}/actions/handle", headers=api.as_("hws"),
                    json={"note": "已清运", "attachments": [photo["id"]]})
    assert done.status_code == 200 and done.json()["to_status"] == "handled"
    assert api.get(f"/api/media/{photo['id']}", headers=api.as_("officer")).status_code == 200
    assert api.post(f"/api/cases/{case_id}/actions/check_ok", json={}, headers=api.as_("officer")).status_code == 200
    closed = api.post(f"/api/cases/{case_id}/actions/close", json={}, headers=api.as_("shift"))
    assert closed.json()["to_status"] == "closed"
    case = api.get(f"/api/cases/{case_id}", headers=api.as_("leader")).json()
    assert [h["action"] for h in case["history"]][-4:] == ["accept", "handle", "check_ok", "close"]
    why = api.get(f"/api/cases/{case_id}/routing", headers=api.as_("leader")).json()
    assert why[0]["department_code"] == "S-012-HWS" and "most specific" in why[0]["explanation"]


def test_a_second_person_closing_the_same_case_gets_a_conflict(api):
    case_id = file_case(api)
    for who, action, body in [("hws", "accept", {}), ("officer", "check_ok", None)]:
        if body is not None:
            api.post(f"/api/cases/{case_id}/actions/{action}", json=body, headers=api.as_(who))
    with psycopg.connect(api.url) as conn:
        conn.execute("UPDATE event_case SET status = 'handled' WHERE id = %s", (case_id,))
        conn.execute("UPDATE event_case SET status = 'checked' WHERE id = %s", (case_id,))
    assert api.post(f"/api/cases/{case_id}/actions/close", json={}, headers=api.as_("shift")).status_code == 200
    before = snapshot(api.url)
    again = api.post(f"/api/cases/{case_id}/actions/close", json={}, headers=api.as_("shift"))
    assert again.status_code == 409
    assert again.json()["message"].startswith(f"cannot 结案 close case {case_id}: it is closed (last step: close by shift")
    assert snapshot(api.url) == before


BAD = [
    ("post", "/api/reports", {"category": "9999", "lon": 113.12, "lat": 23.02}, "officer", 422, "unknown category"),
    ("post", "/api/reports", {"category": "0102", "lon": 116.4, "lat": 39.9}, "officer", 422, "禅城区"),
    ("post", "/api/reports", {"category": "0102", "lon": 113.12, "lat": 23.02}, "hws", 403, "may not file reports"),
    ("post", "/api/cases/{id}/actions/fly", {}, "hws", 422, "action"),
    ("post", "/api/cases/{id}/actions/accept", {"colour": "red"}, "hws", 422, "colour"),
    ("post", "/api/cases/{id}/actions/return", {}, "hws", 422, "needs a reason"),
    ("post", "/api/cases/{id}/actions/accept", {}, "officer", 403, "needs the role"),
    ("post", "/api/cases/{id}/actions/close", {}, "shift", 409, "close needs it to be checked"),
    ("post", "/api/cases/{id}/actions/accept", {}, "cgzd", 404, "no case"),
    ("get", "/api/cases?status=flying", None, "leader", 422, "status: Input should be 'reported'"),
]


@pytest.mark.parametrize("method, path, body, who, status, message", BAD)
def test_bad_input_answers_clearly_and_changes_nothing(api, method, path, body, who, status, message):
    case_id = file_case(api)
    before = snapshot(api.url)
    response = api.request(method, path.format(id=case_id), json=body, headers=api.as_(who))
    assert response.status_code == status, response.text
    if message:
        assert message in response.json()["message"]
    assert snapshot(api.url) == before


@pytest.mark.parametrize("data, message", [
    (b"%PDF-1.4 not a photo", "not an image"),
    (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x00\x00\x00\x00\x00,\x00\x00\x00\x00"
     b"\x01\x00\x01\x00\x00\x02\x02D\x01\x00;", "GIF"),
    (b"", "empty"),
])
def test_a_photo_that_is_not_a_photo_is_refused(api, data, message):
    before = snapshot(api.url)
    response = api.post("/api/media", content=data, headers=api.as_("hws"))
    assert response.status_code == 422 and message in response.json()["message"]
    assert snapshot(api.url) == before


def test_handle_needs_a_photo_and_the_photo_must_be_yours(api):
    case_id = file_case(api)
    api.post(f"/api/cases/{case_id}/actions/accept", json={}, headers=api.as_("hws"))
    no_photo = api.post(f"/api/cases/{case_id}/actions/handle", json={"note": "done"}, headers=api.as_("hws"))
    assert no_photo.status_code == 422 and "needs at least one photo" in no_photo.json()["message"]
    theirs = api.post("/api/media", content=jpeg_with_gps(), headers=api.as_("cgzd")).json()["id"]
    stolen = api.post(f"/api/cases/{case_id}/actions/handle", json={"note": "done", "attachments": [theirs]},
                      headers=api.as_("hws"))
    assert stolen.status_code == 422 and "not yours" in stolen.json()["message"]
    assert api.get(f"/api/media/{theirs}", headers=api.as_("hws")).status_code == 404


def test_inbox_tells_the_department(api):
    case_id = file_case(api)
    from dispatch.casework.outbox import deliver
    with psycopg.connect(api.url) as conn:
        deliver(conn)
    messages = api.get("/api/inbox", headers=api.as_("hws")).json()
    assert any(m["case_id"] == case_id for m in messages)
    assert api.post(f"/api/inbox/{messages[0]['id']}/read", headers=api.as_("hws")).status_code == 204
    assert api.get("/api/inbox", params={"unread": True}, headers=api.as_("hws")).json() == []
    assert api.post(f"/api/inbox/{messages[0]['id']}/read", headers=api.as_("cgzd")).status_code == 404


def test_admin_enters_a_calendar_year_and_others_may_not(api):
    body = {"year": 2027, "days": [{"date": "2027-01-01", "kind": "holiday", "name": "元旦"},
                                   {"date": "2027-02-20", "kind": "workday", "name": "春节调休"}]}
    assert api.put("/api/admin/calendar/2027", json=body, headers=api.as_("leader")).status_code == 403
    bad = {**body, "days": [{"date": "2027-01-05", "kind": "workday"}]}
    refused = api.put("/api/admin/calendar/2027", json=bad, headers=api.as_("admin"))
    assert refused.status_code == 422 and "already a weekday" in refused.json()["message"]
    before = api.get("/api/admin/calendar", headers=api.as_("admin")).json()
    assert before["known_until"] == "2026-12-31"
    done = api.put("/api/admin/calendar/2027", json=body, headers=api.as_("admin"))
    assert done.status_code == 200 and done.json()["days"] == 2
    assert api.get("/api/admin/calendar", headers=api.as_("admin")).json()["known_until"] == "2027-12-31"


def test_reference_data_is_readable(api):
    departments = api.get("/api/departments", headers=api.as_("leader")).json()
    assert {"D-CGZF", "S-012-HWS"} <= {d["code"] for d in departments}
    assert len(api.get("/api/rules", headers=api.as_("leader")).json()) >= 20
    assert api.get("/api/rules/history", headers=api.as_("leader")).json()[0]["is_active"]


def test_admin_replaces_the_rules_after_a_what_if(api):
    case_id = file_case(api)
    proposed = [{"name": "litter to the bureau", "category": "0102", "recipient_kind": "department",
                 "department": "D-CGZF"}]
    window = {"since": "2026-01-01T00:00:00+08:00", "until": "2100-01-01T00:00:00+08:00"}
    assert api.post("/api/admin/rules/check", json={"rules": proposed, **window},
                    headers=api.as_("dispatcher")).status_code == 403
    what_if = api.post("/api/admin/rules/check", json={"rules": proposed, **window}, headers=api.as_("admin")).json()
    assert what_if["moves"] == [{"from": "S-012-HWS", "to": "D-CGZF", "cases": 1}]
    bad = api.post("/api/admin/rules", json={"name": "x", "rules": [{**proposed[0], "department": "NOPE"}]},
                   headers=api.as_("admin"))
    assert bad.status_code == 422 and "unknown department 'NOPE'" in bad.json()["message"]
    assert len(api.get("/api/rules/history", headers=api.as_("admin")).json()) == 1
    done = api.post("/api/admin/rules", json={"name": "v2", "rules": proposed}, headers=api.as_("admin"))
    assert done.status_code == 201 and done.json()["active"]
    second = api.post("/api/reports", headers=api.as_("officer"),
                      json={"category": "0102", "lon": 113.125, "lat": 23.025}).json()
    assert second["department_code"] == "D-CGZF" and case_id != second["case_id"]


def test_statistics_for_leaders_not_officers(api):
    file_case(api)
    from datetime import datetime
    from zoneinfo import ZoneInfo
    period = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    assert api.get("/api/evaluation", params={"period": period}, headers=api.as_("officer")).status_code == 403
    body = api.get("/api/evaluation", params={"period": period, "by": "street"}, headers=api.as_("leader")).json()
    zumiao = next(r for r in body["rows"] if r["code"] == "440604012")
    assert zumiao["current"]["reported"] == 1 and body["previous_period"]
    scoped = api.get("/api/evaluation", params={"period": period, "by": "street"},
                     headers=api.as_("leader_shiwan")).json()
    assert all(r["code"].startswith("440604010") for r in scoped["rows"])
    bad = api.get("/api/evaluation", params={"period": "2026-13"}, headers=api.as_("leader"))
    assert bad.status_code == 422 and "cannot read the period '2026-13'" in bad.json()["message"]
    unreal = api.get("/api/evaluation", params={"period": "2026-02-30"}, headers=api.as_("leader"))
    assert unreal.status_code == 422 and "not a real day" in unreal.json()["message"]


def test_an_oversized_upload_is_refused_without_storing(chancheng_url, tmp_path):
    with psycopg.connect(chancheng_url) as conn:
        tokens = add_cast(conn, ["hws"])
    app = build_app(Settings(database_url=chancheng_url, media_root=str(tmp_path / "m"), max_photo_bytes=1000))
    with TestClient(app) as client:
        response = client.post("/api/media", content=jpeg_with_gps() + b"\0" * 2000, headers=bearer(tokens["hws"]))
    assert response.status_code == 422 and "larger than the limit" in response.json()["message"]
    assert not (tmp_path / "m").exists() or not any((tmp_path / "m").rglob("*.jpg"))


def test_an_action_needs_no_body_and_a_form_upload_is_explained(api):
    case_id = file_case(api)
    assert api.post(f"/api/cases/{case_id}/actions/accept", headers=api.as_("hws")).status_code == 200
    form = api.post("/api/media", files={"file": ("p.jpg", jpeg_with_gps(), "image/jpeg")}, headers=api.as_("hws"))
    assert form.status_code == 422 and "--data-binary" in form.json()["message"]

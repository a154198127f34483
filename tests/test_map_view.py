"""/api/map/cases: the cases in a map view, as points up to the limit and as counted cells beyond it."""
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from fastapi.testclient import TestClient

from citygrid.app import build_app
from citygrid.settings import Settings
from dispatch.intake.service import submit_report
from dispatch.models import Policy
from dispatch.reporting.mapview import cell_size
from tests.casecopies import add_copies
from tests.people import SHIWAN, ZUMIAO, actor, add_cast, bearer

DISTRICT = "west=112.9&south=22.9&east=113.3&north=23.2"


@pytest.fixture
def world(chancheng_url, tmp_path):
    """Three cases in 祖庙 (two litter, one ads), one in 石湾; 200 copies of the first scattered around it."""
    with psycopg.connect(chancheng_url) as conn:
        tokens = add_cast(conn)
        for category, lon, lat, text in (("0102", 113.12, 23.02, "litter"), ("0201", 113.1187, 23.0300, "ads"),
                                         ("0102", 113.121, 23.021, "litter 2"), ("0102", 113.1180, 22.9870, "石湾")):
            submit_report(conn, actor=actor("officer"), policy=Policy(), category_code=category, lon=lon, lat=lat,
                          description=text)
        conn.commit()
    yield chancheng_url, tokens


def client_for(url, tmp_path, limit):
    return TestClient(build_app(Settings(database_url=url, media_root=str(tmp_path / "m"), map_case_limit=limit)))


def get(client, tokens, who, query):
    response = client.get(f"/api/map/cases?{query}", headers=bearer(tokens[who]))
    assert response.status_code == 200, response.text
    return response.json()


def test_points_up_to_the_limit_then_cells_that_count_every_case(world, tmp_path):
    url, tokens = world
    with client_for(url, tmp_path, 100) as client:
        small = get(client, tokens, "leader", f"{DISTRICT}&zoom=12")
        assert small["mode"] == "points" and small["total"] == 4 and not small["truncated"]
        add_copies(url, 200)
        big = get(client, tokens, "leader", f"{DISTRICT}&zoom=12")
        assert big["mode"] == "cells" and big["total"] == 204
        assert sum(c["count"] for c in big["cells"]) == 204 and "features" not in big
        assert sum(c["open"] for c in big["cells"]) == 204 and sum(c["overdue"] for c in big["cells"]) == 0
        size = cell_size(12)
        for cell in big["cells"]:  # each cell's cases lie in one square of the zoom's cell size (or a part of it)
            assert cell["west"] <= cell["lon"] <= cell["east"] and cell["south"] <= cell["lat"] <= cell["north"]
            assert cell["east"] - cell["west"] <= size + 2e-6 and cell["north"] - cell["south"] <= size + 2e-6  # 6 decimals
        finer = get(client, tokens, "leader", f"{DISTRICT}&zoom=15")
        assert finer["mode"] == "cells" and len(finer["cells"]) > len(big["cells"])
        # a box around one corner of the lattice holds fewer than the limit: points again
        corner = get(client, tokens, "leader", "west=113.0995&south=23.0095&east=113.1045&north=23.0145&zoom=17")
        assert corner["mode"] == "points" and 0 < corner["total"] <= 100
        assert {f["properties"]["description"] for f in corner["features"]} <= {f"copy {n}" for n in range(201)}
        # the deepest zoom gives points even beyond the limit: the newest ones, flagged as cut
        deepest = get(client, tokens, "leader", f"{DISTRICT}&zoom=19")
        assert deepest["mode"] == "points" and deepest["total"] == 100 and deepest["truncated"]


def test_the_view_keeps_to_the_readers_scope(world, tmp_path):
    url, tokens = world
    add_copies(url, 200)
    with client_for(url, tmp_path, 100) as client:
        assert get(client, tokens, "leader", f"{DISTRICT}&zoom=12")["total"] == 204
        shiwan = get(client, tokens, "leader_shiwan", f"{DISTRICT}&zoom=12")
        assert shiwan["mode"] == "points" and [f["properties"]["street"] for f in shiwan["features"]] == [SHIWAN]
        # 祖庙's 环卫所 holds the two litter cases that were dispatched; the copies wait for intake
        held = get(client, tokens, "hws", f"{DISTRICT}&zoom=12")
        assert sorted(f["properties"]["description"] for f in held["features"]) == ["litter", "litter 2"]
        assert [f["properties"]["description"] for f in get(client, tokens, "cgzd", f"{DISTRICT}&zoom=12")
                ["features"]] == ["ads"]  # 祖庙's 城管中队 holds the ads case only
        assert get(client, tokens, "szgl", f"{DISTRICT}&zoom=12")["total"] == 0
        # an officer of 石湾 sees 石湾, plus what they reported themselves elsewhere (all of it, here)
        assert get(client, tokens, "officer2", f"{DISTRICT}&zoom=12")["total"] == 1
        assert get(client, tokens, "officer", f"{DISTRICT}&zoom=12")["total"] == 204


def test_filters_are_applied_by_the_server(world, tmp_path):
    url, tokens = world
    with psycopg.connect(url) as conn:  # one case is overdue, one was reported 10 days ago, one is closed
        ids = [r[0] for r in conn.execute("SELECT id FROM event_case ORDER BY id").fetchall()]
        conn.execute("UPDATE event_case SET deadline = now() - interval '1 hour', yellow_at = now() - "
                     "interval '2 hours' WHERE id = %s", (ids[0],))
        ten_days = datetime.now(ZoneInfo("Asia/Shanghai")) - timedelta(days=10)
        conn.execute("UPDATE event_case SET created_at = %s WHERE id = %s", (ten_days, ids[2]))
        conn.execute("ALTER TABLE event_case DISABLE TRIGGER event_case_workflow")
        conn.execute("UPDATE event_case SET status = 'closed', closed_at = now() WHERE id = %s", (ids[1],))
        conn.execute("ALTER TABLE event_case ENABLE TRIGGER event_case_workflow")
    with client_for(url, tmp_path, 100) as client:
        def ids_for(query):
            return sorted(f["properties"]["id"] for f in get(client, tokens, "leader",
                                                             f"{DISTRICT}&zoom=12&{query}")["features"])
        assert ids_for("major=01") == [ids[0], ids[2], ids[3]]
        assert ids_for("major=01&street=" + ZUMIAO) == [ids[0], ids[2]]
        assert ids_for("department=S-012-HWS") == [ids[0], ids[2]]
        assert ids_for("status=overdue") == [ids[0]]
        assert ids_for("status=finished") == [ids[1]]
        assert ids_for("status=open") == [ids[0], ids[2], ids[3]]
        assert ids_for("period=0") == [ids[0], ids[1], ids[3]]
        assert ids_for("period=10") == ids
        light = {f["properties"]["id"]: f["properties"]["light"]
                 for f in get(client, tokens, "leader", f"{DISTRICT}&zoom=12")["features"]}
        assert light[ids[0]] == "red" and light[ids[2]] == "green"


def test_a_crowded_views_case_list_holds_the_held_cases_by_deadline(world, tmp_path):
    url, tokens = world
    add_copies(url, 200)  # reported: no department holds them, so the list leaves them out (as the 石湾 case)
    with psycopg.connect(url) as conn:  # deadlines: the third case first (overdue), then the first, the second
        ids = [r[0] for r in conn.execute("SELECT id FROM event_case ORDER BY id LIMIT 4").fetchall()]
        for case_id, hours in zip((ids[2], ids[0], ids[1]), (-1, 24, 48)):
            conn.execute("UPDATE event_case SET deadline = now() + %s * interval '1 hour', yellow_at = now() + "
                         "(%s - 2) * interval '1 hour' WHERE id = %s", (hours, hours, case_id))
    with client_for(url, tmp_path, 100) as client:
        def listed(who, query=""):
            response = client.get(f"/api/map/urgent?{DISTRICT}{query}", headers=bearer(tokens[who]))
            assert response.status_code == 200, response.text
            return [f["properties"]["id"] for f in response.json()["features"]]

        assert listed("leader") == [ids[2], ids[0], ids[1]]
        assert listed("leader", "&order=latest") == [ids[1], ids[0], ids[2]]
        assert listed("leader", "&limit=2") == [ids[2], ids[0]]
        assert listed("leader", "&department=S-012-HWS") == [ids[2], ids[0]]
        assert listed("leader", "&major=02") == [ids[1]]
        assert listed("hws") == [ids[2], ids[0]]  # the reader's scope
        assert listed("cgzd") == [ids[1]] and listed("leader_shiwan") == []
        inside = client.get("/api/map/urgent?west=113.115&south=23.015&east=113.1205&north=23.025",
                            headers=bearer(tokens["leader"])).json()["features"]
        assert [f["properties"]["id"] for f in inside] == [ids[0]]  # only the first case lies in this box
        first = inside[0]["properties"]
        assert first["light"] == "green" and first["department_name"] not in ("", first["department"])
        assert listed("leader", "&status=overdue") == [ids[2]]
        refused = client.get(f"/api/map/urgent?{DISTRICT}&order=random", headers=bearer(tokens["leader"]))
        assert refused.status_code == 422 and "order" in refused.text


@pytest.mark.parametrize("query, says", [
    ("west=113.3&south=22.9&east=112.9&north=23.2&zoom=12", "not a box"),
    ("west=112.9&south=22.9&east=113.3&north=93&zoom=12", "north: Input should be less than or equal to 90"),
    (f"{DISTRICT}&zoom=30", "zoom: Input should be less than or equal to 22"),
    (f"{DISTRICT}&zoom=12&status=lost", "status: Input should be '', 'open', 'overdue' or 'finished'"),
    (f"{DISTRICT}&zoom=12&major=abc", "major: String should match pattern"),
    (f"{DISTRICT}&zoom=12&period=-1", "period: Input should be greater than or equal to 0"),
    (f"{DISTRICT}", "zoom"),
])
def test_a_bad_view_gets_a_clear_error(world, tmp_path, query, says):
    url, tokens = world
    with client_for(url, tmp_path, 100) as client:
        response = client.get(f"/api/map/cases?{query}", headers=bearer(tokens["leader"]))
    assert response.status_code == 422 and says in response.text, response.text


def test_grid_load_counts_open_and_overdue_cases_per_grid_in_scope(world, tmp_path):
    url, tokens = world
    with psycopg.connect(url) as conn:
        first, grid = conn.execute("SELECT id, grid_code FROM event_case ORDER BY id LIMIT 1").fetchone()
        conn.execute("UPDATE event_case SET deadline = now() - interval '1 hour', yellow_at = now() - "
                     "interval '2 hours' WHERE id = %s", (first,))
        expected = {g: [n, o] for g, n, o in conn.execute(
            "SELECT grid_code, count(*), count(*) FILTER (WHERE id = %s) FROM event_case GROUP BY 1",
            (first,)).fetchall()}
    with client_for(url, tmp_path, 100) as client:
        assert client.get("/api/map/grid-load", headers=bearer(tokens["leader"])).json() == expected
        assert expected[grid][1] == 1
        shiwan = client.get("/api/map/grid-load", headers=bearer(tokens["leader_shiwan"])).json()
        assert sum(v[0] for v in shiwan.values()) == 1

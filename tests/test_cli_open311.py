"""The operator's Open311 commands: client keys and service attributes."""
import psycopg
from fastapi.testclient import TestClient

from citygrid.app import build_app
from citygrid.settings import Settings
from tests.test_cli_dispatch import run


def test_apikeys_add_list_revoke(chancheng_url, tmp_path):
    done = run(chancheng_url, "apikeys", "add", "hotline-12345", "--trust", "trusted", "--source", "12345",
               "--rate", "30")
    assert done.exit_code == 0, done.output
    key = done.output.split("api_key (shown once): ")[1].strip()
    with psycopg.connect(chancheng_url) as conn:
        stored = conn.execute("SELECT key_hash, trust, source, rate_per_minute FROM api_client").fetchone()
    assert key not in stored[0] and stored[1:] == ("trusted", "12345", 30)
    listed = run(chancheng_url, "apikeys", "list").output
    assert "hotline-12345" in listed and "active" in listed and "1 client(s)" in listed
    again = run(chancheng_url, "apikeys", "add", "hotline-12345")
    assert again.exit_code != 0 and "exists already" in str(again.exception)
    assert "trust must be" in str(run(chancheng_url, "apikeys", "add", "x1", "--trust", "vip").exception)
    settings = Settings(database_url=chancheng_url, media_root=str(tmp_path))
    form = {"service_code": "0102", "lat": "23.02", "long": "113.12", "api_key": key}
    with TestClient(build_app(settings)) as client:
        assert client.post("/open311/v2/requests.json", data=form).status_code == 200
        assert run(chancheng_url, "apikeys", "revoke", "hotline-12345").exit_code == 0
        assert client.post("/open311/v2/requests.json", data=form).status_code == 403
    assert "revoked" in run(chancheng_url, "apikeys", "list").output


def test_attributes_round_trip_and_a_bad_file_changes_nothing(chancheng_url, tmp_path):
    out = tmp_path / "a.yaml"
    assert run(chancheng_url, "open311", "attributes-export", out).exit_code == 0
    done = run(chancheng_url, "open311", "attributes-import", out)
    assert done.exit_code == 0 and "loaded 6 service attribute(s)" in done.output, done.output
    bad = tmp_path / "bad.csv"
    bad.write_text("category,code,datatype,description,values\n"
                   "0409,crowd,string,人数,\n"          # not a public category
                   "0102,crs,string,坐标,\n"            # reserved
                   "0102,kind,singlevaluelist,种类,\n"  # a list without values
                   "0102,size,number,大小,a=b\n", encoding="utf-8")
    failed = run(chancheng_url, "open311", "attributes-import", bad)
    message = str(failed.exception)
    assert failed.exit_code != 0 and "4 problem(s)" in message
    assert "line 2" in message and "line 3" in message and "line 4" in message and "line 5" in message
    with psycopg.connect(chancheng_url) as conn:
        assert conn.execute("SELECT count(*) FROM service_attribute").fetchone()[0] == 6

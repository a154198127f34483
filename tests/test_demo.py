"""`citygrid demo` on an empty database: upgrades, loads Chancheng, serves the map."""
import os
import signal
import subprocess
import sys
import time

import httpx
import psycopg

from tests.conftest import url_for
from tests.test_map_browser import free_port


def test_demo_loads_chancheng_and_serves_the_map(databases):
    url = url_for(databases.create())
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "CITYGRID_ENV": "development"}
    proc = subprocess.Popen([sys.executable, "-m", "citygrid", "demo", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        for line in proc.stdout:  # everything the demo prints before it serves
            lines.append(line)
            if "is serving the map" in line:
                break
        passwords = dict(ln.split() for ln in lines if ln.startswith("  ") and len(ln.split()) == 2)
        assert "leader" in passwords, "".join(lines)
        deadline, token = time.time() + 60, None
        while time.time() < deadline and token is None:
            try:
                token = httpx.post(f"http://127.0.0.1:{port}/api/tokens", timeout=5, json={
                    "username": "leader", "password": passwords["leader"]}).json()["token"]
            except httpx.TransportError:
                time.sleep(0.5)
        page = httpx.get(f"http://127.0.0.1:{port}/map", cookies={"citygrid_token": token}, timeout=30)
        assert page.status_code == 200 and "禅城区" in page.text
        with psycopg.connect(url) as conn:
            statuses = dict(conn.execute("SELECT status, count(*) FROM event_case GROUP BY 1").fetchall())
            assert sum(statuses.values()) == 6 and statuses.get("dispatched", 0) >= 4, statuses
            assert conn.execute("SELECT count(*) FROM grid_release WHERE is_active").fetchone()[0] == 1
            for _ in range(40):  # the demo's own worker delivers the dispatch notices to the handler's inbox
                if conn.execute("SELECT count(*) FROM inbox_message").fetchone()[0]:
                    break
                time.sleep(0.25)
            else:
                raise AssertionError("the demo's worker delivered nothing")
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    assert f"http://localhost:{port}/map" in "".join(lines)


def test_demo_refuses_a_public_address():
    env = {**os.environ, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    done = subprocess.run([sys.executable, "-m", "citygrid", "demo", "--host", "0.0.0.0"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().startswith("citygrid: error: development mode serves only on localhost")


def test_demo_refuses_production():
    env = {**os.environ, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none", "CITYGRID_ENV": "production"}
    done = subprocess.run([sys.executable, "-m", "citygrid", "demo"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1 and "runs only in development mode" in done.stderr

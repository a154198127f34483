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
    try:
        deadline, status = time.time() + 120, None
        while time.time() < deadline and proc.poll() is None:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/map", timeout=5).status_code
                break
            except httpx.TransportError:
                time.sleep(0.5)
        assert status == 200, proc.stdout.read() if proc.poll() is not None else "no answer"
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT count(*) FROM event_case").fetchone()[0] >= 5
            assert conn.execute("SELECT count(*) FROM grid_release WHERE is_active").fetchone()[0] == 1
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    assert f"http://localhost:{port}/map" in out


def test_demo_refuses_a_public_address():
    env = {**os.environ, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    done = subprocess.run([sys.executable, "-m", "citygrid", "demo", "--host", "0.0.0.0"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().startswith("citygrid: error: development mode serves only on localhost")

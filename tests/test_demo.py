"""`citygrid demo` on an empty database: upgrades, loads Chancheng, serves the map."""
import os
import signal
import ssl
import subprocess
import sys
import time

import httpx
import psycopg
import pytest

from tests.conftest import url_for
from tests.browser import free_port


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


def test_serve_over_https_with_a_certificate(chancheng_url, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    port = free_port()
    env = {**os.environ, "DATABASE_URL": chancheng_url, "CITYGRID_SSL_CERTFILE": str(cert),
           "CITYGRID_SSL_KEYFILE": str(key)}
    proc = subprocess.Popen([sys.executable, "-m", "citygrid", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        status = None
        for _ in range(80):
            try:
                status = httpx.get(f"https://127.0.0.1:{port}/api/health", timeout=5,
                                   verify=ssl.create_default_context(cafile=str(cert))).status_code
                break
            except httpx.TransportError:
                time.sleep(0.25)
        assert status == 200
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5).raise_for_status()
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    assert f"https://localhost:{port}/map" in out


def test_half_a_tls_setting_is_refused(tmp_path):
    env = {**os.environ, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
           "CITYGRID_SSL_CERTFILE": str(tmp_path / "cert.pem")}
    done = subprocess.run([sys.executable, "-m", "citygrid", "serve"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1 and "needs both CITYGRID_SSL_CERTFILE and CITYGRID_SSL_KEYFILE" in done.stderr

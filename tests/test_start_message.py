"""`citygrid serve` says where each role starts (the pages `/` sends them to) and where the API docs are; every
address it prints answers."""
import os
import queue
import signal
import subprocess
import sys
import threading
import time

import httpx

from dispatch.actor import Actor
from tests.browser import free_port
from web.pages.common import home_of

ROLES = ["grid_officer", "intake", "dispatcher", "handler", "dept_head", "shift_leader", "leader", "admin"]


def served_lines(url: str, port: int) -> tuple[list[str], dict[str, int]]:
    """What `citygrid serve` prints up to its last start line (the API docs), and the status of each address
    printed (not followed), then stop it."""
    env = {**os.environ, "DATABASE_URL": url}
    proc = subprocess.Popen([sys.executable, "-m", "citygrid", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [out.put(line.rstrip("\n")) for line in proc.stdout], daemon=True).start()
    lines = []
    try:
        while not lines or "/openapi.json" not in lines[-1]:  # what it prints within a minute
            try:
                lines.append(out.get(timeout=60))
            except queue.Empty:
                break
        for _ in range(120):  # until it answers, then every address printed is asked
            try:
                httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.25)
        return lines, {line.split()[1]: httpx.get(line.split()[1].replace("localhost", "127.0.0.1"), timeout=30)
                       .status_code for line in lines if line.lstrip().startswith("→")}
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)


def test_the_start_message_lists_each_roles_first_page(chancheng_url):
    port = free_port()
    lines, answers = served_lines(chancheng_url, port)
    site = f"http://localhost:{port}"
    listed = {line.split()[1]: line.split(maxsplit=2)[2] for line in lines if line.lstrip().startswith("→")}
    for role in ROLES:  # each role's page, as `/` sends someone with only that role
        home = f"{site}{home_of(Actor(username='x', roles=frozenset({role})))}"
        assert role in listed.get(home, "").replace(",", " ").split(), (role, home, lines)
    assert f"{site}/docs" in listed and "API" in listed[f"{site}/docs"]
    assert "指挥大屏" in listed[f"{site}/screen"]
    assert len(listed) == 6, lines  # /m, /queue, /desk, /map, /screen, /docs: each once
    # every page answers: the role pages send a stranger to sign in first, the docs are open
    assert answers == {**{page: 303 for page in listed if not page.endswith("/docs")}, f"{site}/docs": 200}, answers

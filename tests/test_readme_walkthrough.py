"""The README's curl walk-through, taken from the README as written and run with bash against the app served on a
demo database (the demo's accounts and sample cases): every step succeeds and the case ends closed, with the
shipped photo on its report-back."""
import re
import subprocess
from pathlib import Path

import psycopg

from citygrid.demo import prepare
from citygrid.policy import policy
from citygrid.settings import Settings
from tests.browser import running_app

ROOT = Path(__file__).resolve().parent.parent
MARK = "One case around the loop with the demo accounts"


def walkthrough() -> str:
    """The first ```sh block after the walk-through's sentence in README.md."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert MARK in text
    return re.search(r"```sh\n(.*?)```", text[text.index(MARK):], re.DOTALL).group(1)


def test_the_readme_walkthrough_runs_as_written(chancheng_url, tmp_path):
    settings = Settings(database_url=chancheng_url, media_root=str(tmp_path))
    with psycopg.connect(chancheng_url) as conn:
        passwords = prepare(conn, widths=settings.code_widths, policy=policy(settings))["passwords"]
        conn.commit()
        before = conn.execute("SELECT coalesce(max(id), 0) FROM event_case").fetchone()[0]
    script = walkthrough()
    assert "PASSWORD" in script and "http://localhost:8000" in script
    with running_app(settings) as base:
        # only what a reader fills in: the passwords the demo printed, and the address (a free port here)
        filled = re.sub(r"token (\S+) PASSWORD", lambda m: f"token {m.group(1)} {passwords[m.group(1)]}", script)
        filled = filled.replace("http://localhost:8000", base)
        done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", filled], cwd=ROOT, capture_output=True,
                              text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    case_id = int(re.search(r"^case (\d+)$", done.stdout, re.MULTILINE).group(1))
    assert case_id > before  # a new case, whatever number the demo's own cases left
    with psycopg.connect(chancheng_url) as conn:
        status, department = conn.execute("SELECT status, department_code FROM event_case WHERE id = %s",
                                          (case_id,)).fetchone()
        photos = conn.execute("SELECT count(*) FROM attachment WHERE case_id = %s AND uploaded_by = %s",
                              (case_id, "handler-zumiao-hws")).fetchone()[0]
    assert (status, department) == ("closed", "S-012-HWS")
    assert photos == 1
    assert '"department_code":"S-012-HWS"' in done.stdout.replace(" ", "")  # the routing step's answer

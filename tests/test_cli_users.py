"""`citygrid users add` / `users import` with bad user names: a clear error, exit 1, never a traceback or a hash."""
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[1]
BAD_NAMES = ["", "a", "x" * 65, "with space", "名字", "semi;colon", "new\nline", "tab\tname"]


def citygrid(url, *args, input=""):
    """The real command line (python -m citygrid), as an operator runs it."""
    return subprocess.run([sys.executable, "-m", "citygrid", *map(str, args)], input=input, capture_output=True,
                          text=True, cwd=ROOT, env={**os.environ, "DATABASE_URL": url}, timeout=60)


def users(url) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM app_user").fetchone()[0]


@pytest.mark.parametrize("name", BAD_NAMES, ids=repr)
def test_add_user_names_the_rule(conn, name):
    from dispatch.accounts import InvalidInput, add_user
    with pytest.raises(InvalidInput, match="user name .* A-Z a-z 0-9"):
        add_user(conn, username=name, roles=["leader"], password="a-long-password")


@pytest.mark.parametrize("name", ["", "with space", "名字"], ids=repr)
def test_users_add_refuses_a_bad_name_clearly(chancheng_url, name):
    done = citygrid(chancheng_url, "users", "add", name, "--role", "leader", "--password-stdin",
                    input="a-long-password\n")
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "Traceback" not in out and "argon2" not in out.lower()
    assert "user name" in out and "A-Z a-z 0-9" in out
    assert users(chancheng_url) == 0


def test_users_import_reports_and_skips_each_bad_name(chancheng_url, tmp_path):
    table = tmp_path / "users.csv"
    rows = ["username,roles,password", "good_one,leader,a-long-password"]
    rows += [f'"{n}",leader,a-long-password' for n in ("a", "x" * 65, "with space", "名字", "nul\x00name")]
    rows += ["good.two,leader,a-long-password"]
    table.write_text("\n".join(rows) + "\n", encoding="utf-8")
    done = citygrid(chancheng_url, "users", "import", table)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "Traceback" not in out and "argon2" not in out.lower()
    assert "created 2 account(s), skipped 5" in out
    assert out.count("skipped line") == 5 and "user name" in out
    assert users(chancheng_url) == 2

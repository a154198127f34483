"""The operator's commands: users, departments, rules, calendar, categories, worker."""
import subprocess
import sys
from pathlib import Path

import psycopg
from typer.testing import CliRunner

from citygrid.cli import app

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "data" / "calendar_2027_invented.csv"


def run(url, *args, input=None):
    result = CliRunner().invoke(app, list(map(str, args)), env={"DATABASE_URL": url}, input=input)
    return result


def test_users_add_with_a_token(chancheng_url):
    done = run(chancheng_url, "users", "add", "wang", "--role", "handler", "--department", "S-012-HWS",
               "--password-stdin", "--token", input="a-long-password\n")
    assert done.exit_code == 0, done.output
    token = done.output.split("token (shown once): ")[1].strip()
    with psycopg.connect(chancheng_url) as conn:
        roles, hashed = conn.execute("SELECT roles, password_hash FROM app_user WHERE username = 'wang'").fetchone()
        assert roles == ["handler"] and hashed.startswith("$argon2") and token not in hashed
    again = run(chancheng_url, "users", "add", "wang", "--role", "leader", "--password-stdin", input="x" * 12)
    assert again.exit_code != 0 and "already exists" in str(again.exception)
    bad = run(chancheng_url, "users", "add", "li", "--role", "boss", "--password-stdin", input="x" * 12)
    assert "unknown role(s) boss" in str(bad.exception)
    nowhere = run(chancheng_url, "users", "add", "li", "--role", "grid_officer", "--grid", "44060401299999",
                  "--password-stdin", input="x" * 12)
    assert "unknown grid code(s) 44060401299999" in str(nowhere.exception)


def test_reference_tables_round_trip(chancheng_url, tmp_path):
    for kind, name in (("departments", "d.yaml"), ("categories", "c.csv"), ("rules", "r.csv")):
        out = tmp_path / name
        assert run(chancheng_url, kind, "export", out).exit_code == 0
        done = run(chancheng_url, kind, "import", out)
        assert done.exit_code == 0, (kind, done.output, done.exception)
    history = run(chancheng_url, "rules", "history")
    lines = history.output.splitlines()
    assert len(lines) == 2 and lines[0].startswith("  ") and lines[1].startswith("*") and " cli " in lines[1]


def test_rules_check_and_calendar_import_and_worker(chancheng_url, tmp_path):
    proposed = tmp_path / "p.csv"
    proposed.write_text("name,category,recipient_kind,department\nall,,department,D-ZZZX\n", encoding="utf-8")
    check = run(chancheng_url, "rules", "check", proposed, "--since", "2026-01-01", "--until", "2027-01-01")
    assert check.exit_code == 0 and "0 of 0 routed case(s) would move" in check.output
    cal = run(chancheng_url, "calendar", "import", FIXTURE)
    assert cal.exit_code == 0 and "for 2027" in cal.output, cal.output
    assert "known until 2027-12-31" in run(chancheng_url, "calendar", "status").output
    tick = run(chancheng_url, "worker", "--once")
    assert tick.exit_code == 0 and "escalated 0" in tick.output


def test_a_bad_file_is_one_clear_line_and_exit_1(chancheng_url, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("code,name,kind,unit_type\nX1,某局,ministry,局\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "citygrid", "departments", "import", str(bad)],
                          env={"DATABASE_URL": chancheng_url, "PATH": "/usr/bin:/bin"}, capture_output=True,
                          text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 1
    assert done.stderr.startswith("citygrid: error: ") and "kind must be bureau (条线) or street (属地)" in done.stderr


def test_report_and_history_import(chancheng_url, tmp_path):
    import json
    cases = [{"external_id": "H-1", "category": "0102", "lon": 113.12, "lat": 23.02, "source": "officer",
              "reporter": "old-officer", "steps": [
                  {"at": "2026-10-12T09:00:00+08:00", "action": "report", "actor": "old-officer",
                   "role": "grid_officer"},
                  {"at": "2026-10-12T09:05:00+08:00", "action": "register", "actor": "old-officer",
                   "role": "grid_officer"},
                  {"at": "2026-10-12T09:10:00+08:00", "action": "dispatch", "actor": "system", "role": "system",
                   "department": "S-012-HWS"},
                  {"at": "2026-10-12T10:00:00+08:00", "action": "accept", "actor": "h", "role": "handler"},
                  {"at": "2026-10-12T11:00:00+08:00", "action": "handle", "actor": "h", "role": "handler",
                   "note": "done"}]},
             {"external_id": "H-2", "category": "9999", "lon": 113.12, "lat": 23.02, "steps": []}]
    path = tmp_path / "history.json"
    path.write_text(json.dumps(cases), encoding="utf-8")
    done = run(chancheng_url, "cases", "import", path)
    assert "imported 1 case(s), skipped 1" in done.output and "skipped row 2" in done.output
    table = run(chancheng_url, "report", "--period", "2026-10", "--by", "department")
    assert table.exit_code == 0 and "S-012-HWS" in table.output, table.output
    for suffix in ("csv", "xlsx"):
        out = tmp_path / f"r.{suffix}"
        assert run(chancheng_url, "report", "--period", "2026-10", "--output", out).exit_code == 0
        assert out.stat().st_size > 100
    bad = run(chancheng_url, "report", "--period", "2026-13")
    assert bad.exit_code != 0 and "2026-13" in str(bad.exception)


def test_users_import_reports_and_skips_bad_rows(chancheng_url, tmp_path):
    table = tmp_path / "users.csv"
    table.write_text("username,roles,display_name,grid_codes,street_code,department_code,password\n"
                     "zhang,grid_officer,张三,44060401200101;44060401200102,,,\n"
                     "li,handler,李四,,,S-012-HWS,a-long-password\n"
                     "wu,handler,吴五,,,,\n"
                     "zhang,leader,重复,,,,\n"
                     "chen,boss,陈,,,,\n", encoding="utf-8")
    done = run(chancheng_url, "users", "import", table)
    assert done.exit_code == 0, done.output
    assert "created 2 account(s), skipped 3" in done.output
    assert "skipped line 4: a handler or department head needs a department" in done.output
    assert "skipped line 5: user 'zhang' already exists" in done.output
    assert "skipped line 6: unknown role(s) boss" in done.output
    generated = next(ln.split()[1] for ln in done.output.splitlines() if ln.strip().startswith("zhang "))
    with psycopg.connect(chancheng_url) as conn:
        grids = conn.execute("SELECT grid_codes FROM app_user WHERE username = 'zhang'").fetchone()[0]
        assert grids == ["44060401200101", "44060401200102"]
        from dispatch.accounts import login
        from datetime import timedelta
        assert login(conn, username="zhang", password=generated, ttl=timedelta(hours=1)).startswith("cg_")

"""CLI commands for who acts and how cases move: users, departments, rules, calendar, worker, history, report."""
from __future__ import annotations

import getpass
import sys
import time
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Optional

import psycopg
import typer

from citygrid.cli import Failure, app, settings, transaction
from citygrid.policy import policy

users_app = typer.Typer(help="Accounts and API tokens.", no_args_is_help=True)
dep_app = typer.Typer(help="Departments (district bureaus and street-level units).", no_args_is_help=True)
rules_app = typer.Typer(help="Routing rules.", no_args_is_help=True)
cal_app = typer.Typer(help="The working-day calendar (holidays and 调休 days).", no_args_is_help=True)
cases_app = typer.Typer(help="Cases.", no_args_is_help=True)
for sub, name in ((users_app, "users"), (dep_app, "departments"), (rules_app, "rules"), (cal_app, "calendar"),
                  (cases_app, "cases")):
    app.add_typer(sub, name=name)

Role = Annotated[list[str], typer.Option("--role", help="grid_officer, intake, dispatcher, handler, dept_head, "
                                                         "shift_leader, leader or admin (repeat for several)")]


@users_app.command("add")
def users_add(
    username: str, role: Role,
    name: Annotated[str, typer.Option(help="display name")] = "",
    grid: Annotated[Optional[list[str]], typer.Option("--grid", help="a grid code the officer covers")] = None,
    street: Annotated[Optional[str], typer.Option(help="limit the account to a street code")] = None,
    department: Annotated[Optional[str], typer.Option(help="a handler's department code")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="read the password from stdin")] = False,
    token: Annotated[bool, typer.Option("--token", help="also issue an API token and print it once")] = False,
) -> None:
    """Create an account (password asked for, or read from stdin), optionally with an API token."""
    from dispatch.accounts import add_user, issue_token

    password = sys.stdin.readline().rstrip("\n") if password_stdin else getpass.getpass("password: ")
    with transaction(settings()) as conn:
        add_user(conn, username=username, roles=role, password=password or None, display_name=name,
                 grid_codes=grid or [], street_code=street, department_code=department)
        issued = issue_token(conn, username=username, label="cli") if token else None
    typer.echo(f"user {username} added with role(s) {', '.join(role)}")
    if issued:
        typer.echo(f"token (shown once): {issued}")


@users_app.command("import")
def users_import(path: Path) -> None:
    """Create accounts in bulk from CSV or YAML (username, roles, display_name, grid_codes, street_code,
    department_code, password); bad rows are reported and skipped; generated passwords are printed once."""
    from dispatch.accounts import import_users

    with transaction(settings()) as conn:
        created, skipped = import_users(conn, path=path)
    for line, reason in skipped:
        typer.echo(f"skipped line {line}: {reason}")
    for username, password in created:
        typer.echo(f"  {username:<24} {password or '(password from the file)'}")
    typer.echo(f"created {len(created)} account(s), skipped {len(skipped)}")


@users_app.command("token")
def users_token(username: str, label: Annotated[str, typer.Option(help="what the token is for")] = "cli") -> None:
    """Issue an API token for an existing user and print it once."""
    from dispatch.accounts import issue_token

    with transaction(settings()) as conn:
        typer.echo(issue_token(conn, username=username, label=label))


@users_app.command("reset-password")
def users_reset_password(
    username: str,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="read the new password from stdin "
                                                  "(default: generate one and print it once)")] = False,
) -> None:
    """Set a new password (generated and printed once, or read from stdin); every token of the user is revoked."""
    from dispatch.accounts import reset_password

    given = sys.stdin.readline().rstrip("\n") if password_stdin else None
    with transaction(settings()) as conn:
        generated = reset_password(conn, username=username, password=given)
    typer.echo(f"password of {username} replaced; every token of {username} is revoked")
    if generated:
        typer.echo(f"new password (shown once): {generated}")


@users_app.command("deactivate")
def users_deactivate(username: str) -> None:
    """Deactivate an account: sign-in refused, every token revoked (open live streams end)."""
    from dispatch.accounts import set_active

    with transaction(settings()) as conn:
        set_active(conn, username=username, active=False)
    typer.echo(f"user {username} deactivated; every token of {username} is revoked")


@users_app.command("activate")
def users_activate(username: str) -> None:
    """Activate an account again (the user signs in anew: old tokens stay revoked)."""
    from dispatch.accounts import set_active

    with transaction(settings()) as conn:
        set_active(conn, username=username, active=True)
    typer.echo(f"user {username} activated")


@dep_app.command("import")
def departments_import(path: Path) -> None:
    """Load a department table (CSV or YAML); all or nothing."""
    from dispatch.routing.departments import import_departments

    with transaction(settings()) as conn:
        typer.echo(f"loaded {import_departments(conn, path=path)} departments")


@dep_app.command("export")
def departments_export(path: Path) -> None:
    """Write the departments as CSV or YAML."""
    from dispatch.routing.departments import export_departments

    with transaction(settings()) as conn:
        typer.echo(f"wrote {export_departments(conn, path=path)} departments to {path}")


@rules_app.command("import")
def rules_import(path: Path, inactive: Annotated[bool, typer.Option("--inactive", help="store, do not activate")]
                 = False, by: Annotated[str, typer.Option(help="who made the change")] = "cli") -> None:
    """Validate a rule table against categories, departments and layers; store it as a new rule set."""
    from dispatch.routing.rules import import_rules

    with transaction(settings()) as conn:
        loaded = import_rules(conn, path=path, by=by, activate=not inactive)
    for warning in loaded.warnings:
        typer.echo(f"warning: {warning}")
    typer.echo(f"rule set {loaded.rule_set_id}: {len(loaded.rules)} rules" + ("" if inactive else ", active"))


@rules_app.command("export")
def rules_export(path: Path, rule_set: Annotated[Optional[int], typer.Option(help="a rule set id")] = None) -> None:
    """Write the active (or a given) rule set as CSV or YAML."""
    from dispatch.routing.rules import export_rules

    with transaction(settings()) as conn:
        typer.echo(f"wrote {export_rules(conn, path=path, rule_set_id=rule_set)} rules to {path}")


@rules_app.command("history")
def rules_history() -> None:
    """Every rule set ever imported: the routing table's change history."""
    from dispatch.routing.repo import rule_sets

    with transaction(settings()) as conn:
        for s in rule_sets(conn):
            typer.echo(f"{'*' if s['is_active'] else ' '} {s['id']:>3}  {s['created_at']:%Y-%m-%d %H:%M}  "
                       f"{s['created_by']}  {s['rules']} rules  {s['name']}")


@rules_app.command("check")
def rules_check(path: Path, since: Annotated[str, typer.Option(help="first day, YYYY-MM-DD")],
                until: Annotated[str, typer.Option(help="day after the last, YYYY-MM-DD")]) -> None:
    """What-if: how many stored cases of the period would move, from where to where, under a proposed table."""
    from dispatch.routing.rules import check_rules

    cfg = settings()
    tz = policy(cfg).tz
    start, end = (datetime.combine(_day(d), datetime.min.time(), tz) for d in (since, until))
    with transaction(cfg) as conn:
        result = check_rules(conn, path=path, start=start, end=end)
    for warning in result["warnings"]:
        typer.echo(f"warning: {warning}")
    typer.echo(f"{result['moved']} of {result['cases']} routed case(s) would move")
    for move in result["moves"]:
        typer.echo(f"  {move['cases']:>5}  {move['from']} → {move['to']}")


@cal_app.command("import")
def calendar_import(path: Path, by: Annotated[str, typer.Option(help="who imported it")] = "cli") -> None:
    """Load holidays and 调休 working days (date,kind,name) for years the calendar package does not cover."""
    from dispatch.casework.deadlines import import_calendar

    cfg = settings()
    with transaction(cfg) as conn:
        done = import_calendar(conn, path=path, by=by, policy=policy(cfg))
    typer.echo(f"imported {done['days']} day(s) for {', '.join(map(str, done['years']))}; "
               f"{done['recomputed']} provisional deadline(s) recomputed")


@cal_app.command("status")
def calendar_status_cmd() -> None:
    """How far the holiday calendar is known."""
    from dispatch.casework.deadlines import calendar_status

    cfg = settings()
    with transaction(cfg) as conn:
        status = calendar_status(conn, today=datetime.now(policy(cfg).tz).date())
    typer.echo(f"known until {status['known_until']} ({status['days_left']} days)")
    if status["warning"]:
        typer.echo(f"warning: {status['warning']}")


@app.command()
def worker(once: Annotated[bool, typer.Option("--once", help="run one tick and stop")] = False,
           quiet: Annotated[bool, typer.Option("--quiet", help="print only ticks that did something")] = False,
           ) -> None:
    """Escalate yellow and red cases and deliver notifications, every worker_interval_seconds (run one)."""
    worker_loop(settings(), once=once, quiet=quiet)


def worker_loop(cfg, *, once: bool = False, quiet: bool = False) -> None:
    """Run worker ticks until stopped; a failed tick is reported and retried, not fatal."""
    from dispatch.worker import run_once

    tz = policy(cfg).tz
    while True:
        try:
            with transaction(cfg) as conn:
                tick = run_once(conn, today=datetime.now(tz).date(), tz=tz)
            if not quiet or tick.escalated or tick.messages:
                typer.echo(f"{datetime.now(tz):%H:%M:%S} worker: escalated {tick.escalated}, delivered "
                           f"{tick.delivered} ({tick.messages} messages), failed {tick.failed}")
        except (psycopg.Error, Failure) as exc:
            if once:
                raise
            # a database restart must not end the worker: say so and try again next tick
            typer.echo(f"{datetime.now(tz):%H:%M:%S} worker tick failed, retrying: "
                       f"{str(exc).strip().splitlines()[0]}", err=True)
        if once:
            return
        time.sleep(cfg.worker_interval_seconds)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Failure(f"{text!r} is not a date; use YYYY-MM-DD") from None


@cases_app.command("import")
def cases_import(path: Path, by: Annotated[str, typer.Option(help="who imported it")] = "cli") -> None:
    """Import historical cases (JSON or JSON Lines, with their steps); bad rows are reported and skipped."""
    from dispatch.exchange.history_import import import_history

    cfg = settings()
    with transaction(cfg) as conn:
        done = import_history(conn, path=path, by=by, policy=policy(cfg))
    for row, reason in done.skipped:
        typer.echo(f"skipped row {row}: {reason}")
    typer.echo(f"imported {len(done.imported)} case(s), skipped {len(done.skipped)}")


@app.command()
def report(
    period: Annotated[str, typer.Option(help="2026-11, 2026-W47, 2026-11-26 or 2026")],
    by: Annotated[str, typer.Option(help="department, street, community, grid or officer")] = "department",
    output: Annotated[Optional[Path], typer.Option(help="write CSV or XLSX (by the file's suffix)")] = None,
) -> None:
    """综合评价: the indicators per unit for a period, with 环比 (table on screen, or a CSV/XLSX file)."""
    from citygrid.reporting import render_table, write_csv, write_xlsx
    from dispatch.reporting.evaluation import evaluate

    cfg = settings()
    with transaction(cfg) as conn:
        result = evaluate(conn, period=period, by=by, policy=policy(cfg))
    if output is None:
        typer.echo(render_table(result), nl=False)
        return
    suffix = output.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise Failure(f"--output must end in .csv or .xlsx, not {output.name!r}")
    (write_csv if suffix == ".csv" else write_xlsx)(result, output)
    typer.echo(f"wrote {len(result.rows)} row(s) to {output}")

"""Conflict drill: n people of the eligible roles take conflicting actions on one case at the same moment, through
the served app (`citygrid serve`), step after step of the workflow. Each step has exactly one winner (200), every
other attempt is refused (409), nothing answers >= 500, and the case's history is one unbroken chain with each step
once. It is counts, not time: tests/test_drill_conflict.py runs it with 100 in the normal suite.

Usage: .venv/bin/python -m tests.drills.conflict [--n 100]
"""
from __future__ import annotations

import asyncio
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone

import httpx
import psycopg

from dispatch.accounts import add_user, issue_token
from dispatch.casework.workflow import STEPS
from tests.drills.common import city, command, result, serving
from tests.people import bearer

TITLE = "100 concurrent conflicting actions on one case"
DEPARTMENT = "S-012-HWS"
# the people who race: role name → (roles, scope); tokens only, no passwords
RACERS = {"handler": (["handler"], {"department_code": DEPARTMENT}),
          "head": (["dept_head"], {"department_code": DEPARTMENT}),
          "dispatcher": (["dispatcher"], {}), "shift": (["shift_leader"], {})}


def _later() -> str:
    return (datetime.now(timezone.utc) + timedelta(days=30)).isoformat()


# each conflicting step: its attempts as (who, action, body) cycling over n people
STEP_PLAN = {
    "accept or return": [("handler", "accept", {}), ("head", "return", {"note": "不属于本单位 not ours"})],
    "dispatch again": [("dispatcher", "dispatch", {"department_code": DEPARTMENT})],
    "accept": [("handler", "accept", {})],
    "request extension": [("handler", "request_extension", {"note": "需要更多时间 need more time"})],
    "approve or refuse": [("shift", "approve_extension", {"new_deadline": None}),
                          ("shift", "refuse_extension", {"note": "不批准 refused"})],
}


def racers(url: str, n: int) -> dict[str, list[str]]:
    """n accounts per racing role, each with its own token; role name → tokens."""
    tokens: dict[str, list[str]] = {}
    with psycopg.connect(url) as conn:
        for name, (roles, scope) in RACERS.items():
            for i in range(n):
                add_user(conn, username=f"race-{name}-{i}", roles=roles, **scope)
                tokens.setdefault(name, []).append(issue_token(conn, username=f"race-{name}-{i}", label="drill"))
        conn.commit()
    return tokens


async def race(client: httpx.AsyncClient, case_id: int, plan: list, tokens: dict, n: int) -> list[tuple[str, int]]:
    """n attempts of a step at once (cycling over the plan's actions); (action, status code) of each."""
    async def one(i: int):
        who, action, body = plan[i % len(plan)]
        body = {k: (_later() if k == "new_deadline" else v) for k, v in body.items()}
        r = await client.post(f"/api/cases/{case_id}/actions/{action}", json=body,
                              headers=bearer(tokens[who][i // len(plan) % n]))
        return action, r.status_code
    return await asyncio.gather(*(one(i) for i in range(n)))


async def _steps(base: str, case_id: int, tokens: dict, n: int) -> tuple[list[str], Counter, int]:
    """Every conflicting step in turn (re-dispatch and accept only if a return won); the winners, the codes of
    the other attempts (a 404 after a return counts as a 409: the case left the department, which no longer sees
    it), and the number of steps."""
    winners, codes, steps = [], Counter(), 0
    # an idle connection is dropped by the client well before the server's 5 s keep-alive ends: else a request
    # sent as the server closes it dies with a ReadError, which says nothing about the case's workflow
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n, keepalive_expiry=1)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        for step, plan in STEP_PLAN.items():
            if step in ("dispatch again", "accept") and winners[0] != "return":
                continue
            done = await race(client, case_id, plan, tokens, n)
            won = [action for action, code in done if code == 200]
            gone = won == ["return"]
            codes.update(409 if gone and code == 404 else code for _, code in done)
            winners.append(won[0] if len(won) == 1 else f"{len(won)} winners")
            steps += 1
    return winners, codes, steps


def history_faults(url: str, case_id: int, winners: list[str]) -> int:
    """How far the case's history is from one chain (each from = the last to, the final status at the end)
    holding exactly the steps that won, each once."""
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT action, from_status, to_status FROM case_history WHERE case_id = %s "
                            "ORDER BY at, id", (case_id,)).fetchall()
        status, version = conn.execute("SELECT status, version FROM event_case WHERE id = %s", (case_id,)).fetchone()
    broken = sum(1 for before, row in zip(rows, rows[1:]) if row[1] != before[2])
    expected = ["report", "register", "dispatch", *winners]
    wrong_steps = 0 if [r[0] for r in rows] == expected else 1
    return broken + wrong_steps + (rows[-1][2] != status) + (version != len(rows))


def drill(url: str, officer_token: str, n: int = 100, **settings: str) -> dict:
    """The drill on an existing Chancheng database (with an officer's token): its figures and targets."""
    tokens = racers(url, n)
    with serving(url, db_wait_seconds="10", **settings) as base:
        filed = httpx.post(f"{base}/api/reports", headers=bearer(officer_token), json={
            "category": "0102", "lon": 113.12, "lat": 23.02, "description": "conflict drill"})
        filed.raise_for_status()
        case_id = filed.json()["case_id"]
        winners, codes, steps = asyncio.run(_steps(base, case_id, tokens, n))
    figures = {"attempts": sum(codes.values()), "conflicting steps": steps,
               "steps without exactly one winner": sum(1 for w in winners if w not in STEPS),
               "answers >= 500": sum(v for c, v in codes.items() if c >= 500),
               "answers neither 200 nor 409": sum(v for c, v in codes.items() if c not in (200, 409)),
               "history faults": history_faults(url, case_id, winners)}
    targets = {"attempts": f">= {n * 3}", "conflicting steps": ">= 3", "steps without exactly one winner": "= 0", "answers >= 500": "= 0",
               "answers neither 200 nor 409": "= 0", "history faults": "= 0"}
    return result(figures, targets)


def run(quick: bool = False, n: int = 100) -> dict:
    """The drill in its own database (100 attempts per step, quick or not: it is counts, not time)."""
    with city("conflict", cast=("officer",)) as (url, tokens):
        return drill(url, tokens["officer"], n)


if __name__ == "__main__":
    sys.exit(command(TITLE, run))

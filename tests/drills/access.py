"""The access-control drill: who may call what (tests/access_matrix.py) against `citygrid serve`, across roles AND
scopes (officers of two grids and two streets, handlers of five departments, street leaders of two streets, the
centre), strangers, revoked and expired tokens on every route the app has, the live stream (who got which event)
and the photos (/api/media and Open311 media URLs).

Cases are made through the domain (as every channel files them) in a database of the drill's own; every answer is
read over HTTP from the real server. A check is wrong when it allows what should be refused or refuses what
should be allowed; a cross-scope read is a wrong answer that handed out something outside the reader's scope.
"""
from __future__ import annotations

import asyncio
import json
import tempfile
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
import psycopg

from citygrid.app import build_app
from citygrid.settings import Settings
from dispatch.accounts import add_user, issue_token, revoke
from dispatch.actor import Actor
from dispatch.api_clients import add_client
from dispatch.casework.cases import Request, act
from dispatch.intake.service import submit_report
from dispatch.models import Policy
from gis.locator import locate
from tests.access_matrix import (MATRIX, OPEN311, OPEN_ONES, PAGES, ROLES, app_routes, call, concrete,
                                 right_answer, right_page, seed, store_photo, unlisted)
from tests.drills.people_common import chancheng_database
from tests.people import SHIWAN, ZUMIAO, actor, bearer
from tests.served import served

TITLE = "access control: every route × role and scope, revoked/expired tokens, the live stream and photos"

# label → (category, lon, lat, department that holds it). Z and C lie in 祖庙, S, R and P in 石湾, each in its
# own unit grid; P's category (0601 邻里纠纷) is not public, the others are.
CASES = {
    "Z": ("0102", 113.12, 23.02, "S-012-HWS"),
    "C": ("0201", 113.1187, 23.0300, "S-012-CGZD"),
    "S": ("0201", 113.1180, 22.9870, "S-010-CGZD"),
    "R": ("0110", 113.1230, 22.9830, "D-SZGL"),
    "P": ("0601", 113.1120, 22.9820, "S-010-ZZB"),
}
PUBLIC = {"Z", "C", "S", "R"}
EVERY_CASE = set(CASES)

# Accounts the cast (tests/people.py) lacks: name → (roles, scope); {grid:X} is the unit grid of case X.
MORE_PEOPLE = {
    "officer_a": (["grid_officer"], {"grid_codes": ["{grid:Z}"]}),
    "officer_b": (["grid_officer"], {"grid_codes": ["{grid:S}"]}),
    "leader_zumiao": (["leader"], {"street_code": ZUMIAO}),
    "s010cgzd": (["handler"], {"department_code": "S-010-CGZD"}),
    "s010zzb": (["handler"], {"department_code": "S-010-ZZB"}),
}

# Who may read which case: written out, not derived from dispatch/actor.py (the code under test).
READS = {
    "officer_a": {"Z"}, "officer_b": {"S"}, "officer": {"Z", "C"}, "officer2": {"S", "R", "P"},
    "hws": {"Z"}, "hws_head": {"Z"}, "cgzd": {"C"}, "szgl": {"R"}, "s010cgzd": {"S"}, "s010zzb": {"P"},
    "leader": EVERY_CASE, "leader_shiwan": {"S", "R", "P"}, "leader_zumiao": {"Z", "C"},
    "dispatcher": EVERY_CASE, "intake": EVERY_CASE, "shift": EVERY_CASE, "admin": EVERY_CASE,
}
HANDLERS = {"S-012-HWS": "hws", "S-012-CGZD": "cgzd", "S-010-CGZD": "s010cgzd", "D-SZGL": "szgl",
            "S-010-ZZB": "s010zzb"}
WHOLE_DISTRICT = "west=112.9&south=22.9&east=113.3&north=23.2&zoom=12"


@dataclass
class Tally:
    """Checks, and what went wrong in them."""

    checks: int = 0
    wrong: list = field(default_factory=list)
    cross_scope: list = field(default_factory=list)

    def check(self, ok: bool, what, *, leak: bool = False) -> None:
        self.checks += 1
        if not ok:
            self.wrong.append(what)
            if leak:
                self.cross_scope.append(what)


@dataclass
class World:
    base: str
    url: str
    tokens: dict
    ids: dict                                       # the matrix's {case}, {photo}, {message}
    cases: dict = field(default_factory=dict)       # label → case id
    photos: dict = field(default_factory=dict)      # label → report photo id


def _people(conn, grids: dict) -> dict:
    """The accounts the cast lacks, with their tokens, plus a revoked and an expired token of the leader."""
    tokens = {}
    for name, (roles, scope) in MORE_PEOPLE.items():
        scope = {k: [grids[g[6:-1]] for g in v] if k == "grid_codes" else v for k, v in scope.items()}
        add_user(conn, username=name, roles=roles, password=f"{name}-password-1", **scope)
        tokens[name] = issue_token(conn, username=name, label="drill")
    tokens["(revoked)"] = issue_token(conn, username="leader", label="drill")
    revoke(conn, token=tokens["(revoked)"])
    tokens["(expired)"] = issue_token(conn, username="leader", label="drill", ttl=timedelta(seconds=-1))
    conn.commit()
    return tokens


def _grids(conn) -> dict:
    grids = {label: locate(conn, lon=lon, lat=lat).grid.code for label, (_, lon, lat, _) in CASES.items()}
    streets = {label: locate(conn, lon=lon, lat=lat).street.code for label, (_, lon, lat, _) in CASES.items()}
    assert len(set(grids.values())) == len(CASES), f"the drill's cases must lie in distinct grids: {grids}"
    assert streets == {"Z": ZUMIAO, "C": ZUMIAO, "S": SHIWAN, "R": SHIWAN, "P": SHIWAN}, streets
    return grids


def make_cases(url: str, media_root: str) -> tuple[dict, dict]:
    """File each case with a report photo, register it (the rules dispatch it), accept it: each step an event on
    the stream, and no case ever held by another department than its own."""
    cases, photos = {}, {}
    policy = Policy()
    with psycopg.connect(url) as conn:
        for label, (category, lon, lat, department) in CASES.items():
            photos[label] = store_photo(conn, media_root, uploaded_by="intake", colour="orange")
            done = submit_report(conn, actor=actor("intake"), policy=policy, category_code=category, lon=lon,
                                 lat=lat, description=f"drill case {label}", attachments=(photos[label],))
            cases[label] = done.case_id
            conn.commit()
        for label, (_, _, _, department) in CASES.items():
            done = act(conn, case_id=cases[label], action="register", actor=actor("intake"), policy=policy)
            if done.to_status == "registered":  # the rules did not dispatch it at once
                act(conn, case_id=cases[label], action="dispatch", actor=actor("dispatcher"), policy=policy,
                    request=Request(department_code=department))
            conn.commit()
        for label, (_, _, _, department) in CASES.items():
            who = Actor(HANDLERS[department], frozenset({"handler"}), department_code=department)
            act(conn, case_id=cases[label], action="accept", actor=who, policy=policy)
            conn.commit()
        held = dict(conn.execute("SELECT id, department_code FROM event_case WHERE id = ANY(%s)",
                                 (list(cases.values()),)).fetchall())
    assert {label: held[i] for label, i in cases.items()} == {k: v[3] for k, v in CASES.items()}, held
    return cases, photos


# ---- the live stream ----------------------------------------------------------------------------------------------

async def _watch(base: str, tokens: dict, users: list[str], work) -> tuple[dict, dict]:
    """Open one stream per user, run `work` (in a thread) once every stream is listening, and collect the case ids
    each stream delivered until every expected event came (or 20 s passed), plus 1 s for strays."""
    got = {u: [] for u in users}
    ready = {u: asyncio.Event() for u in users}
    async with httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(10, read=None)) as client:
        async def listen(user: str) -> None:
            async with client.stream("GET", "/api/events", headers=bearer(tokens[user])) as response:
                assert response.status_code == 200, (user, response.status_code)
                async for line in response.aiter_lines():
                    if line.startswith("retry:"):
                        ready[user].set()
                    elif line.startswith("data: "):
                        got[user].append(json.loads(line[6:])["id"])

        tasks = [asyncio.create_task(listen(u)) for u in users]
        try:
            await asyncio.wait_for(asyncio.gather(*(e.wait() for e in ready.values())), timeout=30)
            cases, photos = await asyncio.to_thread(work)
            expected = {u: {cases[label] for label in READS[u]} for u in users}
            for _ in range(200):
                if all(expected[u] <= set(got[u]) for u in users):
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(1)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return got, {"cases": cases, "photos": photos}


def stream_figures(got: dict, cases: dict) -> dict:
    """Events delivered outside the reader's scope, and (reader, case) pairs in scope that never arrived."""
    label_of = {i: label for label, i in cases.items()}
    out_of_scope = sum(1 for u, ids in got.items() for i in ids if i in label_of and label_of[i] not in READS[u])
    missed = sum(1 for u, ids in got.items() for label in READS[u] if cases[label] not in ids)
    return {"stream events": sum(len(ids) for ids in got.values()), "stream events out of scope": out_of_scope,
            "stream events missed": missed}


# ---- checks over HTTP ---------------------------------------------------------------------------------------------

def check_strangers(http: httpx.Client, app, world: World, tally: Tally) -> None:
    """Every route the app has (found in its route table), without a token and with a revoked or expired one:
    401 for the API, a redirect to sign in for a page; Open311 and the open ones are left to their own rows."""
    for method, route in sorted(app_routes(app) - OPEN_ONES):
        if route.startswith("/open311/"):
            continue
        path = concrete(route, world.ids)
        for who in (None, "(revoked)", "(expired)"):
            headers = bearer(world.tokens[who]) if who else {}
            answer = http.request(method, path, headers=headers, json={} if method != "GET" else None,
                                  follow_redirects=False)
            page = answer.status_code in (303, 307) and answer.headers.get("location", "").startswith("/login")
            ok = answer.status_code == 401 or page
            tally.check(ok, (who or "anonymous", method, path, answer.status_code), leak=answer.status_code < 300)


def check_matrix(http: httpx.Client, world: World, tally: Tally) -> None:
    """The role matrix (tests/access_matrix.py) for every role, pages included, and Open311 with and without a key."""
    for method, path, body, allowed in MATRIX:
        path = path.format(**world.ids)
        for role, user in ROLES.items():
            status = call(http, method, path, body, bearer(world.tokens[user])).status_code
            tally.check(right_answer(role, allowed, method, status), (role, method, path, status),
                        leak=role not in allowed and status < 300)
    for method, path, body, allowed in PAGES:
        path = path.format(**world.ids)
        for role, user in ROLES.items():
            status = call(http, method, path, body, bearer(world.tokens[user])).status_code
            tally.check(right_page(role, allowed, path, status), (role, method, path, status),
                        leak=role not in allowed and status < 300)
    key = _open311_key(world)
    form = {"service_code": "0102", "lat": "23.02", "long": "113.12"}
    for method, path, without_key, with_key in OPEN311:
        path = path.format(**world.ids)
        for who in [None, *ROLES.values()]:
            answer = http.request(method, path, headers=bearer(world.tokens[who]) if who else {},
                                  data=form if method == "post" else None)
            tally.check(answer.status_code == without_key, (who, method, path, answer.status_code),
                        leak=without_key >= 400 and answer.status_code < 300)
        keyed = http.request(method, path, params={"api_key": key} if method == "get" else None,
                             data={**form, "api_key": key} if method == "post" else None)
        tally.check(keyed.status_code == with_key, ("key", method, path, keyed.status_code))


def _open311_key(world: World) -> str:
    with psycopg.connect(world.url) as conn:
        key = add_client(conn, name="access-drill", trust="trusted", rate_per_minute=100_000)
        conn.commit()
    return key


def check_scopes(http: httpx.Client, world: World, tally: Tally) -> None:
    """Each scoped reader on each case: the case, its routing, duplicates, its page, its photo, and its presence in
    the queue, the map and the likely duplicates; and an attempt to act on a case outside a department's scope."""
    for user, reads in READS.items():
        auth = bearer(world.tokens[user])
        listed = {c["id"] for c in http.get("/api/cases?queue=open&limit=2000", headers=auth).json()}
        mapped = {f["properties"]["id"]
                  for f in http.get(f"/api/map/cases?{WHOLE_DISTRICT}", headers=auth).json()["features"]}
        for label, case_id in world.cases.items():
            category, lon, lat, department = CASES[label]
            may = label in reads
            for path in (f"/api/cases/{case_id}", f"/api/cases/{case_id}/routing",
                         f"/api/cases/{case_id}/duplicates", f"/cases/{case_id}",
                         f"/api/media/{world.photos[label]}"):
                status = http.get(path, headers=auth, follow_redirects=False).status_code
                tally.check(status == (200 if may else 404), (user, path, status), leak=not may and status == 200)
            nearby = {c["id"] for c in http.get(f"/api/reports/nearby?category={category}&lon={lon}&lat={lat}",
                                                headers=auth).json()}
            for what, seen in (("queue", listed), ("map", mapped), ("nearby", nearby)):
                tally.check((case_id in seen) == may, (user, what, label), leak=not may and case_id in seen)
            if not may and (user in HANDLERS.values() or user == "hws_head"):
                answer = http.post(f"/api/cases/{case_id}/actions/return", json={"note": "not ours"}, headers=auth)
                tally.check(answer.status_code in (403, 404), (user, "return", label, answer.status_code),
                            leak=answer.status_code < 300)


def check_open311_media(http: httpx.Client, world: World, tally: Tally) -> None:
    """Open311 without an account: a public case and its report photo (through the media_url it names) are
    readable, a case of a non-public category and its photo are not, and a report-back photo never is."""
    listed = {r["service_request_id"] for r in http.get("/open311/v2/requests.json").json()}
    for label, case_id in world.cases.items():
        public = label in PUBLIC
        request = http.get(f"/open311/v2/requests/{case_id}.json")
        tally.check(request.status_code == (200 if public else 404), ("open311 request", label, request.status_code),
                    leak=not public and request.status_code == 200)
        tally.check((str(case_id) in listed) == public, ("open311 list", label), leak=not public and
                    str(case_id) in listed)
        photo = http.get(f"/open311/v2/media/{world.photos[label]}")
        tally.check(photo.status_code == (200 if public else 404), ("open311 media", label, photo.status_code),
                    leak=not public and photo.status_code == 200)
        if public and request.status_code == 200:
            media_url = request.json()[0]["media_url"] or ""
            tally.check(media_url.endswith(f"/open311/v2/media/{world.photos[label]}"), ("media_url", label))
            if media_url:
                fetched = http.get(media_url.replace(world.base, ""))
                tally.check(fetched.status_code == 200 and fetched.headers["content-type"].startswith("image/"),
                            ("media_url fetch", label, fetched.status_code))
    handled = http.get(f"/open311/v2/media/{world.ids['photo']}")
    tally.check(handled.status_code == 404, ("open311 report-back photo", handled.status_code),
                leak=handled.status_code == 200)


# ---- the drill ----------------------------------------------------------------------------------------------------

QUICK_WATCHERS = ["officer_a", "officer_b", "hws", "cgzd", "leader_shiwan", "leader"]


def exercise(url: str, media_root: str, *, watchers: list[str], matrix: bool = True) -> tuple[Tally, dict]:
    """Seed the world in `url`, watch the streams of `watchers` while the cases are made, then run the scope, photo
    and Open311 checks (and, with `matrix`, the strangers on every route and the whole role matrix) over HTTP."""
    with psycopg.connect(url) as conn:
        cast_tokens, ids = seed(conn, media_root)
        tokens = cast_tokens | _people(conn, _grids(conn))
    app = build_app(Settings(database_url=url, media_root=media_root))
    with served(url, media_root=media_root) as base:
        world = World(base, url, tokens, ids)
        got, made = asyncio.run(_watch(base, tokens, watchers, lambda: make_cases(url, media_root)))
        world.cases, world.photos = made["cases"], made["photos"]
        tally = Tally()
        with httpx.Client(base_url=base, timeout=30) as http:
            check_scopes(http, world, tally)
            check_open311_media(http, world, tally)
            if matrix:
                check_strangers(http, app, world, tally)
                check_matrix(http, world, tally)  # last: its actions move the matrix's own case on
    return tally, {"streams opened": len(watchers), **stream_figures(got, world.cases),
                   "endpoints not in the matrix": len(unlisted(app))}


def run(quick: bool = False) -> dict:
    """The whole drill in a database of its own; quick: fewer streams."""
    with chancheng_database("access") as url, tempfile.TemporaryDirectory() as media_root:
        tally, more = exercise(url, media_root, watchers=QUICK_WATCHERS if quick else sorted(READS))
    figures = {"checks run": tally.checks, "wrong answers": len(tally.wrong),
               "cross-scope reads": len(tally.cross_scope), **more}
    targets = {"checks run": ">= 175", "wrong answers": "= 0", "cross-scope reads": "= 0",
               "endpoints not in the matrix": "= 0", "stream events out of scope": "= 0",
               "stream events missed": "= 0"}
    ok = figures["checks run"] >= 175 and all(figures[k] == 0 for k in targets if k != "checks run")
    return {"figures": figures, "targets": targets, "ok": ok, "wrong": tally.wrong[:20]}


if __name__ == "__main__":
    import sys
    result = run(quick="--quick" in sys.argv)
    for name, value in result["figures"].items():
        print(f"{name:32} {value:>8}  {result['targets'].get(name, '')}")
    for what in result["wrong"]:
        print("wrong:", what)
    sys.exit(0 if result["ok"] else 1)

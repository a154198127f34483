"""Schemathesis drill: the whole OpenAPI document against `citygrid serve`, as an administrator and as an officer.

Each role runs with its own account made by the drill. The operations that revoke the caller's own token or change
its account (sign-out, the own password, the administrator's account operations) run last, for each role with a
spare account whose token is issued afresh for every request, so no run quietly turns into a run of 401s (the 401
answers are counted and shown).

What counts (every answer is counted by an after_call hook; the checks are schemathesis's own):
  - server errors: answers >= 500 (and the not_a_server_error check);
  - schema violations: response_schema_conformance failures (a body unlike its documented schema);
  - undocumented status codes: status_code_conformance failures;
  - other check failures: content type, headers, negative data accepted, unsupported methods and their Allow,
    missing required header, auth ignored, use after free, resource availability;
  - schema-valid requests refused: a positive case (one the document says is good) answered 4xx other than 401
    (no token), 403 (role or scope), 404 (the thing named is not there or not visible), 405 (a method probe),
    409 (state), 429 (throttle), unless the refusal's kind (`error` of the JSON body, X-Citygrid-Error of Open311)
    is one of web/openapi.py's BEYOND_THE_SCHEMA: a code or id that does not exist here, fields that do not fit
    together, a point outside the district, bytes that are no photo. Those are counted apart ("refused for facts
    outside the document"). This replaces schemathesis's positive_data_acceptance check, which knows no such kinds.
The generator makes no NUL characters: the document says once, for every text, that text cannot hold one
(tests/test_nul_inputs.py sends them everywhere).

Usage: .venv/bin/python -m tests.drills.schema [--quick]
"""
from __future__ import annotations

import ast
import json
import multiprocessing
import re
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor

import httpx
import psycopg

import schemathesis
from schemathesis.engine import from_schema
from schemathesis.engine import events as engine_events

from dispatch.accounts import add_user, issue_token, set_active
from core import errors as core_errors
from tests.drills.common import city, command, result, serving
from web.openapi import BEYOND_THE_SCHEMA
from web.open311.formats import ERROR_KIND

TITLE = "schemathesis over the whole OpenAPI, as an administrator and an officer"
# Operations that revoke the caller's own token or change its account: last, with a fresh token per request.
OWN_ACCOUNT = "^/api/(tokens/current|me/password|admin/users/)"
ROLES = {"admin": (["admin"], {}), "officer": (["grid_officer"], {"street_code": "440604012"})}
ACCEPTABLE = {401, 403, 404, 405, 409, 429}  # refusals a good request may get (auth, scope, missing, state)
CHECK_FIGURES = {"not_a_server_error": "server errors", "response_schema_conformance": "schema violations",
                 "status_code_conformance": "undocumented status codes"}
# Per role: the main run, then the own-account run (5 operations, Argon2 on most: shorter). Seconds: max-time; the
# long drill runs the two roles at once, each in a process of its own.
LONG = {"max-examples": 200, "seconds": 330, "own seconds": 30, "workers": 4, "processes": 2}
QUICK = {"max-examples": 4, "seconds": None, "own seconds": None, "workers": 2, "processes": 1}


class Tally:
    """What the server answered, counted from every call (the hook runs in the workers' threads)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statuses: Counter = Counter()
        self.refused: Counter = Counter()          # (operation, status, kind) of schema-valid requests refused
        self.beyond: Counter = Counter()           # the same, for facts outside the document
        self.checks: Counter = Counter()           # failures per schemathesis check
        self.examples: dict = {}                   # one message per failure kind, for the report
        self.errors = 0
        self.groups: dict[str, str] = {}           # each run's requests and seconds
        self.unauthenticated: Counter = Counter()  # 401 answers per operation

    def call(self, context, case, response) -> None:
        """The after_call hook: count the answer; judge a positive case's refusal."""
        refused = None
        if case.meta is not None and case.meta.generation.mode.is_positive and 400 <= response.status_code < 500 \
                and response.status_code not in ACCEPTABLE:
            kind = _kind(response)
            refused = (f"{case.method} {case.operation.path}", response.status_code, kind,
                       _beyond(kind), response.text[:300])
        with self.lock:
            self.statuses[response.status_code] += 1
            if response.status_code == 401:
                self.unauthenticated[f"{case.method} {case.operation.path}"] += 1
            if refused:
                (self.beyond if refused[3] else self.refused)[refused[:3]] += 1
                self.examples.setdefault(refused[:3], refused[4])

    def counts(self) -> dict:
        """What was counted, as plain values (to cross from a child process)."""
        return {name: getattr(self, name) for name in ("statuses", "refused", "beyond", "checks", "examples",
                                                       "errors", "groups", "unauthenticated")}

    def add(self, counts: dict) -> None:
        """Add another run's counts."""
        for name, value in counts.items():
            if isinstance(value, Counter):
                getattr(self, name).update(value)
            elif isinstance(value, dict):
                getattr(self, name).update({k: v for k, v in value.items() if k not in getattr(self, name)})
            else:
                setattr(self, name, getattr(self, name) + value)

    def scenario(self, recorder) -> None:
        """Failed checks of a finished scenario."""
        for case_id, nodes in recorder.checks.items():
            for node in nodes:
                if node.status.value == "failure":
                    self.checks[node.name] += 1
                    self.examples.setdefault(node.name, _failure(recorder, case_id, node))


def _kind(response) -> str:
    """The refusal's kind: Open311's header, else the JSON body's error."""
    kind = {name.lower(): value for name, value in response.headers.items()}.get(ERROR_KIND.lower())
    if kind:
        return kind[0] if isinstance(kind, list) else kind
    try:
        body = json.loads(response.content)
    except ValueError:
        return ""
    return body.get("error", "") if isinstance(body, dict) else ""


def _beyond(kind: str) -> bool:
    found = _classes().get(kind)
    return found is not None and issubclass(found, BEYOND_THE_SCHEMA)


def _classes() -> dict:
    out, todo = {}, [core_errors.DomainError]
    while todo:
        cls = todo.pop()
        out[cls.__name__] = cls
        todo += cls.__subclasses__()
    return out


def _failure(recorder, case_id: str, node) -> str:
    """One failure as the report shows it: the request and what the check says."""
    case, answer = recorder.cases[case_id].value, recorder.interactions.get(case_id)
    status = answer.response.status_code if answer is not None and answer.response is not None else None
    failure = node.failure_info.failure
    return (f"{case.method} {case.formatted_path} query={case.query} body={str(case.body)[:120]} -> {status}: "
            f"{failure.title}: {getattr(failure, 'message', '')}")[:600]


def accounts(url: str) -> dict[str, dict[str, str]]:
    """Per role: the main account's token and the spare account's name (its tokens are issued per request)."""
    made = {}
    with psycopg.connect(url) as conn:
        for role, (roles, scope) in ROLES.items():
            add_user(conn, username=f"schema-{role}", roles=roles, **scope)
            add_user(conn, username=f"schema-{role}-spare", roles=roles, **scope)
            made[role] = {"token": issue_token(conn, username=f"schema-{role}", label="drill"),
                          "spare": f"schema-{role}-spare"}
        conn.commit()
    return made


def fresh_token(url: str, username: str) -> str:
    """A new token for the spare account (active again first: the administrator's run may have deactivated it)."""
    with psycopg.connect(url) as conn:
        set_active(conn, username=username, active=True)
        token = issue_token(conn, username=username, label="drill")
        conn.commit()
    return token


def provider(token):
    """An auth provider class giving each request `token()`'s value as its bearer token."""
    class Bearer:
        def get(self, case, context):
            return token()

        def set(self, case, data, context):
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}
    return Bearer


def config(size: dict, base: str, seconds: int | None) -> schemathesis.Config:
    """The run's settings: every check but positive_data_acceptance (judged by the Tally), no NUL in text."""
    data = {"base-url": base, "workers": size["workers"], "continue-on-failure": True, "request-timeout": 30,
            "generation": {"max-examples": size["max-examples"], "allow-x00": False, "no-shrink": True},
            "checks": {"positive_data_acceptance": {"enabled": False}},
            "phases": {"stateful": {"enabled": seconds is not None}},
            "operations": [{"include-path": "/api/events", "request-timeout": 1}],  # a stream: read 1 s of it
            "suppress-health-check": ["all"], "cache": {"enabled": False}}  # nothing written in the tree
    if seconds:
        data["max-time"] = seconds
    return schemathesis.Config.from_dict(data)


def _one_parse_at_a_time() -> None:
    # Hypothesis parses source code (ast.parse) in the workers' threads; two parses at once trip a CPython 3.11 bug
    # (gh-106905: "AST constructor recursion depth mismatch", an engine error), so in this process they take turns.
    if getattr(ast.parse, "one_at_a_time", False):
        return
    parse, lock = ast.parse, threading.Lock()

    def serial(*args, **kwargs):
        with lock:
            return parse(*args, **kwargs)
    serial.one_at_a_time = True
    ast.parse = serial


def run_group(base: str, tally: Tally, size: dict, token, *, own_account: bool, label: str) -> None:
    """One schemathesis run: the operations of one group, each request with `token()`."""
    started, before = time.monotonic(), sum(tally.statuses.values())
    _one_parse_at_a_time()
    document = httpx.get(f"{base}/openapi.json").raise_for_status().json()
    document["paths"] = {path: ops for path, ops in document["paths"].items()
                         if bool(re.match(OWN_ACCOUNT, path)) == own_account}
    seconds = size["own seconds" if own_account else "seconds"]
    schema = schemathesis.openapi.from_dict(document, config=config(size, base, seconds))
    schema.auth(refresh_interval=None)(provider(token))
    schema.hooks.register_hook_with_name(tally.call, "after_call")
    for event in from_schema(schema).execute():
        if isinstance(event, (engine_events.ScenarioFinished, engine_events.FuzzScenarioFinished)):
            tally.scenario(event.recorder)
        elif isinstance(event, engine_events.NonFatalError):
            tally.errors += 1
            tally.examples.setdefault("errors", str(event.value)[:300])
        elif isinstance(event, engine_events.FatalError):
            raise event.exception
    tally.groups[label] = f"{sum(tally.statuses.values()) - before} requests in {time.monotonic() - started:.0f} s"
    print(f"    schema drill, {label}: {tally.groups[label]}", file=sys.stderr, flush=True)


def drill(url: str, *, quick: bool = False, media_root: str | None = None) -> dict:
    """The drill on an existing Chancheng database: its figures and targets."""
    size = QUICK if quick else LONG
    made, tally, started = accounts(url), Tally(), time.monotonic()
    with tempfile.TemporaryDirectory() as media, serving(url, media_root=media_root or media,
                                                        db_wait_seconds="10") as base:
        for own_account in (False, True):  # the runs that touch their own accounts after every other
            runs = [(base, url, size, made[role], own_account, f"{role}{', own account' if own_account else ''}")
                    for role in ROLES]
            if size["processes"] == 1:
                counted = [_group(run) for run in runs]
            else:  # generation is CPU-bound under one GIL: one process per role
                with ProcessPoolExecutor(size["processes"], mp_context=multiprocessing.get_context("fork")) as pool:
                    counted = list(pool.map(_group, runs))
            for counts in counted:
                tally.add(counts)
    outcome = _outcome(tally, quick, time.monotonic() - started)
    if not outcome["ok"]:  # what went wrong, for the one who reads the table
        print(json.dumps({k: outcome["details"][k] for k in ("refused", "checks", "examples")}, indent=1,
                         ensure_ascii=False), file=sys.stderr)
    return outcome


def _group(run: tuple) -> dict:
    """One run (in this process or a child): its counts."""
    base, url, size, account, own_account, label = run
    token = (lambda: fresh_token(url, account["spare"])) if own_account else (lambda: account["token"])
    tally = Tally()
    run_group(base, tally, size, token, own_account=own_account, label=label)
    return tally.counts()


def _outcome(tally: Tally, quick: bool, seconds: float) -> dict:
    sent = sum(tally.statuses.values())
    figures = {"requests sent": sent,
               "server errors": sum(n for s, n in tally.statuses.items() if s >= 500)
               + tally.checks["not_a_server_error"],
               "schema violations": tally.checks["response_schema_conformance"],
               "undocumented status codes": tally.checks["status_code_conformance"],
               "other check failures": sum(n for c, n in tally.checks.items() if c not in CHECK_FIGURES),
               "schema-valid requests refused": sum(tally.refused.values()),
               "refused for facts outside the document": sum(tally.beyond.values()),
               "answers 401": tally.statuses[401],
               "engine errors": tally.errors,
               "seconds": round(seconds, 1)}
    targets = {"requests sent": ">= 1000" if quick else ">= 10000", "server errors": "= 0",
               "schema violations": "= 0", "undocumented status codes": "= 0", "other check failures": "= 0",
               "schema-valid requests refused": "= 0", "engine errors": "= 0"}
    outcome = result(figures, targets)
    outcome["details"] = {"runs": tally.groups, "statuses": dict(sorted(tally.statuses.items())),
                          "401 by operation": dict(tally.unauthenticated.most_common(8)),
                          "checks": dict(tally.checks),
                          "refused": {" ".join(map(str, k)): n for k, n in tally.refused.items()},
                          "beyond": {" ".join(map(str, k)): n for k, n in tally.beyond.most_common(12)},
                          "examples": {" ".join(map(str, k)) if isinstance(k, tuple) else k: v
                                       for k, v in tally.examples.items()}}
    return outcome


def run(quick: bool = False) -> dict:
    """The drill in its own database."""
    with city("schema", cast=("officer",)) as (url, _):
        return drill(url, quick=quick)


if __name__ == "__main__":
    sys.exit(command(TITLE, run))

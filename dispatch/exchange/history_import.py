"""The import path for HISTORICAL cases: real times and outcomes, written directly, marked imported.

Historical cases do not pass through live transitions (no notifications, no routing, no clock reading): each case
is checked against the workflow table step by step, its columns are derived from the steps as the live effects
would set them, and case, report and history rows are inserted with `imported = true`. Every row of the file is
independent: a bad row is reported and skipped (its own SAVEPOINT), good rows stay. The caller owns the transaction.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

import psycopg

from core.errors import InvalidInput
from dispatch.casework.deadlines import due, load_calendar, moved
from dispatch.casework.workflow import FINAL, STEPS
from dispatch.exchange import history_repo
from dispatch.models import Policy
from dispatch.routing import repo
from events import repo as events_repo
from gis.crs import WGS84, parse_crs
from gis.locator import locate

MAX_TEXT = 4000
DEADLINE_ACTIONS = frozenset({"dispatch", "approve_extension", "check_fail"})

class HistoryFileError(InvalidInput):
    """A history file that cannot be read as JSON or JSON Lines: nothing is imported."""


class RowError(InvalidInput):
    """One case of a history file that cannot be imported; the others go on."""


@dataclass
class HistoryImport:
    """What an import did: the new case ids, and each skipped row with its reason."""

    imported: list[int] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class _Reference:
    """What every row is checked against, read once."""

    categories: dict
    departments: frozenset[str]
    calendar: object
    policy: Policy


def import_history(conn: psycopg.Connection, *, path: str | os.PathLike, by: str,
                   policy: Policy | None = None) -> HistoryImport:
    """Import historical cases from JSON or JSON Lines; bad rows are skipped with a reason, good rows kept. JSON
    Lines are read a line at a time (a file larger than memory is fine); a JSON list is parsed whole."""
    rows = iter_history_file(path)
    policy = policy or Policy()
    ref = _Reference({c.code: c for c in events_repo.categories(conn)},
                     frozenset(d.code for d in repo.departments(conn)), load_calendar(conn), policy)
    result = HistoryImport()
    with conn.transaction():  # a savepoint: a line found not to be JSON halfway through leaves nothing behind
        for number, raw in rows:
            try:
                with conn.transaction():  # and one per row: a bad row is skipped, the others stay
                    result.imported.append(_import_one(conn, raw, ref, by))
            except (InvalidInput, ValueError, psycopg.IntegrityError, psycopg.DataError) as exc:
                result.skipped.append((number, str(exc)))
    return result


def read_history_file(path: str | os.PathLike) -> list[tuple[int, object]]:
    """(row number, parsed value) for each case: a JSON list, or one JSON value per line of a .jsonl file."""
    return list(iter_history_file(path))


def iter_history_file(path: str | os.PathLike) -> Iterator[tuple[int, object]]:
    """read_history_file one case at a time: JSON Lines stream; a JSON list is parsed whole."""
    if os.fspath(path).lower().endswith((".jsonl", ".ndjson")):
        return _lines(path)
    try:
        with open(path, encoding="utf-8-sig") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise HistoryFileError(f"cannot read the history file {path}: {exc}") from None
    data = _json(text, str(path))
    if not isinstance(data, list):
        raise HistoryFileError(f"{path}: a JSON history file must be a list of cases ([{{...}}, ...]), "
                               f"not a {type(data).__name__}; or use JSON Lines (.jsonl), one case per line")
    return iter(enumerate(data, 1))


def _lines(path) -> Iterator[tuple[int, object]]:
    try:
        f = open(path, encoding="utf-8-sig")
    except OSError as exc:
        raise HistoryFileError(f"cannot read the history file {path}: {exc}") from None
    with f:
        try:
            for n, line in enumerate(f, 1):
                if line.strip():
                    yield n, _json(line, f"{path} line {n}")
        except UnicodeDecodeError as exc:
            raise HistoryFileError(f"cannot read the history file {path}: {exc}") from None


def _json(text: str, where: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise HistoryFileError(f"{where} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
                               "nothing was imported: export the history as JSON or JSON Lines") from None


def _import_one(conn, raw, ref: _Reference, by: str) -> int:
    case = _case_fields(conn, raw, ref)
    found = history_repo.imported_case_id(conn, external_id=case["external_id"])
    if found:
        raise RowError(f"external_id {case['external_id']!r} was already imported as case {found}")
    state, history = _walk(raw["steps"], case, ref)
    history[0]["detail"] = {"external_id": case["external_id"], "imported_by": by}
    return history_repo.insert_imported(conn, case={**case, **state}, history=history)


def _case_fields(conn, raw, ref: _Reference) -> dict:
    """The case-level fields, checked, with the grid chain of its point."""
    if not isinstance(raw, dict):
        raise RowError(f"each case must be a JSON object, not {type(raw).__name__}")
    external_id = _text(raw, "external_id", required=True)
    code = raw.get("category")
    category = ref.categories.get(code) if isinstance(code, str) else None
    if category is None:
        raise RowError(f"{external_id}: unknown category {raw.get('category')!r}: use a code of the category tree")
    steps = raw.get("steps")
    if not isinstance(steps, list) or not steps:
        raise RowError(f"{external_id}: steps must be a non-empty list, starting with the report")
    crs = raw.get("crs") or WGS84
    try:
        where = locate(conn, lon=raw.get("lon"), lat=raw.get("lat"), crs=crs)
    except InvalidInput as exc:
        raise RowError(f"{external_id}: {exc}") from None
    urgent = raw.get("urgent", False)
    if not isinstance(urgent, bool):
        raise RowError(f"{external_id}: urgent must be true or false")
    return {
        "external_id": external_id, "category": category, "category_code": category.code, "urgent": urgent,
        "description": _text(raw, "description"), "source": _text(raw, "source") or "import",
        "reporter": _text(raw, "reporter"), "lon": where.lon, "lat": where.lat, "input_lon": raw["lon"],
        "input_lat": raw["lat"], "input_crs": parse_crs(crs), "release_id": where.release_id,
        "zones": where.zones, **_chain(where),
    }


def _chain(where) -> dict:
    return {f"{level}_{part}": getattr(getattr(where, level), part)
            for level in ("district", "street", "community", "grid") for part in ("code", "name")}


def _text(raw: dict, key: str, *, required: bool = False) -> str:
    value = raw.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str) or len(value) > MAX_TEXT or (required and not value.strip()):
        raise RowError(f"{key} must be {'a non-empty' if required else 'a'} text of at most {MAX_TEXT} characters")
    return value.strip() if key != "description" else value


def _walk(steps: list, case: dict, ref: _Reference) -> tuple[dict, list[dict]]:
    """Replay the steps on the workflow table; returns the case columns they lead to and the history rows."""
    state = _initial()
    history, last_at = [], None
    for n, raw in enumerate(steps, 1):
        step = _step(raw, n, case["external_id"])
        if last_at is not None and step["at"] < last_at:
            raise RowError(f"{case['external_id']} step {n} ({step['action']}): its time {step['at'].isoformat()} "
                           f"is earlier than the step before ({last_at.isoformat()}); list steps in time order")
        history.append(_advance(state, step, n, case, ref))
        last_at = step["at"]
    state["updated_at"] = last_at
    if not case["reporter"]:
        case["reporter"] = history[0]["actor"]
    return state, history


def _initial() -> dict:
    return {"status": None, "department_code": None, "dispatched_at": None, "clock_start": None, "deadline": None,
            "yellow_at": None, "deadline_provisional": False, "time_limit": None, "handled_at": None,
            "check_deadline": None, "closed_at": None, "dispatch_count": 0, "return_count": 0, "rework_count": 0,
            "extension_count": 0, "created_at": None}


def _step(raw, n: int, external_id: str) -> dict:
    where = f"{external_id} step {n}"
    if not isinstance(raw, dict):
        raise RowError(f"{where}: each step must be a JSON object")
    action = raw.get("action")
    if not isinstance(action, str):
        raise RowError(f"{where}: action must be \"report\" or a workflow action ({', '.join(STEPS)})")
    actor = raw.get("actor")
    if not isinstance(actor, str) or not actor.strip():
        raise RowError(f"{where} ({action}): actor must name who took the step")
    note = raw.get("note") or ""
    if not isinstance(note, str) or len(note) > MAX_TEXT:
        raise RowError(f"{where} ({action}): note must be a text of at most {MAX_TEXT} characters")
    if raw.get("deadline") is not None and action not in DEADLINE_ACTIONS:
        raise RowError(f"{where} ({action}): a deadline can only be given on {', '.join(sorted(DEADLINE_ACTIONS))}")
    return {"n": n, "where": where, "action": action, "actor": actor.strip(), "role": str(raw.get("role") or ""),
            "note": note.strip(), "department": raw.get("department"), "at": _time(raw.get("at"), where, "at"),
            "deadline": _time(raw["deadline"], where, "deadline") if raw.get("deadline") is not None else None}


def _time(value, where: str, key: str) -> datetime:
    try:
        at = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise RowError(f"{where}: {key} {value!r} is not an ISO 8601 date and time such as "
                       "2026-10-08T09:00:00+08:00") from None
    if at.tzinfo is None or at.utcoffset() is None:
        raise RowError(f"{where}: {key} {value!r} has no time zone: add the offset, e.g. {value}+08:00")
    return at


def _advance(state: dict, step: dict, n: int, case: dict, ref: _Reference) -> dict:
    """Apply one step to the case state, as the live effect would; returns its history row."""
    action, before = step["action"], state["status"]
    if n == 1 or action == "report":
        if n != 1 or action != "report":
            raise RowError(f"{step['where']}: the first step, and only the first, must be \"report\" "
                           f"(got {action!r})")
        state.update(status="reported", created_at=step["at"])
        return _history(step, None, "reported", None, None)
    spec = STEPS.get(action)
    if spec is None:
        raise RowError(f"{step['where']}: unknown action {action!r}; use one of {', '.join(STEPS)}")
    if before not in spec.sources:
        raise RowError(f"{step['where']}: {action} needs the case to be {' or '.join(spec.sources)}, but after "
                       f"step {n - 1} it is {before}")
    if spec.needs_reason and not step["note"]:
        raise RowError(f"{step['where']}: {action} needs a reason: give it in note")
    holder = state["department_code"]
    EFFECTS.get(action, _nothing)(state, step, case, ref)
    state["status"] = spec.target
    department = holder if action == "return" else state["department_code"]
    deadline = None if spec.target in FINAL else state["deadline"]
    return _history(step, before, spec.target, department, deadline, step.get("detail", {}))


def _history(step: dict, before, after: str, department, deadline, detail=None) -> dict:
    return {"at": step["at"], "actor": step["actor"], "actor_role": step["role"], "action": step["action"],
            "from_status": before, "to_status": after, "note": step["note"], "department_code": department,
            "deadline": deadline, "detail": detail or {}}


def _nothing(state, step, case, ref) -> None:
    pass


def _clock(state: dict, step: dict, ref: _Reference) -> None:
    """Start the handling clock at the step's time: the given deadline, or the limit counted on the calendar."""
    d = due(ref.calendar, start=step["at"], limit=state["time_limit"], policy=ref.policy)
    deadline, yellow, provisional = d.due, d.yellow_at, d.provisional
    if step["deadline"] is not None:
        if step["deadline"] <= step["at"]:
            raise RowError(f"{step['where']}: the deadline must be later than the step's time")
        deadline = step["deadline"]
        yellow, provisional = moved(ref.calendar, start=d.start, new_due=deadline, policy=ref.policy)
    state.update(clock_start=d.start, deadline=deadline, yellow_at=yellow, deadline_provisional=provisional)


def _dispatch(state, step, case, ref) -> None:
    if not isinstance(step["department"], str) or step["department"] not in ref.departments:
        raise RowError(f"{step['where']}: dispatch names an unknown department {step['department']!r}")
    category = case["category"]
    state["time_limit"] = category.urgent_limit if case["urgent"] and category.urgent_limit else category.time_limit
    _clock(state, step, ref)
    state.update(department_code=step["department"], dispatched_at=step["at"], handled_at=None,
                 dispatch_count=state["dispatch_count"] + 1)


def _return(state, step, case, ref) -> None:
    step["detail"] = {"returned_by": state["department_code"]}
    state.update(department_code=None, deadline=None, yellow_at=None, clock_start=None,
                 return_count=state["return_count"] + 1)


def _approve_extension(state, step, case, ref) -> None:
    old = state["deadline"]
    new = step["deadline"] or due(ref.calendar, start=old, limit=state["time_limit"], policy=ref.policy).due
    if new <= old:
        raise RowError(f"{step['where']}: the new deadline must be later than the current one ({old.isoformat()})")
    yellow, provisional = moved(ref.calendar, start=state["clock_start"], new_due=new, policy=ref.policy)
    step["detail"] = {"old_deadline": old.isoformat()}
    state.update(deadline=new, yellow_at=yellow, deadline_provisional=provisional,
                 extension_count=state["extension_count"] + 1)


def _handle(state, step, case, ref) -> None:
    check = due(ref.calendar, start=step["at"], limit=case["category"].check_limit, policy=ref.policy).due
    step["detail"] = {"check_deadline": check.isoformat()}
    state.update(handled_at=step["at"], check_deadline=check)


def _check_fail(state, step, case, ref) -> None:
    _clock(state, step, ref)
    step["detail"] = {"rework": True}
    state.update(handled_at=None, check_deadline=None, rework_count=state["rework_count"] + 1)


def _close(state, step, case, ref) -> None:
    state["closed_at"] = step["at"]


def _merge(state, step, case, ref) -> None:
    raise RowError(f"{step['where']}: merge cannot be imported, as the case it joined is not known to this import; "
                   "leave merged duplicates out of the history file")


def _reopen(state, step, case, ref) -> None:
    state.update(closed_at=None, department_code=None, deadline=None, yellow_at=None, clock_start=None,
                 handled_at=None, check_deadline=None)


EFFECTS = {
    "dispatch": _dispatch, "return": _return, "approve_extension": _approve_extension, "handle": _handle,
    "check_fail": _check_fail, "close": _close, "merge": _merge, "reopen": _reopen,
}

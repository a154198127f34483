"""Bulk import of reports and history: a file of independent rows, checked, located and routed set-wise, COPYed.

The file is read in chunks of rows (`dispatch/exchange/bulk_read.py`: CSV, GeoPackage and Shapefile stream; GeoJSON is
parsed whole), so memory stays bounded whatever its size; everything below is done per chunk, in one transaction
(a savepoint of the caller's), and each chunk's rows go in with one COPY per table. Within a chunk, rows are a
table (pandas), every check is a vectorised mask, the points are located among the unit grids
in process (`gis.locator.locate_many`: STRtree with the locator's shared-edge rule), routing is decided once per
distinct (category, place) and deadlines are counted by the vectorised clock. Cases, reports, history rows and
routing decisions are streamed in with binary COPY, in the caller's transaction. Bad rows are reported (row
number, reason, counted across chunks) and skipped; with all_or_nothing one bad row refuses the whole file: the
rest is only checked, and the chunks already written are rolled back with the savepoint. A source id repeated in
the file is refused from its second row on, whichever chunk it is in; routing decisions are cached across
chunks. Re-importing a file finds its rows again by (source, source id) and adds nothing. Design and measurements: docs/bulk.md.

Two kinds of rows:
- a **report** (no status): a problem to handle now. It is registered and routed by the active rules at import
  time: dispatched with a deadline counted from now, or left registered for the dispatchers when no rule fits.
- a **history** row (with a status): a case from the past with its real times and outcome, marked imported.
  Its steps are written as the live workflow would have: report, register, dispatch to the department that
  handled it (deadline counted from the report time), accept, and for a closed case handle, check_ok and close
  at the closing time. The evaluation counts them like any other case.
"""
from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import psycopg
import shapely

from core.errors import InvalidInput
from dispatch.casework import case_repo
from dispatch.casework.deadlines import load_calendar
from dispatch.exchange import bulk_repo
from dispatch.exchange.bulk_read import CHUNK, FIELDS, INEXACT, BulkFileError, Mapping, SeenIds, read_chunks
from dispatch.models import Policy
from dispatch.routing import repo
from dispatch.routing.choose import Facts, choose
from dispatch.routing.router import street_units
from events import repo as events_repo
from events.workclock import Limit
from events.workclock_many import deadline_many
from gis.crs import parse_crs, points_to_wgs84
from gis.locator import locate_many

HISTORY_STATUSES = ("dispatched", "accepted", "closed", "rejected")
HELD = ("dispatched", "accepted", "closed")
MAX_TEXT = 4000
MAX_ID = 200
SOURCE = re.compile(r"^[a-z0-9_-]{1,32}$")

Progress = Callable[[str, int, int], None]  # (stage, rows done in this step, rows in the stage)


class BulkRefused(InvalidInput):
    """all_or_nothing: the file has bad rows, so nothing was imported."""


@dataclass
class BulkResult:
    """What an import did."""

    rows: int = 0
    imported: int = 0
    reports: int = 0
    history: int = 0
    dispatched: int = 0
    unrouted: int = 0
    already: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    per_row_checks_skipped: bool = False  # the role could skip the per-row foreign-key triggers (bulk_repo.quiet)


# ---- reading ----------------------------------------------------------------------------------------------------

def read_aliases(path: str | os.PathLike) -> list[dict]:
    """A category mapping file: foreign_code, category[, foreign_name] (CSV or YAML)."""
    from events.tablefile import read_rows

    rows = read_rows(path, columns=("foreign_code", "category", "foreign_name"),
                     required=("foreign_code", "category"), error=BulkFileError)
    return [{"foreign_code": r["foreign_code"], "category_code": r["category"],
             "foreign_name": r.get("foreign_name", "")} for _, r in rows]


def load_aliases(conn: psycopg.Connection, *, path: str | os.PathLike, source: str) -> int:
    """Store a category mapping for a source (all or nothing: an unknown target category refuses the file)."""
    _check_source(source)
    rows = read_aliases(path)
    known = {c.code for c in events_repo.categories(conn)}
    bad = [f"{r['foreign_code']} → {r['category_code']}" for r in rows if r["category_code"] not in known]
    if bad:
        raise BulkFileError(f"{path}: unknown target categor(y/ies) {', '.join(bad[:10])}; nothing was loaded")
    bulk_repo.store_aliases(conn, source=source, rows=rows)
    return len(rows)


def _check_source(source: str) -> None:
    if not SOURCE.match(source):
        raise InvalidInput(f"source {source!r}: use up to 32 lower-case letters, digits, '_' or '-'")


# ---- the import -------------------------------------------------------------------------------------------------

def import_events(conn: psycopg.Connection, *, path: str | os.PathLike, mapping: Mapping, policy: Policy,
                  by: str, all_or_nothing: bool = False, progress: Progress | None = None,
                  locator: Callable | None = None, chunk_rows: int = CHUNK) -> BulkResult:
    """Import a file of reports and/or history rows (see the module's docstring), `chunk_rows` rows at a time.
    The caller commits; a refused or failed import leaves nothing behind (its own savepoint)."""
    _check_source(mapping.source)
    run = _Run(tick=progress or (lambda stage, done, total: None), locator=locator or locate_many)
    total, chunks = read_chunks(path, mapping, size=chunk_rows)
    run.ref = reference(conn, mapping.source)  # opens the caller's transaction: the block below is a savepoint
    result = run.result
    try:
        with conn.transaction():
            for table in chunks:
                run.clock.lap("read")
                run.tick("read", len(table), total)
                _chunk(conn, table, run, mapping, policy, by, all_or_nothing, total)
            if all_or_nothing and result.skipped:
                shown = "; ".join(f"row {r}: {why}" for r, why in result.skipped[:20])
                raise BulkRefused(f"{len(result.skipped)} bad row(s), nothing was imported (--all-or-nothing): "
                                  f"{shown}")
            _notify(conn, run.sent, result.unrouted)
    except psycopg.errors.UniqueViolation:
        raise BulkRefused("another import of some of the same rows (same source and source id) committed while "
                          "this one ran; nothing was imported: run it again, the rows already in will be "
                          "skipped") from None
    result.seconds = run.clock.laps
    return result


@dataclass
class _Run:
    """What one import carries from chunk to chunk."""

    tick: Progress
    locator: Callable
    ref: "Reference | None" = None
    result: BulkResult = field(default_factory=BulkResult)
    seen: SeenIds = field(default_factory=SeenIds)  # source ids met so far in the file
    cache: dict = field(default_factory=dict)        # routing decisions per distinct category and place
    sent: Counter = field(default_factory=Counter)   # reports dispatched per department, for one message each
    fast: bool | None = None                         # bulk_repo.quiet, once
    clock: "_Stopwatch" = field(default_factory=lambda: _Stopwatch())


def _chunk(conn, table: pd.DataFrame, run: _Run, mapping: Mapping, policy: Policy, by: str,
           all_or_nothing: bool, total: int) -> None:
    """Check, locate, route and write one chunk (only check and locate once an all-or-nothing file is refused)."""
    result, ref, n = run.result, run.ref, len(table)
    result.rows += n
    def done(stage: str) -> None:  # every stage's bar counts the file's rows
        run.clock.lap(stage)
        run.tick(stage, n, total)

    reasons = _check(table, ref, mapping, policy, run.seen)
    done("check")
    _locate(table, reasons, ref, run.locator)
    done("locate")
    bad = reasons != ""
    result.skipped += list(zip(table.loc[bad, "row"].astype(int).tolist(), reasons[bad].tolist()))
    if all_or_nothing and result.skipped:
        return
    good = table[~bad].copy()
    found = bulk_repo.already(conn, source=mapping.source, ids=good["source_id"].tolist())
    result.already += int(good["source_id"].isin(found.keys()).sum())
    good = good[~good["source_id"].isin(found.keys())].reset_index(drop=True)
    run.clock.lap("dedupe")
    _route(good, ref, run.cache)
    done("route")
    _deadlines(good, ref, policy)
    run.clock.lap("deadlines")
    if len(good) and run.fast is None:
        run.fast = result.per_row_checks_skipped = bulk_repo.quiet(conn)  # no live-feed notification per row
    _write(conn, good, ref, mapping, by, done)
    fresh = ~good["is_history"]
    result.imported += len(good)
    result.history += int(good["is_history"].sum())
    result.reports += int(fresh.sum())
    result.dispatched += int((fresh & (good["status_out"] == "dispatched")).sum())
    result.unrouted += int((fresh & (good["status_out"] == "registered")).sum())
    run.sent.update(good.loc[fresh, "department_out"].dropna())


class _Stopwatch:
    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = datetime.now().timestamp()

    def lap(self, name: str) -> None:
        now = datetime.now().timestamp()
        self.laps[name] = round(self.laps.get(name, 0.0) + now - self._last, 3)
        self._last = now


@dataclass
class Reference:
    """What every row is checked, located and routed against, read once."""

    categories: dict
    aliases: dict[str, str]
    departments: dict[str, str]
    rules: list
    units: dict
    calendar: object
    release_id: int
    names: dict[str, str]
    parents: dict[str, str]
    grid_codes: list[str]
    grid_shapes: np.ndarray
    zone_keys: list[tuple[str, str, str]]
    zone_shapes: np.ndarray
    rule_set_id: int | None


def reference(conn, source: str) -> Reference:
    """The reference data of an import, read once."""
    release_id, names, parents, grid_codes, grid_shapes = bulk_repo.release(conn)
    if not release_id:
        raise InvalidInput("no grid release is active: import grids and run `citygrid grids release --activate`")
    zone_keys, zone_shapes = bulk_repo.zones(conn)
    return Reference(
        categories={c.code: c for c in events_repo.categories(conn)},
        aliases=bulk_repo.aliases(conn, source=source),
        departments={d.code: d.name for d in repo.departments(conn)},
        rules=repo.active_rules(conn), units=street_units(conn), calendar=load_calendar(conn),
        release_id=release_id, names=names, parents=parents, grid_codes=grid_codes, grid_shapes=grid_shapes,
        zone_keys=zone_keys, zone_shapes=zone_shapes, rule_set_id=bulk_repo.active_rule_set(conn))


# ---- checks: each a vectorised mask; the first reason of a row is the one reported -----------------------------

def _check(table: pd.DataFrame, ref: Reference, mapping: Mapping, policy: Policy, seen: SeenIds) -> pd.Series:
    reasons = pd.Series("", index=table.index, dtype=object)

    def flag(mask, text) -> None:
        mask = pd.Series(mask, index=table.index).fillna(False).astype(bool) & (reasons == "")
        if mask.any():
            reasons[mask] = text[mask] if isinstance(text, pd.Series) else text

    if "ragged" in table:  # a CSV row with more fields than the header (dispatch/exchange/bulk_read.py): nothing else to check
        flag(table["ragged"].notna(), table["ragged"])

    text = {name: table[name].fillna("").astype(str).str.strip() if name in table else
            pd.Series("", index=table.index) for name in FIELDS if name not in ("lon", "lat")}
    for name, values in text.items():
        flag(values.str.startswith(INEXACT), f"{name} is a number too large to read exactly: store it as text")
        flag(values.str.contains("\x00", regex=False), f"{name} holds a NUL character")
    sid = text["source_id"]
    flag(sid == "", "source id is empty")
    flag(sid.str.len() > MAX_ID, f"source id longer than {MAX_ID} characters")
    repeats, first = seen.first_rows(sid, table["row"])  # across chunks: the whole file so far
    flag(repeats & (sid != ""), "source id " + sid + " repeats row " + pd.Series(first, index=table.index).astype(str))
    table["source_id"] = sid
    code = text["category"].map(lambda c: ref.aliases.get(c, c))
    flag(code == "", "category is empty")
    flag(~code.isin(ref.categories.keys()) & (code != ""),
         "unknown category " + text["category"] + " (not a category code, nor mapped by --categories)")
    table["category_code"] = code
    if "not_point" in table:
        flag(table["not_point"], "the geometry is not a point")
    lon = pd.to_numeric(table["lon"], errors="coerce")
    lat = pd.to_numeric(table["lat"], errors="coerce")
    flag(lon.isna() | lat.isna() | ~np.isfinite(lon.fillna(0)) | ~np.isfinite(lat.fillna(0)),
         "lon/lat missing or not numbers")
    table["in_lon"], table["in_lat"] = lon, lat
    crs_text = text["crs"].where(text["crs"] != "", mapping.crs)
    parsed = {}
    for value in crs_text.unique():
        try:
            parsed[value] = parse_crs(value)
        except InvalidInput as exc:
            parsed[value] = None
            flag(crs_text == value, f"crs {value!r}: {exc}")
    table["in_crs"] = crs_text.map(lambda v: parsed.get(v) or "")
    reported = _times(text["reported_at"], policy)
    flag(text["reported_at"] == "", "reported_at is empty")
    flag(reported.isna(), "reported_at " + text["reported_at"] + " is not an ISO 8601 time (2026-10-08T09:00+08:00)")
    now = pd.Timestamp(datetime.now(timezone.utc))
    flag(reported > now + pd.Timedelta(minutes=5), "reported_at is in the future")
    table["reported"] = reported
    flag(text["description"].str.len() > MAX_TEXT, f"description longer than {MAX_TEXT} characters")
    table["description"] = text["description"]
    status = text["status"].str.lower()
    flag((status != "") & ~status.isin(HISTORY_STATUSES),
         "status " + text["status"] + f" is not one of {', '.join(HISTORY_STATUSES)} (or empty for a report)")
    department = text["department"]
    flag(status.isin(HELD) & (department == ""), "status " + status + " needs the department that handled it")
    flag((department != "") & ~department.isin(ref.departments.keys()), "unknown department " + department)
    flag((department != "") & (status == ""), "a department is only taken with a status (history rows)")
    closed = _times(text["closed_at"], policy)
    flag((status == "closed") & closed.isna(), "a closed case needs closed_at (an ISO 8601 time)")
    flag((text["closed_at"] != "") & closed.isna(), "closed_at " + text["closed_at"] + " is not an ISO 8601 time")
    flag(closed < reported, "closed_at is before reported_at")
    flag(closed > now + pd.Timedelta(minutes=5), "closed_at is in the future")
    table["status_in"], table["department_in"], table["closed"] = status, department, closed
    table["is_history"] = status != ""
    return reasons


ZONED = r"(?:Z|[+-]\d{2}(?::?\d{2})?)$"  # Z, +08, +0800 or +08:00 at the end


def _times(text: pd.Series, policy: Policy) -> pd.Series:
    """ISO 8601 times; a time without an offset is the deployment's local time; anything else is NaT."""
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us, UTC]")
    given = text != ""
    if not given.any():
        return out
    zoned = given & text.str.contains(ZONED, regex=True)
    if zoned.any():
        out[zoned] = _parse(text[zoned], lambda t: pd.to_datetime(t, utc=True, errors="coerce", format="ISO8601"),
                            lambda one: datetime.fromisoformat(one.replace("Z", "+00:00")))
    naive = given & ~zoned
    if naive.any():
        def local(t):
            parsed = pd.to_datetime(t, errors="coerce", format="ISO8601")
            return parsed.dt.tz_localize(policy.tz, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
        out[naive] = _parse(text[naive], local,
                            lambda one: datetime.fromisoformat(one).replace(tzinfo=policy.tz))
    return out


def _parse(text: pd.Series, together, alone) -> pd.Series:
    """Parse a column at once; if pandas refuses the column as a whole (mixed forms), value by value."""
    try:
        return together(text)
    except (ValueError, TypeError, OverflowError):
        values = []
        for one in text:
            try:
                when = alone(one)
                values.append(pd.Timestamp(when).tz_convert("UTC") if when.tzinfo else pd.NaT)
            except (ValueError, TypeError, OverflowError):
                values.append(pd.NaT)
        return pd.Series(values, index=text.index, dtype="datetime64[us, UTC]")


# ---- locate -----------------------------------------------------------------------------------------------------

def _locate(table: pd.DataFrame, reasons: pd.Series, ref: Reference, locator: Callable) -> None:
    ok = reasons == ""
    lon = np.full(len(table), np.nan)
    lat = np.full(len(table), np.nan)
    for crs, group in table[ok].groupby("in_crs"):
        x, y = points_to_wgs84(group["in_lon"].to_numpy(float), group["in_lat"].to_numpy(float), crs)
        lon[group.index], lat[group.index] = x, y
    table["lon_wgs"], table["lat_wgs"] = lon, lat
    grid = np.full(len(table), None, dtype=object)
    where = np.flatnonzero(ok.to_numpy() & np.isfinite(lon) & np.isfinite(lat))
    if len(where):
        grid[where] = locator(ref.grid_codes, ref.grid_shapes, lon[where], lat[where])
    outside = ok.to_numpy() & pd.isna(grid)
    text = [f"the point (lon {x:.6f}, lat {y:.6f} in WGS84) is outside the district"
            for x, y in zip(lon[outside], lat[outside])]
    reasons[outside] = text
    table["grid"] = grid
    community = pd.Series(grid).map(ref.parents)
    street = community.map(ref.parents)
    table["community"], table["street"] = community.to_numpy(), street.to_numpy()
    table["district"] = street.map(ref.parents).to_numpy()
    table["zones"] = zones_of(lon, lat, where, ref)


def zones_of(lon, lat, where, ref: Reference) -> np.ndarray:
    """For each point, the zones covering it as the locator lists them: [(layer, code, name)], layer then code."""
    out = np.empty(len(lon), dtype=object)
    out[:] = [()] * len(lon)
    if not len(ref.zone_keys) or not len(where):
        return out
    tree = shapely.STRtree(ref.zone_shapes)
    point_idx, zone_idx = tree.query(shapely.points(lon[where], lat[where]), predicate="covered_by")
    hits: dict[int, list[int]] = {}
    for p, z in zip(where[point_idx].tolist(), zone_idx.tolist()):
        hits.setdefault(p, []).append(z)
    for p, zs in hits.items():  # zone_keys are ordered by layer, code
        out[p] = tuple(ref.zone_keys[z] for z in sorted(zs))
    return out


# ---- route and deadlines --------------------------------------------------------------------------------------

def _route(good: pd.DataFrame, ref: Reference, cache: dict) -> None:
    """Reports: the active rules, decided once per distinct category and place (the place as precise as the
    rules look: a rule set without grid rules does not tell grids apart). History: its department."""
    n = len(good)
    department = good["department_in"].where(good["is_history"], None).to_numpy(dtype=object)
    decision = np.full(n, None, dtype=object)
    facts = [Facts(c, s, m, g, tuple((layer, code) for layer, code, _ in z))
             for c, s, m, g, z in zip(good["category_code"], good["street"], good["community"], good["grid"],
                                      good["zones"])]
    reports = np.flatnonzero(~good["is_history"].to_numpy())
    for i, found in zip(reports, decide_many(ref, [facts[i] for i in reports], cache)):
        decision[i] = found
        department[i] = found.department_code
    good["department_out"] = department
    good["decision"] = decision
    good["facts"] = facts
    status = good["status_in"].to_numpy(dtype=object).copy()
    reports = ~good["is_history"].to_numpy()
    status[reports] = np.where(pd.isna(department[reports]), "registered", "dispatched")
    good["status_out"] = status


def decide_many(ref: Reference, facts: list[Facts], cache: dict) -> list:
    """The routing decision of each case, decided once per distinct category and place (`cache` keeps them
    across calls); a decision without a recipient is redone on the case's own facts, so it names its own grid."""
    used = {r.place_kind for r in ref.rules}
    street = "street" in used or any(r.recipient_kind == "street_unit" for r in ref.rules)
    out = []
    for f in facts:
        key = (f.category, f.street_code if street else None, f.community_code if "community" in used else None,
               f.grid_code if "grid" in used else None, f.zones if "zone" in used else None)
        found = cache.get(key)
        if found is None:
            found = cache[key] = choose(ref.rules, f, ref.units)
        if found.department_code is None:
            found = choose(ref.rules, f, ref.units)
        out.append(found)
    return out


def _deadlines(good: pd.DataFrame, ref: Reference, policy: Policy) -> None:
    """Held cases get a deadline: reports from now (dispatched at import), history from their report time."""
    n = len(good)
    held = good["status_out"].isin(HELD).to_numpy()
    history = good["is_history"].to_numpy()
    now = np.datetime64(datetime.now(timezone.utc).replace(tzinfo=None), "us")
    dispatched = np.full(n, np.datetime64("NaT"), dtype="datetime64[us]")
    dispatched[held & ~history] = now
    reported = good["reported"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[us]")
    dispatched[held & history] = reported[held & history]
    limits = good["category_code"].map(lambda c: ref.categories[c].time_limit).to_numpy(dtype=object)
    limits[~held] = None
    out = {k: np.full(n, np.datetime64("NaT"), dtype="datetime64[us]") for k in ("clock_start", "deadline", "yellow")}
    provisional = np.zeros(n, dtype=bool)
    for text in sorted(set(limits[held])):
        rows = np.flatnonzero(held & (limits == text))
        d = deadline_many(pd.Series(dispatched[rows]).dt.tz_localize("UTC"), Limit.parse(text),
                          calendar=ref.calendar, hours=policy.hours, tz=policy.tz,
                          yellow_fraction=policy.yellow_fraction)
        for key, series in (("clock_start", d.start), ("deadline", d.due), ("yellow", d.yellow_at)):
            out[key][rows] = series.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[us]")
        provisional[rows] = d.provisional
    good["dispatched"] = pd.Series(dispatched, index=good.index).dt.tz_localize("UTC")
    for key, values in out.items():
        good[key] = pd.Series(values, index=good.index).dt.tz_localize("UTC")
    good["time_limit"] = limits
    good["provisional"] = provisional


# ---- write ------------------------------------------------------------------------------------------------------

def _write(conn, good: pd.DataFrame, ref: Reference, mapping: Mapping, by: str, clock) -> None:
    """One binary COPY per table for the chunk's rows (one statement each: statement-level triggers fire once)."""
    n = len(good)
    if not n:
        for stage in ("cases", "reports", "history", "routing"):
            clock(stage)
        return
    ids = bulk_repo.new_case_ids(conn, n)
    good["id"] = ids
    geoms = [bulk_repo.Geometry(g) for g in shapely.to_wkb(
        shapely.set_srid(shapely.points(good["lon_wgs"].to_numpy(), good["lat_wgs"].to_numpy()), 4326),
        include_srid=True)]
    encoded: dict[tuple, bulk_repo.JsonbBytes] = {}  # most points share their zones (most: none)
    zones_json = [encoded.get(z) or encoded.setdefault(z, bulk_repo.jsonb(json.dumps(
        [{"layer": a, "code": b, "name": c} for a, b, c in z], ensure_ascii=False))) for z in good["zones"]]
    times = {c: _py(good[c]) for c in ("reported", "closed", "dispatched", "clock_start", "deadline", "yellow")}
    reporter = f"import:{mapping.source}"
    closed_out = [c if s in ("closed", "rejected") else None for c, s in zip(times["closed"], good["status_out"])]
    for i, s in enumerate(good["status_out"]):  # a rejected case without a closing time closes at its report
        if s == "rejected" and closed_out[i] is None:
            closed_out[i] = times["reported"][i]
    updated = [c or r for c, r in zip(closed_out, times["reported"])]
    handled = [c if s == "closed" else None for c, s in zip(closed_out, good["status_out"])]
    names = ref.names
    case_rows = (
        (int(i), s, cat, desc, g, ref.release_id, d, names[d], st, names[st], cm, names[cm], gr, names[gr], z,
         rep, upd, mapping.source, reporter, dep, disp, cs, dl, yl, bool(pv), tl, hd, None, cl,
         1 if dep is not None and s != "rejected" else 0, bool(hist), sid)
        for i, s, cat, desc, g, d, st, cm, gr, z, rep, upd, dep, disp, cs, dl, yl, pv, tl, hd, cl, hist, sid in zip(
            ids, good["status_out"], good["category_code"], good["description"], geoms, good["district"],
            good["street"], good["community"], good["grid"], zones_json, times["reported"], updated,
            _texts(good["department_out"].where(good["status_out"].isin(HELD))), times["dispatched"],
            times["clock_start"], times["deadline"], times["yellow"], good["provisional"],
            _texts(good["time_limit"]), handled, closed_out, good["is_history"], good["source_id"]))
    clock("prepare")
    bulk_repo.copy_rows(conn, table="event_case", columns=bulk_repo.CASE_COLUMNS, types=bulk_repo.CASE_TYPES,
                        rows=case_rows)
    clock("cases")
    report_rows = ((int(i), cat, desc, g, float(x), float(y), crs, mapping.source, rep, reporter)
                   for i, cat, desc, g, x, y, crs, rep in zip(ids, good["category_code"], good["description"], geoms,
                                                              good["in_lon"], good["in_lat"], good["in_crs"],
                                                              times["reported"]))
    bulk_repo.copy_rows(conn, table="report", columns=bulk_repo.REPORT_COLUMNS, types=bulk_repo.REPORT_TYPES,
                        rows=report_rows)
    clock("reports")
    steps = _steps(good, ids, times, closed_out, reporter, by)
    bulk_repo.copy_rows(conn, table="case_history", columns=bulk_repo.HISTORY_COLUMNS,
                        types=bulk_repo.HISTORY_TYPES, rows=steps)
    clock("history")
    decisions = [(int(i), d, f) for i, d, f in zip(ids, good["decision"], good["facts"]) if d is not None]
    bulk_repo.copy_rows(conn, table="routing_decision", columns=bulk_repo.DECISION_COLUMNS,
                        types=bulk_repo.DECISION_TYPES, rows=_decision_rows(decisions, ref))
    clock("routing")


def _texts(series: pd.Series) -> list:
    """Text values, None where missing (pandas may hold a missing text as NaN)."""
    return [None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in series]


def _py(series: pd.Series) -> list:
    """Timestamps as Python datetimes (None for NaT), which the binary COPY takes."""
    if not len(series):
        return []
    values = np.array(series.dt.tz_convert("UTC").dt.to_pydatetime(), dtype=object)
    values[series.isna().to_numpy()] = None
    return values.tolist()


def _steps(good: pd.DataFrame, ids, times: dict, closed_out: list, reporter: str, by: str):
    """History rows, as the live workflow writes them, per case (rows of many cases in one stream)."""
    cols = zip(ids, good["status_out"], good["is_history"], _texts(good["department_out"]), good["source_id"],
               times["reported"], times["dispatched"], times["deadline"], closed_out, good["decision"])
    for i, status, history, dep, sid, rep, disp, dl, closed, decision in cols:
        i = int(i)
        detail = bulk_repo.jsonb(json.dumps({"external_id": sid, "imported_by": by}, ensure_ascii=False))
        empty = bulk_repo.jsonb("{}")
        yield (i, rep, reporter, "import", "report", None, "reported", "", None, None, detail, bool(history))
        if status == "rejected":
            yield (i, closed or rep, reporter, "import", "reject", "reported", "rejected", "imported as rejected",
                   None, None, empty, True)
            continue
        yield (i, rep, reporter, "intake", "register", "reported", "registered", "bulk import: registered at once",
               None, None, empty, bool(history))
        if status == "registered":
            continue
        why = {"by": "rules", "explanation": decision.explanation} if decision is not None else {"by": "import"}
        yield (i, disp, "system" if decision is not None else reporter, "system" if decision is not None else
               "import", "dispatch", "registered", "dispatched", "", dep, dl,
               bulk_repo.jsonb(json.dumps(why, ensure_ascii=False)), bool(history))
        if status in ("accepted", "closed"):  # who took these steps is not in the file: the import did
            yield (i, rep, reporter, "import", "accept", "dispatched", "accepted", "", dep, dl, empty, True)
        if status == "closed":
            yield (i, closed, reporter, "import", "handle", "accepted", "handled", "imported outcome", dep, dl, empty,
                   True)
            yield (i, closed, reporter, "import", "check_ok", "handled", "checked", "", dep, None, empty, True)
            yield (i, closed, reporter, "import", "close", "checked", "closed", "", dep, None, empty, True)


def _decision_rows(decisions: list[tuple[int, object, Facts]], ref: Reference):
    encoded: dict[int, tuple] = {}
    for case_id, d, facts in decisions:
        key = id(d)
        if key not in encoded:  # one decision object per distinct (category, place): encode it once
            encoded[key] = (d.rule.id if d.rule else None, d.department_code,
                            bulk_repo.jsonb(json.dumps(d.candidates, ensure_ascii=False, default=str)),
                            d.explanation)
        rule_id, dep, candidates, text = encoded[key]
        inputs = bulk_repo.jsonb(json.dumps(asdict(facts), ensure_ascii=False))  # this case's own facts
        yield (case_id, ref.rule_set_id, rule_id, dep, inputs, candidates, text)


def _notify(conn, sent: Counter, waiting: int) -> None:
    """One message per department for the reports just dispatched to it, and one to the dispatchers for the rest
    (not one per case)."""
    for dep, count in sent.items():
        case_repo.notify(conn, kind="case", payload={
            "to": {"roles": ["handler", "dept_head"], "department": dep},
            "subject": f"{count} imported report(s) dispatched to you: see your queue"})
    if waiting:
        case_repo.notify(conn, kind="case", payload={
            "to": {"roles": ["dispatcher"]},
            "subject": f"{waiting} imported report(s) fit no routing rule: dispatch them from the desk"})

"""Export of cases: one row per case with its grid chain, routing decision, status, deadline and times, as CSV,
GeoJSON, GeoPackage or XLSX.

One statement selects the cases: the map's filters (`MapFilter`), a since/until range of report days, and the
reader's scope. Times are ISO 8601 in the deployment's zone. Spreadsheet formats (CSV, XLSX) neutralise text that a
spreadsheet would run as a formula: such a cell gets a leading apostrophe (see docs/export.md).
"""
from __future__ import annotations

import csv
import re
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import geopandas as gpd
import pandas as pd
import psycopg
import pyogrio
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from psycopg.rows import dict_row

from core.errors import Inconsistent, InvalidInput, Unknown
from dispatch.exchange.export_formats import EXTENSIONS, FORMATS  # noqa: F401 (EXTENSIONS: the module's API)
from dispatch.casework.case_sql import LIGHT
from dispatch.reporting.mapview import FILTERS, MapFilter

NO_SCOPE = {"street": None, "department": None, "grids": None}  # the command line: every case
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)  # so "the day after until" always exists
DAY = "[0-9]{4}-[0-9]{2}-[0-9]{2}"  # YYYY-MM-DD exactly (date.fromisoformat also takes 20261201)
UNKNOWN = {"major": ("major category", "GET /api/categories"), "department": ("department", "GET /api/departments"),
           "street": ("street", "GET /api/layers/street")}

# In the order of the files' columns; TIMES become ISO 8601 text, FLAGS booleans, NUMBERS stay numbers.
COLUMNS = (
    "id", "status", "category_code", "category_name", "description", "source", "reporter", "lon", "lat",
    "district_code", "district_name", "street_code", "street_name", "community_code", "community_name",
    "grid_code", "grid_name", "zones", "department_code", "department_name",
    "routing_rule", "routing_to", "routing_reason", "routing_at",
    "created_at", "dispatched_at", "deadline", "deadline_provisional", "handled_at", "closed_at", "light", "imported",
)
TIMES = frozenset({"routing_at", "created_at", "dispatched_at", "deadline", "handled_at", "closed_at"})
FLAGS = frozenset({"deadline_provisional", "imported"})
NUMBERS = {"id": "int64", "lon": "float64", "lat": "float64"}

CHECK_FILTERS = """
SELECT (%(major)s::text IS NULL OR EXISTS (SELECT 1 FROM category_major WHERE code = %(major)s)) AS major,
       (%(department)s::text IS NULL OR EXISTS (SELECT 1 FROM department WHERE code = %(department)s)) AS department,
       (%(street)s::text IS NULL OR EXISTS (
            SELECT 1 FROM grid_feature f JOIN grid_layer l ON l.id = f.layer_id
            WHERE l.level = 'street' AND f.code = %(street)s)) AS street
"""

# The light and the filters are the map's (dispatch/reporting/mapview.py); the routing columns are the case's latest decision.
CASES = """
SELECT c.id, c.status, c.category_code, cat.name AS category_name, c.description, c.source, c.reporter,
       round(ST_X(c.geom)::numeric, 7)::float AS lon, round(ST_Y(c.geom)::numeric, 7)::float AS lat,
       c.district_code, c.district_name, c.street_code, c.street_name, c.community_code, c.community_name,
       c.grid_code, c.grid_name,
       (SELECT string_agg(concat_ws(' ', (z ->> 'layer') || ':' || (z ->> 'code'), z ->> 'name'), '; ')
          FROM jsonb_array_elements(c.zones) z) AS zones,
       c.department_code, dep.name AS department_name,
       rd.rule_name AS routing_rule, rd.department_code AS routing_to, rd.explanation AS routing_reason,
       rd.at AS routing_at,
       c.created_at, c.dispatched_at, c.deadline, c.deadline_provisional, c.handled_at, c.closed_at,
       """ + LIGHT + """ AS light, c.imported
FROM event_case c
JOIN category cat ON cat.code = c.category_code
LEFT JOIN department dep ON dep.code = c.department_code
LEFT JOIN LATERAL (
    SELECT d.at, d.department_code, d.explanation, r.name AS rule_name
    FROM routing_decision d LEFT JOIN routing_rule r ON r.id = d.rule_id
    WHERE d.case_id = c.id ORDER BY d.at DESC, d.id DESC LIMIT 1
) rd ON true
WHERE """ + FILTERS + """
  AND (%(until)s::timestamptz IS NULL OR c.created_at < %(until)s)
ORDER BY c.id
"""


@dataclass(frozen=True)
class ExportFilter:
    """The map's filters plus the first and last day of report (both included, in the deployment's calendar)."""

    map: MapFilter = field(default_factory=MapFilter)
    since: date | None = None
    until: date | None = None

    def __post_init__(self) -> None:
        if self.since and self.until and self.until < self.since:
            raise Inconsistent(f"until ({self.until}) is before since ({self.since}): give the first and the last "
                               "day of report, both included")

    def window(self, tz: ZoneInfo) -> tuple[datetime | None, datetime | None]:
        """[start, end) of created_at: the later of `since` and the map's period, to the day after `until`."""
        starts = [s for s in (self.map.since(tz), _midnight(self.since, tz)) if s is not None]
        end = _midnight(self.until + timedelta(days=1), tz) if self.until else None
        return (max(starts) if starts else None), end


def parse_day(text: str | None, *, name: str) -> date | None:
    """A YYYY-MM-DD option (empty: none), or InvalidInput naming the option."""
    if not text:
        return None
    try:
        if not re.fullmatch(DAY, text):
            raise ValueError(text)
        day = date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{name} must be a day as YYYY-MM-DD, not {text!r}") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidInput(f"{name} must be a day from {FIRST_DAY} to {LAST_DAY}, not {text!r}")
    return day


def format_of(path: str | os.PathLike) -> str:
    """The export format a file name asks for by its suffix."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InvalidInput(f"cannot export to {Path(path).name!r}: the name must end in "
                           f"{', '.join(FORMATS)} (CSV, GeoJSON, GeoPackage or XLSX)")
    return FORMATS[suffix]


def check_format(name: str) -> str:
    """A format named in a request (csv, geojson, gpkg or xlsx)."""
    if name not in EXTENSIONS:
        raise InvalidInput(f"format must be one of {', '.join(EXTENSIONS)}, not {name!r}")
    return name


def cases(conn: psycopg.Connection, *, filters: ExportFilter, scope: dict, me: str | None,
          tz: ZoneInfo) -> list[dict]:
    """The matching cases in the scope (plus those `me` reported), by id, with times as ISO text in `tz`."""
    f = filters.map
    major, department, street = f.major or None, f.department or None, f.street or None
    _check_known(conn, major=major, department=department, street=street)
    since, until = filters.window(tz)
    params = {"major": major, "f_department": department, "f_street": street, "status": f.status or None,
              "since": since, "until": until, "me": me, **scope}
    rows = conn.cursor(row_factory=dict_row).execute(CASES, params).fetchall()
    for row in rows:
        for key in TIMES:
            row[key] = row[key].astimezone(tz).isoformat(timespec="seconds") if row[key] else None
    return rows


def _check_known(conn: psycopg.Connection, *, major: str | None, department: str | None,
                 street: str | None) -> None:
    asked = {"major": major, "department": department, "street": street}
    known = conn.cursor(row_factory=dict_row).execute(CHECK_FILTERS, asked).fetchone()
    for key, ok in known.items():
        if not ok:
            what, where = UNKNOWN[key]
            raise Unknown(f"unknown {what} {asked[key]!r}: see {where} for the codes")


def write(rows: list[dict], path: str | os.PathLike, fmt: str) -> None:
    """Write the rows as a new file, all or nothing: written in a temporary folder beside it, then renamed."""
    path = Path(path)
    if not path.parent.is_dir():
        raise InvalidInput(f"cannot write {path}: the folder {path.parent} does not exist")
    folder = Path(tempfile.mkdtemp(prefix=".citygrid-export-", dir=path.parent))
    try:
        part = folder / f"cases{path.suffix}"
        WRITERS[fmt](rows, part)
        os.replace(part, path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def to_bytes(rows: list[dict], fmt: str) -> bytes:
    """The file's content, for a download."""
    with tempfile.TemporaryDirectory(prefix="citygrid-export-") as folder:
        target = Path(folder) / f"cases{EXTENSIONS[fmt]}"
        write(rows, target, fmt)
        return target.read_bytes()


def neutralise(value):
    """Text a spreadsheet would read as a formula (=, +, -, @, tab, CR first) gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(rows: list[dict], path: str | os.PathLike) -> None:
    """UTF-8 with a byte-order mark, so Excel reads the Chinese text; empty cells for none."""
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        out = csv.writer(f)
        out.writerow(COLUMNS)
        for row in rows:
            out.writerow(["" if row[c] is None else neutralise(row[c]) for c in COLUMNS])


def write_xlsx(rows: list[dict], path: str | os.PathLike) -> None:
    """One sheet, `cases`, with a frozen header row; every text cell is text, never a formula."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("cases")
    sheet.freeze_panes = "A2"
    sheet.append(list(COLUMNS))
    for row in rows:
        sheet.append([_xlsx_text(row[c]) for c in COLUMNS])
    book.save(path)


def _xlsx_text(value):
    if isinstance(value, str):  # XML 1.0 cannot hold most control characters: openpyxl refuses them
        return neutralise(ILLEGAL_CHARACTERS_RE.sub("", value))
    return value


def write_geojson(rows: list[dict], path: str | os.PathLike) -> None:
    """RFC 7946 GeoJSON: points in WGS84, the other columns as properties."""
    pyogrio.write_dataframe(_frame(rows), path, driver="GeoJSON", layer="cases", layer_options={"RFC7946": "YES"})


def write_gpkg(rows: list[dict], path: str | os.PathLike) -> None:
    """A GeoPackage with one point layer, `cases`, in EPSG:4326."""
    pyogrio.write_dataframe(_frame(rows), path, driver="GPKG", layer="cases")


def _frame(rows: list[dict]) -> gpd.GeoDataFrame:
    data = {c: pd.Series([r[c] for r in rows], dtype=NUMBERS.get(c, "bool" if c in FLAGS else "object"))
            for c in COLUMNS}
    points = gpd.points_from_xy(data["lon"], data["lat"], crs="EPSG:4326")
    return gpd.GeoDataFrame(data, geometry=points, crs="EPSG:4326")


def _midnight(day: date | None, tz: ZoneInfo) -> datetime | None:
    return datetime.combine(day, datetime.min.time(), tz) if day else None


WRITERS = {"csv": write_csv, "geojson": write_geojson, "gpkg": write_gpkg, "xlsx": write_xlsx}

"""The bad-input catalogue of files, through the operator's commands (`citygrid events import`, `citygrid grids
import`, `citygrid zones import`, run in process through citygrid.cli.main, as the command line runs them).

Events files hold independent rows: each bad row is reported by its line and skipped, the good rows are kept (so
"unchanged" means: exactly the good rows were added). A file that cannot be read at all, and every grid or zone
file, is refused whole with exit 1 and one line that says why, and changes nothing. Each catalogue line is one bad
input; a new one is one more line.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import psycopg
from shapely.geometry import Point, Polygon, box

from citygrid.demo import GRIDS
from tests.drills.bad_common import Outcome, Watch
from tests.drills.common import cli

SOURCE = "drill"
HEADER = "source_id,category,lon,lat,crs,reported_at,description,status,closed_at,department"
ROW = {"source_id": "", "category": "0102", "lon": "113.12", "lat": "23.02", "crs": "",
       "reported_at": "2026-10-01T09:00+08:00", "description": "ok", "status": "", "closed_at": "", "department": ""}
CLOSED = {"status": "closed", "closed_at": "2026-10-02T09:00+08:00", "department": "S-012-HWS"}

# (what is wrong, a word the reason must hold, the row: changed fields, or a raw line)
ROWS = [
    ("more fields than the header, as the first row", "fields", "x1,0102,113.12,23.02,,2026-10-01T09:00+08:00,a,b,,,,"),
    ("an empty source id", "source id is empty", {"source_id": ""}),
    ("a source id repeated", "repeats row", {"source_id": "g1"}),
    ("a source id of 201 characters", "longer than", {"source_id": "s" * 201}),
    ("an empty category", "category is empty", {"category": ""}),
    ("an unknown category", "unknown category", {"category": "9999"}),
    ("longitude as text", "not numbers", {"lon": "east"}),
    ("an empty latitude", "not numbers", {"lat": ""}),
    ("longitude nan", "not numbers", {"lon": "nan"}),
    ("longitude inf", "not numbers", {"lon": "inf"}),
    ("longitude 1e400", "not numbers", {"lon": "1e400"}),
    ("a point outside the district", "outside the district", {"lon": "0", "lat": "0"}),
    ("degrees in a metre CRS", "outside the district", {"crs": "EPSG:32649"}),
    ("an unknown CRS", "unknown coordinate system", {"crs": "EPSG:999999"}),
    ("a PROJ string as CRS", "PROJ", {"crs": "+proj=longlat +datum=WGS84"}),
    ("an empty reported_at", "reported_at is empty", {"reported_at": ""}),
    ("reported_at in words", "not an ISO 8601 time", {"reported_at": "yesterday"}),
    ("reported_at 30 February", "not an ISO 8601 time", {"reported_at": "2026-02-30T09:00+08:00"}),
    ("reported_at at hour 25", "not an ISO 8601 time", {"reported_at": "2026-10-01T25:00+08:00"}),
    ("reported_at with offset +99:00", "not an ISO 8601 time", {"reported_at": "2026-10-01T09:00+99:00"}),
    ("reported_at in the year 10000", "not an ISO 8601 time", {"reported_at": "10000-01-01T00:00+08:00"}),
    ("reported_at in the future", "in the future", {"reported_at": "2099-10-01T09:00+08:00"}),
    ("a description of 4,001 characters", "longer than", {"description": "x" * 4001}),
    ("a NUL in the description", "NUL", {"description": "a\x00b"}),
    ("an unknown status", "is not one of", {"status": "done"}),
    ("closed without the department", "needs the department", {**CLOSED, "department": ""}),
    ("an unknown department", "unknown department", {**CLOSED, "department": "NOPE"}),
    ("a department without a status", "only taken with a status", {"department": "S-012-HWS"}),
    ("closed without closed_at", "needs closed_at", {**CLOSED, "closed_at": ""}),
    ("closed_at before reported_at", "before reported_at", {**CLOSED, "closed_at": "2026-09-01T09:00+08:00"}),
    ("closed_at in words", "closed_at", {**CLOSED, "closed_at": "soon"}),
    ("closed_at in the future", "in the future", {**CLOSED, "closed_at": "2099-01-01T00:00+08:00"}),
    ("more fields than the header, mid-file", "fields", "x2,0102,113.12,23.02,,2026-10-01T09:00+08:00,a,b,c,d,e,f"),
]
GOOD = ("g1", "g2")


def csv_line(index: int, row) -> str:
    if isinstance(row, str):
        return row
    values = {**ROW, "source_id": f"b{index}", **row}
    return ",".join(values[name] for name in HEADER.split(","))


def events_file(folder: Path) -> tuple[Path, dict[int, tuple[str, str, str]]]:
    """The events CSV: the good rows g1 and g2 around every bad row; returns it and, for each bad row, its number
    → (what is wrong, the word, its source id)."""
    lines, expected = [HEADER], {}
    for index, (what, says, row) in enumerate(ROWS):
        if index == 1:
            lines.append(csv_line(0, {"source_id": GOOD[0]}))
        lines.append(csv_line(index, row))
        expected[len(lines)] = (what, says, lines[-1].split(",")[0])  # the header is line 1
    lines.append(csv_line(0, {"source_id": GOOD[1], "category": "0201", "lon": "113.1187", "lat": "23.0300"}))
    path = folder / "events.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, expected


def _cases(url: str, source: str) -> tuple[int, set[str]]:
    """How many cases there are, and the source ids imported from `source`."""
    with psycopg.connect(url) as conn:
        total = conn.execute("SELECT count(*) FROM event_case").fetchone()[0]
        return total, {r[0] for r in conn.execute("SELECT external_id FROM event_case WHERE source = %s", (source,))}


SKIPPED = re.compile(r"^skipped row (\d+): (.*)$", re.M)


def import_rows(url: str, folder: Path) -> list[Outcome]:
    """The events file with every bad row: each must be listed with its reason and skipped, and exactly the good
    rows added (a bad row's source id among the cases is a change it made)."""
    path, expected = events_file(folder)
    before, _ = _cases(url, SOURCE)
    code, out = cli(url, "events", "import", path, "--source", SOURCE, "--show", "1000")
    after, imported = _cases(url, SOURCE)
    reasons = {int(row): reason for row, reason in SKIPPED.findall(out)}
    outcomes = []
    for row, (what, says, source_id) in expected.items():
        reason = reasons.get(row, "")
        wrong = [f"{source_id[:20]} imported"] if source_id in imported - set(GOOD) else []
        outcomes.append(Outcome("csv rows", what, f"row {row}" if reason else f"exit {code}", bool(reason),
                                isinstance(code, str), reason or out[-300:], says, wrong))
    if imported != set(GOOD) or after - before != len(GOOD):  # the good rows lost, or more than they came in
        outcomes[-1].changes.append(f"exit {code}: {after - before} case(s) added, source ids {sorted(imported)}")
    return outcomes


# ---- files refused whole ----------------------------------------------------------------------------------------

def _streets() -> gpd.GeoDataFrame:
    return gpd.read_file(GRIDS / "chancheng_streets.geojson")


def _communities() -> gpd.GeoDataFrame:
    return gpd.read_file(GRIDS / "chancheng_communities.geojson")


def _set(frame: gpd.GeoDataFrame, row: int, **values) -> gpd.GeoDataFrame:
    frame = frame.copy()
    for column, value in values.items():
        frame.loc[row, column] = value
    return frame


def _without_crs(frame: gpd.GeoDataFrame):
    """A GeoJSON text of the frame with no "crs" member (so readers take it as lon/lat)."""
    data = json.loads(frame.to_json())
    data.pop("crs", None)
    return json.dumps(data)


BOWTIE = Polygon([(113.0, 23.0), (113.1, 23.1), (113.1, 23.0), (113.0, 23.1)])
STREET = ("grids", "import", "{file}", "--level", "street", "--code-field", "code", "--name-field", "name")
COMMUNITY = ("grids", "import", "{file}", "--level", "community", "--code-field", "code", "--name-field", "name",
             "--parent-field", "parent")
ZONE = ("zones", "import", "{file}", "--layer", "parks", "--code-field", "code", "--name-field", "name")

# (area, what is wrong, a word the message must hold, the file: a frame, a function making one, text or bytes, or
# None for no file; the command (its {file} is the file's path); the file's suffix)
FILES = [
    ("grids", "a broken GeoJSON", "cannot read", "{ this is not json", STREET, ".geojson"),
    ("grids", "a PNG named .gpkg", "cannot read", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, STREET, ".gpkg"),
    ("grids", "a CSV table, not a geo file", "no geometry", "code,name\n440604012,祖庙\n", STREET, ".csv"),
    ("grids", "a file that does not exist", "no such file", None, STREET, ".geojson"),
    ("grids", "an empty feature collection", "no features", lambda: _streets().iloc[0:0], STREET, ".geojson"),
    ("grids", "two units with one code", "is used by 2 features", lambda: _set(_streets(), 1, code="440604010"),
     STREET, ".geojson"),
    ("grids", "a self-intersecting polygon", "invalid geometry", lambda: _set(_streets(), 0, geometry=BOWTIE), STREET,
     ".geojson"),
    ("grids", "points instead of polygons", "not a polygon",
     lambda: _streets().assign(geometry=lambda f: f.geometry.representative_point()), STREET, ".geojson"),
    ("grids", "a unit without geometry", "has no geometry", lambda: _set(_streets(), 0, geometry=None), STREET,
     ".geojson"),
    ("grids", "UTM metres in a file that says nothing of its CRS", "not longitude and latitude",
     lambda: _without_crs(_streets().to_crs(32649)), STREET, ".geojson"),
    ("grids", "UTM metres declared EPSG:4326", "not longitude and latitude", lambda: _streets().to_crs(32649),
     (*STREET, "--crs", "EPSG:4326"), ".geojson"),
    ("grids", "coordinates of 1e300 degrees", "not longitude and latitude",
     lambda: _set(_streets(), 0, geometry=box(1e300, 1e300, 2e300, 2e300)), STREET, ".geojson"),
    ("grids", "an unknown --crs", "unknown coordinate system", _streets, (*STREET, "--crs", "EPSG:999999"),
     ".geojson"),
    ("grids", "a PROJ string as --crs", "PROJ", _streets, (*STREET, "--crs", "+proj=utm +zone=49"), ".geojson"),
    ("grids", "two units overlapping", "overlaps",
     lambda: _set(_streets(), 0, geometry=_streets().geometry[0].union(_streets().geometry[1].buffer(-0.001))),
     STREET, ".geojson"),
    ("grids", "a gap in the coverage", "gap",
     lambda: _set(_streets(), 0, geometry=_streets().geometry[0].buffer(-0.002)), STREET, ".geojson"),
    ("grids", "a unit outside its parent", "outside its parent", lambda: _set(_streets(), 0, geometry=box(0, 0, 1, 1)),
     STREET, ".geojson"),
    ("grids", "a code of the wrong length", "must be 9 digits", lambda: _set(_streets(), 0, code="12"), STREET,
     ".geojson"),
    ("grids", "a code with letters", "must be 9 digits", lambda: _set(_streets(), 0, code="44060401A"), STREET,
     ".geojson"),
    ("grids", "an empty code", "must be 9 digits", lambda: _set(_streets(), 0, code=""), STREET, ".geojson"),
    ("grids", "a parent code that does not exist", "names parent",
     lambda: _set(_streets(), 0, code="999999010"), STREET, ".geojson"),
    ("grids", "a code that does not extend its parent field", "does not extend its parent",
     lambda: _set(_communities(), 0, parent="440604011"), COMMUNITY, ".geojson"),
    ("grids", "no code field", "no field 'code'", lambda: _streets().rename(columns={"code": "id"}), STREET,
     ".geojson"),
    ("grids", "no name field", "no field 'name'", lambda: _streets().rename(columns={"name": "title"}), STREET,
     ".geojson"),
    ("grids", "an unknown level", "unknown level", _streets,
     ("grids", "import", "{file}", "--level", "county", "--code-field", "code", "--name-field", "name"), ".geojson"),
    ("zones", "a zone layer without a name", "needs a name", _streets,
     ("zones", "import", "{file}", "--layer", " ", "--code-field", "code", "--name-field", "name"), ".geojson"),
    ("zones", "two zones with one code", "is used by 2 features", lambda: _set(_streets(), 1, code="440604010"),
     ZONE, ".geojson"),
    ("zones", "a zone with an empty code", "empty code", lambda: _set(_streets(), 0, code=""), ZONE, ".geojson"),
    ("zones", "a self-intersecting zone", "invalid geometry", lambda: _set(_streets(), 0, geometry=BOWTIE), ZONE,
     ".geojson"),
    ("zones", "a point as a zone", "not a polygon",
     lambda: _set(_streets(), 0, geometry=Point(113.1, 23.0)), ZONE, ".geojson"),
    ("csv files", "a header without category and reported_at", "lacks", "source_id,lon,lat\n1,113.12,23.02\n",
     ("events", "import", "{file}"), ".csv"),
    ("csv files", "a binary file named .csv", "cannot read", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,
     ("events", "import", "{file}"), ".csv"),
    ("csv files", "an empty file", "cannot read", b"", ("events", "import", "{file}"), ".csv"),
    ("csv files", "a Latin-1 file", "utf-8", f"{HEADER}\nl1,0102,113.12,23.02,,2026-10-01T09:00+08:00,café,,,\n"
     .encode("latin-1"), ("events", "import", "{file}"), ".csv"),
    ("csv files", "a spreadsheet", "use a .csv", b"PK\x03\x04", ("events", "import", "{file}"), ".xlsx"),
    ("csv files", "a file that does not exist", "no such file", None, ("events", "import", "{file}"), ".csv"),
    ("csv files", "a broken GeoJSON", "cannot read", "{ nope", ("events", "import", "{file}"), ".geojson"),
    ("csv files", "a source name with spaces", "source", f"{HEADER}\n",
     ("events", "import", "{file}", "--source", "Old System"), ".csv"),
    ("csv files", "--map to a column the file lacks", "has no column", f"{HEADER}\n",
     ("events", "import", "{file}", "--map", "lon=经度"), ".csv"),
    ("csv files", "--map without '='", "FIELD=COLUMN", f"{HEADER}\n", ("events", "import", "{file}", "--map", "lon"),
     ".csv"),
    ("csv files", "--map of an unknown field", "unknown field", f"{HEADER}\n",
     ("events", "import", "{file}", "--map", "colour=x"), ".csv"),
    ("csv files", "--chunk-rows 0", "chunk-rows", f"{HEADER}\n", ("events", "import", "{file}", "--chunk-rows", "0"),
     ".csv"),
    ("csv files", "--all-or-nothing with one bad row", "nothing was imported",
     f"{HEADER}\na1,0102,113.12,23.02,,2026-10-01T09:00+08:00,ok,,,\n"
     "a2,9999,113.12,23.02,,2026-10-01T09:00+08:00,x,,,\n",
     ("events", "import", "{file}", "--all-or-nothing", "--source", "allornothing"), ".csv"),
]


def _write(content, folder: Path, name: str, suffix: str) -> Path:
    path = folder / f"{name}{suffix}"
    made = content() if callable(content) else content
    if isinstance(made, gpd.GeoDataFrame):
        made.to_file(path, driver="GeoJSON")
    elif isinstance(made, bytes):
        path.write_bytes(made)
    elif isinstance(made, str):
        path.write_text(made, encoding="utf-8")
    return path


def refuse_files(url: str, folder: Path) -> list[Outcome]:
    """Each file of FILES through its command: exit 1 (or 2, a usage error) with a message, nothing changed."""
    outcomes, watch = [], Watch(url)
    try:
        for number, (area, what, says, content, command, suffix) in enumerate(FILES):
            path = _write(content, folder, f"file{number}", suffix)
            code, out = cli(url, *(str(a).format(file=path) for a in command))
            outcomes.append(Outcome(area, what, str(code) if isinstance(code, str) else f"exit {code}",
                                    code in (1, 2), isinstance(code, str), out, says, watch.changes()))
    finally:
        watch.close()
    return outcomes


def vector_rows(url: str, folder: Path) -> list[Outcome]:
    """A GeoJSON events file with a polygon among points: that row is skipped with its reason, the point kept."""
    frame = gpd.GeoDataFrame({"source_id": ["v1", "v2"], "category": ["0102", "0102"],
                              "reported_at": ["2026-10-01T09:00+08:00"] * 2},
                             geometry=[Point(113.12, 23.02), box(113.11, 23.01, 113.12, 23.02)], crs=4326)
    path = folder / "events.geojson"
    frame.to_file(path, driver="GeoJSON")
    code, out = cli(url, "events", "import", path, "--source", "vector")
    reason = dict((int(r), why) for r, why in SKIPPED.findall(out)).get(2, "")
    _, kept = _cases(url, "vector")
    return [Outcome("csv rows", "a polygon in a GeoJSON events file", "row 2" if reason else f"exit {code}",
                    bool(reason), isinstance(code, str), reason or out[-300:], "not a point",
                    [] if kept == {"v1"} else [f"imported {sorted(kept)}, expected only v1"])]

"""The bad-input catalogue over HTTP: reports, photos, workflow actions, Open311 and the API's GET filters.

Each line is one bad input: the area, what is wrong with it, who sends it, the request, and a word the answer's
message must contain (so a vague "invalid request" does not pass). A new bad input is one more line. `Id("name")`
stands for an id the drill made (a case in some state, a photo); tests/drills/bad_inputs.py runs the lines. The
photos are in tests/drills/bad_photos.py.
"""
from __future__ import annotations

from tests.drills.bad_common import Bad, Id
from tests.drills.bad_photos import PHOTOS

NAN, INF = float("nan"), float("inf")
REPORT = {"category": "0102", "lon": 113.12, "lat": 23.02}
LATER = "2027-03-01T17:30:00+08:00"
JSON = "application/json"


# ---- one-line builders ------------------------------------------------------------------------------------------

def report(what: str, says: str, **fields) -> Bad:
    """POST /api/reports with the sample report's fields changed (a value of None drops the field)."""
    body = {k: v for k, v in {**REPORT, **fields}.items() if v is not None}
    return Bad("reports", what, "officer", "POST", "/api/reports", says, {"json": body})


def raw(area: str, what: str, says: str, path: str, content, kind: str = JSON, who: str = "officer",
        **headers) -> Bad:
    """A POST whose body is sent as it is, with its content type."""
    return Bad(area, what, who, "POST", path, says, {"content": content, "headers": {"content-type": kind, **headers}})


def action(what: str, says: str, case: str, name: str, body=None, who: str = "hws") -> Bad:
    """POST /api/cases/{case}/actions/{name} on the drill's case in a given state."""
    return Bad("workflow", what, who, "POST", f"/api/cases/{{{case}}}/actions/{name}", says,
               {"json": {} if body is None else body})


def get(area: str, what: str, says: str, path: str, who: str | None = "admin", **params) -> Bad:
    return Bad(area, what, who, "GET", path, says, {"params": params})


def o311(what: str, says: str, key: bool = True, fmt: str = "json", **form) -> Bad:
    """An Open311 POST requests (form-encoded) from the drill's client system; a value of None drops the field."""
    data = {k: v for k, v in {"service_code": "0102", "lat": "23.02", "long": "113.12", **form}.items()
            if v is not None}
    if key:
        data["api_key"] = Id("api_key")
    return Bad("open311", what, None, "POST", f"/open311/v2/requests.{fmt}", says, {"data": data})


# ---- reports ----------------------------------------------------------------------------------------------------

REPORTS = [
    report("longitude NaN", "finite", lon=NAN),
    report("latitude Infinity", "finite", lat=INF),
    report("longitude -Infinity", "finite", lon=-INF),
    raw("reports", "longitude 1e400 (overflows to infinity)", "finite", "/api/reports",
        '{"category": "0102", "lon": 1e400, "lat": 23.02}'),
    report("longitude 500", "within -180..180", lon=500),
    report("latitude -91", "within -180..180", lat=-91),
    report("the point (0, 0), far outside the district", "outside", lon=0, lat=0),
    report("a point in Guangzhou, outside the district", "outside", lon=113.26, lat=23.13),
    report("a subnormal latitude (5e-324)", "outside", lat=5e-324),
    report("a subnormal latitude in GCJ-02", "outside", crs="gcj02", lat=5e-324),
    report("metres given as degrees (UTM coordinates, CRS left at 4326)", "within", lon=716000, lat=2548000),
    report("degrees given as UTM metres", "outside", crs="EPSG:32649"),
    report("a geocentric CRS", "outside", crs="EPSG:4978"),
    report("a vertical CRS", "not a valid position", crs="EPSG:5773"),
    report("web mercator x beyond the world", "outside", crs="EPSG:3857", lon=1e300),
    report("UTM coordinates of 1e30 metres", "not a valid position", crs="EPSG:32649", lon=1e30, lat=1e30),
    report("an unknown EPSG code", "coordinate system", crs="EPSG:999999"),
    report("a PROJ string as CRS", "PROJ", crs="+proj=longlat +datum=WGS84"),
    report("a CRS name instead of a code", "coordinate system", crs="WGS 84"),
    report("BD-09 (Baidu) coordinates, not supported", "coordinate system", crs="bd09"),
    report("unknown category 9999", "unknown category", category="9999"),
    report("a major category (01) instead of a category", "category:", category="01"),
    report("an empty category", "category:", category=""),
    report("category as a number", "category", category=102),
    report("category as a list", "category", category=["0102"]),
    report("longitude as text", "lon", lon="east of the bridge"),
    Bad("reports", "latitude null", "officer", "POST", "/api/reports", "lat",
        {"json": {"category": "0102", "lon": 113.12, "lat": None}}),
    report("latitude missing", "lat", lat=None),
    report("category missing", "category", category=None),
    report("an unknown field", "colour", colour="red"),
    report("description of 4,001 characters", "description", description="x" * 4001),
    report("description of 2 MB", "description", description="长" * 700_000),
    report("description as a list", "description", description=["a", "b"]),
    report('urgent "yes" (a string, not a JSON boolean)', "urgent", urgent="yes"),
    report("urgent 1 (a number, not a JSON boolean)", "urgent", urgent=1),
    report("ten photos (the limit is nine)", "attachments", attachments=list(range(1, 11))),
    report("a photo id that does not exist", "photo", attachments=[987654321]),
    report("a photo id beyond bigint", "attachments", attachments=[2 ** 63]),
    report("another user's photo", "not yours", attachments=[Id("photo_hws")]),
    report("photo ids as text", "attachments", attachments=["one"]),
    raw("reports", "a body that is not JSON", "JSON", "/api/reports", '{"category": "0102", "lon": 113.12,'),
    raw("reports", "a JSON array instead of an object", "dictionary", "/api/reports", '[{"category": "0102"}]'),
    raw("reports", "a body that is not UTF-8", "JSON", "/api/reports", b'{"category": "\xff\xfe"}'),
    raw("reports", "form fields instead of JSON", "dictionary", "/api/reports", "category=0102&lon=113.12&lat=23.02",
        "application/x-www-form-urlencoded"),
    raw("reports", "JSON nested 100,000 levels deep", "nested", "/api/reports", "[" * 100_000),
    raw("reports", "JSON nested 100,000 levels deep, as application/merge-patch+json", "nested", "/api/reports",
        '{"a": ' * 100_000, "application/merge-patch+json"),
    raw("reports", "an Idempotency-Key reused with a different report", "Idempotency-Key", "/api/reports",
        '{"category": "0102", "lon": 113.121, "lat": 23.021, "description": "another"}',
        **{"idempotency-key": "drill-key-1"}),
    raw("reports", "an Idempotency-Key of 500 characters", "Idempotency-Key", "/api/reports",
        '{"category": "0102", "lon": 113.12, "lat": 23.02}', **{"idempotency-key": "k" * 500}),
]

# ---- workflow actions: each on a case in the state that lets the check be reached ---------------------------------

def approve(what: str, says: str, deadline=None) -> Bad:
    """The shift leader approves the drill's extension request with this new deadline (None: none given)."""
    return action(what, says, "extension", "approve_extension", {} if deadline is None else {"new_deadline": deadline},
                  "shift")


HWS_PHOTO, OFFICER_PHOTO, NO_PHOTO = Id("photo_hws"), Id("photo_officer"), 987654321
WORKFLOW = [
    action("close a case that is only dispatched", "cannot", "dispatched", "close", who="shift"),
    action("accept a closed case", "cannot", "closed", "accept"),
    action("handle a case not yet accepted", "cannot", "dispatched", "handle",
           {"note": "done", "attachments": [HWS_PHOTO]}),
    action("check a case that is not handled", "cannot", "accepted", "check_ok", who="officer"),
    action("approve an extension nobody asked for", "cannot", "accepted", "approve_extension",
           {"new_deadline": LATER}, "shift"),
    action("dispatch a case a department holds", "cannot", "accepted", "dispatch",
           {"department_code": "S-012-HWS"}, "dispatcher"),
    action("reopen an open case", "cannot", "accepted", "reopen", {"note": "again"}, "shift"),
    action("an action that does not exist", "action", "dispatched", "finish"),
    action("return without a reason", "reason", "dispatched", "return"),
    action("return with a reason of spaces only", "reason", "dispatched", "return", {"note": "    "}),
    action("reject without a reason", "reason", "reported", "reject", who="intake"),
    action("ask for more time without a reason", "reason", "accepted", "request_extension"),
    action("refuse an extension without a reason", "reason", "extension", "refuse_extension", who="shift"),
    action("report back without a note", "reason", "accepted", "handle", {"attachments": [HWS_PHOTO]}),
    action("report back without a photo", "photo", "accepted", "handle", {"note": "cleaned up"}),
    action("report back with an unknown photo", "unknown", "accepted", "handle",
           {"note": "done", "attachments": [NO_PHOTO]}),
    action("report back with another user's photo", "not yours", "accepted", "handle",
           {"note": "done", "attachments": [OFFICER_PHOTO]}),
    action("fail a check without a reason", "reason", "handled", "check_fail", who="officer"),
    action("reopen without a reason", "reason", "closed", "reopen", who="shift"),
    action("a note of 4,001 characters", "note", "dispatched", "return", {"note": "x" * 4001}),
    action("a note as a number", "note", "dispatched", "return", {"note": 42}),
    action("an unknown field in the body", "reason_code", "dispatched", "return", {"note": "x", "reason_code": 3}),
    action("a stale version", "changed since", "dispatched", "accept", {"version": 1}),
    approve("approve an extension without a new deadline", "new_deadline"),
    approve("a new deadline without a time zone", "timezone", "2027-03-01T17:30:00"),
    approve("a new deadline in the past", "later than", "2020-01-01T00:00:00+08:00"),
    approve("a new deadline two years ahead", "within a year", "2099-01-01T00:00:00+08:00"),
    approve("a new deadline that is not a date", "new_deadline", "next Friday"),
    approve("a new deadline on 30 February", "new_deadline", "2027-02-30T10:00:00+08:00"),
    action("a requested deadline in the past", "later than", "accepted", "request_extension",
           {"note": "more time", "new_deadline": "2020-01-01T00:00:00+08:00"}),
    action("dispatch to an unknown department", "unknown department", "returned", "dispatch",
           {"department_code": "NOPE"}, "dispatcher"),
    action("merge without naming the case", "into_case_id", "reported", "merge", who="intake"),
    action("merge into a closed case", "merge into an open case", "reported", "merge",
           {"into_case_id": Id("closed")}, "intake"),
    action("merge into a case that does not exist", "no case", "reported", "merge", {"into_case_id": 987654321},
           "intake"),
    action("a case id that does not exist", "no case", "missing", "accept"),
    Bad("workflow", "a case id that is not a number", "hws", "POST", "/api/cases/abc/actions/accept", "case_id",
        {"json": {}}),
    Bad("workflow", "a body that is a JSON array", "hws", "POST", "/api/cases/{dispatched}/actions/return",
        "dictionary", {"content": "[1, 2]", "headers": {"content-type": JSON}}),
]

# ---- Open311 ----------------------------------------------------------------------------------------------------

OPEN311 = [
    o311("no api_key", "api_key", key=False),
    Bad("open311", "an api_key that is not valid", None, "POST", "/open311/v2/requests.json", "not valid",
        {"data": {"api_key": "o311_not-a-key", "service_code": "0102", "lat": "23.02", "long": "113.12"}}),
    o311("no service_code", "service_code", service_code=None),
    o311("an unknown service_code", "not found", service_code="9999"),
    o311("a service that is not public (0601 neighbour disputes)", "not found", service_code="0601"),
    o311("no lat/long", "lat and long", lat=None, long=None),
    o311("an address but no point", "geocoder", lat=None, long=None, address_string="祖庙路 1 号"),
    o311("lat as text", "must be numbers", lat="north"),
    o311("lat NaN", "finite", lat="nan"),
    o311("long Infinity", "finite", long="inf"),
    o311("lat 1e400", "finite", lat="1e400"),
    o311("lat 95", "within", lat="95"),
    o311("a point outside the district", "outside", lat="23.13", long="113.26"),
    o311("description of 4,001 characters", "description", description="x" * 4001),
    o311("a javascript: media_url", "media_url", media_url="javascript:alert(1)"),
    o311("an ftp media_url", "media_url", media_url="ftp://example.org/a.jpg"),
    o311("a media_url of 2,100 characters", "media_url", media_url="https://example.org/" + "a" * 2100),
    o311("an unknown attribute", "unknown attribute", **{"attribute[colour]": "red"}),
    o311("attribute crs bd09", "not one of", **{"attribute[crs]": "bd09"}),
    o311("a required attribute missing (0406 depth_cm)", "required", service_code="0406"),
    o311("a number attribute that is text", "not a number", service_code="0406", **{"attribute[depth_cm]": "deep"}),
    o311("a number attribute NaN", "finite", service_code="0406", **{"attribute[depth_cm]": "nan"}),
    o311("a singlevaluelist attribute outside its list", "not one of", service_code="0401",
         **{"attribute[size]": "huge"}),
    o311("a multivaluelist attribute outside its list", "not among", service_code="0505",
         **{"attribute[blocking][]": "moon"}),
    o311("a string attribute of 201 characters", "at most", service_code="0107", **{"attribute[plate]": "粤" * 201}),
    o311("first_name of 201 characters", "first_name", first_name="张" * 201),
    o311("email of 300 characters", "email", email="a" * 290 + "@x.example"),
    o311("a jurisdiction_id not served here", "jurisdiction_id", jurisdiction_id="440100"),
    o311("a NUL in the description", "NUL", description="bad\x00text"),
    o311("an unknown format (.yaml)", "format", fmt="yaml"),
    o311("lat as text, answered in XML", "must be numbers", fmt="xml", lat="north"),
    raw("open311", "a JSON body instead of a form", "form", "/open311/v2/requests.json",
        '{"service_code": "0102"}', who=None),
    raw("open311", "no content type", "form", "/open311/v2/requests.json", "service_code=0102", "", who=None),
    raw("open311", "a form that is not UTF-8", "UTF-8", "/open311/v2/requests.json",
        b"service_code=0102&lat=23.02&long=113.12&description=caf\xe9", "application/x-www-form-urlencoded", who=None),
    raw("open311", "a form of 100 KB", "larger than", "/open311/v2/requests.json",
        "service_code=0102&description=" + "x" * 100_000, "application/x-www-form-urlencoded", who=None),
    Bad("open311", "a file in the multipart form", None, "POST", "/open311/v2/requests.json", "files are not taken",
        {"data": {"service_code": "0102"}, "files": {"media": ("a.jpg", b"\xff\xd8\xff", "image/jpeg")}}),
    get("open311", "status=pending", "status", "/open311/v2/requests.json", None, status="pending"),
    get("open311", "start_date that is not a date", "start_date", "/open311/v2/requests.json", None,
        start_date="yesterday"),
    get("open311", "end_date before start_date", "after", "/open311/v2/requests.json", None,
        start_date="2026-10-01T00:00:00+08:00", end_date="2026-09-01T00:00:00+08:00"),
    get("open311", "a span of a year", "90 days", "/open311/v2/requests.json", None,
        start_date="2025-01-01T00:00:00+08:00", end_date="2026-01-01T00:00:00+08:00"),
    get("open311", "an end_date at the start of the calendar", "calendar", "/open311/v2/requests.json", None,
        end_date="0001-01-01T00:00:00-14:00"),
    get("open311", "service_request_id that is not a number", "service_request_id", "/open311/v2/requests.json",
        None, service_request_id="1,abc"),
    get("open311", "a jurisdiction_id not served here", "jurisdiction_id", "/open311/v2/services.json", None,
        jurisdiction_id="440100"),
    get("open311", "a request id that is not a number", "not found", "/open311/v2/requests/abc.json", None),
    get("open311", "a service that does not exist", "not found", "/open311/v2/services/9999.json", None),
    get("open311", "an unknown format (.csv)", "format", "/open311/v2/services.csv", None),
    get("open311", "an unknown token", "token", "/open311/v2/tokens/nope.json", None),
    get("open311", "a media id that is not a number", "no public photo", "/open311/v2/media/abc", None),
]

# ---- the API's GET filters --------------------------------------------------------------------------------------

BOX = {"west": 113.0, "south": 22.9, "east": 113.2, "north": 23.1, "zoom": 12}
FILTERS = [
    get("filters", "an unknown queue", "queue", "/api/cases", queue="everything"),
    get("filters", "an unknown status", "status", "/api/cases", status="done"),
    get("filters", "limit 0", "limit", "/api/cases", limit=0),
    get("filters", "limit 100,000", "limit", "/api/cases", limit=100_000),
    get("filters", "nearby: longitude NaN", "finite", "/api/reports/nearby", category="0102", lon="nan", lat=23.02),
    get("filters", "nearby: an unknown category", "unknown category", "/api/reports/nearby", category="9999",
        lon=113.12, lat=23.02),
    get("filters", "locate: a point outside the district", "outside", "/api/locate", lon=0, lat=0),
    get("filters", "locate: an unknown CRS", "coordinate system", "/api/locate", lon=113.12, lat=23.02, crs="EPSG:0"),
    get("filters", "map: west east of east", "not a box", "/api/map/cases", **{**BOX, "west": 113.3}),
    get("filters", "map: NaN in the box", "south", "/api/map/cases", **{**BOX, "south": "nan"}),
    get("filters", "map: zoom 99", "zoom", "/api/map/cases", **{**BOX, "zoom": 99}),
    get("filters", "map: period of a million days", "period", "/api/map/cases", **{**BOX, "period": 1_000_000}),
    get("filters", "an unknown layer level", "level", "/api/layers/county"),
    get("filters", "evaluation: period 2026-13", "2026-13", "/api/evaluation", period="2026-13"),
    get("filters", "export: an unknown format", "format", "/api/export", format="pdf"),
    get("filters", "a case id beyond bigint", "case_id", f"/api/cases/{2 ** 70}"),
]

CATALOGUE: list[Bad] = [*REPORTS, *PHOTOS, *WORKFLOW, *OPEN311, *FILTERS]

"""Request and response shapes of the JSON API (separate from the domain's row models)."""
from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import Depends, Path, Query
from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool

from dispatch.intake.service import MAX_DESCRIPTION, MAX_PHOTOS
from dispatch.reporting.mapview import MAX_PERIOD_DAYS, STATUS_FILTERS, MapFilter
from events.media import ALLOWED as PHOTO_FORMATS
from gis.crs import CRS_PATTERN

# What the API's fields take, stated once for the schema and its validation alike.
MAX_NOTE = 4000  # characters of an action's note or reason (the pages' note fields take it from here)
MAX_ID = 2 ** 53 - 1  # ids and versions: bigint columns, as far as JSON numbers are exact
CATEGORY = "^[0-9]{4}$"                   # a minor category code, e.g. 0102
CRS_DESCRIPTION = ("EPSG code of lon/lat (4326 or EPSG:4326), an authority string (OGC:CRS84), WKT, or gcj02 for "
                   "Amap/Tencent/phone SDKs; PROJ strings are refused")


def _number(value):
    if isinstance(value, (str, bool)):
        raise ValueError("a number is written as a JSON number, not as text or true/false")
    return value


def _text(value):
    if not isinstance(value, (str, date)):
        raise ValueError("a date (and time) is written as text, e.g. 2026-12-01T17:30:00+08:00")
    return value


def whole(**bounds):
    """A whole number as JSON Schema's integer: 5 or 5.0, never "5" or true (strict mode would refuse 5.0)."""
    return Annotated[int, Field(strict=False, **bounds), BeforeValidator(_number)]


Id = whole(ge=1, le=MAX_ID)
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
# gis.crs.parse_crs checks the pattern itself, with a message that names the accepted forms: the schema states it
CRS = {"description": CRS_DESCRIPTION, "json_schema_extra": {"pattern": CRS_PATTERN}}
Crs = Annotated[str, Field(**CRS)]
CrsQuery = Annotated[str, Query(**CRS)]
CategoryQuery = Annotated[str, Query(pattern=CATEGORY, description="4-digit category code")]
PHOTOS = {kind: {"schema": {"type": "string", "format": "binary"}} for kind in PHOTO_FORMATS.values()}  # in, out
PHOTO_ANSWER = {"description": "the photo", "content": PHOTOS}
MAJOR = "^([0-9]{2})?$"                   # a major category code, or empty for all


def map_filter(major: str = Query(default="", pattern=MAJOR, description="two-digit major category"),
               department: str = Query(default="", max_length=100, description="a department code"),
               street: str = Query(default="", max_length=100, description="a street code"),
               status: Literal[("", *STATUS_FILTERS)] = Query(default="", description="open, overdue or finished"),
               period: int | None = Query(default=None, ge=0, le=MAX_PERIOD_DAYS,
                                          description="days before today (0: today)")) -> MapFilter:
    """The map's filters from the query, as the map and the export take them (empty: all)."""
    return MapFilter(major, department, street, status, period)


Filters = Annotated[MapFilter, Depends(map_filter)]


class StrictIn(BaseModel):
    """A request body: no field beyond the documented ones, each of exactly its JSON type ("5" is no number)."""

    model_config = ConfigDict(extra="forbid", strict=True)


# Dates and times arrive as text (strict mode would refuse even that from parsed JSON): a number is refused.
Moment = Annotated[AwareDatetime, Field(strict=False), BeforeValidator(_text)]
Day = Annotated[date, Field(strict=False), BeforeValidator(_text)]


class ReportIn(StrictIn):
    """A report from the field or another system."""

    category: str = Field(pattern=CATEGORY, description="4-digit category code, e.g. 0102 (暴露垃圾)",
                          examples=["0102"])
    lon: float = Field(allow_inf_nan=False, description="longitude (or x in a projected CRS)", examples=[113.1225])
    lat: float = Field(allow_inf_nan=False, description="latitude (or y in a projected CRS)", examples=[23.0120])
    crs: Crs = "EPSG:4326"
    description: str = Field(default="", max_length=MAX_DESCRIPTION)
    urgent: StrictBool = Field(default=False, description="use the category's urgent time limit (JSON true or "
                               "false only: \"yes\" or 1 is refused)")
    attachments: list[Id] = Field(default=[], max_length=MAX_PHOTOS, description="photo ids from POST /api/media")


class PlaceOut(BaseModel):
    code: str
    name: str


class LocationOut(BaseModel):
    """The grid chain of a point, plus the responsibility zones covering it."""

    release_id: int
    lon: float
    lat: float
    district: PlaceOut
    street: PlaceOut
    community: PlaceOut
    grid: PlaceOut
    zones: list[dict]


class ReportOut(BaseModel):
    """The new case and where intake left it."""

    case_id: int
    report_id: int
    location: LocationOut
    status: str
    department_code: str | None
    likely_duplicates: list[dict]
    notes: list[str]


class HistoryOut(BaseModel):
    id: int
    at: datetime
    actor: str
    actor_role: str
    action: str
    from_status: str | None
    to_status: str
    note: str
    department_code: str | None
    deadline: datetime | None
    attachments: list
    detail: dict
    imported: bool


class CaseOut(BaseModel):
    """A case with its grid chain, reports and history."""

    id: int
    status: str
    category_code: str
    category_name: str
    description: str
    lon: float
    lat: float
    release_id: int
    district: PlaceOut
    street: PlaceOut
    community: PlaceOut
    grid: PlaceOut
    zones: list[dict]
    created_at: datetime
    updated_at: datetime
    report_ids: list[int]
    version: int
    source: str
    reporter: str
    urgent: bool
    department_code: str | None
    department_name: str | None
    dispatched_at: datetime | None
    deadline: datetime | None
    yellow_at: datetime | None
    deadline_provisional: bool
    time_limit: str | None
    handled_at: datetime | None
    check_deadline: datetime | None
    closed_at: datetime | None
    escalation_level: int
    dispatch_count: int
    return_count: int
    rework_count: int
    extension_count: int
    merged_into: int | None
    merged_cases: list[int]
    light: str | None = Field(description="green, yellow (most of the limit used) or red (overdue); "
                                          "null when no department holds the case")
    history: list[HistoryOut]


class CategoryOut(BaseModel):
    code: str
    name: str
    major_code: str
    major_name: str
    time_limit: str
    urgent_limit: str | None
    check_limit: str
    duplicate_radius_m: float
    public: bool


class ActionIn(StrictIn):
    """An action on a case. Which fields are needed depends on the action."""

    note: str = Field(default="", max_length=MAX_NOTE, description="reason or note; required for reject, return, "
                      "request_extension, refuse_extension, handle, check_fail, reopen")
    attachments: list[Id] = Field(default=[], max_length=20, description="ids from POST /api/media; "
                                  "handle needs at least one photo")
    department_code: str | None = Field(default=None, description="dispatch: the department to send it to")
    new_deadline: Moment | None = Field(default=None, description="approve_extension (and optionally "
                                               "request_extension): the new deadline, with a time zone")
    into_case_id: Id | None = Field(default=None, description="merge: the open case this one duplicates")
    version: Id | None = Field(default=None, description="the case version you saw; a conflict if it changed")


class ActionOut(BaseModel):
    case_id: int
    action: str
    from_status: str
    to_status: str
    history_id: int
    department_code: str | None
    deadline: datetime | None
    version: int
    notes: list[str]


class LoginIn(StrictIn):
    username: str = Field(max_length=64)
    password: str = Field(max_length=200)


class TokenOut(BaseModel):
    token: str
    token_type: str = "bearer"
    expires_in_hours: float


class MediaOut(BaseModel):
    id: int
    content_type: str
    width: int
    height: int
    size_bytes: int

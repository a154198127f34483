"""Request and response shapes of the JSON API (separate from the domain's row models)."""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class ReportIn(BaseModel):
    """A report from the field or another system."""

    model_config = ConfigDict(extra="forbid")

    category: str = Field(description="4-digit category code, e.g. 0102 (暴露垃圾)", examples=["0102"])
    lon: float = Field(description="longitude (or x in a projected CRS)", examples=[113.1225])
    lat: float = Field(description="latitude (or y in a projected CRS)", examples=[23.0120])
    crs: str = Field(default="EPSG:4326", description="EPSG code of lon/lat, or gcj02 for Amap/Tencent/phone SDKs")
    description: str = Field(default="", max_length=4000)


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
    case_id: int
    report_id: int
    location: LocationOut


class HistoryOut(BaseModel):
    at: datetime
    actor: str
    action: str
    from_status: str | None
    to_status: str
    note: str


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
    history: list[HistoryOut]


class CategoryOut(BaseModel):
    code: str
    name: str
    major_code: str
    major_name: str

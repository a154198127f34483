"""What the Open311 operations take, as the OpenAPI document states it.

FastAPI does not check these (its refusal would be a JSON 422, and Open311 answers everything in the spec's own
format): each handler checks the same rule, from the same constant here, and refuses in the spec's format.
"""
from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from web.open311.formats import FORMATS

REQUEST_ID = "[0-9]{1,18}"  # ASCII digits that fit a bigint ('²'.isdigit() is true)
REQUEST_IDS = f"^({REQUEST_ID}(,{REQUEST_ID})*)?$"
STATUSES = "^((open|closed)(,(open|closed))?)?$"
MAX_DESCRIPTION = 4000
MAX_MEDIA_URL = 2000
CONTACT_FIELDS = ("email", "device_id", "account_id", "first_name", "last_name", "phone")
MAX_CONTACT = 200  # characters of each contact field
MEDIA_URL = "^[Hh][Tt][Tt][Pp][Ss]?://[^/?#]+"  # an http(s) link with a host
ATTRIBUTE_FIELD = r"^attribute\[([^\]]+)\](\[\])?$"

DATE_TIME = {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "string", "maxLength": 0}]}  # "": none
Fmt = Annotated[str, Path(description="json or xml", json_schema_extra={"enum": list(FORMATS)})]
RequestId = Annotated[str, Path(description="a service_request_id", json_schema_extra={"pattern": f"^{REQUEST_ID}$"})]


def keyed_read(api_key: str | None = Query(default=None, description="a client system's key (reads need one "
                                           "where the city turned public reading off)"),
               jurisdiction_id: str | None = Query(default=None, description="this server's district code (may "
                                                   "be left out)")) -> None:
    """Declares the query every Open311 read takes; the handler reads it from the request itself."""


def request_filters(
    service_request_id: str | None = Query(default=None, description="request ids, comma-separated (the other "
                                           "filters are then ignored)", json_schema_extra={"pattern": REQUEST_IDS}),
    service_code: str | None = Query(default=None, description="service codes, comma-separated"),
    start_date: str | None = Query(default=None, json_schema_extra=DATE_TIME,
                                   description="earliest requested_datetime; at most 90 days before end_date (a "
                                               "time without offset is taken in the city's time zone)"),
    end_date: str | None = Query(default=None, json_schema_extra=DATE_TIME,
                                 description="latest requested_datetime; the last 90 days by default"),
    status: str | None = Query(default=None, description="open, closed or both, comma-separated",
                               json_schema_extra={"pattern": STATUSES}),
) -> None:
    """Declares the filters of GET requests; the handler reads them from the request itself."""


def _form() -> dict:
    text = {"type": "string", "maxLength": MAX_CONTACT}
    fields = {"api_key": {"type": "string", "description": "the client system's key"},
              "jurisdiction_id": {"type": "string"},
              "service_code": {"type": "string", "description": "a code from GET services"},
              "lat": {"type": "number", "minimum": -90, "maximum": 90},
              "long": {"type": "number", "minimum": -180, "maximum": 180},
              "address_string": {"type": "string"}, "address_id": {"type": "string"},
              "description": {"type": "string", "maxLength": MAX_DESCRIPTION},
              "media_url": {"type": "string", "maxLength": MAX_MEDIA_URL, "pattern": MEDIA_URL,
                            "description": "an http(s) link to a photo"},
              **{name: text for name in CONTACT_FIELDS}}
    return {"type": "object", "required": ["api_key", "service_code", "lat", "long"], "properties": fields,
            "patternProperties": {ATTRIBUTE_FIELD: {"type": "string", "description": "a value of the service's "
                                                    "attribute (see GET services/{code}); attribute[crs]: wgs84 "
                                                    "or gcj02"}}}


# The POST's form: lat and long are required here (no geocoder), every field arrives as text.
REQUEST_FORM = {"requestBody": {"required": True, "content": {
    "application/x-www-form-urlencoded": {"schema": _form()}, "multipart/form-data": {"schema": _form()}}}}

"""Booleans are JSON true/false only, and a CRS is an EPSG code, an authority string, WKT or gcj02: nothing else."""
import pytest

from gis.crs import parse_crs
from gis.errors import UnknownCRS
from tests.test_report_api import BODY, api, cases  # noqa: F401  (the fixture)


@pytest.mark.parametrize("value", ["yes", "true", 1, None])
def test_urgent_must_be_a_json_boolean(api, value):
    response = api.post("/api/reports", json={**BODY, "urgent": value}, headers=api.as_("officer"))
    assert response.status_code == 422, response.text
    assert "urgent" in response.json()["message"] and cases(api.url) == 0


def test_urgent_true_is_taken(api):
    assert api.post("/api/reports", json={**BODY, "urgent": True}, headers=api.as_("officer")).status_code == 201


def test_a_rule_set_activate_flag_must_be_a_json_boolean():
    from pydantic import ValidationError

    from web.api_admin import RuleSetIn
    rule = {"name": "r", "recipient_kind": "department", "department": "S-012-HWS"}
    with pytest.raises(ValidationError, match="activate"):
        RuleSetIn.model_validate_json(f'{{"name": "x", "rules": [{__import__("json").dumps(rule)}], '
                                      f'"activate": "yes"}}')


@pytest.mark.parametrize("text", ["EPSG:4326\x00", "4326\x00", "+proj=longlat +datum=WGS84 +no_defs",
                                  "+proj=utm +zone=49 +datum=WGS84", "proj=longlat", "wgs84", "WGS 84",
                                  "urn:ogc:def:crs:EPSG::4326 junk", "epsg:4326;drop", "EPSG:", "EPSG:99999999",
                                  '{"type": "GeographicCRS"}', "OGC:CRS84\x00"])
def test_a_crs_that_is_not_exactly_a_code_or_wkt_is_refused(text):
    with pytest.raises(UnknownCRS, match="EPSG code"):
        parse_crs(text)


@pytest.mark.parametrize("text,expected", [("EPSG:4326", "EPSG:4326"), ("4326", "EPSG:4326"), (4490, "EPSG:4490"),
                                           ("epsg:32649", "EPSG:32649"), ("gcj02", "gcj02"), ("GCJ-02", "gcj02"),
                                           ("urn:ogc:def:crs:EPSG::4326", "EPSG:4326")])
def test_codes_and_authority_strings_are_taken(text, expected):
    assert parse_crs(text) == expected


def test_wkt_is_taken():
    from pyproj import CRS
    assert parse_crs(CRS.from_epsg(32649).to_wkt()) == "EPSG:32649"


def test_a_report_with_a_proj_string_is_refused(api):
    response = api.post("/api/reports", json={**BODY, "crs": "+proj=longlat +datum=WGS84"}, headers=api.as_("officer"))
    assert response.status_code == 422 and "EPSG code" in response.json()["message"] and cases(api.url) == 0

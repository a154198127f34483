"""Likely duplicates: the category's radius measured on the spheroid, in every direction, at its edge."""
from datetime import timedelta

import pytest
from pyproj import Geod

from dispatch.intake.service import submit_report
from dispatch.models import Policy
from events import repo as events_repo
from tests.people import actor

GEOD = Geod(ellps="WGS84")
CENTRE = (113.12, 23.02)  # 祖庙; category 0102 has a 30 m radius, 0101 50 m


@pytest.mark.parametrize("category, radius", [("0102", 30), ("0101", 50)])
@pytest.mark.parametrize("azimuth", [0, 45, 90, 135, 180, 270])
def test_the_radius_holds_in_every_direction(conn, category, radius, azimuth):
    first = submit_report(conn, actor=actor("officer"), policy=Policy(), category_code=category,
                          lon=CENTRE[0], lat=CENTRE[1]).case_id
    for distance, expected in ((radius - 0.5, True), (radius + 0.5, False)):
        lon, lat, _ = GEOD.fwd(CENTRE[0], CENTRE[1], azimuth, distance)
        found = events_repo.likely_duplicates(conn, case_id=-1, category_code=category, lon=lon, lat=lat,
                                              window=timedelta(days=7))
        assert (first in [d["id"] for d in found]) is expected, (azimuth, distance)
        if expected:
            assert abs(found[0]["distance_m"] - distance) < 0.2

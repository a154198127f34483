"""Coverage checks in metres: children inside parents, no overlaps, no gaps. Pure and vectorised."""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer

from gis.layers import label
from gis.models import Problem


def metric_crs(geoms_wgs84: np.ndarray) -> str:
    """A UTM zone that suits the data, for areas in square metres."""
    return gpd.GeoSeries(list(geoms_wgs84), crs="EPSG:4326").estimate_utm_crs().to_string()


def to_metric(geoms_wgs84: np.ndarray, crs: str) -> np.ndarray:
    """Project WGS84 geometries into the metric CRS."""
    fwd = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    return shapely.transform(
        np.asarray(geoms_wgs84, dtype=object), lambda c: np.column_stack(fwd.transform(c[:, 0], c[:, 1]))
    )


def _where(geom_m: shapely.Geometry, crs: str) -> tuple[float, float]:
    back = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    p = shapely.point_on_surface(geom_m)
    lon, lat = back.transform(p.x, p.y)
    return round(float(lon), 6), round(float(lat), 6)


def _problem(kind: str, code: str, text: str, part: shapely.Geometry, crs: str) -> Problem:
    area = float(part.area)
    lon, lat = _where(part, crs)
    return Problem(kind, code, f"{text}: {area:,.1f} m² near lon {lon}, lat {lat}", area, lon, lat)


def overlap_problems(
    codes: list[str], names: list[str], geoms_m: np.ndarray, *, tolerance_m2: float, crs: str
) -> list[Problem]:
    """Every pair of features in one level that overlap by more than the tolerance."""
    tree = shapely.STRtree(geoms_m)
    left, right = tree.query(geoms_m, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    if not len(left):
        return []
    shared = shapely.intersection(geoms_m[left], geoms_m[right])
    areas = shapely.area(shared)
    return [
        _problem("overlap", codes[i], f"{label(codes[i], names[i])} overlaps {label(codes[j], names[j])}",
                 shared[k], crs)
        for k, (i, j) in enumerate(zip(left, right)) if areas[k] > tolerance_m2
    ]


def outside_problems(
    codes: list[str], names: list[str], geoms_m: np.ndarray, parent_geoms_m: np.ndarray,
    parent_labels: list[str], *, tolerance_m2: float, crs: str,
) -> list[Problem]:
    """Children that reach outside their own parent by more than the tolerance."""
    outside = shapely.difference(geoms_m, parent_geoms_m)
    areas = shapely.area(outside)
    return [
        _problem("outside", codes[i], f"{label(codes[i], names[i])} lies outside its parent {parent_labels[i]}",
                 outside[i], crs)
        for i in np.flatnonzero(areas > tolerance_m2)
    ]


def gap_problems(
    parent_codes: list[str], parent_names: list[str], parent_geoms_m: np.ndarray,
    child_geoms_by_parent: list[list[shapely.Geometry]], *, tolerance_m2: float, crs: str,
) -> list[Problem]:
    """Parts of each parent that no child covers, each larger than the tolerance."""
    covered = np.array([shapely.union_all(children) for children in child_geoms_by_parent], dtype=object)
    gaps = shapely.difference(parent_geoms_m, covered)
    problems = []
    for i, gap in enumerate(gaps):
        if gap is None or gap.is_empty or gap.area <= tolerance_m2:
            continue
        who = label(parent_codes[i], parent_names[i])
        for part in shapely.get_parts(gap):
            if part.area > tolerance_m2:
                problems.append(_problem("gap", parent_codes[i], f"a gap in the coverage of {who}", part, crs))
    return problems

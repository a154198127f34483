"""Shift map data to GCJ-02 when the base map is drawn in it (Amap, Tencent): every coordinate, vectorised."""
from __future__ import annotations

import numpy as np

from gis.crs import wgs84_to_gcj02


def _rings(geometry: dict) -> list[list]:
    """The coordinate lists of a (Multi)Polygon or Point geometry, to rewrite in place."""
    kind, coords = geometry["type"], geometry["coordinates"]
    if kind == "Point":
        return [[coords]]
    if kind == "Polygon":
        return coords
    if kind == "MultiPolygon":
        return [ring for polygon in coords for ring in polygon]
    raise ValueError(f"cannot shift a {kind}")


def to_gcj02(collection: dict) -> dict:
    """A FeatureCollection with every coordinate moved by the GCJ-02 offset (one vectorised call)."""
    rings = [ring for feature in collection["features"] for ring in _rings(feature["geometry"])]
    if not rings:
        return collection
    flat = np.array([xy[:2] for ring in rings for xy in ring], dtype=float)
    x, y = wgs84_to_gcj02(flat[:, 0], flat[:, 1])
    i = 0
    for ring in rings:
        for xy in ring:
            xy[0], xy[1] = round(float(x[i]), 7), round(float(y[i]), 7)
            i += 1
    return collection


def point_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """One point, shifted."""
    return points_to_gcj02([lon], [lat])[0]


def points_to_gcj02(lons: list[float], lats: list[float]) -> list[tuple[float, float]]:
    """Many points, shifted in one vectorised call."""
    x, y = wgs84_to_gcj02(np.asarray(lons, dtype=float), np.asarray(lats, dtype=float))
    return [(round(float(a), 7), round(float(b), 7)) for a, b in zip(x, y)]

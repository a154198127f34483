"""A small hand-made city in UTM zone 33N (EPSG:32633), far from Chancheng, for import tests."""
from __future__ import annotations

from pathlib import Path

import geopandas as gpd
from shapely.geometry import Polygon, box

CRS = "EPSG:32633"
X0, Y0 = 600_000.0, 5_340_000.0  # near Vienna
DISTRICT = "910101"


def district() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"code": [DISTRICT], "name": ["Testhausen"]},
                            geometry=[box(X0, Y0, X0 + 2000, Y0 + 1000)], crs=CRS)


def streets() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": ["910101001", "910101002"], "name": ["West", "East"], "parent": [DISTRICT] * 2},
        geometry=[box(X0, Y0, X0 + 1000, Y0 + 1000), box(X0 + 1000, Y0, X0 + 2000, Y0 + 1000)], crs=CRS)


def communities() -> gpd.GeoDataFrame:
    rows = []
    for s, street in enumerate(("910101001", "910101002")):
        for c in range(2):
            rows.append({"code": f"{street}00{c + 1}", "name": f"C{s}{c}", "parent": street,
                         "geometry": box(X0 + 1000 * s, Y0 + 500 * c, X0 + 1000 * (s + 1), Y0 + 500 * (c + 1))})
    return gpd.GeoDataFrame(rows, crs=CRS)


def grids() -> gpd.GeoDataFrame:
    rows = []
    for community in communities().itertuples():
        minx, miny, _, _ = community.geometry.bounds
        n = 0
        for j in (1, 0):  # top row first, left to right
            for i in range(2):
                n += 1
                rows.append({"code": f"{community.code}{n:02d}", "name": f"{community.name}-{n}",
                             "parent": community.code,
                             "geometry": box(minx + 500 * i, miny + 250 * j, minx + 500 * (i + 1), miny + 250 * (j + 1))})
    return gpd.GeoDataFrame(rows, crs=CRS)


def write(gdf: gpd.GeoDataFrame, folder: Path, name: str, driver: str = "GPKG") -> Path:
    suffix = {"GPKG": ".gpkg", "ESRI Shapefile": ".shp", "GeoJSON": ".geojson"}[driver]
    path = folder / f"{name}{suffix}"
    gdf.to_file(path, driver=driver, engine="pyogrio")
    return path


def bowtie(x: float, y: float) -> Polygon:
    return Polygon([(x, y), (x + 500, y + 250), (x + 500, y), (x, y + 250), (x, y)])

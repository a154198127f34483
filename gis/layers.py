"""Reading layer files and validating their features; pure functions, no database."""
from __future__ import annotations

import os

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.crs import geometries_to_wgs84, is_geographic, parse_crs
from gis.errors import GridFileError
from gis.models import Problem


DENSIFY_UNITS = 25.0  # max segment length (CRS units, usually metres) before leaving a projected CRS


def read_layer(path: str | os.PathLike, *, crs: str | None = None) -> tuple[gpd.GeoDataFrame, str]:
    """Read GeoJSON, GeoPackage or Shapefile as it is; return the frame and its source CRS (parsed)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise GridFileError(f"no such file: {path}")
    try:
        gdf = gpd.read_file(path, engine="pyogrio")
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise GridFileError(f"cannot read {path} as a GeoJSON, GeoPackage or Shapefile layer: {exc}") from None
    if not isinstance(gdf, gpd.GeoDataFrame):  # GDAL reads a plain table (CSV, a spreadsheet) without geometry
        raise GridFileError(f"{path} has no geometry: it is a table, not a layer of areas; use a GeoJSON, "
                            "GeoPackage or Shapefile of polygons")
    if gdf.empty:
        raise GridFileError(f"{path} has no features: nothing to import")
    if crs:
        source = parse_crs(crs)
    elif gdf.crs is not None:
        source = parse_crs(_file_crs(gdf.crs))
    else:
        raise GridFileError(f"{path} does not say its coordinate system: pass --crs (an EPSG code or gcj02)")
    _check_degrees(gdf, source, path)
    return gdf, source


def _check_degrees(gdf: gpd.GeoDataFrame, source: str, path: str) -> None:
    """Coordinates in metres read as degrees (a projected file whose CRS is missing or wrongly given) would only
    show up as areas far outside their parents; name the real mistake instead."""
    if not is_geographic(source):
        return
    bounds = gdf.geometry.total_bounds
    if not np.isfinite(bounds).all():  # no geometry at all: check_geometries names each feature
        return
    minx, miny, maxx, maxy = bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise GridFileError(f"{path}: coordinates reach x {max(abs(minx), abs(maxx)):,.0f}, y "
                            f"{max(abs(miny), abs(maxy)):,.0f}, which are not longitude and latitude in degrees, yet "
                            f"the coordinate system is {source}; pass --crs with the file's real one (e.g. "
                            "EPSG:32649 for UTM zone 49N)")


def to_wgs84(geoms: np.ndarray, source: str) -> np.ndarray:
    """Convert checked polygons to WGS84, densifying first when they come from a projection."""
    geoms = np.array(geoms, dtype=object)
    if not is_geographic(source):
        # A straight edge in a projection is a curve in lon/lat: add vertices so that it stays one, otherwise
        # a child that has a vertex mid-edge and a parent that has not disagree by metres (sagitta ∝ length²).
        geoms = shapely.segmentize(geoms, DENSIFY_UNITS)
    return geometries_to_wgs84(geoms, source)


def text_column(gdf: pd.DataFrame, field: str, *, path: str) -> pd.Series:
    """A field as text, with integer-valued numbers printed without '.0'."""
    if field not in gdf.columns:
        fields = ", ".join(c for c in gdf.columns if c != "geometry")
        raise GridFileError(f"{path} has no field {field!r}; its fields are: {fields}")

    def as_text(value: object) -> str:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return ""
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value).strip()

    return gdf[field].map(as_text)


def label(code: str, name: str) -> str:
    """How a feature is named in messages."""
    return f"{code} ({name})" if name else code


def check_geometries(
    codes: list[str], names: list[str], geoms: np.ndarray, *, repair: bool
) -> tuple[np.ndarray, list[Problem], list[str]]:
    """Keep polygons only; repair invalid ones when asked. Returns geometries, problems, repair notes."""
    geoms = np.array(geoms, dtype=object)
    problems: list[Problem] = []
    notes: list[str] = []
    for i, geom in enumerate(geoms):
        who = label(codes[i], names[i])
        if geom is None or geom.is_empty:
            problems.append(Problem("empty", codes[i], f"{who} has no geometry"))
            continue
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            problems.append(Problem("type", codes[i], f"{who} is a {geom.geom_type}, not a polygon"))
            continue
        if shapely.is_valid(geom):
            continue
        reason = shapely.is_valid_reason(geom)
        if not repair:
            problems.append(Problem("invalid", codes[i], f"{who} has an invalid geometry: {reason} "
                                    "(fix it, or import with --repair)"))
            continue
        fixed = polygonal_part(shapely.make_valid(geom))
        if fixed.is_empty:
            problems.append(Problem("invalid", codes[i], f"{who} is invalid ({reason}) and repair left nothing"))
            continue
        geoms[i] = fixed
        notes.append(f"repaired {who}: {reason}")
    return geoms, problems, notes


def polygonal_part(geom: shapely.Geometry) -> shapely.Geometry:
    """The polygons of a geometry (make_valid may return a collection with lines)."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def duplicate_problems(codes: list[str], names: list[str]) -> list[Problem]:
    """One problem per code used more than once."""
    seen: dict[str, int] = {}
    for code in codes:
        seen[code] = seen.get(code, 0) + 1
    return [
        Problem("duplicate", code, f"code {code} is used by {n} features "
                f"({', '.join(sorted({names[i] for i, c in enumerate(codes) if c == code}))})")
        for code, n in seen.items() if n > 1 and code
    ]


def as_multipolygons(geoms: np.ndarray) -> np.ndarray:
    """Promote polygons to multipolygons, as the tables store them."""
    return np.array(
        [g if g.geom_type == "MultiPolygon" else shapely.MultiPolygon([g]) for g in geoms], dtype=object
    )


def _file_crs(crs) -> str:
    """A file's own CRS as one of the forms parse_crs takes: its authority code, else its WKT."""
    authority = crs.to_authority()
    return ":".join(authority) if authority else crs.to_wkt()

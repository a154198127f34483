"""Coordinate systems: any EPSG code via pyproj, plus GCJ-02 (vectorised, with a precise inverse)."""
from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from gis.errors import UnknownCRS

GCJ02 = "gcj02"
WGS84 = "EPSG:4326"

# Krasovsky 1940 ellipsoid, as used by the published GCJ-02 formula.
_A = 6378245.0
_EE = 0.00669342162296594323


# The accepted forms, exactly: a bare EPSG number, AUTHORITY:CODE, an OGC URN, WKT (1 or 2), or gcj02. A PROJ string
# (+proj=…), a name ("WGS 84", which pyproj looks up and may find ambiguous), JSON or anything with a stray
# character is refused rather than guessed at. Each form is a regular expression in the syntax JSON Schema shares
# with Python (no inline flags: letters of any case are classes), so the API documents exactly CRS_PATTERN.
WKT_KEYWORDS = ("GEOGCS", "PROJCS", "GEOCCS", "COMPD_CS", "GEOGCRS", "GEODCRS", "GEODETICCRS", "PROJCRS",
                "PROJECTEDCRS", "COMPOUNDCRS", "BOUNDCRS", "VERTCRS", "ENGCRS")
SPACE = r"[ \t\n\r]"


def _anycase(word: str) -> str:
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in word)


EPSG_NUMBER = "[0-9]{1,9}"
GCJ = _anycase("gcj") + "(-?02)?"
AUTHORITY_CODE = "[A-Za-z]{2,10}:[0-9A-Za-z_]{1,20}"
OGC_URN = _anycase("urn:ogc:def:crs:") + "[A-Za-z]{2,10}:[0-9.]{0,20}:[0-9A-Za-z_]{1,20}"
WKT = "(" + "|".join(map(_anycase, WKT_KEYWORDS)) + ")" + SPACE + "*\\[[^\\x00]*\\]"
CRS_PATTERN = f"^({SPACE}*({EPSG_NUMBER}|{GCJ}|{AUTHORITY_CODE}|{OGC_URN}|{WKT}){SPACE}*)?$"  # empty: the default
ACCEPTED = "an EPSG code such as 4326, 4490 or 32649 (or EPSG:4326), an authority string such as OGC:CRS84, WKT, "\
           "or 'gcj02'"


@lru_cache(maxsize=64)  # pyproj takes ~0.1 ms to read a CRS; intake parses one per report
def parse_crs(text: str | int | None) -> str:
    """Normalise a user's CRS to 'gcj02' or 'EPSG:n' (or the WKT of a CRS without an EPSG code)."""
    raw = "" if text is None else str(text).strip(" \t\n\r")
    if raw == "":
        raise UnknownCRS(f"no coordinate system given: pass {ACCEPTED}")
    if re.fullmatch(CRS_PATTERN, raw) is None:
        raise UnknownCRS(f"unknown coordinate system {raw[:80]!r}: use {ACCEPTED}")
    if re.fullmatch(GCJ, raw):
        return GCJ02
    try:
        crs = _exact(raw)
    except CRSError:
        raise UnknownCRS(f"unknown coordinate system {raw[:80]!r}: use {ACCEPTED}") from None
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_wkt()


def _exact(raw: str) -> CRS:
    """The CRS of a text of one of the accepted forms (CRSError if pyproj knows none)."""
    if re.fullmatch(EPSG_NUMBER, raw):
        return CRS.from_epsg(int(raw))
    if re.fullmatch(AUTHORITY_CODE, raw):
        authority, code = raw.split(":")
        return CRS.from_authority(authority.upper(), code)
    if re.fullmatch(OGC_URN, raw):
        return CRS.from_user_input(raw)
    return CRS.from_wkt(raw)


@lru_cache(maxsize=64)
def is_geographic(crs: str) -> bool:
    """True for lon/lat systems (GCJ-02 counts as one)."""
    return crs == GCJ02 or CRS.from_user_input(crs).is_geographic


@lru_cache(maxsize=32)
def _transformer(crs: str) -> Transformer:
    return Transformer.from_crs(crs, WGS84, always_xy=True)


def _out_of_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = lon - 105.0, lat - 35.0
    sq = np.sqrt(np.abs(x))
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sq
    dlat += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sq
    dlon += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    rad = lat / 180.0 * np.pi
    magic = 1 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(rad) * np.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Forward GCJ-02 offset; points outside China are returned unchanged."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    dlon, dlat = _delta(lon, lat)
    outside = _out_of_china(lon, lat)
    return np.where(outside, lon, lon + dlon), np.where(outside, lat, lat + dlat)


def gcj02_to_wgs84(lon, lat, *, tolerance: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """Inverse GCJ-02 by fixed-point iteration, to about 0.01 mm (the offset has no closed inverse)."""
    glon, glat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    wlon, wlat = glon.copy(), glat.copy()
    for _ in range(30):
        flon, flat = wgs84_to_gcj02(wlon, wlat)
        elon, elat = flon - glon, flat - glat
        wlon, wlat = wlon - elon, wlat - elat
        if np.nanmax(np.abs(np.concatenate([np.ravel(elon), np.ravel(elat)])), initial=0.0) < tolerance:
            break
    return wlon, wlat


def points_to_wgs84(lon, lat, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """Convert x/y arrays in `crs` (already parsed) to WGS84 lon/lat arrays."""
    if crs == GCJ02:
        return gcj02_to_wgs84(lon, lat)
    if crs == WGS84:
        return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    x, y = _transformer(crs).transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return np.asarray(x), np.asarray(y)


def geometries_to_wgs84(geoms: np.ndarray, crs: str) -> np.ndarray:
    """Convert an array of shapely geometries in `crs` to WGS84, vertex by vertex."""

    def convert(coords: np.ndarray) -> np.ndarray:
        x, y = points_to_wgs84(coords[:, 0], coords[:, 1], crs)
        return np.column_stack([x, y])

    return shapely.transform(np.asarray(geoms, dtype=object), convert)

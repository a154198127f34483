"""Use cases of the gis package: import grid and zone layers, make and activate releases."""
from __future__ import annotations

import os
import re
from dataclasses import replace

import numpy as np
import psycopg
import shapely

from core.errors import Conflict, NotFound
from gis import repo, topology
from gis.errors import GridValidationError
from gis.layers import (
    as_multipolygons, check_geometries, duplicate_problems, label, read_layer, text_column, to_wgs84,
)
from gis.models import LEVELS, ImportResult, Problem, code_length, parent_level

DEFAULT_TOLERANCE_M2 = 1.0


def import_grid_layer(
    conn: psycopg.Connection, *, path: str | os.PathLike, level: str, code_field: str, name_field: str,
    parent_field: str | None = None, crs: str | None = None, repair: bool = False,
    widths: tuple[int, ...] = (6, 3, 3, 2), tolerance_m2: float = DEFAULT_TOLERANCE_M2,
) -> ImportResult:
    """Validate a whole level against the newest parent level and store it as a new version, or raise."""
    if level not in LEVELS:
        raise GridValidationError(f"unknown level {level!r}", [Problem("level", level, f"use one of {LEVELS}")])
    path = os.fspath(path)
    gdf, source_crs = read_layer(path, crs=crs)
    codes = list(text_column(gdf, code_field, path=path))
    names = list(text_column(gdf, name_field, path=path))
    parents = list(text_column(gdf, parent_field, path=path)) if parent_field else None
    geoms, problems, notes = checked_wgs84(codes, names, gdf, source_crs, repair=repair)
    problems += _code_problems(codes, names, parents, level=level, widths=widths)
    problems += duplicate_problems(codes, names)
    if parents is None:
        parents = _derived_parents(codes, level=level, widths=widths)
    parent_row = _parent_layer(conn, level)
    if not problems:
        problems += _topology_problems(conn, codes, names, parents, geoms, parent_row, tolerance_m2)
    if problems:
        raise GridValidationError(
            f"{path}: {level} layer rejected, nothing was imported ({len(problems)} problem(s))", problems
        )
    return _store_grid_layer(conn, level=level, path=path, source_crs=source_crs, codes=codes, names=names,
                             parents=parents, geoms=geoms, parent_row=parent_row, notes=notes)


def checked_wgs84(codes, names, gdf, source_crs: str, *, repair: bool):
    """Check (and repair) geometries as the file has them, convert the good ones, and check them again."""
    geoms, problems, notes = check_geometries(codes, names, gdf.geometry.to_numpy(), repair=repair)
    if problems:
        return geoms, problems, notes
    geoms = to_wgs84(geoms, source_crs)
    geoms, after, more = check_geometries(codes, names, geoms, repair=repair)
    return geoms, [replace(p, message=p.message + " (after conversion to WGS84)") for p in after], notes + more


def _code_problems(codes, names, parents, *, level, widths) -> list[Problem]:
    digits = code_length(level, widths)
    pattern = re.compile(rf"^[0-9]{{{digits}}}$")
    problems = []
    for i, code in enumerate(codes):
        if not pattern.match(code):
            problems.append(Problem("code", code, f"feature #{i + 1} {label(code, names[i])}: a {level} code "
                                    f"must be {digits} digits ({'+'.join(map(str, widths))} pattern)"))
        elif parents is not None and level != "district" and not code.startswith(parents[i]):
            problems.append(Problem("code", code, f"{label(code, names[i])} does not extend its parent code "
                                    f"{parents[i]!r}"))
    return problems


def _derived_parents(codes, *, level, widths) -> list[str | None]:
    if level == "district":
        return [None] * len(codes)
    n = code_length(parent_level(level), widths)
    return [code[:n] for code in codes]


def _parent_layer(conn, level: str) -> dict | None:
    above = parent_level(level)
    if above is None:
        return None
    row = repo.latest_layer(conn, level=above)
    if row is None:
        raise Conflict(f"import the {above} level before the {level} level: a {level} needs its parents")
    return row


def _topology_problems(conn, codes, names, parents, geoms, parent_row, tolerance_m2) -> list[Problem]:
    crs = topology.LocalMetric(geoms)
    geoms_m = crs.forward(geoms)
    problems = topology.overlap_problems(codes, names, geoms_m, tolerance_m2=tolerance_m2, crs=crs)
    if parent_row is None:
        return problems
    p_codes, p_names, _, p_geoms = repo.layer_features(conn, layer_id=parent_row["id"])
    index = {code: i for i, code in enumerate(p_codes)}
    unknown = [i for i, parent in enumerate(parents) if parent not in index]
    problems += [
        Problem("parent", codes[i], f"{label(codes[i], names[i])} names parent {parents[i]!r}, which is not in "
                f"{parent_row['level']} layer version {parent_row['version']}")
        for i in unknown
    ]
    if unknown:
        return problems
    p_geoms_m = crs.forward(p_geoms)
    own = np.array([index[p] for p in parents])
    problems += topology.outside_problems(
        codes, names, geoms_m, p_geoms_m[own], [label(p_codes[j], p_names[j]) for j in own],
        tolerance_m2=tolerance_m2, crs=crs,
    )
    children = [[] for _ in p_codes]
    for i, j in enumerate(own):
        children[j].append(geoms_m[i])
    problems += topology.gap_problems(p_codes, p_names, p_geoms_m, children, tolerance_m2=tolerance_m2, crs=crs)
    return problems


def _store_grid_layer(conn, *, level, path, source_crs, codes, names, parents, geoms, parent_row, notes):
    areas = shapely.area(topology.LocalMetric(geoms).forward(geoms))
    layer_id, version = repo.insert_layer(
        conn, level=level, parent_layer_id=parent_row["id"] if parent_row else None,
        source=os.path.basename(path), source_crs=source_crs, feature_count=len(codes),
    )
    multi = shapely.set_srid(as_multipolygons(geoms), 4326)
    hexes = shapely.to_wkb(multi, hex=True, include_srid=True)
    repo.copy_features(
        conn, table="grid_feature", owner_column="layer_id", owner_id=layer_id,
        rows=zip(codes, names, parents, areas.tolist(), hexes),
    )
    return ImportResult(layer_id, level, version, len(codes), notes)


def create_release(conn: psycopg.Connection, *, name: str | None = None, activate: bool = False) -> int:
    """Make a release from the newest unit-grid layer and the parent chain it was validated against."""
    grid = repo.latest_layer(conn, level="grid")
    if grid is None:
        raise Conflict("no unit-grid layer imported yet: import district, street, community and grid levels first")
    chain = {"grid": grid["id"]}
    current = repo.layer(conn, layer_id=grid["id"])
    for level in ("community", "street", "district"):
        current = repo.layer(conn, layer_id=current["parent_layer_id"])
        chain[level] = current["id"]
    release_id = repo.insert_release(conn, name=name or f"grids v{grid['version']}", **chain)
    if activate:
        activate_release(conn, release_id=release_id)
    return release_id


def activate_release(conn: psycopg.Connection, *, release_id: int) -> None:
    """Switch the active release atomically (within the caller's transaction)."""
    if not repo.activate_release(conn, release_id=release_id):
        raise NotFound(f"no grid release {release_id}: `citygrid grids releases` lists them")


def import_zone_layer(
    conn: psycopg.Connection, *, path: str | os.PathLike, layer: str, code_field: str, name_field: str,
    crs: str | None = None, repair: bool = False,
) -> ImportResult:
    """Store a new active version of a responsibility-zone layer; zones may overlap anything."""
    path = os.fspath(path)
    if not layer.strip():
        raise GridValidationError("a zone layer needs a name", [Problem("layer", "", "pass --layer NAME")])
    gdf, source_crs = read_layer(path, crs=crs)
    codes = list(text_column(gdf, code_field, path=path))
    names = list(text_column(gdf, name_field, path=path))
    geoms, problems, notes = checked_wgs84(codes, names, gdf, source_crs, repair=repair)
    problems += duplicate_problems(codes, names)
    problems += [Problem("code", c, f"feature #{i + 1} has an empty code") for i, c in enumerate(codes) if not c]
    if problems:
        raise GridValidationError(
            f"{path}: zone layer {layer!r} rejected, nothing was imported ({len(problems)} problem(s))", problems
        )
    layer_id = repo.upsert_zone_layer(conn, name=layer.strip())
    version_id, version = repo.insert_zone_version(
        conn, layer_id=layer_id, source=os.path.basename(path), source_crs=source_crs, feature_count=len(codes),
    )
    hexes = shapely.to_wkb(shapely.set_srid(as_multipolygons(geoms), 4326), hex=True, include_srid=True)
    repo.copy_features(conn, table="zone_feature", owner_column="version_id", owner_id=version_id,
                       rows=zip(codes, names, hexes))
    return ImportResult(version_id, f"zone:{layer}", version, len(codes), notes)

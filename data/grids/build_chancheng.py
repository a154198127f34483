"""Build Chancheng's street, community and unit-grid polygons from the Vonng/adcode data (CC BY 4.0).

Run from the repository root:  python data/grids/build_chancheng.py
It reads data/grids/source/ and rewrites data/grids/chancheng_*.geojson and build_report.json.
The output is deterministic: the same input gives byte-identical files. The method is in README.md.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from gis.crs import gcj02_to_wgs84  # noqa: E402
from gis.topology import LocalMetric  # noqa: E402

HERE = Path(__file__).resolve().parent
METRIC: LocalMetric | None = None  # set by load_source from the outline
DISTRICT = ("440604", "禅城区")
# Unit-grid edge in metres by street: small in the dense old town of 祖庙, large in rural 南庄.
GRID_EDGE_M = {"440604012": 230.0, "440604010": 270.0, "440604011": 360.0, "440604100": 560.0}
SAMPLE_M = 40.0          # spacing of the sample lattice used to spread unlocated community seeds
LLOYD_ROUNDS = 60
SLIVER_SHARE = 0.3       # a grid piece smaller than this share of a full cell joins a neighbour
MAX_GRIDS = 99           # the 2-digit grid sequence


def load_source(source: Path):
    """Outline polygon and division table, converted from GCJ-02 to WGS84 and then to local metres.

    Local metres are an affine map of lon/lat (gis.topology.LocalMetric), so every straight edge built here is
    straight in lon/lat too, where the locator works; a projection such as UTM would bend edges into slivers.
    """
    outline = shapely.geometry.shape(json.loads((source / "chancheng_outline_gcj02.geojson").read_text()))
    outline = shapely.transform(outline, lambda c: np.column_stack(gcj02_to_wgs84(c[:, 0], c[:, 1])))
    global METRIC
    METRIC = LocalMetric(np.array([outline]))
    outline = METRIC.forward(np.array([outline]))[0]
    table = pd.read_csv(source / "chancheng_divisions_2016_gcj02.csv", dtype=str)
    located = table["longitude"].notna()
    lon, lat = gcj02_to_wgs84(table.loc[located, "longitude"].astype(float), table.loc[located, "latitude"].astype(float))
    xy = shapely.get_coordinates(METRIC.forward(shapely.points(np.asarray(lon), np.asarray(lat))))
    x, y = xy[:, 0], xy[:, 1]
    table["x"], table["y"] = np.nan, np.nan
    table.loc[located, "x"], table.loc[located, "y"] = x, y
    return outline, table


def voronoi_cells(xs, ys, extent: shapely.Geometry) -> np.ndarray:
    """Voronoi cell of each seed, in input order, clipped to `extent`."""
    seeds = shapely.MultiPoint(np.column_stack([xs, ys]))
    cells = shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=extent, ordered=True))
    return shapely.intersection(cells, extent)


def longest_border_neighbour(piece, others: list) -> int | None:
    """Index of the geometry sharing the longest border with `piece` (None if none shares a line)."""
    lengths = [shapely.length(shapely.intersection(piece.boundary, o.boundary)) if o is not None else 0.0
               for o in others]
    best = int(np.argmax(lengths)) if lengths else 0
    return best if lengths and lengths[best] > 1e-6 else None


def fix_fragments(geoms: list, seeds: list) -> list:
    """Hand every part that holds no seed of its owner to the neighbour with the longest shared border."""
    geoms = list(geoms)
    for _ in range(20):
        moved = False
        for i, geom in enumerate(geoms):
            parts = list(shapely.get_parts(geom))
            if len(parts) < 2:
                continue
            keep = [p for p in parts if any(p.covers(s) for s in seeds[i])] or [max(parts, key=lambda p: p.area)]
            for part in (p for p in parts if not any(p is k for k in keep)):
                others = [g if j != i else None for j, g in enumerate(geoms)]
                j = longest_border_neighbour(part, others)
                if j is None:
                    keep.append(part)
                    continue
                geoms[j] = shapely.union(geoms[j], part)
                moved = True
            geoms[i] = shapely.union_all(keep)
        if not moved:
            break
    return geoms


def build_streets(outline, table):
    """Streets: Voronoi cells of located communities and town centres, dissolved by street, fragments fixed."""
    streets = table[table["level"] == "town"].sort_values("code")
    seeds = table[table["x"].notna() & table["level"].isin(["town", "village"])].sort_values("code")
    street_of = np.where(seeds["level"] == "town", seeds["code"], seeds["parent"]).astype(str)
    cells = voronoi_cells(seeds["x"].to_numpy(), seeds["y"].to_numpy(), outline)
    codes = list(streets["code"])
    geoms = [shapely.union_all(cells[street_of == code]) for code in codes]
    points = [[shapely.Point(x, y) for x, y, s in zip(seeds["x"], seeds["y"], street_of) if s == code] for code in codes]
    geoms = fix_fragments(geoms, points)
    return streets.assign(geometry=geoms)


def spread_seeds(street_geom, fixed: np.ndarray, count: int) -> np.ndarray:
    """Place `count` seeds evenly in the street: farthest-point start, then Lloyd rounds with `fixed` pinned."""
    minx, miny, maxx, maxy = street_geom.bounds
    gx, gy = np.meshgrid(np.arange(minx, maxx, SAMPLE_M), np.arange(miny, maxy, SAMPLE_M))
    sample = np.column_stack([gx.ravel(), gy.ravel()])
    sample = sample[shapely.contains_xy(street_geom, sample[:, 0], sample[:, 1])]
    seeds = fixed.copy()
    for _ in range(count):
        if len(seeds):
            far = np.min(((sample[:, None, :] - seeds[None, :, :]) ** 2).sum(-1), axis=1)
            seeds = np.vstack([seeds, sample[np.argmax(far)]])
        else:
            seeds = sample[[len(sample) // 2]]
    for _ in range(LLOYD_ROUNDS):
        nearest = np.argmin(((sample[:, None, :] - seeds[None, :, :]) ** 2).sum(-1), axis=1)
        for k in range(len(fixed), len(seeds)):
            mine = sample[nearest == k]
            if len(mine):
                seeds[k] = mine.mean(axis=0)
    return seeds[len(fixed):]


def build_communities(streets, table):
    """Communities: per street, Voronoi of located points plus evenly spread seeds for the unlocated ones."""
    rows = []
    for street in streets.itertuples():
        members = table[(table["parent"] == street.code) & (table["level"] == "village")].sort_values("code")
        located = members[members["x"].notna()]
        unlocated = members[members["x"].isna()]
        fixed = located[["x", "y"]].to_numpy(dtype=float)
        spread = spread_seeds(street.geometry, fixed, len(unlocated))
        order = list(located["code"]) + list(unlocated["code"])
        xy = np.vstack([fixed, spread]) if len(spread) else fixed
        cells = voronoi_cells(xy[:, 0], xy[:, 1], street.geometry)
        cells = fix_fragments(list(cells), [[shapely.Point(p)] for p in xy])
        placed = dict(zip(order, zip(cells, xy, [True] * len(located) + [False] * len(unlocated))))
        for m in members.itertuples():
            geom, seed, has_point = placed[m.code]
            rows.append({"code": m.code, "name": m.name, "parent": street.code, "geometry": geom,
                         "seed_x": seed[0], "seed_y": seed[1], "located": has_point})
    return pd.DataFrame(rows)


def cut_grids(community_geom, edge: float) -> list:
    """Square cells on a district-wide lattice, clipped to the community, slivers merged into neighbours."""
    minx, miny, maxx, maxy = community_geom.bounds
    xs = np.arange(np.floor(minx / edge) * edge, maxx, edge)
    ys = np.arange(np.floor(miny / edge) * edge, maxy, edge)
    boxes = shapely.box(*[a.ravel() for a in np.meshgrid(xs, ys)], *[a.ravel() + edge for a in np.meshgrid(xs, ys)])
    pieces = shapely.get_parts(shapely.intersection(boxes, community_geom))
    pieces = [p for p in pieces if p.geom_type == "Polygon" and p.area > 0]
    small = SLIVER_SHARE * edge * edge
    while len(pieces) > 1:
        areas = np.array([p.area for p in pieces])
        candidates = [i for i in np.argsort(areas) if areas[i] < small]
        merged = False
        for i in candidates:
            others = [p if j != i else None for j, p in enumerate(pieces)]
            j = longest_border_neighbour(pieces[i], others)
            if j is not None:
                pieces[j] = shapely.union(pieces[j], pieces[i])
                del pieces[i]
                merged = True
                break
        if not merged:
            break
    return pieces


def number_grids(pieces: list, edge: float) -> list:
    """Order left to right, top to bottom (rows of one cell height), as CJ/T 213 numbers them."""
    points = [shapely.point_on_surface(p) for p in pieces]
    top = max(p.bounds[3] for p in pieces)
    keys = [(int((top - pt.y) // edge), pt.x) for pt in points]
    return [pieces[i] for i in sorted(range(len(pieces)), key=lambda i: keys[i])]


def build_grids(communities):
    """Unit grids for every community, at most 99 each, edge by street and grown until they fit."""
    rows = []
    for c in communities.itertuples():
        edge = GRID_EDGE_M[c.parent[:9]]
        pieces = cut_grids(c.geometry, edge)
        while len(pieces) > MAX_GRIDS:
            edge *= 1.1
            pieces = cut_grids(c.geometry, edge)
        short = c.name.replace("社区居委会", "社区").replace("村民委员会", "村").replace("居委会", "")
        for n, piece in enumerate(number_grids(pieces, edge), start=1):
            rows.append({"code": f"{c.code}{n:02d}", "name": f"{short}{n:02d}网格", "parent": c.code,
                         "geometry": piece, "edge_m": edge})
    return pd.DataFrame(rows)


def to_frame(rows: pd.DataFrame, columns: list[str]) -> gpd.GeoDataFrame:
    """A WGS84 frame with the given attribute columns."""
    return gpd.GeoDataFrame(rows[columns], geometry=list(METRIC.backward(np.array(list(rows["geometry"]),
                                                                                  dtype=object))), crs="EPSG:4326")


def write(gdf: gpd.GeoDataFrame, path: Path) -> None:
    """GeoJSON with 12 decimals (0.1 µm: rounding coarser than that moves vertices off shared edges), written atomically and deterministically."""
    tmp = path.with_suffix(".tmp")
    gdf.to_file(tmp, driver="GeoJSON", engine="pyogrio", layer_options={"COORDINATE_PRECISION": 12,
                                                                        "RFC7946": "YES"})
    tmp.replace(path)


def multipart(rows: pd.DataFrame) -> list[str]:
    """Codes of features in several parts."""
    return [r.code for r in rows.itertuples() if shapely.get_num_geometries(r.geometry) > 1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=HERE / "source")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args(argv)
    outline, table = load_source(args.source)
    streets = build_streets(outline, table)
    communities = build_communities(streets, table)
    grids = build_grids(communities)
    district = pd.DataFrame([{"code": DISTRICT[0], "name": DISTRICT[1], "parent": None, "geometry": outline}])
    streets = streets.assign(code=streets["code"].str[:9], parent=DISTRICT[0])
    communities = communities.assign(parent=communities["parent"].str[:9])
    grids = grids.assign(parent=grids["parent"])
    args.out.mkdir(parents=True, exist_ok=True)
    write(to_frame(district, ["code", "name"]), args.out / "chancheng_district.geojson")
    write(to_frame(streets, ["code", "name", "parent"]), args.out / "chancheng_streets.geojson")
    write(to_frame(communities, ["code", "name", "parent", "located"]), args.out / "chancheng_communities.geojson")
    write(to_frame(grids, ["code", "name", "parent"]), args.out / "chancheng_grids.geojson")
    report = build_report(outline, streets, communities, grids)
    (args.out / "build_report.json").write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    print(json.dumps(report["summary"], ensure_ascii=False))
    return 0


def build_report(outline, streets, communities, grids) -> dict:
    """Counts, areas and multi-part features, for the README and for reviewers."""
    area = lambda g: round(float(g.area) / 1e6, 3)  # noqa: E731
    per_street = {}
    for s in streets.itertuples():
        cs = communities[communities["parent"] == s.code]
        gs = grids[grids["parent"].str[:9] == s.code]
        per_street[s.code] = {
            "name": s.name, "area_km2": area(s.geometry), "communities": len(cs), "grids": len(gs),
            "largest_community_km2": max(area(g) for g in cs["geometry"]),
            "mean_grid_km2": round(float(np.mean([g.area for g in gs["geometry"]])) / 1e6, 4),
            "max_grids_in_a_community": int(gs.groupby("parent").size().max()),
        }
    return {
        "summary": {"district_km2": area(outline), "streets": len(streets), "communities": len(communities),
                    "grids": len(grids), "multipart_streets": multipart(streets),
                    "multipart_communities": multipart(communities), "multipart_grids": multipart(grids)},
        "streets": per_street,
    }


if __name__ == "__main__":
    raise SystemExit(main())

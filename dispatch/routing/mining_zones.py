"""Learned responsibility zones for rule mining (pure geometry, in local metres).

A raster of about RASTER_CELLS square cells over the district; each cell takes the k-nearest-neighbour vote of the
training cases of each category; cells with the same labels form one zone; the zones are clipped to the district,
specks merged into a neighbour and the coverage simplified, so they tile the district without gaps or overlaps
and each has at most MAX_ZONE_VERTICES coordinates. Used by dispatch/routing/mining.py; design in docs/mining.md.
"""
from __future__ import annotations

import numpy as np
import shapely

NEIGHBOURS = 7            # k of the k-nearest-neighbour vote
MIN_PART_CASES = 3        # training points a piece of a learned zone needs, else it joins its longest neighbour
RASTER_CELLS = 12_000     # cells over the district's area for the vote behind learned zones
MAX_ZONE_VERTICES = 150   # coordinates per learned zone (closing ones included) after simplification
INNER_SMOOTHING = 3       # borders between learned zones are simplified this many cells wide (the outline: one)
SNAP_M = 0.01             # overlay precision in metres: shared edges come out identical


def knn_vote(train_xy: np.ndarray, train_labels: np.ndarray, query_xy: np.ndarray) -> np.ndarray:
    """The majority label of the NEIGHBOURS nearest training points of each query point (ties: the nearer)."""
    k = min(NEIGHBOURS, len(train_xy))
    squared = (train_xy ** 2).sum(1)
    weight = 1 - np.arange(k) * 1e-3  # a whisker more for nearer neighbours breaks ties
    out = np.empty(len(query_xy), dtype=np.int64)
    for start in range(0, len(query_xy), 4096):
        chunk = query_xy[start:start + 4096]
        d2 = squared[None, :] - 2 * chunk @ train_xy.T  # |q|² is the same along a row, so left out
        near = np.argpartition(d2, k - 1, axis=1)[:, :k]
        near = np.take_along_axis(near, np.argsort(np.take_along_axis(d2, near, 1), 1), 1)
        votes = np.zeros((len(chunk), train_labels.max() + 1))
        for rank in range(k):
            votes[np.arange(len(chunk)), train_labels[near[:, rank]]] += weight[rank]
        out[start:start + len(chunk)] = votes.argmax(1)
    return out


def raster(district_m: shapely.Geometry) -> tuple[np.ndarray, np.ndarray, float]:
    """Square cells (about RASTER_CELLS over the district's area) that touch the district, their centres and size."""
    cell = float(np.sqrt(district_m.area / RASTER_CELLS))
    minx, miny, maxx, maxy = district_m.bounds
    xs = minx + cell * np.arange(int(np.ceil((maxx - minx) / cell)) + 1)
    ys = miny + cell * np.arange(int(np.ceil((maxy - miny) / cell)) + 1)
    ix, iy = (a.ravel() for a in np.meshgrid(np.arange(len(xs) - 1), np.arange(len(ys) - 1)))
    boxes = shapely.box(xs[ix], ys[iy], xs[ix + 1], ys[iy + 1])
    shapely.prepare(district_m)
    keep = shapely.intersects(district_m, boxes)
    centres = np.c_[(xs[ix] + xs[ix + 1]) / 2, (ys[iy] + ys[iy + 1]) / 2]
    return boxes[keep], centres[keep], cell


def learn_partition(district_m: shapely.Geometry, sets: list[tuple[np.ndarray, np.ndarray]]
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Zones tiling the district and each zone's label per set: every cell takes the k-nearest-neighbour label of
    each set (training points, labels); cells with the same labels form one zone; clipped, cleaned, simplified."""
    boxes, centres, cell = raster(district_m)
    votes = np.stack([knn_vote(xy, labels, centres) for xy, labels in sets], axis=1)
    tuples, owner = np.unique(votes, axis=0, return_inverse=True)
    owner = owner.ravel()
    zones = np.array([shapely.coverage_union_all(boxes[owner == i]) for i in range(len(tuples))], dtype=object)
    zones = shapely.intersection(zones, district_m, grid_size=SNAP_M)
    real = shapely.area(zones) > 0
    zones, tuples = merge_small_parts(zones[real], tuples[real], np.vstack([xy for xy, _ in sets]))
    return simplified(zones, cell), tuples


def merge_small_parts(zones: np.ndarray, tuples: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Give every piece holding fewer than MIN_PART_CASES training points to the neighbouring zone it shares the
    longest border with (smallest pieces first), so no zone is a speck of noise."""
    parts, owner = shapely.get_parts(zones, return_index=True)
    tree = shapely.STRtree(parts)
    _, part_of = tree.query(shapely.points(points), predicate="intersects")
    counts = np.bincount(part_of, minlength=len(parts))
    small = np.flatnonzero(counts < MIN_PART_CASES)
    for i in small[np.argsort(shapely.area(parts[small]))]:
        near = tree.query(parts[i], predicate="intersects")
        near = near[owner[near] != owner[i]]
        if not len(near):
            continue
        shared = shapely.length(shapely.intersection(shapely.boundary(parts[i]), shapely.boundary(parts[near])))
        if shared.max() > 0:
            owner[i] = owner[near[shared.argmax()]]
    kept = np.unique(owner)
    merged = np.array([shapely.union_all(parts[owner == k], grid_size=SNAP_M) for k in kept], dtype=object)
    return merged, tuples[kept]


def simplified(zones: np.ndarray, cell: float) -> np.ndarray:
    """Coverage-preserving simplification: borders between zones straightened over INNER_SMOOTHING cells, the
    district outline over one; both coarser until every zone has at most MAX_ZONE_VERTICES coordinates."""
    tolerance, out = cell, zones
    for _ in range(16):
        inner = shapely.coverage_simplify(zones, INNER_SMOOTHING * tolerance, simplify_boundary=False)
        out = shapely.coverage_simplify(inner, tolerance)
        if shapely.get_num_coordinates(out).max() <= MAX_ZONE_VERTICES:
            break
        tolerance *= 1.5
    return out


def covering(zones: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> list[list[int]]:
    """Indices of the zones covering each point (as ST_Covers would), lowest first."""
    tree = shapely.STRtree(zones)
    point, zone = tree.query(shapely.points(lon, lat), predicate="covered_by")
    out: list[list[int]] = [[] for _ in range(len(lon))]
    for p, z in sorted(zip(point.tolist(), zone.tolist())):
        out[p].append(z)
    return out

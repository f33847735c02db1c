"""Water-spraying routes over the hottest road segments (OR-Tools vehicle routing).

Roads are noded into segments; each segment's heat is the mean of the heat map sampled every
20 m along it. The hottest share of the road length is to be sprayed. Each truck leaves the
depot with a full tank that sprays ``tank_km`` of road, drives to segments along the road
network (shortest paths, Dijkstra), sprays them in either direction and returns. The order is
a vehicle-routing problem with a disjunction per segment (one direction or the other, or left
out at a large penalty when the tanks cannot hold everything).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree
from shapely.geometry import LineString

from urbanops.core.either_way import UNREACHABLE, decode, either_way_model, guided_search
from urbanops.errors import ValidationError


@dataclass
class Route:
    """One truck's trip: the road path driven and the segments sprayed."""

    truck: int
    path: np.ndarray  # (k, 2) metres
    sprayed: list[int]  # segment indices
    spray_m: float
    drive_m: float


@dataclass
class SprayPlan:
    segments: list[LineString]
    heat_c: np.ndarray
    selected: np.ndarray  # segment indices to spray
    routes: list[Route]
    left_out: list[int]


def node_roads(
    lines: list[LineString], *, snap_m: float = 0.5
) -> tuple[list[LineString], np.ndarray, np.ndarray]:
    """Segments between road junctions, with their end node ids, and the node coordinates."""
    merged = shapely.unary_union(lines)
    segs = [g for g in shapely.get_parts(merged) if isinstance(g, LineString) and g.length > 0]
    ends = np.array([[s.coords[0][:2], s.coords[-1][:2]] for s in segs]).reshape(-1, 2)
    key = np.round(ends / snap_m).astype(np.int64)
    uniq, inv = np.unique(key, axis=0, return_inverse=True)
    nodes = uniq * snap_m
    return segs, inv.reshape(-1, 2), nodes


def plan_spraying(
    roads: list[LineString],
    heat_at: Callable[[np.ndarray], np.ndarray],  # (n, 2) metres -> deg C
    depot_xy: np.ndarray,
    *,
    trucks: int = 2,
    tank_km: float = 10.0,
    share: float = 0.1,
    time_limit_s: float = 3.0,
) -> SprayPlan:
    """Routes for ``trucks`` over the hottest ``share`` of the road length."""
    if not (0 < share <= 1):
        raise ValidationError(f"--spray-share {share:g}: use (0, 1]")
    if not (1 <= trucks <= 100) or not (0 < tank_km <= 500):
        raise ValidationError("--trucks 1-100 and --tank-km (0, 500]")
    segs, ends, nodes = node_roads(roads)
    if not segs:
        raise ValidationError("the road network has no segments")
    lengths = np.array([s.length for s in segs])
    # heat along each segment
    samples, owner = [], []
    for i, s in enumerate(segs):
        n = max(2, int(s.length // 20) + 1)
        pts = shapely.line_interpolate_point(s, np.linspace(0, 1, n), normalized=True)
        samples.append(shapely.get_coordinates(pts))
        owner.append(np.full(n, i))
    vals = heat_at(np.vstack(samples))
    own = np.concatenate(owner)
    ok = np.isfinite(vals)
    heat = np.full(len(segs), np.nan)
    sums = np.bincount(own[ok], weights=vals[ok], minlength=len(segs))
    cnt = np.bincount(own[ok], minlength=len(segs))
    heat[cnt > 0] = sums[cnt > 0] / cnt[cnt > 0]
    order = np.argsort(-np.where(np.isfinite(heat), heat, -np.inf), kind="stable")
    cum = np.cumsum(lengths[order])
    selected = order[: int(np.searchsorted(cum, share * lengths.sum()) + 1)]
    selected = selected[np.isfinite(heat[selected])]
    # road graph
    a, b = ends[:, 0], ends[:, 1]
    graph = coo_matrix(
        (np.concatenate([lengths, lengths]), (np.concatenate([a, b]), np.concatenate([b, a]))),
        shape=(len(nodes), len(nodes)),
    ).tocsr()
    depot = int(cKDTree(nodes).query(depot_xy)[1])
    key_nodes = np.unique(np.concatenate([[depot], a[selected], b[selected]]))
    dist, pred = dijkstra(graph, directed=False, indices=key_nodes, return_predecessors=True)
    row = {int(n): k for k, n in enumerate(key_nodes)}
    # routing nodes: 0 depot; 1 + 2k: selected[k] from a to b; 2 + 2k: from b to a
    entry = [depot] + [int(v) for k in selected for v in (a[k], b[k])]
    exit_ = [depot] + [int(v) for k in selected for v in (b[k], a[k])]
    seg_len = np.concatenate([[0.0], np.repeat(lengths[selected], 2)])
    big = UNREACHABLE
    cost = np.full((len(entry), len(entry)), big, dtype=np.int64)
    for i, e in enumerate(exit_):
        d = dist[row[e], entry]
        cost[i] = np.where(np.isfinite(d), np.rint((d + seg_len) * 10), big)
    np.fill_diagonal(cost, 0)
    manager, routing, _ = either_way_model(cost, len(selected), trucks)
    spray = np.rint(seg_len).astype(int).tolist()
    scb = routing.RegisterUnaryTransitVector(spray)
    routing.AddDimension(scb, 0, int(tank_km * 1000), True, "spray")
    sol = routing.SolveWithParameters(guided_search(time_limit_s))
    if sol is None:
        raise ValidationError("OR-Tools found no spraying routes")

    def walk(frm: int, to: int) -> list[int]:
        r = row[frm]
        out = [to]
        while out[-1] != frm:
            p = int(pred[r, out[-1]])
            if p < 0:
                return [frm, to]
            out.append(p)
        return out[::-1]

    def seg_coords(k: int, forward: bool) -> np.ndarray:
        xy = np.asarray(segs[k].coords)[:, :2]
        start_node = a[k]
        if not np.allclose(xy[0], nodes[start_node], atol=1.0):
            xy = xy[::-1]
        return xy if forward else xy[::-1]

    routes, done = [], set()
    for v in range(trucks):
        here = depot
        pts: list[np.ndarray] = [nodes[depot][None, :]]
        sprayed, spray_m, drive_m = [], 0.0, 0.0
        for k, back in decode(manager, routing, sol, v):
            seg = int(selected[k])
            start = int(b[seg] if back else a[seg])
            via = walk(here, start)
            pts.append(nodes[via[1:]])
            drive_m += float(dist[row[here], start])
            xy = seg_coords(seg, not back)
            pts.append(xy[1:])
            sprayed.append(seg)
            spray_m += float(lengths[seg])
            here = int(a[seg] if back else b[seg])
            done.add(seg)
        if sprayed:
            via = walk(here, depot)
            pts.append(nodes[via[1:]])
            drive_m += float(dist[row[here], depot])
            routes.append(Route(v + 1, np.vstack(pts), sprayed, spray_m, drive_m))
    left = [int(k) for k in selected if int(k) not in done]
    return SprayPlan(segs, heat, selected, routes, left)

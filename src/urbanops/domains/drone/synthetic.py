"""Generated inputs for drone planning: a pipe network from real streets, and restricted zones.

No public district-heating pipe map exists; heat mains run under streets, so a network is
built from real street geometry: the shapes of a GTFS feed (bus routes follow streets), with
the stretches that several routes share kept once. Restricted zones are generated around
random sites near the network: circles (an airfield's control zone, a prison, a power plant),
rotated rectangles, a share with floors and ceilings, and a share only in force at some hours.
Both are seeded. They model where pipes and zones lie; they do not model a real utility's
network topology (loops, plant locations) or any real airspace.
"""

from __future__ import annotations

import csv
import io
import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import shapely
import shapely.affinity
from pyproj import CRS, Transformer
from shapely.geometry import LineString, Point, box, mapping
from shapely.geometry.base import BaseGeometry

from urbanops.core.vector import utm_for


def network_from_gtfs_shapes(
    gtfs_zip: Path, *, target_km: float = 50.0, dedupe_m: float = 12.0
) -> tuple[list[LineString], CRS]:
    """Street lines from a GTFS feed's ``shapes.txt``, about ``target_km`` around its centre.

    Returns the lines in the UTM zone of the feed (metres) and that CRS.
    """
    with zipfile.ZipFile(gtfs_zip) as zf, zf.open("shapes.txt") as fh:
        rows = list(csv.DictReader(io.TextIOWrapper(fh, encoding="utf-8-sig")))
    shapes: dict[str, list[tuple[int, float, float]]] = {}
    for r in rows:
        shapes.setdefault(r["shape_id"], []).append(
            (int(r["shape_pt_sequence"]), float(r["shape_pt_lon"]), float(r["shape_pt_lat"]))
        )
    lon0 = float(np.median([p[1] for v in shapes.values() for p in v]))
    lat0 = float(np.median([p[2] for v in shapes.values() for p in v]))
    crs = utm_for(lon0, lat0)
    t = Transformer.from_crs(CRS.from_epsg(4326), crs, always_xy=True)
    lines = []
    for pts in shapes.values():
        pts.sort()
        x, y = t.transform([p[1] for p in pts], [p[2] for p in pts])
        if len(x) >= 2:
            lines.append(LineString(np.column_stack([x, y])))
    lines.sort(key=lambda ln: -ln.length)
    kept: list[BaseGeometry] = []
    taken: BaseGeometry = shapely.Polygon()
    for ln in lines:
        new = ln.difference(taken) if not taken.is_empty else ln
        parts = [g for g in shapely.get_parts(new) if g.length > 3 * dedupe_m]
        if parts:
            kept.extend(parts)
            taken = shapely.union(taken, shapely.buffer(shapely.multilinestrings(parts), dedupe_m))
    merged = [g for g in shapely.get_parts(shapely.line_merge(shapely.unary_union(kept)))]
    centre = shapely.MultiLineString(merged).centroid
    # grow a square around the centre until it holds the target length
    lo, hi = 100.0, 50_000.0
    for _ in range(40):
        half = (lo + hi) / 2
        clip = box(centre.x - half, centre.y - half, centre.x + half, centre.y + half)
        km = sum(g.intersection(clip).length for g in merged) / 1000
        if km < target_km:
            lo = half
        else:
            hi = half
    clip = box(centre.x - hi, centre.y - hi, centre.x + hi, centre.y + hi)
    out = []
    for g in merged:
        for part in shapely.get_parts(g.intersection(clip)):
            if isinstance(part, LineString) and part.length > 1:
                out.append(part)
    return out, crs


def random_zones(
    network: list[LineString],
    *,
    n: int = 100,
    seed: int = 0,
    keep_clear: Point | None = None,
    clear_m: float = 300.0,
    radius_m: tuple[float, float] = (40.0, 250.0),
    timed_share: float = 0.2,
    vertical_share: float = 0.15,
) -> list[dict[str, Any]]:
    """``n`` zones (dicts with a metric ``geometry`` and GeoJSON properties) near the network.

    A zone never covers ``keep_clear`` (the home point) within ``clear_m``.
    """
    rng = np.random.default_rng(seed)
    net = shapely.MultiLineString(network)
    length = net.length
    zones: list[dict[str, Any]] = []
    attempts = 0
    while len(zones) < n and attempts < 50 * n:
        attempts += 1
        at = net.interpolate(rng.uniform(0, length))
        r = math.exp(rng.uniform(math.log(radius_m[0]), math.log(radius_m[1])))
        off = rng.normal(0, r)
        c = Point(at.x + off * rng.uniform(-1, 1), at.y + off * rng.uniform(-1, 1))
        if rng.random() < 0.6:
            geom = c.buffer(r, quad_segs=8)
        else:
            w, h = r * rng.uniform(1.0, 2.0), r * rng.uniform(0.4, 1.0)
            geom = shapely.affinity.rotate(
                box(c.x - w, c.y - h, c.x + w, c.y + h), rng.uniform(0, 180), origin=c
            )
        if keep_clear is not None and geom.distance(keep_clear) < clear_m:
            continue
        props: dict[str, Any] = {"id": f"Z{len(zones) + 1:03d}", "name": f"Zone {len(zones) + 1}"}
        u = rng.random()
        if u < vertical_share / 2:
            props["floor_m"] = float(rng.choice([150, 300]))  # above any survey: not binding
        elif u < vertical_share:
            props["ceiling_m"] = float(rng.choice([30, 60]))  # below the survey height
        if rng.random() < timed_share:
            start = int(rng.integers(6, 12))
            props["active_hours"] = f"{start:02d}:00-{start + int(rng.integers(4, 10)):02d}:00"
            if rng.random() < 0.5:
                props["active_days"] = "Mon-Fri"
        zones.append({"geometry": geom, "properties": props})
    return zones


def to_geojson(items: list[dict[str, Any]] | list[LineString], crs: CRS) -> dict[str, Any]:
    """A GeoJSON FeatureCollection (EPSG:4326) of metric geometries (or dicts with one)."""
    t = Transformer.from_crs(crs, CRS.from_epsg(4326), always_xy=True)
    feats = []
    for i, it in enumerate(items):
        if isinstance(it, dict):
            geom, props = it["geometry"], it["properties"]
        else:
            geom, props = it, {"id": f"P{i + 1}"}
        g = shapely.transform(geom, t.transform, interleaved=False)
        g = shapely.set_precision(g, 1e-7)
        feats.append({"type": "Feature", "properties": props, "geometry": mapping(g)})
    return {"type": "FeatureCollection", "features": feats}

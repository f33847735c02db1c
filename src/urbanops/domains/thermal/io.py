"""Read and check what an inspection takes: a thermal mosaic and a pipe network.

Everything a user may hand over wrongly is refused here with one clear message
(:class:`ThermalInputError`) before any work starts: a file that is not a raster, a mosaic
without a CRS, an RGB picture, integers without a scale, values in Kelvin, a network that is
empty, not made of lines, or does not overlap the mosaic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pyproj import CRS, Transformer
from shapely.geometry import LineString, MultiLineString, box
from shapely.geometry.base import BaseGeometry

from urbanops.core import vector
from urbanops.domains.thermal.models import Pipe
from urbanops.errors import ValidationError


class ThermalInputError(ValidationError):
    """An input file an inspection cannot use."""


@dataclass(frozen=True)
class MosaicInfo:
    """What an inspection needs to know about a mosaic (opened again by every tile worker)."""

    path: str
    width: int
    height: int
    crs_wkt: str
    transform: tuple[float, ...]  # affine a, b, c, d, e, f
    nodata: float | None
    scale: float
    offset: float
    work_crs_wkt: str  # metric CRS for distances: the mosaic's, or a UTM zone if geographic
    px_m: float  # pixel size in metres (mean of x and y)

    @property
    def affine(self) -> Any:
        from affine import Affine

        return Affine(*self.transform[:6])

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        a = self.affine
        x0, y0 = a @ (0, 0)
        x1, y1 = a @ (self.width, self.height)
        return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6


def shp_transform(fn: Any, geom: BaseGeometry) -> BaseGeometry:
    """``geom`` with its coordinates mapped by ``fn(xs, ys) -> (xs, ys)`` (e.g. a pyproj
    ``Transformer.transform``)."""
    import shapely

    return shapely.transform(geom, lambda x, y: fn(x, y), interleaved=False)


def _crs(wkt: str) -> CRS:
    return CRS.from_wkt(wkt)


def open_mosaic(path: Path) -> MosaicInfo:
    """Check a thermal mosaic (GeoTIFF/COG, one band, deg C or scaled integers)."""
    import rasterio
    from rasterio.errors import RasterioIOError

    if not path.is_file():
        raise ThermalInputError(f"{path}: no such file", field="mosaic")
    try:
        with rasterio.open(path) as ds:
            if ds.crs is None:
                raise ThermalInputError(
                    f"{path.name}: the mosaic has no CRS (georeference it, e.g. export it again "
                    "as a GeoTIFF with its coordinate system)",
                    field="mosaic",
                )
            photometric = (ds.tags(ns="IMAGE_STRUCTURE") or {}).get("PHOTOMETRIC", "")
            if ds.count >= 3 or photometric.upper() in ("RGB", "YCBCR", "PALETTE"):
                raise ThermalInputError(
                    f"{path.name}: {ds.count} band(s), {photometric or 'colour'} image: this "
                    "looks like an RGB or palette picture, not a radiometric thermal mosaic "
                    "(one band of temperatures)",
                    field="mosaic",
                )
            if ds.count != 1:
                raise ThermalInputError(
                    f"{path.name}: {ds.count} bands; a thermal mosaic has one band of temperatures",
                    field="mosaic",
                )
            dtype = ds.dtypes[0]
            scale = float(ds.scales[0] or 1.0)
            offset = float(ds.offsets[0] or 0.0)
            if dtype in ("uint8", "int8"):
                raise ThermalInputError(
                    f"{path.name}: 8-bit values are a rendered picture, not temperatures",
                    field="mosaic",
                )
            if not dtype.startswith("float") and scale == 1.0 and offset == 0.0:
                raise ThermalInputError(
                    f"{path.name}: integer band ({dtype}) without scale/offset tags: its unit "
                    "cannot be known (export deg C as float32, or set scale and offset)",
                    field="mosaic",
                )
            crs = CRS.from_user_input(ds.crs.to_wkt())
            t = ds.transform
            if crs.is_geographic:
                cx, cy = ds.xy(ds.height // 2, ds.width // 2)
                work = _utm_for(cx, cy)
                m_per_deg = 111_320.0
                px_m = (
                    abs(t.a) * m_per_deg * math.cos(math.radians(cy)) + abs(t.e) * m_per_deg
                ) / 2
            else:
                work = crs
                unit = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
                px_m = (abs(t.a) + abs(t.e)) / 2 * unit
            info = MosaicInfo(
                path=str(path),
                width=ds.width,
                height=ds.height,
                crs_wkt=crs.to_wkt(),
                transform=tuple(t)[:6],
                nodata=ds.nodata,
                scale=scale,
                offset=offset,
                work_crs_wkt=work.to_wkt(),
                px_m=float(px_m),
            )
            _check_values(ds, info, path)
            return info
    except RasterioIOError as exc:
        raise ThermalInputError(
            f"{path.name}: not a readable GeoTIFF ({_short(exc)})", field="mosaic"
        ) from None


_utm_for = vector.utm_for
_short = vector.short_reason


def _check_values(ds: Any, info: MosaicInfo, path: Path) -> None:
    """Sample the mosaic to refuse Kelvin and all-nodata files early.

    Reads an overview when the file has one, else up to ``_SAMPLE_BLOCKS`` of its internal
    blocks spread over the raster (a decimated read of a file without overviews decompresses
    all of it: seconds for 100 megapixels). Only when every sampled block is nodata is the whole
    file scanned, to tell an all-nodata mosaic from a sparse one.
    """
    from rasterio.enums import Resampling

    if ds.overviews(1):
        level = ds.overviews(1)[-1]
        shape = (max(1, ds.height // level), max(1, ds.width // level))
        values = _celsius(ds.read(1, out_shape=shape, masked=True), info)
    else:
        values = _celsius_blocks(ds, info)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        scale_down = max(1, int(max(ds.width, ds.height) / 512))
        shape = (max(1, ds.height // scale_down), max(1, ds.width // scale_down))
        full = ds.read(1, out_shape=shape, resampling=Resampling.nearest, masked=True)
        values = _celsius(full, info)
        finite = values[np.isfinite(values)]
    if finite.size == 0:
        raise ThermalInputError(
            f"{path.name}: the mosaic holds no data (all nodata)", field="mosaic"
        )
    med = float(np.median(finite))
    if med > 150:
        raise ThermalInputError(
            f"{path.name}: median value {med:.1f} looks like Kelvin; give deg C (subtract 273.15)",
            field="mosaic",
        )
    if med < -80:
        raise ThermalInputError(
            f"{path.name}: median value {med:.1f} is no ground temperature in deg C",
            field="mosaic",
        )


_SAMPLE_BLOCKS = 16


def _celsius(sample: np.ma.MaskedArray, info: MosaicInfo) -> np.ndarray:
    return to_celsius(np.ma.getdata(sample), np.ma.getmaskarray(sample), info)


def _celsius_blocks(ds: Any, info: MosaicInfo) -> np.ndarray:
    """Values of up to ``_SAMPLE_BLOCKS`` internal blocks on a regular grid over the raster."""
    from rasterio.windows import Window

    bh, bw = ds.block_shapes[0]
    bh, bw = min(bh, 512, ds.height), min(bw, 512, ds.width)
    n_r, n_c = math.ceil(ds.height / bh), math.ceil(ds.width / bw)
    side = max(1, math.isqrt(_SAMPLE_BLOCKS))
    rows = sorted({round(v) for v in np.linspace(0, n_r - 1, min(n_r, side))})
    cols = sorted({round(v) for v in np.linspace(0, n_c - 1, min(n_c, side))})
    parts = []
    for r in rows:
        for c in cols:
            window = Window(c * bw, r * bh, min(bw, ds.width - c * bw), min(bh, ds.height - r * bh))
            parts.append(_celsius(ds.read(1, window=window, masked=True), info).ravel())
    return np.concatenate(parts)


def to_celsius(raw: np.ndarray, mask: Any, info: MosaicInfo) -> np.ndarray:
    """Raw band values to deg C (scale/offset applied), NaN where masked or nodata.

    A float32 band without scale or offset is converted in place (``raw`` is reused).
    """
    t = raw.astype(np.float32, copy=False)
    if info.scale != 1.0:
        t = t * np.float32(info.scale)
    if info.offset != 0.0:
        t = t + np.float32(info.offset)
    if mask is not None and mask is not np.ma.nomask:
        t[np.asarray(mask)] = np.nan
    return t


def _lines(geom: BaseGeometry) -> list[LineString]:
    if isinstance(geom, LineString):
        return [geom]
    if isinstance(geom, MultiLineString):
        return list(geom.geoms)
    return []


def read_layer(
    path: Path, what: str
) -> tuple[list[BaseGeometry | None], list[dict[str, Any]], CRS | None]:
    """Geometries, attributes and CRS of a GeoJSON, GeoPackage or Shapefile (first layer)."""
    return vector.read_layer(path, what, error=ThermalInputError)


def _number(row: dict[str, Any], *names: str, factor: float = 1.0) -> float | None:
    for name in names:
        v = row.get(name)
        if v is None:
            continue
        try:
            f = float(v) * factor
        except (TypeError, ValueError):
            continue
        if math.isfinite(f) and f >= 0:
            return f
    return None


def read_network(path: Path, info: MosaicInfo) -> list[Pipe]:
    """Pipes in the work CRS; refuses an empty network, non-lines, or no overlap with the mosaic."""
    shapes, rows, crs = read_layer(path, "network")
    if crs is None:
        crs = CRS.from_epsg(4326)  # GeoJSON without a crs member is WGS 84 (RFC 7946)
    to_work = Transformer.from_crs(crs, _crs(info.work_crs_wkt), always_xy=True)
    pipes: list[Pipe] = []
    for i, (geom, row) in enumerate(zip(shapes, rows, strict=True)):
        if geom is None or geom.is_empty:
            continue
        lines = _lines(geom)
        if not lines:
            raise ThermalInputError(
                f"{path.name}: feature {i} is a {geom.geom_type}; the network must be lines",
                field="network",
            )
        pid = row.get("id") or row.get("pipe_id") or row.get("ID") or f"pipe-{i + 1}"
        line = shp_transform(
            to_work.transform, MultiLineString(lines) if len(lines) > 1 else lines[0]
        )
        if not np.isfinite(np.asarray(line.bounds)).all():
            raise ThermalInputError(
                f"{path.name}: feature {i} cannot be placed in the mosaic's CRS", field="network"
            )
        pipes.append(
            Pipe(
                id=str(pid),
                line=line,
                depth_m=_number(row, "depth_m", "depth"),
                diameter_m=_number(row, "diameter_m")
                or _number(row, "diameter_mm", "dn", factor=0.001),
            )
        )
    if not pipes:
        raise ThermalInputError(f"{path.name}: the network has no pipes", field="network")
    footprint = mosaic_footprint(info)
    if not any(p.line.intersects(footprint) for p in pipes):
        raise ThermalInputError(
            f"{path.name}: no pipe of the network overlaps the mosaic (check both CRSs)",
            field="network",
        )
    return pipes


def read_known(path: Path, info: MosaicInfo) -> list[BaseGeometry]:
    """Known warm features (points or polygons) in the work CRS."""
    shapes, _rows, crs = read_layer(path, "exclude")
    to_work = Transformer.from_crs(
        crs or CRS.from_epsg(4326), _crs(info.work_crs_wkt), always_xy=True
    )
    out = []
    for i, g in enumerate(shapes):
        if g is None or g.is_empty:
            continue
        placed = shp_transform(to_work.transform, g)
        if not np.isfinite(np.asarray(placed.bounds)).all():
            raise ThermalInputError(
                f"{path.name}: feature {i} cannot be placed in the mosaic's CRS", field="exclude"
            )
        out.append(placed)
    return out


def mosaic_footprint(info: MosaicInfo) -> BaseGeometry:
    """The mosaic's bounds as a polygon in the work CRS."""
    poly = box(*info.bounds)
    if _crs(info.crs_wkt).equals(_crs(info.work_crs_wkt)):
        return poly
    tr = Transformer.from_crs(_crs(info.crs_wkt), _crs(info.work_crs_wkt), always_xy=True)
    return shp_transform(tr.transform, poly.segmentize(abs(info.transform[0]) * 50))


def work_to_mosaic(info: MosaicInfo) -> Any:
    """A function mapping work-CRS coordinates to the mosaic's CRS (identity if the same)."""
    if _crs(info.crs_wkt).equals(_crs(info.work_crs_wkt)):
        return None
    return Transformer.from_crs(
        _crs(info.work_crs_wkt), _crs(info.crs_wkt), always_xy=True
    ).transform

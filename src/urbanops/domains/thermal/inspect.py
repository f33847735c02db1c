"""Inspect a survey: a thermal mosaic and a pipe network in, findings and a report out.

The mosaic is processed in overlapping tiles (``tile_px`` square plus a halo wide enough for the
background model and the largest blob), never whole: each tile is read with a window, its pipe
corridors are rasterised, and its blobs are kept when their centroid falls in the tile's core, so
every blob is reported once. Only tiles that touch a corridor are read. Tiles run on a local
thread pool (OpenCV, NumPy and GDAL release the GIL) or, when ``dask_address`` is given
(``URBANOPS_DASK_ADDRESS``), on that Dask cluster: the same function, the same results.
"""

from __future__ import annotations

import itertools
import math
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer
from shapely import STRtree
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from urbanops.domains.thermal.align import PipeOffset, corrected, pipe_offsets
from urbanops.domains.thermal.classify import alignment, classify
from urbanops.domains.thermal.detect import Blob, find_blobs, naive_blobs
from urbanops.domains.thermal.io import (
    MosaicInfo,
    ThermalInputError,
    open_mosaic,
    read_known,
    read_network,
    shp_transform,
    to_celsius,
    work_to_mosaic,
)
from urbanops.domains.thermal.known import KnownFeature
from urbanops.domains.thermal.models import Crop, Finding, InspectParams, Pipe

#: Margin around a blob in its report crop.
CROP_MARGIN_M = 4.0

Progress = Callable[[float, str], None]


@dataclass
class TileTask:
    """Everything a worker needs for one tile (picklable, for Dask)."""

    info: MosaicInfo
    row0: int
    col0: int
    rows: int
    cols: int
    core: tuple[int, int, int, int]  # tile-local
    corridors: list[tuple[int, bytes]]  # (pipe index, WKB polygon in the mosaic CRS)
    samples: np.ndarray  # int64 rows (pipe index, global row, global col) in the core
    params: InspectParams
    baseline_c: float | None = None
    directions_deg: list[float] = field(default_factory=list)
    #: Registered warm features near the tile: rows of (row, col, search radius), global
    #: mosaic pixels (continuous: a pixel's centre is at index + 0.5).
    known: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    factor: int = 1  # mosaic pixels per working pixel (see InspectParams.work_px_m)
    overview_factor: int = 0  # mosaic pixels per overview pixel (0: no overview)


@dataclass
class TileResult:
    blobs: list[Blob]
    covered: dict[int, int]  # pipe index -> valid samples
    valid_px: int
    baseline: list[tuple[float, float, float]] = field(default_factory=list)
    overview: tuple[int, int, np.ndarray] | None = None  # row0, col0 (overview px), thumbnail
    #: Centres of the registered lids found in the image (global mosaic pixel coordinates,
    #: continuous), for the features registered inside the tile's core.
    lids: list[tuple[float, float]] = field(default_factory=list)


def block_mean(temp: np.ndarray, f: int) -> np.ndarray:
    """Mean of the finite values in each ``f`` x ``f`` block (NaN where a block has none); a
    partial block at the right or bottom edge is the mean of what it has.

    OpenCV's area resampling (exact for a whole factor, several times faster than GDAL's
    averaging read) does every block at once; the few blocks it leaves NaN because they touch
    nodata are then averaged over their valid pixels alone.
    """
    import cv2

    h, w = temp.shape
    hh, ww = -(-h // f), -(-w // f)
    if h != hh * f or w != ww * f:
        temp = cv2.copyMakeBorder(
            temp, 0, hh * f - h, 0, ww * f - w, cv2.BORDER_CONSTANT, value=float("nan")
        )
    out = cv2.resize(temp, (ww, hh), interpolation=cv2.INTER_AREA)
    nan = np.isnan(out)
    if nan.any():
        # Only the blocks left NaN are gathered (a few per cent of a tile at the edge of the
        # imaged area), not a validity mask of the whole tile.
        rows, cols = np.nonzero(nan)
        offs = np.arange(f)
        block = temp[
            (rows[:, None, None] * f + offs[None, :, None]),
            (cols[:, None, None] * f + offs[None, None, :]),
        ].reshape(rows.size, f * f)
        finite = np.isfinite(block)
        total = np.where(finite, block, np.float32(0)).sum(axis=1)
        count = finite.sum(axis=1)
        out[rows, cols] = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return out


def run_tile(task: TileTask) -> TileResult:
    """Read, detect and measure coverage in one tile (runs in a worker)."""
    import cv2
    import rasterio
    from rasterio.errors import RasterioIOError
    from rasterio.features import rasterize
    from rasterio.windows import Window
    from shapely import wkb

    cv2.setNumThreads(1)
    info, f = task.info, task.factor
    window = Window(task.col0, task.row0, task.cols, task.rows)
    shape = (math.ceil(task.rows / f), math.ceil(task.cols / f))
    try:
        with rasterio.open(info.path) as ds:
            raw = ds.read(1, window=window)
    except RasterioIOError as exc:
        raise ThermalInputError(
            f"{Path(info.path).name}: truncated or corrupt near row {task.row0}, column "
            f"{task.col0} ({str(exc).splitlines()[0][:160]})",
            field="mosaic",
        ) from None
    nodata = info.nodata
    mask = None if nodata is None or math.isnan(nodata) else raw == nodata
    temp = to_celsius(raw, mask, info)
    del raw, mask
    full = temp
    if f > 1:  # work at the working resolution: the mean of the valid f x f mosaic pixels
        temp = block_mean(full, f)
    assert temp.shape == shape
    valid = np.isfinite(temp)
    transform = (
        info.affine @ info.affine.translation(task.col0, task.row0) @ info.affine.scale(f, f)
    )
    shapes = [(wkb.loads(g), idx + 1) for idx, g in task.corridors]
    corridor = (
        rasterize(shapes, out_shape=temp.shape, transform=transform, fill=0, dtype="int32")
        if shapes
        else np.zeros(temp.shape, dtype=np.int32)
    )
    core = tuple(v // f for v in task.core)
    known = [
        KnownFeature((r - task.row0) / f - 0.5, (c - task.col0) / f - 0.5, rad / f)
        for r, c, rad in task.known
    ]
    blobs = (
        find_blobs(
            temp,
            valid,
            corridor,
            info.px_m * f,
            task.params,
            core=core,  # type: ignore[arg-type]
            directions_deg=task.directions_deg,
            known=known,
        )
        if valid.any()
        else []
    )
    lids = []
    cr0, cc0, cr1, cc1 = task.core
    for (r, c, _rad), feat in zip(task.known, known, strict=True):
        in_core = cr0 <= r - task.row0 < cr1 and cc0 <= c - task.col0 < cc1
        if in_core and feat.lid_row is not None and feat.lid_col is not None:
            lids.append(
                ((feat.lid_row + 0.5) * f + task.row0, (feat.lid_col + 0.5) * f + task.col0)
            )
    half = (f - 1) / 2
    crop_pad = math.ceil(CROP_MARGIN_M / info.px_m)
    for b in blobs:  # back to mosaic pixels
        b.row, b.col = b.row * f + half + task.row0, b.col * f + half + task.col0
        b.area_px *= f * f
        b.half_area_px *= f * f
        b.length_px *= f
        b.width_px *= f
        r0, c0, r1, c1 = b.bbox
        b.bbox = (r0 * f + task.row0, c0 * f + task.col0, r1 * f + task.row0, c1 * f + task.col0)
        b.crop = Crop.cut(full, b.bbox, (task.row0, task.col0), crop_pad)
    del full
    covered: dict[int, int] = {}
    if len(task.samples):
        idx, lr, lc = (
            task.samples[:, 0],
            (task.samples[:, 1] - task.row0) // f,
            (task.samples[:, 2] - task.col0) // f,
        )
        ok = (lr >= 0) & (lr < temp.shape[0]) & (lc >= 0) & (lc < temp.shape[1])
        hit = np.zeros(len(idx), dtype=bool)
        hit[ok] = valid[lr[ok], lc[ok]]
        for i, n in zip(*np.unique(idx[hit], return_counts=True), strict=True):
            covered[int(i)] = int(n)
    baseline = []
    if task.baseline_c is not None and valid.any():
        r0, c0, r1, c1 = core
        for r, c, ex in naive_blobs(temp, valid, corridor, task.baseline_c):
            if r0 <= r < r1 and c0 <= c < c1:
                baseline.append((r * f + half + task.row0, c * f + half + task.col0, ex))
    overview = None
    if task.overview_factor:
        k = max(1, task.overview_factor // f)
        r0, c0, r1, c1 = core
        part = temp[r0:r1, c0:c1]
        h, w = max(1, part.shape[0] // k), max(1, part.shape[1] // k)
        part = part[: h * k, : w * k].reshape(h, k, w, k)
        finite = np.isfinite(part)
        count = finite.sum(axis=(1, 3))
        total = np.where(finite, part, np.float32(0)).sum(axis=(1, 3))
        thumb = (total / np.maximum(count, 1)).astype(np.float32)
        thumb[count == 0] = np.nan  # all-nodata blocks
        overview = (
            (task.row0 + task.core[0]) // task.overview_factor,
            (task.col0 + task.core[1]) // task.overview_factor,
            thumb,
        )
    return TileResult(blobs, covered, int(valid.sum()) * f * f, baseline, overview, lids)


@dataclass
class Inspection:
    """The result of :func:`inspect`."""

    findings: list[Finding]
    candidates: list[Finding]
    coverage: dict[str, Any]
    info: MosaicInfo
    pipes: list[Pipe]
    params: InspectParams
    seconds: float
    tiles: int
    baseline: list[tuple[float, float, float]] = field(default_factory=list)  # x, y (work), excess
    #: Mean temperature per ``overview_factor`` x ``overview_factor`` mosaic pixels (NaN where
    #: not read: nodata, or tiles without pipes), for the report's map.
    overview: np.ndarray | None = None
    overview_factor: int = 1

    def summary(self) -> dict[str, Any]:
        kinds: dict[str, int] = {}
        for f in self.findings:
            kinds[f.kind] = kinds.get(f.kind, 0) + 1
        return {
            "findings": len(self.findings),
            "by_kind": kinds,
            "candidates": len(self.candidates),
            "pipe_length_m": self.coverage["total_length_m"],
            "imaged_length_m": self.coverage["imaged_length_m"],
            "megapixels": round(self.info.megapixels, 2),
            "seconds": round(self.seconds, 2),
        }


def factors(info: MosaicInfo, params: InspectParams) -> tuple[int, int]:
    """Mosaic pixels per working pixel, and per overview pixel (a multiple of the first)."""
    f = max(1, int(params.work_px_m / info.px_m + 1e-9))
    longest = max(info.width, info.height)
    return f, f * max(1, math.ceil(longest / (params.overview_px * f)))


def _tiles(info: MosaicInfo, params: InspectParams) -> tuple[int, list[tuple[int, int, int, int]]]:
    """Halo and tile cores (row0, col0, row1, col1) covering the raster.

    Tile steps are multiples of the overview factor and halos of the working factor, so every
    tile's working grid is a window of one global grid (the same pixels whatever the tiling).
    """
    f, big = factors(info, params)
    halo = math.ceil((params.background_length_m + 12.0) / info.px_m / f) * f
    # Even tiles (as many as needed for at most tile_px a side), so workers finish together.
    n_r, n_c = (math.ceil(n / params.tile_px) for n in (info.height, info.width))
    step_r = math.ceil(math.ceil(info.height / n_r) / big) * big
    step_c = math.ceil(math.ceil(info.width / n_c) / big) * big
    cores = [
        (r, c, min(info.height, r + step_r), min(info.width, c + step_c))
        for r in range(0, info.height, step_r)
        for c in range(0, info.width, step_c)
    ]
    return halo, cores


def plan(
    info: MosaicInfo,
    pipes: list[Pipe],
    params: InspectParams,
    *,
    baseline_c: float | None = None,
    known: list[BaseGeometry] = (),  # type: ignore[assignment]
) -> tuple[list[TileTask], list[int]]:
    """Tile tasks for the tiles that touch a corridor, and per pipe its number of coverage
    samples."""
    to_mosaic = work_to_mosaic(info)
    inv = ~info.affine
    known_px = _known_pixels(known, info, params, to_mosaic)
    half_widths = [params.corridor_half_width_m(p.depth_m, p.diameter_m) for p in pipes]
    corridors: list[BaseGeometry] = []
    for p, hw in zip(pipes, half_widths, strict=True):
        poly = p.line.buffer(hw, cap_style="flat")
        if to_mosaic is not None:
            poly = shp_transform(to_mosaic, poly.segmentize(hw))
        corridors.append(poly)
    tree = STRtree(corridors)
    axes = [
        p.line if to_mosaic is None else shp_transform(to_mosaic, p.line.segmentize(5.0))
        for p in pipes
    ]
    # Coverage samples: points every ~4 pixels along each pipe, in mosaic pixel coordinates.
    spacing = max(4 * info.px_m, 0.25)
    parts, n_samples = [], []
    for i, p in enumerate(pipes):
        n = max(2, int(p.line.length / spacing) + 1)
        pts = shapely.line_interpolate_point(p.line, np.linspace(0.0, 1.0, n), normalized=True)
        xy = shapely.get_coordinates(pts)
        if to_mosaic is not None:
            xs, ys = to_mosaic(xy[:, 0], xy[:, 1])
            xy = np.column_stack([xs, ys])
        cols, rows = inv @ (xy[:, 0], xy[:, 1])
        parts.append(np.column_stack([np.full(n, i), np.floor(rows), np.floor(cols)]))
        n_samples.append(n)
    all_samples = (np.concatenate(parts) if parts else np.zeros((0, 3))).astype(np.int64)
    halo, cores = _tiles(info, params)
    factor, overview_factor = factors(info, params)
    tasks = []
    a = info.affine
    for r0, c0, r1, c1 in cores:
        wr0, wc0 = max(0, r0 - halo), max(0, c0 - halo)
        wr1, wc1 = min(info.height, r1 + halo), min(info.width, c1 + halo)
        x0, y0 = a @ (wc0, wr0)
        x1, y1 = a @ (wc1, wr1)
        window_box = box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
        hits = [int(i) for i in tree.query(window_box, predicate="intersects")]
        if not hits:
            continue
        r_, c_ = all_samples[:, 1], all_samples[:, 2]
        inside = (r_ >= r0) & (r_ < r1) & (c_ >= c0) & (c_ < c1)
        samples = all_samples[inside]
        kr, kc, krad = known_px[:, 0], known_px[:, 1], known_px[:, 2]
        mine = (kr + krad >= wr0) & (kr - krad < wr1) & (kc + krad >= wc0) & (kc - krad < wc1)
        clipped = [corridors[i].intersection(window_box) for i in hits]
        tasks.append(
            TileTask(
                info=info,
                row0=wr0,
                col0=wc0,
                rows=wr1 - wr0,
                cols=wc1 - wc0,
                core=(r0 - wr0, c0 - wc0, r1 - wr0, c1 - wc0),
                corridors=[(i, c.wkb) for i, c in zip(hits, clipped, strict=True)],
                directions_deg=_directions(
                    [axes[i] for i in hits], window_box, info.transform[4] < 0
                ),
                samples=samples,
                known=known_px[mine],
                params=params,
                baseline_c=baseline_c,
                factor=factor,
                overview_factor=overview_factor,
            )
        )
    return tasks, n_samples


def _known_pixels(
    known: list[BaseGeometry], info: MosaicInfo, params: InspectParams, to_mosaic: Any
) -> np.ndarray:
    """Known features as rows of (row, col, search radius) in global mosaic pixels: a point
    searched within ``known_search_m``, a polygon or line from its centre as far as its
    outline reaches and half a metre more."""
    inv = ~info.affine
    rows = []
    for g in known:
        centre = g.centroid if not g.is_empty else None
        if centre is None or centre.is_empty:
            continue
        coords = shapely.get_coordinates(g)
        reach = float(np.max(np.hypot(coords[:, 0] - centre.x, coords[:, 1] - centre.y)))
        radius_m = max(params.known_search_m, reach + 0.5)
        x, y = (centre.x, centre.y) if to_mosaic is None else to_mosaic(centre.x, centre.y)
        col, row = inv @ (x, y)
        rows.append((row, col, radius_m / info.px_m))
    return np.array(rows, dtype=np.float64).reshape(-1, 3)


def _directions(lines: list[BaseGeometry], window: BaseGeometry, north_up: bool) -> list[float]:
    """Directions (deg, 0-180, counter-clockwise from east as seen on the image) of the pipe
    segments inside ``window``, rounded to a degree."""
    out: set[float] = set()
    for line in lines:
        part = line.intersection(window)
        for seg in getattr(part, "geoms", [part]):
            coords = list(getattr(seg, "coords", []))
            for (x0, y0), (x1, y1) in itertools.pairwise(coords):
                if math.hypot(x1 - x0, y1 - y0) < 1e-9:
                    continue
                dy = (y1 - y0) if north_up else -(y1 - y0)
                out.add(round(math.degrees(math.atan2(dy, x1 - x0)) % 180.0))
    return sorted(out)


def _execute(
    tasks: list[TileTask], progress: Progress | None, dask_address: str | None
) -> list[TileResult]:
    results: list[TileResult] = []
    total = len(tasks)
    if dask_address:
        from distributed import Client
        from distributed import as_completed as dask_completed

        with Client(dask_address, timeout=30) as client:
            futures = client.map(run_tile, tasks, pure=False)
            for n, fut in enumerate(dask_completed(futures), start=1):
                results.append(fut.result())
                if progress:
                    progress(n / total, f"tile {n}/{total}")
        return results
    workers = max(1, min(os.cpu_count() or 1, 8))
    with ThreadPoolExecutor(workers, thread_name_prefix="thermal-tile") as pool:
        pending = [pool.submit(run_tile, t) for t in tasks]
        for n, fut in enumerate(as_completed(pending), start=1):
            results.append(fut.result())
            if progress:
                progress(n / total, f"tile {n}/{total}")
    return results


def inspect(
    mosaic: Path,
    network: Path,
    *,
    exclude: Path | None = None,
    params: InspectParams | None = None,
    progress: Progress | None = None,
    dask_address: str | None = None,
    baseline_c: float | None = None,
) -> Inspection:
    """Find warm anomalies over the pipes of ``network`` in the thermal ``mosaic``.

    Parameters
    ----------
    mosaic
        GeoTIFF/COG, one band in deg C (float) or scaled integers, any CRS.
    network
        Pipes as lines (GeoJSON, GeoPackage, Shapefile) in any CRS, with optional ``id``,
        ``depth_m`` and ``diameter_m`` (or ``diameter_mm``).
    exclude
        Known warm features (heating chambers, manholes) to suppress.
    progress
        Called with (fraction done, message).
    dask_address
        A Dask scheduler to run the tiles on (default: local threads).
    baseline_c
        Also run the naive baseline (corridor median + this threshold) for comparison.

    Examples
    --------
    >>> from urbanops.domains.thermal import synthetic
    >>> paths = synthetic.write_scene(synthetic.generate(7), tmp_path)  # doctest: +SKIP
    >>> result = inspect(paths["mosaic"], paths["pipes"], exclude=paths["known"])  # doctest: +SKIP
    """
    params = params or InspectParams()
    t0 = time.perf_counter()
    info = open_mosaic(mosaic)
    pipes = read_network(network, info)
    known = read_known(exclude, info) if exclude is not None else []
    if progress:
        progress(0.0, f"{len(pipes)} pipes, {info.megapixels:.1f} megapixels")
    tasks, n_samples = plan(info, pipes, params, baseline_c=baseline_c, known=known)
    results = _execute(tasks, progress, dask_address)
    blobs = [b for r in results for b in r.blobs]
    covered = [0] * len(pipes)
    for r in results:
        for i, n in r.covered.items():
            covered[i] += n
    if sum(r.valid_px for r in results) == 0:
        raise ThermalInputError(
            f"{mosaic.name}: every tile over the pipes is nodata", field="mosaic"
        )
    offsets = pipe_offsets(pipes, _lids_in_work(results, info), params)
    findings, candidates = _classify_all(blobs, info, corrected(pipes, offsets), params)
    to_work = _pixel_to_work(info)
    baseline = []
    for r in results:
        for row, col, ex in r.baseline:
            x, y = to_work(row, col)
            baseline.append((x, y, ex))
    coverage = _coverage(pipes, covered, n_samples, offsets)
    _f, big = factors(info, params)
    overview = np.full(
        (math.ceil(info.height / big), math.ceil(info.width / big)), np.nan, dtype=np.float32
    )
    for r in results:
        if r.overview is not None:
            r0, c0, thumb = r.overview
            h = min(thumb.shape[0], overview.shape[0] - r0)
            w = min(thumb.shape[1], overview.shape[1] - c0)
            overview[r0 : r0 + h, c0 : c0 + w] = thumb[:h, :w]
    return Inspection(
        findings,
        candidates,
        coverage,
        info,
        pipes,
        params,
        time.perf_counter() - t0,
        len(tasks),
        baseline,
        overview,
        big,
    )


def _lids_in_work(results: list[TileResult], info: MosaicInfo) -> list[tuple[float, float]]:
    """The lids found by the tiles, in the work CRS."""
    rc = np.array([rc for r in results for rc in r.lids], dtype=np.float64).reshape(-1, 2)
    if not len(rc):
        return []
    # Continuous pixel coordinates; ``_pixel_to_work`` takes pixel indices (adds half a pixel).
    xs, ys = _pixel_to_work(info)(rc[:, 0] - 0.5, rc[:, 1] - 0.5)
    return [(float(x), float(y)) for x, y in zip(np.atleast_1d(xs), np.atleast_1d(ys), strict=True)]


def _pixel_to_work(info: MosaicInfo) -> Callable[[float, float], tuple[float, float]]:
    a = info.affine
    mosaic_crs = CRS.from_wkt(info.crs_wkt)
    work_crs = CRS.from_wkt(info.work_crs_wkt)
    tr = (
        None
        if mosaic_crs.equals(work_crs)
        else Transformer.from_crs(mosaic_crs, work_crs, always_xy=True)
    )

    def f(row: float, col: float) -> tuple[float, float]:
        x, y = a @ (col + 0.5, row + 0.5)
        return (x, y) if tr is None else tr.transform(x, y)

    return f


def _classify_all(
    blobs: list[Blob],
    info: MosaicInfo,
    pipes: list[Pipe],
    params: InspectParams,
) -> tuple[list[Finding], list[Finding]]:
    """Place, relate to the nearest pipe and classify every blob (geometry in array passes)."""
    to_work = _pixel_to_work(info)
    to_lonlat = Transformer.from_crs(
        CRS.from_wkt(info.work_crs_wkt), CRS.from_epsg(4326), always_xy=True
    )
    px = info.px_m
    n = len(blobs)
    xs, ys = to_work(
        np.array([b.row for b in blobs], dtype=np.float64),
        np.array([b.col for b in blobs], dtype=np.float64),
    )
    xs, ys = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
    lons, lats = to_lonlat.transform(xs, ys)
    here = shapely.points(xs, ys)
    idx = dist = align = None
    if pipes and n:
        # The nearest pipe (where corridors overlap, at crossings, the raster holds only one).
        lines = np.array([p.line for p in pipes], dtype=object)
        idx = STRtree(list(lines)).nearest(here)
        mine = lines[idx]
        dist = shapely.distance(mine, here)
        s_m = shapely.line_locate_point(mine, here)
        p0 = shapely.get_coordinates(
            shapely.line_interpolate_point(mine, np.maximum(0.0, s_m - 1.0))
        )
        p1 = shapely.get_coordinates(
            shapely.line_interpolate_point(mine, np.minimum(shapely.length(mine), s_m + 1.0))
        )
        pipe_dir = np.arctan2(p1[:, 1] - p0[:, 1], p1[:, 0] - p0[:, 0])
        align = [
            alignment(b.orientation_rad, float(d)) for b, d in zip(blobs, pipe_dir, strict=True)
        ]
    items: list[Finding] = []
    for k, b in enumerate(blobs):
        pipe = None if idx is None else pipes[int(idx[k])]
        depth = params.default_depth_m if pipe is None or pipe.depth_m is None else pipe.depth_m
        d_k = None if dist is None else float(dist[k])
        a_k = None if align is None else align[k]
        kind, score, severity, reasons = classify(
            b,
            px_m=px,
            distance_m=d_k,
            depth_m=depth,
            alignment_deg=a_k,
            known=b.known,
            params=params,
            axis_scale_m=params.aligned_axis_m if pipe is not None and pipe.lids else None,
        )
        items.append(
            Finding(
                id="",
                kind=kind,
                score=score,
                severity=severity,
                delta_t_c=b.peak_excess_c,
                mean_excess_c=b.mean_excess_c,
                peak_c=b.peak_c,
                background_c=b.background_c,
                area_m2=b.area_px * px * px,
                length_m=b.length_px * px,
                width_m=b.width_px * px,
                pipe_id=None if pipe is None else pipe.id,
                distance_to_pipe_m=d_k,
                alignment_deg=a_k,
                sharpness_per_m=b.sharpness_per_m,
                half_area_m2=b.half_area_px * px * px,
                lon=float(lons[k]),
                lat=float(lats[k]),
                x=float(xs[k]),
                y=float(ys[k]),
                bbox=b.bbox,
                reasons=reasons,
                crop=b.crop,
            )
        )
    items.sort(key=lambda f: (-f.score, f.x, f.y))
    findings = [f for f in items if f.kind != "other" and f.score >= params.finding_score]
    chosen = {id(f) for f in findings}
    candidates = [f for f in items if id(f) not in chosen]
    for n, f in enumerate(findings, start=1):
        f.id = f"F{n:04d}"
    for n, f in enumerate(candidates, start=1):
        f.id = f"C{n:04d}"
    return findings, candidates


def _coverage(
    pipes: list[Pipe], covered: list[int], n_samples: list[int], offsets: list[PipeOffset]
) -> dict[str, Any]:
    per_pipe = []
    total = imaged = 0.0
    for p, c, n, off in zip(pipes, covered, n_samples, offsets, strict=True):
        frac = min(1.0, c / n) if n else 0.0
        length = float(p.line.length)
        total += length
        imaged += frac * length
        per_pipe.append(
            {
                "pipe_id": p.id,
                "length_m": round(length, 1),
                "imaged_m": round(frac * length, 1),
                "fraction": round(frac, 4),
                # The map's error found from the lids on the pipe (positive: the pipe runs to
                # the left of its mapped line, looking along it); 0 with no lid.
                "map_offset_m": round(off.offset_m, 2),
                "lids": off.lids,
            }
        )
    return {
        "total_length_m": round(total, 1),
        "imaged_length_m": round(imaged, 1),
        "fraction": round(imaged / total, 4) if total else 0.0,
        "pipes": per_pipe,
    }


def params_dict(params: InspectParams) -> dict[str, Any]:
    return asdict(params)

"""A georeferenced mosaic from drone frames: direct georeferencing, seam levelling, feathering.

1. Every frame is decoded and placed (see :mod:`georef`); on flat ground the map from a
   frame's pixels to the ground is a plane projective transform (a homography), fixed by its
   four corners.
2. **Seam levelling.** Uncooled thermal cameras drift between shutter calibrations, so the same
   ground reads a few tenths of a degree apart in consecutive frames. Each frame is warped to a
   coarse grid; for every pair of overlapping frames the median difference over the overlap is
   taken; one offset per frame is the least-squares solution of ``o_i - o_j = d_ij`` (with a
   small pull to zero, which fixes the common level to the frames' own average).
3. **Blending.** Frames are warped to the output grid block by block, each weighted by a tent
   that falls to zero at its edges, so seams fade instead of stepping.

The grid is the UTM zone of the survey's centre at the frames' median ground sample distance;
only 512 x 512 blocks that a frame touches are held, so a long, thin survey of a pipe network
costs memory for what it covers, not for its bounding box. Accuracy is that of direct
georeferencing: metres (see :mod:`georef`); an OpenDroneMap or Pix4D orthomosaic is the
precise path.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer
from shapely import STRtree

from urbanops.domains.thermal.frames import Survey, survey
from urbanops.domains.thermal.georef import Pose, ground_lonlat, local_crs
from urbanops.domains.thermal.io import ThermalInputError
from urbanops.domains.thermal.radiometric.frame import Overrides, read_frame

BLOCK = 512
#: The largest mosaic written (pixels actually covered); beyond, use photogrammetry tiles.
MAX_COVERED_PX = 600_000_000
Progress = Callable[[float, str], None]


@dataclass
class Placed:
    """A georeferenced frame: its file, pose and pixel-to-grid homography."""

    path: Path
    pose: Pose
    h_img_to_grid: np.ndarray  # 3x3, image (col, row) -> output grid (col, row)
    bbox: tuple[int, int, int, int]  # grid col0, row0, col1, row1
    offset_c: float = 0.0


@dataclass
class MosaicResult:
    path: Path
    crs: str
    gsd_m: float
    width: int
    height: int
    frames: list[Placed] = field(default_factory=list)
    survey: Survey | None = None
    offsets_sd_c: float = 0.0
    folder: Path | None = None
    overrides: Overrides | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "mosaic": str(self.path),
            "crs": self.crs,
            "gsd_m": self.gsd_m,
            "width_px": self.width,
            "height_px": self.height,
            "frames": len(self.frames),
            "levelling_offsets_sd_c": round(self.offsets_sd_c, 3),
        }


def _homography(p: Pose, x0: float, y0: float, gsd: float, to_grid: Transformer) -> Any:
    """Image (col, row) -> output grid (col, row), from the four corners on the ground."""
    import cv2

    cols = np.array([0, p.width_px, p.width_px, 0], dtype=np.float64)
    rows = np.array([0, 0, p.height_px, p.height_px], dtype=np.float64)
    lons, lats = ground_lonlat(p, rows, cols)
    xs, ys = to_grid.transform(lons, lats)
    gx = (np.asarray(xs) - x0) / gsd
    gy = (y0 - np.asarray(ys)) / gsd
    src = np.column_stack([cols, rows]).astype(np.float32)
    dst = np.column_stack([gx, gy]).astype(np.float32)
    return cv2.getPerspectiveTransform(src, dst).astype(np.float64)


def _tent(h: int, w: int) -> np.ndarray:
    wy = 1 - np.abs(np.linspace(-1, 1, h, dtype=np.float32))
    wx = 1 - np.abs(np.linspace(-1, 1, w, dtype=np.float32))
    return np.outer(wy, wx) + 1e-3


def place(
    result: Survey, gsd_m: float | None = None
) -> tuple[list[Placed], CRS, float, float, float, int, int]:
    """The output grid and each georeferenced frame's homography onto it."""
    geo = result.georeferenced
    if not geo:
        raise ThermalInputError("no georeferenced frame: nothing to mosaic", field="frames")
    lon_c = float(np.mean([e.pose.lon for e in geo if e.pose]))
    lat_c = float(np.mean([e.pose.lat for e in geo if e.pose]))
    crs = local_crs(lon_c, lat_c)
    tr = Transformer.from_crs(CRS.from_epsg(4326), crs, always_xy=True)
    gsd = gsd_m or round(float(np.median([e.pose.gsd_m for e in geo if e.pose])), 3)
    gsd = max(gsd, 0.01)
    corners = []
    for e in geo:
        assert e.pose is not None
        lons, lats = ground_lonlat(
            e.pose,
            np.array([0, 0, e.pose.height_px, e.pose.height_px], dtype=np.float64),
            np.array([0, e.pose.width_px, e.pose.width_px, 0], dtype=np.float64),
        )
        xs, ys = tr.transform(lons, lats)
        corners.append(np.column_stack([xs, ys]))
    allc = np.vstack(corners)
    x0 = math.floor(allc[:, 0].min() / gsd) * gsd
    y1 = math.ceil(allc[:, 1].max() / gsd) * gsd
    width = math.ceil((allc[:, 0].max() - x0) / gsd)
    height = math.ceil((y1 - allc[:, 1].min()) / gsd)
    placed = []
    for e, c in zip(geo, corners, strict=True):
        assert e.pose is not None
        h = _homography(e.pose, x0, y1, gsd, tr)
        gx, gy = (c[:, 0] - x0) / gsd, (y1 - c[:, 1]) / gsd
        bbox = (
            max(0, math.floor(gx.min())),
            max(0, math.floor(gy.min())),
            min(width, math.ceil(gx.max())),
            min(height, math.ceil(gy.max())),
        )
        placed.append(Placed(Path(e.properties["file"]), e.pose, h, bbox))
    return placed, crs, gsd, x0, y1, width, height


def _warp(temp: np.ndarray, h: np.ndarray, origin: tuple[int, int], size: tuple[int, int]) -> Any:
    """``temp`` warped onto the grid window at ``origin`` (col, row) of ``size`` (w, h)."""
    import cv2

    shift = np.array([[1, 0, -origin[0]], [0, 1, -origin[1]], [0, 0, 1]], dtype=np.float64)
    return cv2.warpPerspective(
        temp,
        shift @ h,
        size,
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=float("nan"),
    )


def coarse_warp(
    f: Placed, temp: np.ndarray, coarse: int = 8
) -> tuple[tuple[int, int, int, int], np.ndarray]:
    """``temp`` on a grid ``coarse`` times the output's pixel, over the frame's box."""
    scale = np.diag([1 / coarse, 1 / coarse, 1.0])
    c0, r0, c1, r1 = (v // coarse for v in f.bbox)
    size = (max(1, c1 - c0 + 1), max(1, r1 - r0 + 1))
    box = (c0, r0, c0 + size[0], r0 + size[1])
    return box, _warp(temp, scale @ f.h_img_to_grid, (c0, r0), size)


def level(frames: list[Placed], small: list[tuple[tuple[int, int, int, int], np.ndarray]]) -> float:
    """Set each frame's ``offset_c`` from the median differences over overlaps of their coarse
    warps (least squares); returns the offsets' standard deviation."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.linalg import lsqr

    rows, cols, vals, rhs = [], [], [], []
    eq = 0
    boxes = [shapely.box(*b) for b, _a in small]
    left, right = STRtree(boxes).query(boxes, predicate="intersects")
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if j <= i:
            continue
        (a0, b0, a1, b1), ai = small[i]
        (c0, d0, c1, d1), aj = small[j]
        x0, y0, x1, y1 = max(a0, c0), max(b0, d0), min(a1, c1), min(b1, d1)
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        pi = ai[y0 - b0 : y1 - b0, x0 - a0 : x1 - a0]
        pj = aj[y0 - d0 : y1 - d0, x0 - c0 : x1 - c0]
        both = np.isfinite(pi) & np.isfinite(pj)
        if both.sum() < 30:
            continue
        rows += [eq, eq]
        cols += [i, j]
        vals += [1.0, -1.0]
        rhs.append(float(np.median(pi[both] - pj[both])))
        eq += 1
    n = len(frames)
    for i in range(n):  # a weak pull to zero fixes the common level
        rows.append(eq)
        cols.append(i)
        vals.append(0.05)
        rhs.append(0.0)
        eq += 1
    a = coo_matrix((vals, (rows, cols)), shape=(eq, n)).tocsr()
    offsets = lsqr(a, np.array(rhs))[0]
    offsets -= offsets.mean()
    for f, o in zip(frames, offsets, strict=True):
        f.offset_c = float(o)
    return float(offsets.std()) if n > 1 else 0.0


def _blocks(
    f: Placed, folder: Path, overrides: Overrides | None
) -> list[tuple[tuple[int, int], tuple[slice, slice], np.ndarray, np.ndarray]]:
    """The frame, levelled and weighted, warped once onto its own box of the output grid, then
    cut along the output blocks: (block key, slices within the block, temperature x weight,
    weight), zero where the frame does not reach."""
    import cv2

    temp = read_frame(folder / f.path, overrides).temp_c - np.float32(f.offset_c)
    weight = _tent(*temp.shape)
    valid = np.isfinite(temp)
    both = np.dstack([np.where(valid, temp * weight, 0), np.where(valid, weight, 0)])
    c0, r0, c1, r1 = f.bbox
    size = (c1 - c0, r1 - r0)
    if size[0] <= 0 or size[1] <= 0:
        return []
    shift = np.array([[1, 0, -c0], [0, 1, -r0], [0, 0, 1]], dtype=np.float64)
    warped = cv2.warpPerspective(
        both.astype(np.float32),
        shift @ f.h_img_to_grid,
        size,
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0.0,
    )
    out = []
    for bj in range(r0 // BLOCK, (r1 - 1) // BLOCK + 1):
        for bi in range(c0 // BLOCK, (c1 - 1) // BLOCK + 1):
            gr0, gc0 = max(r0, bj * BLOCK), max(c0, bi * BLOCK)
            gr1, gc1 = min(r1, (bj + 1) * BLOCK), min(c1, (bi + 1) * BLOCK)
            part = warped[gr0 - r0 : gr1 - r0, gc0 - c0 : gc1 - c0]
            if not (part[:, :, 1] > 0).any():
                continue
            inner = (
                slice(gr0 - bj * BLOCK, gr1 - bj * BLOCK),
                slice(gc0 - bi * BLOCK, gc1 - bi * BLOCK),
            )
            out.append(((bj, bi), inner, part[:, :, 0], part[:, :, 1]))
    return out


def build_mosaic(
    folder: Path,
    out_path: Path,
    overrides: Overrides | None = None,
    *,
    gsd_m: float | None = None,
    progress: Progress | None = None,
) -> MosaicResult:
    """Decode, place, level and blend the frames of ``folder`` into a GeoTIFF at ``out_path``."""
    import rasterio
    from rasterio.transform import from_origin

    def sub(lo: float, hi: float) -> Progress | None:
        return None if progress is None else (lambda f, m: progress(lo + (hi - lo) * f, m))

    result = survey(folder, overrides, progress=sub(0.0, 0.4))
    frames, crs, gsd, x0, y1, width, height = place(result, gsd_m)
    covered = sum((f.bbox[2] - f.bbox[0]) * (f.bbox[3] - f.bbox[1]) for f in frames)
    if covered > MAX_COVERED_PX * 4:
        raise ThermalInputError(
            f"the frames cover about {covered / 1e6:.0f} megapixels at {gsd} m: too large for "
            "one mosaic here; build it with OpenDroneMap and inspect that",
            field="frames",
        )

    def coarse(f: Placed) -> tuple[tuple[int, int, int, int], np.ndarray]:
        return coarse_warp(f, read_frame(folder / f.path, overrides).temp_c)

    small = []
    with ThreadPoolExecutor(2) as pool:  # decoding and warping release the GIL
        for n, item in enumerate(pool.map(coarse, frames), start=1):
            small.append(item)  # frames are decoded again below: memory stays flat
            if progress:
                progress(0.4 + 0.1 * n / len(frames), f"levelling {n}/{len(frames)}")
    sd = level(frames, small)
    del small
    blocks: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
    with ThreadPoolExecutor(2) as pool:
        warped = pool.map(lambda f: _blocks(f, folder, overrides), frames)
        for n, parts in enumerate(warped, start=1):
            for key, inner, tw, w in parts:
                acc, wsum = blocks.setdefault(
                    key,
                    (np.zeros((BLOCK, BLOCK), np.float32), np.zeros((BLOCK, BLOCK), np.float32)),
                )
                acc[inner] += tw
                wsum[inner] += w
            if progress:
                progress(0.5 + 0.4 * n / len(frames), f"blending {n}/{len(frames)}")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    profile = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": 1,
        "dtype": "float32",
        "crs": crs,
        "transform": from_origin(x0, y1, gsd, gsd),
        "nodata": float("nan"),
        "tiled": True,
        "blockxsize": BLOCK,
        "blockysize": BLOCK,
        "compress": "deflate",
        "predictor": 3,
        "BIGTIFF": "IF_SAFER",
        "SPARSE_OK": True,
    }
    with rasterio.open(out_path, "w", **profile) as dst:
        for (bj, bi), (acc, wsum) in sorted(blocks.items()):
            r0, c0 = bj * BLOCK, bi * BLOCK
            h, w = min(BLOCK, height - r0), min(BLOCK, width - c0)
            if h <= 0 or w <= 0:
                continue
            with np.errstate(invalid="ignore", divide="ignore"):
                block = np.where(wsum > 0, acc / wsum, np.nan).astype(np.float32)
            dst.write(block[:h, :w], 1, window=((r0, r0 + h), (c0, c0 + w)))
        dst.update_tags(1, unit="degC")
        dst.update_tags(source="urbanops thermal mosaic", frames=str(len(frames)))
    if progress:
        progress(1.0, "mosaic written")
    return MosaicResult(
        out_path, crs.to_string(), gsd, width, height, frames, result, sd, folder, overrides
    )


def frames_at(result: MosaicResult, col: float, row: float) -> list[tuple[Placed, float, float]]:
    """Frames that saw mosaic pixel (col, row), nearest their image centre first, each with
    the spot's position in the frame (col, row)."""
    out = []
    for f in result.frames:
        c0, r0, c1, r1 = f.bbox
        if not (c0 <= col <= c1 and r0 <= row <= r1):
            continue
        x, y, w = np.linalg.inv(f.h_img_to_grid) @ np.array([col, row, 1.0])
        fc, fr = x / w, y / w
        if 0 <= fc < f.pose.width_px and 0 <= fr < f.pose.height_px:
            dist = math.hypot(fc / f.pose.width_px - 0.5, fr / f.pose.height_px - 0.5)
            out.append((dist, f, fc, fr))
    out.sort(key=lambda t: t[0])
    return [(f, fc, fr) for _d, f, fc, fr in out]


def attach_frames(
    findings: list[Any], result: MosaicResult, *, crops: bool = True, margin_m: float = 4.0
) -> None:
    """Name the frames each finding appears in, and (``crops``) give each its crop from the
    best frame (the one that saw it nearest its image centre: least distortion, least
    vignetting)."""
    from urbanops.domains.thermal.models import Crop

    assert result.folder is not None
    cache: dict[Path, np.ndarray] = {}
    for f in findings:
        r0, c0, r1, c1 = f.bbox
        col, row = (c0 + c1) / 2, (r0 + r1) / 2
        seen = frames_at(result, col, row)
        f.frames = [str(p.path) for p, _c, _r in seen]
        if not seen or not crops:
            continue
        best, fc, fr = seen[0]
        if best.path not in cache:
            if len(cache) > 64:
                cache.clear()
            cache[best.path] = read_frame(result.folder / best.path, result.overrides).temp_c
        temp = cache[best.path]
        pad = math.ceil(margin_m / best.pose.gsd_m)
        half_r = max(pad, (r1 - r0) // 2 + pad)
        half_c = max(pad, (c1 - c0) // 2 + pad)
        bbox = (int(fr) - half_r, int(fc) - half_c, int(fr) + half_r, int(fc) + half_c)
        crop = Crop.cut(temp, bbox, (0, 0), 0)
        f.crop = Crop(
            crop.data,
            crop.lo_c,
            crop.hi_c,
            crop.row0,
            crop.col0,
            crop.step,
            to_source=np.linalg.inv(best.h_img_to_grid),
            source=str(best.path),
        )


def inspect_frames(
    frames_dir: Path,
    network: Path,
    out_dir: Path,
    *,
    exclude: Path | None = None,
    overrides: Overrides | None = None,
    progress: Progress | None = None,
    dask_address: str | None = None,
) -> tuple[Any, MosaicResult]:
    """A folder of frames to findings: the mosaic (``out_dir/mosaic.tif``), the inspection of
    it, and the frames that saw each finding (crops from the best frame for the findings).
    Progress runs 0-0.5 for the mosaic and 0.5-1 for the inspection."""
    from urbanops.domains.thermal.inspect import inspect

    def half(lo: float) -> Progress | None:
        return None if progress is None else (lambda f, m: progress(lo + f / 2, m))

    built = build_mosaic(frames_dir, out_dir / "mosaic.tif", overrides, progress=half(0.0))
    result = inspect(
        built.path, network, exclude=exclude, progress=half(0.5), dask_address=dask_address
    )
    attach_frames(result.findings, built)
    attach_frames(result.candidates, built, crops=False)
    return result, built

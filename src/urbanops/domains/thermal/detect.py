"""Warm anomalies in one tile of a thermal mosaic: background, residual, blobs and their features.

Background model: an oriented morphological open-close filter (see :func:`background`), on a
decimated copy interpolated back. Opening removes warm features in which a long, narrow
rectangle fits at no orientation (leaks, insulation strips, cars) and keeps every region in
which it fits at some orientation, with its edges: the boundary between asphalt and verge, a roof
edge or a seam between two images of the mosaic stays in the background instead of leaving a warm
fringe in the residual, as a (Gaussian or box) smoothing background would, and a street narrower
than a leak's footprint is still kept because it is long. Closing first removes cold features
(puddles, small tree crowns) that would otherwise pull the background down around them.

Residual = smoothed temperature - background, re-centred; its local spread is a standard
deviation of the residual clipped to +-2 deg C (so anomalies barely inflate it), from box
filters. A blob is a connected region of a pipe's corridor at least ``detect_excess_c`` and
``detect_z`` local deviations above the background. (Hysteresis thresholding, growing blobs down
to a lower level, was tried: larger texture blobs raised false alarms more than it helped recall.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from urbanops.domains.thermal.known import KnownFeature, remove_known
from urbanops.domains.thermal.models import Crop, InspectParams


@dataclass
class Blob:
    """A connected set of candidate pixels and what describes it (tile-local pixel units)."""

    row: float  # warmest pixel (global pixel coordinates)
    col: float
    area_px: int
    peak_excess_c: float
    mean_excess_c: float
    peak_c: float
    background_c: float
    z_peak: float
    length_px: float  # extent along the principal axis (4 sd)
    width_px: float
    orientation_rad: float  # principal axis, counter-clockwise from east (image x), north-up
    sharpness_per_m: float  # steepest edge / peak excess: diffuse (buried) vs sharp (on top)
    half_area_px: int  # pixels at least half the peak excess: the spot's size, whatever its heat
    bbox: tuple[int, int, int, int]  # global row0, col0, row1, col1
    crop: Crop | None = None  # the thermal picture around it, for the report
    #: Near a registered warm feature: "" (none), "on" (one whose lid was not found in the
    #: image, so the blob may be the feature itself) or "beside" (one whose lid was taken out
    #: of the residual: the blob is heat beyond it). See ``known``.
    known: str = ""


def _filled(temp: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Nodata filled from nearby valid pixels, for filtering only: a normalised box filter (about
    30 pixels) on an 8-times decimated grid, interpolated back, so the fill costs little more
    than a pass over the tile."""
    import cv2

    if valid.all():
        return temp
    h, w = temp.shape
    k = 8
    small = (max(1, w // k), max(1, h // k))
    data = cv2.resize(np.where(valid, temp, np.float32(0)), small, interpolation=cv2.INTER_AREA)
    share = cv2.resize(valid.astype(np.float32), small, interpolation=cv2.INTER_AREA)
    num = cv2.boxFilter(data, -1, (5, 5), normalize=False, borderType=cv2.BORDER_REFLECT)
    den = cv2.boxFilter(share, -1, (5, 5), normalize=False, borderType=cv2.BORDER_REFLECT)
    seen = share > 0
    fallback = float(np.median(data[seen] / share[seen])) if seen.any() else 0.0
    fill_small = np.where(den > 1e-3, num / np.maximum(den, 1e-3), np.float32(fallback))
    fill = cv2.resize(fill_small.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    return np.where(valid, temp, fill).astype(np.float32, copy=False)


def _oriented(
    img: np.ndarray, op: int, length_px: int, width_px: int, angles: list[float]
) -> np.ndarray:
    """Min (closing) or max (opening) over orientations of a morphological filter with a
    ``length_px`` x ``width_px`` rectangle, done by rotating the image, not the element (an
    axis-aligned rectangle is separable and fast)."""
    import cv2

    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (length_px, width_px))
    out: np.ndarray | None = None
    for angle in angles:
        if angle % 90.0 == 0.0:  # along the image axes: no rotation needed
            k = kernel if angle % 180.0 == 0.0 else kernel.T
            back = cv2.morphologyEx(img, op, k, borderType=cv2.BORDER_REPLICATE)
        else:
            back = _rotated_filter(img, op, kernel, angle)
        if out is None:
            out = back
        elif op == cv2.MORPH_CLOSE:
            np.minimum(out, back, out=out)
        else:
            np.maximum(out, back, out=out)
    assert out is not None
    return out


def _rotated_filter(img: np.ndarray, op: int, kernel: np.ndarray, angle: float) -> np.ndarray:
    """``op`` with ``kernel`` applied to ``img`` rotated by ``angle`` (deg), rotated back; the
    rotated canvas is the rotated image's bounding box (plus a pixel), no larger."""
    import cv2

    h, w = img.shape
    c, s = abs(math.cos(math.radians(angle))), abs(math.sin(math.radians(angle)))
    cw, ch = math.ceil(w * c + h * s) + 2, math.ceil(w * s + h * c) + 2
    m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle, 1.0)
    m[0, 2] += cw / 2.0 - w / 2.0
    m[1, 2] += ch / 2.0 - h / 2.0
    rot = cv2.warpAffine(img, m, (cw, ch), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    filt = cv2.morphologyEx(rot, op, kernel, borderType=cv2.BORDER_REPLICATE)
    return cv2.warpAffine(
        filt,
        m,
        (w, h),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )


def element_angles(params: InspectParams, directions_deg: list[float] = ()) -> list[float]:  # type: ignore[assignment]
    """Rotations (deg) for the background element: evenly spaced, plus the directions of the
    pipes in the tile and their perpendiculars (pipes run along streets, so the element lies
    exactly along the street and fits in narrow ones too)."""
    out: list[float] = [
        180.0 * k / params.background_angles for k in range(params.background_angles)
    ]
    for d in directions_deg:
        for a in ((-d) % 180.0, (90.0 - d) % 180.0):
            if all(min(abs(a - b), 180 - abs(a - b)) > 2.0 for b in out):
                out.append(a)
    return out


def background(
    smooth: np.ndarray,
    px_m: float,
    params: InspectParams,
    directions_deg: list[float] = (),  # type: ignore[assignment]
) -> np.ndarray:
    """Oriented open-close background at the resolution of ``smooth``.

    Computed on a copy decimated to about ``background_px_m`` per pixel and interpolated back.
    First a closing with a disc of ``cold_feature_m`` fills cold spots smaller than it
    (puddles, small tree crowns). Then an opening with a ``background_length_m`` x
    ``background_width_m`` rectangle at several orientations: a region survives when such a
    rectangle fits inside it at some orientation (streets, verges, roofs, the two sides of a
    seam), and is removed when none does (leaks, insulation strips narrower than the rectangle,
    cars).
    """
    import cv2

    factor = max(1, round(params.background_px_m / px_m))
    h, w = smooth.shape
    small = (
        cv2.resize(smooth, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
        if factor > 1
        else smooth
    )
    low_px = px_m * factor
    length = max(3, round(params.background_length_m / low_px)) | 1
    width = max(3, round(params.background_width_m / low_px)) | 1
    angles = element_angles(params, directions_deg)
    cold = max(3, round(params.cold_feature_m / low_px)) | 1
    closed = cv2.morphologyEx(
        small,
        cv2.MORPH_CLOSE,
        cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (cold, cold)),
        borderType=cv2.BORDER_REPLICATE,
    )
    opened = _oriented(closed, cv2.MORPH_OPEN, length, width, angles)
    if factor > 1:
        return cv2.resize(opened, (w, h), interpolation=cv2.INTER_LINEAR)
    return opened


def residual_and_spread(
    temp: np.ndarray,
    valid: np.ndarray,
    px_m: float,
    params: InspectParams,
    directions_deg: list[float] = (),  # type: ignore[assignment]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Smoothed temperature, residual against the background, and the residual's local spread.

    The open-close background follows the lower envelope of the surface texture, so the raw
    residual sits a little above zero everywhere; it is re-centred on its local mean (clipped
    at +-2 deg C, over a ``background_length_m`` window) before anomalies are measured.
    """
    import cv2

    filled = _filled(temp, valid)
    sigma_px = params.smooth_sigma_m / px_m
    smooth = cv2.GaussianBlur(filled, (0, 0), sigma_px) if sigma_px >= 0.5 else filled
    raw = smooth - background(smooth, px_m, params, directions_deg)
    clipped = np.clip(raw, -2.0, 2.0)
    win = max(3, int(params.background_length_m / px_m) | 1)
    mean = _box_mean(clipped, win)
    sq = _box_mean(clipped * clipped, win)
    spread = np.sqrt(np.maximum(sq - mean * mean, 0.0))
    np.maximum(spread, params.min_spread_c, out=spread)
    return smooth, raw - mean, spread


def find_blobs(
    temp: np.ndarray,
    valid: np.ndarray,
    corridor: np.ndarray,
    px_m: float,
    params: InspectParams,
    *,
    origin: tuple[int, int] = (0, 0),
    core: tuple[int, int, int, int] | None = None,
    directions_deg: list[float] = (),  # type: ignore[assignment]
    known: list[KnownFeature] | None = None,
) -> list[Blob]:
    """Candidate blobs of one tile.

    Parameters
    ----------
    temp
        Temperatures in deg C (float32; anything where ``valid`` is False is ignored).
    valid
        True where the mosaic has data.
    corridor
        0 outside every pipe corridor, else 1 + the index of the pipe.
    px_m
        Pixel size in metres.
    origin
        Global (row, col) of the tile's first pixel.
    core
        Tile-local (row0, col0, row1, col1): only blobs whose peak falls inside are kept
        (tiles overlap by a halo so that each blob is seen whole by exactly one tile).
    directions_deg
        Directions of the pipes in the tile (deg, counter-clockwise from east, north up).
    known
        Registered warm features in the tile (working pixels): their lids are taken out of the
        residual (see ``known.remove_known``).
    """
    import cv2

    smooth, res, spread = residual_and_spread(temp, valid, px_m, params, directions_deg)
    if known:
        remove_known(res, known, px_m, params, valid)
    z = res / spread
    mask = valid & (corridor > 0) & (res > params.detect_excess_c) & (z > params.detect_z)
    if not mask.any():
        return []
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    min_area_px = max(2, int(params.min_area_m2 / (px_m * px_m)))
    land = res - _low_pass(res, params.split_scale_m / px_m) if params.split_scale_m > 0 else res
    out: list[Blob] = []
    for i in range(1, n):
        x0, y0, bw, bh, area = (int(v) for v in stats[i])
        if area < min_area_px:
            continue
        rs, cs = slice(y0, y0 + bh), slice(x0, x0 + bw)
        for sel, seed in _split(res[rs, cs], land[rs, cs], labels[rs, cs] == i, px_m, params):
            if int(sel.sum()) < min_area_px:
                continue
            blob = _describe(sel, y0, x0, res, smooth, z, px_m, seed)
            if core is not None and not (
                core[0] <= blob.row < core[2] and core[1] <= blob.col < core[3]
            ):
                continue
            if known:
                blob.known = _near_known(blob, known, px_m, params)
            blob.row += origin[0]
            blob.col += origin[1]
            b0, b1, b2, b3 = blob.bbox
            blob.bbox = (b0 + origin[0], b1 + origin[1], b2 + origin[0], b3 + origin[1])
            out.append(blob)
    return out


def _near_known(blob: Blob, known: list[KnownFeature], px_m: float, params: InspectParams) -> str:
    """Which registered feature the blob is near: ``"on"`` when its peak is within
    ``known_radius_m`` of one whose lid was not found, else ``"beside"`` when it is that near
    one whose lid was taken out, else ``""``."""
    out = ""
    for feat in known:
        reach = params.known_radius_m / px_m + (feat.radius_px - params.known_search_m / px_m)
        if math.hypot(blob.row - feat.row, blob.col - feat.col) <= max(reach, 1.0):
            if not feat.removed:
                return "on"
            out = "beside"
    return out


def _box_mean(img: np.ndarray, win: int) -> np.ndarray:
    """Mean over a ``win`` x ``win`` window; a wide window is computed on a grid decimated by
    about win / 30 and interpolated back (the result is smooth at that scale anyway)."""
    import cv2

    k = max(1, win // 30)
    if k == 1:
        return cv2.blur(img, (win, win), borderType=cv2.BORDER_REFLECT)
    h, w = img.shape
    small = cv2.resize(img, (max(1, w // k), max(1, h // k)), interpolation=cv2.INTER_AREA)
    side = max(3, (win // k) | 1)
    small = cv2.blur(small, (side, side), borderType=cv2.BORDER_REFLECT)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _low_pass(img: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian blur of ``img`` at ``sigma_px``, computed on a grid decimated so that the blur
    spans about 3 of its pixels, and interpolated back (the result is smooth at that scale, so
    this loses nothing that matters and costs a tenth)."""
    import cv2

    h, w = img.shape
    k = max(1, int(sigma_px / 3))
    if k == 1:
        return cv2.GaussianBlur(img, (0, 0), sigma_px, borderType=cv2.BORDER_REFLECT)
    small = cv2.resize(img, (max(1, w // k), max(1, h // k)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma_px / k, borderType=cv2.BORDER_REFLECT)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _split(
    res: np.ndarray, land: np.ndarray, sel: np.ndarray, px_m: float, params: InspectParams
) -> list[tuple[np.ndarray, tuple[int, int] | None]]:
    """Split a blob with several warm peaks (a leak beside a parked car, two leaks a few metres
    apart) at the valleys between them, so each is described and placed on its own.

    Each part comes with its seed's warmest pixel, where it is placed: a part can hold a
    neighbour's warmer flank (a car's engine beside a leak) that no seed of its own claimed.

    Peaks are looked for on ``land``: the residual minus its Gaussian blur at
    ``split_scale_m`` (a band-pass), on which a weak leak on the flank of a stronger one is a
    peak of its own rather than a shoulder. Only *prominent* peaks seed a part: a peak whose drop
    to the highest valley (saddle) joining it to a higher peak is at least
    ``split_prominence_c`` and a quarter of its height. Texture bumps on one warm spot are not
    prominent, so they neither split it nor bridge two real peaks.
    """
    import cv2
    from scipy import ndimage

    k = max(3, int(params.split_distance_m / px_m) | 1)
    local = np.where(sel, land, -1e9).astype(np.float32)
    peaks = (
        sel
        & (local >= cv2.dilate(local, np.ones((k, k), np.uint8)))
        & (res > params.detect_excess_c + params.split_min_peak_c)
    )
    count, markers = cv2.connectedComponents(peaks.astype(np.uint8), connectivity=8)
    if count <= 2:  # background label + one peak
        return [(sel, None)]
    height = np.array([float(land[markers == j].max()) for j in range(1, count)])
    prominence = _prominence(land, sel, markers, height)
    keep = [
        j + 1
        for j in range(count - 1)
        if prominence[j] >= max(params.split_prominence_c, 0.25 * height[j])
    ]
    if len(keep) <= 1:
        return [(sel, None)]
    seeds = np.where(np.isin(markers, keep), markers, 0).astype(np.int32)
    top, bottom = float(land[sel].max()), float(land[sel].min())
    depth = np.clip((top - land) / max(top - bottom, 1e-3) * 60000, 0, 65000).astype(np.uint16)
    depth[~sel] = 65535  # outside the blob: flooded last, then cut away
    basins = ndimage.watershed_ift(depth, seeds)
    out = []
    for j in keep:
        at = np.argwhere(markers == j)
        top_j = at[int(np.argmax(land[at[:, 0], at[:, 1]]))]
        out.append((sel & (basins == j), (int(top_j[0]), int(top_j[1]))))
    return out


def _prominence(
    res: np.ndarray, sel: np.ndarray, markers: np.ndarray, height: np.ndarray
) -> np.ndarray:
    """Topographic prominence of each marked peak within ``sel`` (deg C): lowering a level
    from the top, a peak loses its prominence at the level where its region first holds a
    higher peak."""
    import cv2

    n = len(height)
    prom = np.full(n, np.inf)
    lo, hi = float(res[sel].min()), float(height.max())
    where = [np.argwhere(markers == j + 1)[0] for j in range(n)]
    for level in np.linspace(hi, lo, 32)[1:]:
        _, comp = cv2.connectedComponents((sel & (res >= level)).astype(np.uint8), connectivity=8)
        groups: dict[int, list[int]] = {}
        for j, (r, c) in enumerate(where):
            if height[j] >= level:
                groups.setdefault(int(comp[r, c]), []).append(j)
        for members in groups.values():
            best = max(members, key=lambda j: height[j])
            for j in members:
                if j != best and not np.isfinite(prom[j]):
                    prom[j] = height[j] - level
    finite = np.isfinite(prom)
    prom[~finite & (height < height.max())] = height[~finite & (height < height.max())] - lo
    return prom


def _describe(
    sel: np.ndarray,
    y0: int,
    x0: int,
    res: np.ndarray,
    smooth: np.ndarray,
    z: np.ndarray,
    px_m: float,
    seed: tuple[int, int] | None = None,
) -> Blob:
    """Features of the blob ``sel`` (a mask of the bounding box at y0, x0), tile coordinates;
    its peak is ``seed`` (bounding-box coordinates) when given, else its warmest pixel."""
    import cv2

    bh, bw = sel.shape
    rs, cs = slice(y0, y0 + bh), slice(x0, x0 + bw)
    rr, cc = np.nonzero(sel)
    r = res[rs, cs][sel]
    if seed is None:
        k = int(np.argmax(r))
        peak_r, peak_c = int(rr[k]) + y0, int(cc[k]) + x0
    else:
        peak_r, peak_c = seed[0] + y0, seed[1] + x0
    peak_excess = float(res[peak_r, peak_c])
    # Edge sharpness: the gradient on the blob's flank (30-70 % of its peak) relative to its
    # excess. Heat from below has gentle flanks; objects on the surface have steep edges.
    pad = max(2, int(0.5 / px_m))
    er0, ec0 = max(0, y0 - pad), max(0, x0 - pad)
    er1, ec1 = min(res.shape[0], y0 + bh + pad), min(res.shape[1], x0 + bw + pad)
    grad = _gradient(res, er0, ec0, er1, ec1, px_m)
    g = grad[y0 - er0 : y0 - er0 + bh, x0 - ec0 : x0 - ec0 + bw][sel]
    flank = (r >= 0.3 * peak_excess) & (r <= 0.7 * peak_excess)
    if flank.sum() >= 5:
        steep = float(np.median(g[flank]))
    else:
        grown = np.zeros((er1 - er0, ec1 - ec0), np.uint8)
        grown[y0 - er0 : y0 - er0 + bh, x0 - ec0 : x0 - ec0 + bw] = sel
        ring = cv2.dilate(grown, np.ones((3, 3), np.uint8), iterations=pad).astype(bool)
        edge = grad[ring]
        steep = float(np.percentile(edge, 75)) if edge.size else 0.0
    length, width, orientation = _shape(rr.astype(np.float64), cc.astype(np.float64))
    return Blob(
        row=float(peak_r),  # the warmest point: where a crew would dig
        col=float(peak_c),
        area_px=int(sel.sum()),
        peak_excess_c=peak_excess,
        mean_excess_c=float(r.mean()),
        peak_c=float(smooth[peak_r, peak_c]),
        background_c=float(smooth[peak_r, peak_c] - peak_excess),
        z_peak=float(z[peak_r, peak_c]),
        length_px=length,
        width_px=width,
        orientation_rad=orientation,
        sharpness_per_m=steep / max(peak_excess, 1e-3),
        half_area_px=int((r >= 0.5 * peak_excess).sum()),
        bbox=(
            int(rr.min()) + y0,
            int(cc.min()) + x0,
            int(rr.max()) + y0 + 1,
            int(cc.max()) + x0 + 1,
        ),
    )


def _gradient(res: np.ndarray, r0: int, c0: int, r1: int, c1: int, px_m: float) -> np.ndarray:
    """Gradient magnitude (deg C per m) of ``res`` over rows r0:r1, columns c0:c1: central
    differences, computed on the box plus a pixel (so it equals the whole tile's gradient there)
    rather than over the whole tile for a few hundred blobs."""
    h, w = res.shape
    a0, b0, a1, b1 = max(0, r0 - 1), max(0, c0 - 1), min(h, r1 + 1), min(w, c1 + 1)
    box = res[a0:a1, b0:b1]
    if min(box.shape) < 2:
        return np.zeros((r1 - r0, c1 - c0), dtype=np.float32)
    gy, gx = np.gradient(box, px_m)
    return np.hypot(gx, gy)[r0 - a0 : r0 - a0 + (r1 - r0), c0 - b0 : c0 - b0 + (c1 - c0)]


def _shape(rr: np.ndarray, cc: np.ndarray) -> tuple[float, float, float]:
    """Length and width (4 sd along the principal axes, px) and orientation (rad, from east)."""
    if rr.size < 3:
        return 1.0, 1.0, 0.0
    x, y = cc - cc.mean(), -(rr - rr.mean())  # y up
    cov = np.cov(np.vstack([x, y]))
    vals, vecs = np.linalg.eigh(cov)
    major = vecs[:, 1]
    length = 4 * math.sqrt(max(vals[1], 1 / 12))
    width = 4 * math.sqrt(max(vals[0], 1 / 12))
    return length, width, math.atan2(major[1], major[0])


def naive_blobs(
    temp: np.ndarray, valid: np.ndarray, corridor: np.ndarray, threshold_c: float
) -> list[tuple[float, float, float]]:
    """The baseline: pixels warmer than the corridor's median by ``threshold_c``.

    What a global threshold on the residual inside the corridor finds, with no background model,
    no classification: (row, col, excess) per connected blob.
    """
    import cv2

    inside = valid & (corridor > 0)
    if not inside.any():
        return []
    excess = temp - float(np.median(temp[inside]))
    mask = inside & (excess > threshold_c)
    n, labels, stats, centroids = cv2.connectedComponentsWithStats(mask.astype(np.uint8), 8)
    out = []
    for i in range(1, n):
        if stats[i][4] < 2:
            continue
        sel = labels == i
        out.append((float(centroids[i][1]), float(centroids[i][0]), float(excess[sel].max())))
    return out

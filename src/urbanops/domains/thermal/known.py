"""Known warm features (manhole covers, heating-chamber lids): take their own warmth out of the
residual, so that heat from a leak beside or under them is still seen.

A cover or lid warmed by the chamber below is a surface object: its whole footprint is warmer
by about the same step, with an edge a pixel or two wide. Suppressing every candidate near a
known feature (what the operator's register is usually used for) also hides the leaks next to
the chambers, where valves and joints are: on generated scenes that was half of the missed
leaks. Instead, for each known feature:

1. its footprint is looked for in the residual near the registered position: the connected
   warm region around the warmest pixel, cut at the level (of several tried) whose region is
   best explained by the model below, and not reaching the edge of the search disc (a region
   that does is not a bounded object);
2. on a band either side of the footprint's edge the residual is modelled as
   ``step x B + quadratic(x, y)``, with ``B`` the footprint's indicator blurred as the working
   grid blurs an edge (three blurs tried), and the quadratic standing for the smooth field
   beneath (the ground, and the rounded top of a leak's spot; a plane beside a footprint too
   small for a quadratic not to take the cover itself); least squares gives the step;
3. ``step x B`` is subtracted. What a leak adds stays, with its shape and most of its peak: on
   a hand-made lid 5 deg C warm, a 3 deg C leak 1.1 m down keeps 2.1-2.6 deg C of excess beside
   or under it (2.8 on open ground), and the lid alone leaves nothing to report
   (``tests/domains/thermal/test_known.py``). A leak under a small lid near its edge is the
   hard case: its curved flank across the band is taken for part of the step.

A feature whose lid is not found (cold, or smaller than a working pixel) is left alone and
reported as such: candidates on it are suppressed as before (see ``classify``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from urbanops.domains.thermal.models import InspectParams


@dataclass
class KnownFeature:
    """A registered warm feature in tile-local working pixels."""

    row: float
    col: float
    radius_px: float  # how far from the registered position its footprint may reach
    removed: bool = False  # its lid was found and taken out of the residual
    step_c: float = 0.0
    #: Centre of the lid found in the image (tile-local working pixels): where the feature,
    #: and so its pipe, really is (see ``align``).
    lid_row: float | None = None
    lid_col: float | None = None


def remove_known(
    res: np.ndarray,
    features: list[KnownFeature],
    px_m: float,
    params: InspectParams,
    valid: np.ndarray | None = None,
) -> None:
    """Subtract each known feature's warm footprint from ``res`` (in place), and set
    ``removed``/``step_c`` on each feature."""
    for feat in features:
        _remove_one(res, feat, px_m, params, valid)


def _remove_one(
    res: np.ndarray,
    feat: KnownFeature,
    px_m: float,
    params: InspectParams,
    valid: np.ndarray | None,
) -> None:
    import cv2

    h, w = res.shape
    margin = max(3, math.ceil(params.known_margin_m / px_m))
    rad = max(2.0, feat.radius_px)
    reach = rad + margin
    r0, r1 = max(0, math.floor(feat.row - reach)), min(h, math.ceil(feat.row + reach) + 1)
    c0, c1 = max(0, math.floor(feat.col - reach)), min(w, math.ceil(feat.col + reach) + 1)
    if r1 - r0 < 5 or c1 - c0 < 5:
        return
    sub = res[r0:r1, c0:c1]
    if valid is not None and not valid[r0:r1, c0:c1].all():
        return  # at a nodata edge: the model would fit the fill, not the ground
    yy, xx = np.mgrid[r0:r1, c0:c1].astype(np.float64)
    dist = np.hypot(yy - feat.row, xx - feat.col)
    disc = dist <= rad
    near = dist <= max(1.5, params.known_seed_m / px_m)
    if not near.any():
        return
    at = np.unravel_index(int(np.argmax(np.where(near, sub, -np.inf))), sub.shape)
    top = float(sub[at])
    ring = (dist > rad) & (dist <= rad + margin)
    base = float(np.median(sub[ring])) if ring.any() else float(np.median(sub))
    if top - base < params.known_min_step_c:
        return
    sigma = max(0.5, params.smooth_sigma_m / px_m)
    band_px = params.known_margin_m / px_m
    # The level whose footprint the model fits best (with a middling edge blur), then the blur
    # that fits that footprint best (the exact blur is not known).
    fits: list[tuple[float, np.ndarray, np.ndarray, np.ndarray]] = []  # rms, comp, band, smooth
    seen: set[bytes] = set()
    for frac in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        level = base + frac * (top - base)
        warm = ((sub >= level) & disc).astype(np.uint8)
        _n, labels = cv2.connectedComponents(warm, connectivity=8)
        lab = labels[at]
        if lab == 0:
            continue
        comp = labels == lab
        if (comp & (dist > rad - 1.0)).any():
            continue  # reaches the edge of the search disc: not a bounded object
        key = np.packbits(comp).tobytes()
        if key in seen:  # a lid's sharp edge gives the same footprint at several levels
            continue
        seen.add(key)
        # Fit on a band either side of the footprint's edge, where the step is seen: beneath
        # it the ground (and the rounded top of a leak's spot) is nearly quadratic across a
        # band this narrow.
        inside = cv2.distanceTransform(comp.astype(np.uint8), cv2.DIST_L2, 3)
        outside = cv2.distanceTransform((~comp).astype(np.uint8), cv2.DIST_L2, 3)
        band = (inside <= band_px) & (outside <= band_px)
        xs, ys = (xx[band] - feat.col) * px_m, (yy[band] - feat.row) * px_m
        # A quadratic for the ground beneath a large footprint; beside a small one (a manhole
        # cover) a quadratic over so small a patch would take the cover itself: a plane.
        terms = [np.ones_like(xs), xs, ys]
        if comp.sum() >= math.pi * band_px**2:
            terms += [xs * xs, xs * ys, ys * ys]
        smooth = np.column_stack(terms)
        rms, _step, _b = _fit(sub, comp, band, smooth, 1.5 * sigma)
        fits.append((rms, comp, band, smooth))
    best: tuple[float, float, np.ndarray] | None = None  # (rms, step, blurred footprint)
    if fits:
        _rms, comp, band, smooth = min(fits, key=lambda f: f[0])
        best = min(
            (_fit(sub, comp, band, smooth, blur) for blur in (sigma, 1.5 * sigma, 2.0 * sigma)),
            key=lambda f: f[0],
        )
    if best is None or best[1] < params.known_min_step_c:
        return
    _sse, step, blurred = best
    sub -= np.float32(step) * blurred
    feat.removed, feat.step_c = True, step
    rows, cols = np.nonzero(comp)
    feat.lid_row, feat.lid_col = r0 + float(rows.mean()), c0 + float(cols.mean())


def _fit(
    sub: np.ndarray, comp: np.ndarray, band: np.ndarray, smooth: np.ndarray, blur: float
) -> tuple[float, float, np.ndarray]:
    """Least squares of ``step x blurred footprint + smooth terms`` on the band: (rms, step,
    blurred footprint)."""
    import cv2

    blurred = cv2.GaussianBlur(comp.astype(np.float32), (0, 0), blur)
    design = np.column_stack([blurred[band].astype(np.float64), smooth])
    target = sub[band].astype(np.float64)
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    rms = float(np.sqrt(np.mean((design @ coef - target) ** 2)))
    return rms, float(coef[0]), blurred

"""Turn candidate blobs into findings: which kind, how sure, how urgent.

Transparent rules on physically meaningful features rather than a trained model (no labelled
survey data is public). What separates a leak from the rest:

- **Depth**: heat from a source ``d`` metres down spreads before it reaches the surface; its
  steepest surface gradient is about ``0.86 x excess / d`` (for the point-source profile), i.e.
  under 1.1 per metre for ``d >= 0.8 m``. Cars, manhole covers, lamps and roofs sit on the surface
  and have edges a pixel or two wide: many times steeper. Blobs steeper than
  ``sharp_per_m`` are ``other``.
- **Shape and direction**: a warm strip at least ``insulation_min_length_m`` long, several times
  longer than wide and running along the pipe is failing insulation; a compact or short blob is a
  leak candidate.
- **Place**: the closer to the pipe's axis, the likelier; known warm features (heating chambers,
  manholes from the operator's register) suppress what lies on them.
- **Size and heat**: heat from ``d`` metres down makes a spot whose part at least half as warm
  as its peak covers about ``1.84 d^2`` (the point-source profile ``(1 + r^2/d^2)^-1.5``);
  manhole covers, lamps and texture grains are smaller. Warmer spots score higher; hotter than
  20 deg C above the ground or larger than 80 m2 is not a pipe (engines, lamps, building heat).

The score in [0, 1] multiplies a logistic of the excess temperature (0.5 at ``excess_mid_c``),
the diffuseness of the edges, the nearness to the axis (on the scale of the network's position
error, or of 0.75 m from a line corrected by the lids found on it, see ``align``) and the
half-warm area relative to ``1.84 d^2`` (0.5 at ``size_mid``). The constants were chosen on
generated scenes of the TUNING ranges (seeds 50-249), never on the held-out ones.
Severity ranks by excess and size.
"""

from __future__ import annotations

import math

from urbanops.domains.thermal.detect import Blob
from urbanops.domains.thermal.models import InspectParams


def _logistic(x: float, mid: float, scale: float) -> float:
    return 1.0 / (1.0 + math.exp(-(x - mid) / scale))


def classify(
    blob: Blob,
    *,
    px_m: float,
    distance_m: float | None,
    depth_m: float,
    alignment_deg: float | None,
    known: str,
    params: InspectParams,
    axis_scale_m: float | None = None,
) -> tuple[str, float, str, list[str]]:
    """(kind, score, severity, reasons) of one blob.

    ``axis_scale_m`` is how fast the nearness term falls off with ``distance_m``: by default
    the map's position error + 0.5 m; less for a pipe whose line lids in the image corrected.
    """
    reasons: list[str] = []
    area_m2 = blob.area_px * px_m * px_m
    length_m, width_m = blob.length_px * px_m, max(blob.width_px * px_m, px_m)
    elongation = length_m / width_m
    excess = blob.peak_excess_c
    diffuse = max(0.0, 1.0 - blob.sharpness_per_m / params.sharp_per_m)
    axis_scale = params.position_error_m + 0.5 if axis_scale_m is None else axis_scale_m
    near_axis = 1.0 if distance_m is None else math.exp(-((distance_m / axis_scale) ** 2))
    # Heat from depth d spreads: the part of a leak's spot at least half as warm as its peak
    # covers about 1.84 d^2 (the point-source profile); a manhole cover or a lamp is smaller.
    half_area_m2 = blob.half_area_px * px_m * px_m
    size = _logistic(half_area_m2 / (1.84 * max(depth_m, 0.3) ** 2), params.size_mid, 0.08)
    score = (
        _logistic(excess, params.excess_mid_c, 0.15)
        * (0.35 + 0.65 * diffuse)
        * (0.3 + 0.7 * near_axis)
        * (0.3 + 0.7 * size)
    )
    kind = "leak"
    if known == "on":  # a registered feature whose lid the image does not show clearly
        if half_area_m2 <= params.known_max_area_m2:
            kind = "other"
            reasons.append("on a known warm feature")
        else:  # larger than the feature itself: heat around a chamber is worth a look
            score *= 0.8
            reasons.append("around a known warm feature")
    elif known == "beside":
        reasons.append("beside a known warm feature (its own warmth taken out)")
    if blob.sharpness_per_m > params.sharp_per_m:
        kind = "other"
        reasons.append(f"sharp edges ({blob.sharpness_per_m:.1f}/m): an object on the surface")
    if excess > 20:
        kind = "other"
        reasons.append(f"{excess:.0f} deg C above the ground: too hot for buried water")
    if blob.width_px * px_m < params.min_width_m:
        kind = "other"
        reasons.append(f"a line {blob.width_px * px_m:.2f} m wide (an edge or kerb)")
    if area_m2 > 80:
        kind = "other"
        reasons.append(f"{area_m2:.0f} m2: larger than a leak's footprint")
    if (
        kind == "leak"
        and length_m >= params.insulation_min_length_m
        and elongation >= params.insulation_min_elongation
        and alignment_deg is not None
        and alignment_deg <= 25
    ):
        kind = "insulation"
        reasons.append(f"warm strip {length_m:.0f} m along the pipe")
    if kind == "other":
        score *= 0.3
    elif kind == "leak":
        reasons.append(f"diffuse warm spot {excess:.1f} deg C above its surroundings")
    severity = _severity(kind, excess, area_m2, length_m)
    return kind, min(1.0, max(0.0, score)), severity, reasons


def _severity(kind: str, excess: float, area_m2: float, length_m: float) -> str:
    if kind == "leak":
        if excess >= 5 or area_m2 >= 15:
            return "critical"
        if excess >= 3:
            return "high"
        return "medium" if excess >= 1.5 else "low"
    if kind == "insulation":
        if excess >= 2 or length_m >= 25:
            return "high"
        return "medium" if excess >= 1 else "low"
    return "low"


def alignment(orientation_rad: float, pipe_dir_rad: float) -> float:
    """Angle in degrees (0-90) between a blob's axis and the pipe's direction."""
    d = abs(math.degrees(orientation_rad - pipe_dir_rad)) % 180
    return min(d, 180 - d)

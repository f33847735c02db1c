"""What a thermal inspection takes and gives: parameters, pipes, findings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from shapely.geometry.base import BaseGeometry

KINDS = ("leak", "insulation", "other")
SEVERITIES = ("low", "medium", "high", "critical")


@dataclass(frozen=True)
class InspectParams:
    """Detector settings; the defaults suit winter-night surveys at 0.05-0.3 m per pixel.

    Corridor half-width around a pipe = max(``corridor_min_half_width_m``,
    ``corridor_depth_factor`` x depth + diameter / 2) + ``position_error_m`` (the network map is
    rarely better than a metre).
    """

    corridor_min_half_width_m: float = 1.5
    corridor_depth_factor: float = 1.5
    position_error_m: float = 1.0
    default_depth_m: float = 1.2
    default_diameter_m: float = 0.3
    #: Background element: a rectangle this long and wide, at this many orientations, on a grid
    #: of about ``background_px_m`` (see ``detect.background``).
    background_length_m: float = 24.0
    background_width_m: float = 5.0
    background_angles: int = 4
    background_px_m: float = 0.6
    cold_feature_m: float = 4.0
    smooth_sigma_m: float = 0.12
    min_spread_c: float = 0.12
    detect_excess_c: float = 0.5
    detect_z: float = 2.5
    min_area_m2: float = 0.25
    #: A blob with warm peaks this far apart, each this much above the detection level and
    #: prominent (see ``detect._split``), is split.
    split_distance_m: float = 2.0
    split_min_peak_c: float = 0.8
    split_prominence_c: float = 0.5
    #: Peaks are looked for on the residual minus its Gaussian blur at this scale (0: on the
    #: residual itself), so a weak leak on the flank of a stronger one shows as a peak.
    split_scale_m: float = 1.5
    #: Blobs thinner than this are lines (edges, cables, kerbs), not heat from below.
    min_width_m: float = 0.4
    #: Findings (places a crew should visit) need at least this score; the rest are candidates.
    finding_score: float = 0.4
    #: The score's excess term is 0.5 at this many deg C above the background.
    excess_mid_c: float = 1.7
    #: The score's size term is 0.5 when the half-warm area is this fraction of 1.84 depth^2.
    size_mid: float = 0.25
    #: Blobs steeper than this (1/m: steepest gradient / excess) sit on the surface.
    sharp_per_m: float = 1.4
    #: A warm strip at least this long and this many times longer than wide is an insulation fault.
    insulation_min_length_m: float = 5.0
    insulation_min_elongation: float = 3.0
    #: A registered warm feature's lid is looked for within this distance of its position
    #: (polygons: of their centre, at least as far as their outline reaches), its warmest
    #: pixel within ``known_seed_m``; it is taken out of the residual when its step is at least
    #: ``known_min_step_c``, modelled over ``known_margin_m`` around it (see ``known``).
    known_search_m: float = 3.0
    known_seed_m: float = 0.8
    known_min_step_c: float = 0.5
    known_margin_m: float = 0.6
    #: A lid found in the image this close to a mapped pipe (and not this close to another)
    #: marks where that pipe really runs; see ``align``.
    align_reach_m: float = 1.5
    #: The score's nearness term falls off over this many metres from a pipe whose line rests
    #: on lids found in the image (``position_error_m`` + 0.5 from a line as mapped).
    aligned_axis_m: float = 0.75
    #: Known warm features whose lid is not found in the image suppress candidates this close.
    known_radius_m: float = 1.5
    #: ... unless their half-warm area is larger than this (warm ground around a chamber is
    #: still reported).
    known_max_area_m2: float = 12.0
    #: Mosaics finer than this are averaged to it (by a whole factor) before detection: leaks
    #: span metres, and a 0.1 m mosaic is 4 times the pixels of a 0.2 m one.
    work_px_m: float = 0.2
    tile_px: int = 5120
    #: Longest side of the report's overview map, in pixels.
    overview_px: int = 1400

    def corridor_half_width_m(self, depth_m: float | None, diameter_m: float | None) -> float:
        depth = self.default_depth_m if depth_m is None else depth_m
        diameter = self.default_diameter_m if diameter_m is None else diameter_m
        core = max(
            self.corridor_min_half_width_m, self.corridor_depth_factor * depth + diameter / 2
        )
        return core + self.position_error_m


@dataclass
class Pipe:
    """A pipe of the network, its geometry in the work CRS (metres)."""

    id: str
    line: BaseGeometry
    depth_m: float | None = None
    diameter_m: float | None = None
    #: Lids found on it that corrected its mapped line (see ``align``); 0: the line as mapped.
    lids: int = 0


@dataclass
class Crop:
    """A thermal picture around a blob, cut while its tile was in memory (the report draws it
    without reading the mosaic again): temperatures quantised to 0-254 between ``lo_c`` and
    ``hi_c`` (255: nodata), source pixels from ``row0``, ``col0`` every ``step`` pixels. The
    source is the mosaic, or a drone frame: then ``to_source`` maps mosaic pixel positions
    (col, row) to the frame's (a 3x3 homography) and ``source`` names the frame."""

    data: np.ndarray  # uint8
    lo_c: float
    hi_c: float
    row0: int
    col0: int
    step: int
    to_source: np.ndarray | None = None
    source: str | None = None

    @classmethod
    def cut(
        cls,
        temp: np.ndarray,
        bbox: tuple[int, int, int, int],
        origin: tuple[int, int],
        pad_px: int,
        max_px: int = 200,
    ) -> Crop:
        """The crop of ``bbox`` (global mosaic pixels) plus ``pad_px`` from ``temp``, whose
        first pixel is ``origin``; decimated to at most ``max_px`` on its longer side."""
        r0 = max(0, bbox[0] - origin[0] - pad_px)
        c0 = max(0, bbox[1] - origin[1] - pad_px)
        r1 = min(temp.shape[0], bbox[2] - origin[0] + pad_px)
        c1 = min(temp.shape[1], bbox[3] - origin[1] + pad_px)
        step = max(1, -(-max(r1 - r0, c1 - c0, 1) // max_px))
        part = temp[r0:r1:step, c0:c1:step]
        finite = np.isfinite(part)
        lo, hi = (float(part[finite].min()), float(part[finite].max())) if finite.any() else (0, 1)
        scaled = (np.where(finite, part, lo) - lo) * (254.0 / max(hi - lo, 1e-6))
        data = np.clip(np.rint(scaled), 0, 254).astype(np.uint8)
        data[~finite] = 255
        return cls(data, lo, hi, r0 + origin[0], c0 + origin[1], step)


@dataclass
class Finding:
    """A place to visit (or a low-confidence candidate), with what describes it."""

    id: str
    kind: str
    score: float
    severity: str
    delta_t_c: float
    mean_excess_c: float
    peak_c: float
    background_c: float
    area_m2: float
    length_m: float
    width_m: float
    pipe_id: str | None
    distance_to_pipe_m: float | None
    alignment_deg: float | None
    sharpness_per_m: float
    half_area_m2: float  # the part at least half as warm as the peak (the spot, not its halo)
    lon: float
    lat: float
    x: float  # work CRS
    y: float
    bbox: tuple[int, int, int, int]  # mosaic pixel rows/cols
    reasons: list[str] = field(default_factory=list)
    crop: Crop | None = None
    #: Drone frames that saw the spot (inspection from frames), the best (nearest its centre)
    #: first.
    frames: list[str] = field(default_factory=list)

    def properties(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "score": round(self.score, 3),
            "severity": self.severity,
            "delta_t_c": round(self.delta_t_c, 2),
            "peak_c": round(self.peak_c, 2),
            "area_m2": round(self.area_m2, 2),
            "pipe_id": self.pipe_id,
            "distance_to_pipe_m": None
            if self.distance_to_pipe_m is None
            else round(self.distance_to_pipe_m, 2),
            "mean_excess_c": round(self.mean_excess_c, 2),
            "background_c": round(self.background_c, 2),
            "length_m": round(self.length_m, 2),
            "width_m": round(self.width_m, 2),
            "alignment_deg": None if self.alignment_deg is None else round(self.alignment_deg, 1),
            "sharpness_per_m": round(self.sharpness_per_m, 2),
            "half_area_m2": round(self.half_area_m2, 2),
            "reasons": "; ".join(self.reasons),
            "frames": ";".join(self.frames),
            "best_frame": self.frames[0] if self.frames else None,
        }

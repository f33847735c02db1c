"""A generated survey flight: the frames a drone would take over a generated scene.

A lawn-mower pattern at a fixed height over :mod:`synthetic`'s scene (pixels from the scene by
bilinear interpolation along each pixel's viewing ray, see :mod:`georef`), as radiometric JPEGs
in FLIR's format with DJI's flight metadata (:mod:`radiometric.writer`). Each frame gets the
camera's drift between shutter calibrations (a per-frame offset, sd ``drift_sd_c``) and fresh
sensor noise; the recorded position and heading carry GPS and attitude errors. The pipes, known
features and ground truth are written beside the frames, in the scene's CRS.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from pyproj import Transformer

from urbanops.domains.thermal import synthetic
from urbanops.domains.thermal.georef import Pose, ground_offsets
from urbanops.domains.thermal.radiometric.writer import Shot, frame_bytes

FRAME_W, FRAME_H = 640, 512
#: Zenmuse XT2 with the 19 mm lens: 17 um pixels.
HFOV_DEG = math.degrees(2 * math.atan(FRAME_W * 0.017 / (2 * 19.0)))


@dataclass(frozen=True)
class FlightPlan:
    altitude_m: float = 40.0
    overlap: float = 0.7  # along the flight line
    sidelap: float = 0.6  # between lines
    drift_sd_c: float = 0.2
    noise_c: float = 0.06
    gps_error_m: float = 0.0
    yaw_error_deg: float = 0.0


def _footprint_m(altitude_m: float) -> tuple[float, float]:
    w = 2 * altitude_m * math.tan(math.radians(HFOV_DEG) / 2)
    return w, w * FRAME_H / FRAME_W


def write_flight(
    scene: synthetic.Scene, out_dir: Path, plan: FlightPlan | None = None, seed: int = 0
) -> dict[str, Any]:
    """Write ``frames/`` and the scene's ``pipes.geojson``, ``known.geojson``, ``truth.json``."""
    import cv2

    plan = plan or FlightPlan()
    rng = np.random.default_rng(seed)
    paths = synthetic.write_scene(scene, out_dir)
    paths["mosaic"].unlink()  # the frames are the survey; the true mosaic stays in memory
    frames_dir = out_dir / "frames"
    frames_dir.mkdir(parents=True, exist_ok=True)
    to_lonlat = Transformer.from_crs(synthetic.CRS, "EPSG:4326", always_xy=True)
    fw, fh = _footprint_m(plan.altitude_m)
    step_along, step_across = fh * (1 - plan.overlap), fw * (1 - plan.sidelap)
    x_lines = np.arange(fw / 2 - step_across, scene.width_m - fw / 2 + 2 * step_across, step_across)
    ys = np.arange(fh / 2 - step_along, scene.height_m - fh / 2 + 2 * step_along, step_along)
    temp = np.nan_to_num(scene.temp_c, nan=float(np.nanmedian(scene.temp_c)))
    rows, cols = np.mgrid[0:FRAME_H, 0:FRAME_W]
    start = datetime(2026, 1, 15, 2, 0, 0)
    n = 0
    for k, x in enumerate(x_lines):
        line = ys if k % 2 == 0 else ys[::-1]
        yaw = 0.0 if k % 2 == 0 else 180.0
        for y in line:
            pose = Pose(0, 0, plan.altitude_m, yaw, -90.0, 0.0, HFOV_DEG, FRAME_W, FRAME_H)
            de, dn = ground_offsets(pose, rows.ravel() + 0.5, cols.ravel() + 0.5)
            map_x = ((x + de) / scene.gsd_m - 0.5).reshape(FRAME_H, FRAME_W).astype(np.float32)
            map_y = ((scene.height_m - (y + dn)) / scene.gsd_m - 0.5).reshape(FRAME_H, FRAME_W)
            img = cv2.remap(
                temp,
                map_x,
                map_y.astype(np.float32),
                cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REFLECT,
            )
            img = img + rng.normal(0, plan.drift_sd_c) + rng.normal(0, plan.noise_c, img.shape)
            gx = x + rng.normal(0, plan.gps_error_m)
            gy = y + rng.normal(0, plan.gps_error_m)
            lon, lat = to_lonlat.transform(synthetic.ORIGIN_XY[0] + gx, synthetic.ORIGIN_XY[1] + gy)
            shot = Shot(
                lat=float(lat),
                lon=float(lon),
                relative_altitude_m=plan.altitude_m,
                yaw_deg=yaw + rng.normal(0, plan.yaw_error_deg),
                time=start + timedelta(seconds=2 * n),
            )
            (frames_dir / f"DJI_{n:04d}_T.jpg").write_bytes(
                frame_bytes(img.astype(np.float32), shot)
            )
            n += 1
    info = {"frames": n, "altitude_m": plan.altitude_m, "footprint_m": [fw, fh]}
    (out_dir / "flight.json").write_text(json.dumps(info))
    return {**paths, "frames": frames_dir, "count": n}

"""Direct georeferencing of a frame: where on the ground each image corner (or pixel) falls.

From the frame's GPS position, its height above the take-off point (taken as the height above
flat ground), the gimbal's yaw, pitch and roll, and the camera's field of view, each pixel's
viewing ray is intersected with the ground plane. This is what a frame can tell by itself; it
ignores terrain relief, lens distortion and the GPS and gimbal errors (a few metres of GPS
error, and 1 degree of attitude at 60 m is 1 m on the ground), so footprints are good to a few
metres. Photogrammetry (OpenDroneMap, Pix4D) matches the frames to each other and is the
precise path: give its orthomosaic to ``urbanops thermal inspect`` instead.

Conventions: east-north-up metres around the camera; yaw clockwise from north, pitch from the
horizon (-90 is straight down), roll clockwise seen from behind the camera. Image rows grow
downwards, columns rightwards; with the camera pointing down and yaw 0, the top of the image
faces north.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from pyproj import CRS

from urbanops.domains.thermal.radiometric.frame import Frame

#: Frames tilted further than this from straight down are oblique: not georeferenced.
MAX_TILT_DEG = 20.0


class NotGeoreferenced(ValueError):
    """Why a decoded frame has no footprint (the message is for the operator)."""


@dataclass(frozen=True)
class Pose:
    lon: float
    lat: float
    height_m: float
    yaw_deg: float
    pitch_deg: float
    roll_deg: float
    hfov_deg: float
    width_px: int
    height_px: int

    @property
    def vfov_deg(self) -> float:
        half = math.tan(math.radians(self.hfov_deg) / 2) * self.height_px / self.width_px
        return math.degrees(2 * math.atan(half))

    @property
    def gsd_m(self) -> float:
        """Ground sample distance at the image centre, straight down (m per pixel)."""
        return 2 * self.height_m * math.tan(math.radians(self.hfov_deg) / 2) / self.width_px


def pose(frame: Frame, max_tilt_deg: float = MAX_TILT_DEG) -> Pose:
    """The frame's pose, or NotGeoreferenced saying what is missing."""
    m = frame.meta
    if m.lat is None or m.lon is None:
        raise NotGeoreferenced("no GPS position in the file")
    if m.relative_altitude_m is None:
        raise NotGeoreferenced("no height above the take-off point (DJI RelativeAltitude)")
    if m.relative_altitude_m < 2:
        raise NotGeoreferenced(
            f"{m.relative_altitude_m:.1f} m above the take-off point: taken from the ground"
        )
    if m.gimbal_pitch_deg is None:
        raise NotGeoreferenced("no gimbal pitch in the file")
    tilt = abs(m.gimbal_pitch_deg + 90)
    if tilt > max_tilt_deg:
        raise NotGeoreferenced(
            f"oblique: gimbal pitch {m.gimbal_pitch_deg:.1f} deg, {tilt:.0f} deg from straight "
            f"down (at most {max_tilt_deg:.0f})"
        )
    if frame.fov_deg is None:
        raise NotGeoreferenced(
            f"field of view of the {frame.camera.name} unknown (not in the camera table, and "
            "the file does not say)"
        )
    yaw = m.gimbal_yaw_deg if m.gimbal_yaw_deg is not None else m.flight_yaw_deg
    if yaw is None:
        raise NotGeoreferenced("no gimbal or aircraft heading in the file")
    h, w = frame.temp_c.shape
    return Pose(
        lon=m.lon,
        lat=m.lat,
        height_m=m.relative_altitude_m,
        yaw_deg=yaw,
        pitch_deg=m.gimbal_pitch_deg,
        roll_deg=m.gimbal_roll_deg or 0.0,
        hfov_deg=frame.fov_deg,
        width_px=w,
        height_px=h,
    )


def _axes(p: Pose) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Forward, right and down (image) unit vectors of the camera in east-north-up."""
    th, ph, ps = (math.radians(v) for v in (p.pitch_deg, p.roll_deg, p.yaw_deg))
    fwd = np.array([0.0, math.cos(th), math.sin(th)])
    right = np.array([1.0, 0.0, 0.0])
    down = np.array([0.0, math.sin(th), -math.cos(th)])
    # Roll turns right and down about the forward axis.
    right, down = (
        math.cos(ph) * right + math.sin(ph) * down,
        -math.sin(ph) * right + math.cos(ph) * down,
    )
    rot = np.array([[math.cos(ps), math.sin(ps), 0], [-math.sin(ps), math.cos(ps), 0], [0, 0, 1]])
    return rot @ fwd, rot @ right, rot @ down


def ground_offsets(p: Pose, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """East and north offsets (m) from the camera of pixel positions (row, col; pixel centres
    at +0.5) on flat ground ``height_m`` below it."""
    fwd, right, down = _axes(p)
    tx = math.tan(math.radians(p.hfov_deg) / 2)
    ty = math.tan(math.radians(p.vfov_deg) / 2)
    u = (np.asarray(cols, dtype=np.float64) / p.width_px) * 2 - 1
    v = (np.asarray(rows, dtype=np.float64) / p.height_px) * 2 - 1
    d = fwd[:, None] + (u * tx)[None, :] * right[:, None] + (v * ty)[None, :] * down[:, None]
    if (d[2] >= -1e-6).any():
        raise NotGeoreferenced("part of the view is above the horizon")
    t = p.height_m / -d[2]
    return t * d[0], t * d[1]


def local_crs(lon: float, lat: float) -> CRS:
    """The UTM zone of a point (metres)."""
    zone = int((lon + 180) // 6) + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


#: WGS 84 semi-major axis (m) and first eccentricity squared.
_A, _E2 = 6_378_137.0, 6.69437999014e-3


def enu_to_lonlat(
    lon0: float, lat0: float, de: np.ndarray, dn: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Longitude and latitude of points ``de`` metres east and ``dn`` north of (lon0, lat0),
    true north: the ellipsoid's radii of curvature at the origin (meridian ``M``, prime vertical
    ``N``). Within a few hundred metres the error is millimetres (second order in the offset
    over the Earth's radius), and unlike a UTM grid there is no grid convergence."""
    phi = math.radians(lat0)
    w = 1 - _E2 * math.sin(phi) ** 2
    m = _A * (1 - _E2) / w**1.5
    n = _A / math.sqrt(w)
    lats = lat0 + np.degrees(np.asarray(dn, dtype=np.float64) / m)
    lons = lon0 + np.degrees(np.asarray(de, dtype=np.float64) / (n * math.cos(phi)))
    return lons, lats


def ground_lonlat(p: Pose, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Longitude and latitude of pixel positions on the ground."""
    de, dn = ground_offsets(p, rows, cols)
    return enu_to_lonlat(p.lon, p.lat, de, dn)


CORNER_ROWS = np.array([0, 0, 1, 1, 0], dtype=np.float64)
CORNER_COLS = np.array([0, 1, 1, 0, 0], dtype=np.float64)


def footprint_lonlat(p: Pose) -> list[tuple[float, float]]:
    """The frame's four corners on the ground, closed ring, lon/lat (EPSG:4326)."""
    lons, lats = ground_lonlat(p, CORNER_ROWS * p.height_px, CORNER_COLS * p.width_px)
    return [(round(float(a), 8), round(float(b), 8)) for a, b in zip(lons, lats, strict=True)]

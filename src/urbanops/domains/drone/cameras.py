"""Survey cameras: image size and field of view, from a bundled table or a custom JSON file.

The footprint of a nadir image taken ``h`` metres above flat ground is
``2 h tan(HFOV / 2)`` across and ``2 h tan(VFOV / 2)`` along the track, and the ground sampling
distance (GSD, metres per pixel) is the footprint width over the image width. The field of
view comes from the pixel pitch and focal length (``2 atan(n p / 2 f)``), or from a published
diagonal or horizontal field of view with square pixels (the vertical one then follows from the
aspect ratio).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from urbanops.errors import ValidationError


class CameraError(ValidationError):
    """An unknown camera or a camera description that cannot be used."""


@dataclass(frozen=True)
class Camera:
    """A nadir survey camera.

    Attributes
    ----------
    key
        The short name it is asked for by (``"H20T"``).
    width_px, height_px
        Image size; the long side is flown across the track (widest swath).
    hfov_deg, vfov_deg
        Horizontal (across, ``width_px``) and vertical (along, ``height_px``) field of view.
    min_interval_s
        Shortest time between two stills: caps the ground speed for a trigger distance.
    """

    key: str
    name: str
    width_px: int
    height_px: int
    hfov_deg: float
    vfov_deg: float
    min_interval_s: float = 2.0

    def footprint_m(self, altitude_m: float) -> tuple[float, float]:
        """Ground footprint (across, along the track) of one image from ``altitude_m``."""
        across = 2 * altitude_m * math.tan(math.radians(self.hfov_deg) / 2)
        along = 2 * altitude_m * math.tan(math.radians(self.vfov_deg) / 2)
        return across, along

    def gsd_m(self, altitude_m: float) -> float:
        """Ground sampling distance (metres per pixel) from ``altitude_m``."""
        return self.footprint_m(altitude_m)[0] / self.width_px

    def altitude_for_gsd_m(self, gsd_m: float) -> float:
        """The height above ground at which one pixel covers ``gsd_m``."""
        return gsd_m * self.width_px / (2 * math.tan(math.radians(self.hfov_deg) / 2))


def _positive(spec: dict[str, Any], name: str, key: str, *, upper: float = 1e6) -> float | None:
    v = spec.get(name)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or not (0 < v < upper):
        raise CameraError(f"camera {key!r}: {name} must be a number in (0, {upper:g}), got {v!r}")
    return float(v)


def camera_from_spec(key: str, spec: dict[str, Any]) -> Camera:
    """A :class:`Camera` from a table entry (see ``data/cameras.json`` for the fields)."""
    if not isinstance(spec, dict):
        raise CameraError(f"camera {key!r}: expected an object with width_px, height_px, ...")
    w = _positive(spec, "width_px", key, upper=100_000)
    h = _positive(spec, "height_px", key, upper=100_000)
    if w is None or h is None or w != int(w) or h != int(h):
        raise CameraError(f"camera {key!r}: width_px and height_px (whole pixels) are required")
    pitch = _positive(spec, "pixel_pitch_um", key, upper=1000)
    focal = _positive(spec, "focal_length_mm", key, upper=10_000)
    sensor_w = _positive(spec, "sensor_width_mm", key, upper=1000)
    sensor_h = _positive(spec, "sensor_height_mm", key, upper=1000)
    hfov = _positive(spec, "hfov_deg", key, upper=180)
    vfov = _positive(spec, "vfov_deg", key, upper=180)
    dfov = _positive(spec, "dfov_deg", key, upper=180)
    interval = _positive(spec, "min_interval_s", key, upper=3600) or 2.0
    if sensor_w is None and pitch is not None:
        sensor_w, sensor_h = w * pitch / 1000, h * pitch / 1000
    if hfov is None and focal is not None and sensor_w is not None:
        hfov = math.degrees(2 * math.atan(sensor_w / (2 * focal)))
        if vfov is None and sensor_h is not None:
            vfov = math.degrees(2 * math.atan(sensor_h / (2 * focal)))
    if hfov is None and dfov is not None:
        t = math.tan(math.radians(dfov) / 2) / math.hypot(w, h)
        hfov = math.degrees(2 * math.atan(t * w))
        vfov = math.degrees(2 * math.atan(t * h))
    if hfov is None:
        raise CameraError(
            f"camera {key!r}: give a field of view (hfov_deg or dfov_deg), or the focal length "
            "with the pixel pitch or sensor width"
        )
    if vfov is None:  # square pixels
        vfov = math.degrees(2 * math.atan(math.tan(math.radians(hfov) / 2) * h / w))
    return Camera(
        key=key,
        name=str(spec.get("name") or key),
        width_px=int(w),
        height_px=int(h),
        hfov_deg=hfov,
        vfov_deg=vfov,
        min_interval_s=interval,
    )


def builtin_cameras() -> dict[str, Camera]:
    """The bundled thermal payloads by short name (``H20T``, ``XT2``, ``TZ20``...)."""
    text = resources.files("urbanops.domains.drone").joinpath("data/cameras.json").read_text()
    table = json.loads(text)["cameras"]
    return {k: camera_from_spec(k, v) for k, v in table.items()}


def get_camera(name_or_path: str) -> Camera:
    """A bundled camera by name (case-insensitive), or a custom one from a JSON file.

    The JSON file holds one object with ``width_px``, ``height_px`` and a field of view or
    the focal length with the pixel pitch (the fields of ``data/cameras.json``).

    Examples
    --------
    >>> cam = get_camera("H20T")
    >>> round(cam.altitude_for_gsd_m(0.10), 1)
    112.5
    """
    table = builtin_cameras()
    key = name_or_path.strip().upper()
    if key in table:
        return table[key]
    path = Path(name_or_path)
    if path.suffix.lower() == ".json" and path.is_file():
        if path.stat().st_size > 64_000:
            raise CameraError(f"{path.name}: a camera file is a few hundred bytes, this is larger")
        try:
            spec = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CameraError(f"{path.name}: not valid JSON ({exc})") from None
        return camera_from_spec(path.stem, spec)
    raise CameraError(
        f"unknown camera {name_or_path!r}: use one of {', '.join(sorted(table))} "
        "or the path of a camera JSON file"
    )

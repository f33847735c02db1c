"""One radiometric frame: read, recognise the camera, decode to deg C with the right distance.

Decoded here: FLIR radiometric JPEG (FLIR's handheld cameras and DJI's FLIR-core Zenmuse XT2
and XTR), to the reference values of FLIR's own formula. Recognised and refused: DJI's own
R-JPEG (H20T, H20N, H30T, M30T, M3T, M3TD, M4T, XT S, M2EA): its raw-to-temperature calibration
(per-frame coefficients in APP4, a curve in APP5, different again in the newer cameras) is not
publicly described, and no decoder here matches DJI's Thermal SDK; such a frame is never decoded
approximately.

Measurement parameters: emissivity, reflected temperature and humidity from the file unless
overridden; the camera-to-ground distance from, in order, the override, the laser range
finder's reading, the height above the take-off point, and the file's own setting (or the
file's setting alone with ``distance_from="file"``, as the makers' tools do).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from urbanops.domains.thermal.radiometric import flir
from urbanops.domains.thermal.radiometric.cameras import Camera, camera_for
from urbanops.domains.thermal.radiometric.jpeg import RadiometricError, segments
from urbanops.domains.thermal.radiometric.metadata import FrameMeta, read_meta

#: Frames larger than this are refused before they are read (a thermal JPEG is a few MB).
MAX_FRAME_BYTES = 40 * 2**20


@dataclass
class Overrides:
    """Per-survey measurement settings (None: from the frame)."""

    emissivity: float | None = None
    distance_m: float | None = None
    reflected_c: float | None = None
    humidity: float | None = None  # 0-1
    #: "flight": laser range finder, else height above take-off, else the file's setting;
    #: "file": the distance set in the camera (what the maker's tools use by default).
    distance_from: str = "flight"

    def check(self) -> None:
        if self.distance_from not in ("flight", "file"):
            raise RadiometricError("distance_from must be 'flight' or 'file'")
        if self.emissivity is not None and not 0.1 <= self.emissivity <= 1.0:
            raise RadiometricError("emissivity must be between 0.1 and 1.0")
        if self.distance_m is not None and not 0.0 <= self.distance_m <= 5000:
            raise RadiometricError("distance must be between 0 and 5000 m")
        if self.reflected_c is not None and not -60 <= self.reflected_c <= 500:
            raise RadiometricError("reflected temperature must be between -60 and 500 deg C")
        if self.humidity is not None and not 0.0 <= self.humidity <= 1.0:
            raise RadiometricError("humidity must be between 0 and 1")


@dataclass
class Frame:
    """A decoded frame and how it was measured."""

    path: Path
    camera: Camera
    meta: FrameMeta
    temp_c: np.ndarray  # float32, rows x cols
    emissivity: float
    distance_m: float
    distance_source: str  # "override", "laser", "relative altitude", "file"
    reflected_c: float
    humidity: float
    fov_deg: float | None  # horizontal
    extra: dict[str, Any] = field(default_factory=dict)

    def stats(self) -> dict[str, float]:
        finite = self.temp_c[np.isfinite(self.temp_c)]
        if finite.size == 0:
            return {"min_c": float("nan"), "max_c": float("nan"), "median_c": float("nan")}
        return {
            "min_c": round(float(finite.min()), 2),
            "max_c": round(float(finite.max()), 2),
            "median_c": round(float(np.median(finite)), 2),
        }


def read_frame(path: Path, overrides: Overrides | None = None) -> Frame:
    """Decode ``path`` to deg C; RadiometricError (with the file's name) when it cannot be."""
    overrides = overrides or Overrides()
    overrides.check()
    name = path.name
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise RadiometricError(f"{name}: cannot read ({exc.strerror})") from None
    if size > MAX_FRAME_BYTES:
        raise RadiometricError(f"{name}: {size} bytes, larger than a thermal frame can be")
    data = path.read_bytes()
    segs = segments(data, name)
    meta = read_meta(data, segs)
    if flir.is_flir(data, segs):
        return _flir_frame(path, data, segs, meta, overrides)
    camera = camera_for(meta.make, meta.model)
    if (camera is not None and camera.decoder == "dji") or _looks_dji(data, segs):
        label = camera.name if camera else f"{meta.make} {meta.model}".strip()
        raise RadiometricError(
            f"{name}: DJI R-JPEG ({label or 'unknown DJI camera'}) is not decoded: its "
            "raw-to-temperature calibration is not publicly described and no decoder here "
            "matches DJI's Thermal SDK to 0.1 deg C. Export temperatures with DJI Thermal "
            "Analysis Tool or the Thermal SDK, or build an orthomosaic with them"
        )
    raise RadiometricError(
        f"{name}: no radiometric data (neither FLIR nor DJI thermal records): an ordinary "
        f"picture{' from ' + meta.model if meta.model else ''}, not a thermal frame"
    )


def _looks_dji(data: bytes, segs: list[Any]) -> bool:
    """DJI R-JPEGs carry width x height x 2 bytes of raw counts in APP3 (or APP4 on the XT S)."""
    sizes: dict[int, int] = {}
    for s in segs:
        sizes[s.marker] = sizes.get(s.marker, 0) + s.length
    return any(sizes.get(m, 0) in (640 * 512 * 2, 1280 * 1024 * 2) for m in (0xE3, 0xE4))


def _flir_frame(
    path: Path, data: bytes, segs: list[Any], meta: FrameMeta, overrides: Overrides
) -> Frame:
    name = path.name
    recs = flir.records(flir.fff_file(data, segs, name), name)
    if flir.CAMERA_INFO not in recs or flir.RAW_DATA not in recs:
        raise RadiometricError(f"{name}: FLIR file without raw data or calibration records")
    cal = flir.calibration(recs[flir.CAMERA_INFO], name)
    raw = flir.raw_counts(recs[flir.RAW_DATA], name)
    if not (cal.r1 > 0 and cal.r2 > 0 and cal.b > 0 and 0 < cal.emissivity <= 1):
        raise RadiometricError(f"{name}: FLIR calibration constants missing or invalid")
    camera = camera_for(meta.make, meta.model)
    if camera is None and (meta.make.upper().startswith("DJI") or not (cal.camera or meta.model)):
        # FLIR data from a camera not in the table: decodable, but its geometry is unknown.
        label = f"{meta.make} {meta.model}".strip() or "camera without a model name"
        camera = Camera(f"unknown camera ({label})", "flir", 0.0, None)
    camera = camera or camera_for("FLIR", cal.camera or meta.model)
    assert camera is not None
    if overrides.distance_m is not None:
        distance, source = overrides.distance_m, "override"
    elif overrides.distance_from == "file":
        distance, source = cal.distance_m, "file"
    elif meta.laser_distance_m is not None:
        distance, source = meta.laser_distance_m, "laser"
    elif meta.relative_altitude_m is not None and meta.relative_altitude_m > 0:
        distance, source = meta.relative_altitude_m, "relative altitude"
    else:
        distance, source = cal.distance_m, "file"
    emissivity = overrides.emissivity if overrides.emissivity is not None else cal.emissivity
    reflected = overrides.reflected_c if overrides.reflected_c is not None else cal.reflected_c
    humidity = overrides.humidity if overrides.humidity is not None else cal.humidity
    temp = flir.to_celsius(
        raw,
        cal,
        emissivity=emissivity,
        distance_m=distance,
        reflected_c=reflected,
        humidity=humidity,
    ).astype(np.float32)
    if camera.pixel_pitch_um > 0:
        fov = camera.fov_deg(temp.shape[1], meta.focal_length_mm)
    else:
        fov = cal.fov_deg
    if meta.time is None and cal.time is not None:
        meta.time = cal.time.replace(tzinfo=None)
    return Frame(
        path=path,
        camera=camera,
        meta=meta,
        temp_c=temp,
        emissivity=emissivity,
        distance_m=distance,
        distance_source=source,
        reflected_c=reflected,
        humidity=humidity,
        fov_deg=fov,
        extra={"file_distance_m": cal.distance_m, "camera_info_model": cal.camera},
    )

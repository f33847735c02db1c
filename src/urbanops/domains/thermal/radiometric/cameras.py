"""Thermal cameras: which decoder reads them, and their geometry (pixel pitch, focal length).

Geometry from the makers' published specifications (sensor resolution, pixel pitch, focal
length, diagonal field of view); the field of view follows from ``2 atan(n x pitch / 2 f)``.
The focal length in the frame's EXIF wins over the table (the XT2 and XTR come with 9, 13, 19
or 25 mm lenses).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Camera:
    name: str
    decoder: str  # "flir" or "dji"
    pixel_pitch_um: float
    focal_length_mm: float | None  # None: take it from EXIF

    def fov_deg(self, width_px: int, focal_length_mm: float | None) -> float | None:
        """Horizontal field of view for an image ``width_px`` wide."""
        f = focal_length_mm or self.focal_length_mm
        if not f:
            return None
        return math.degrees(2 * math.atan(width_px * self.pixel_pitch_um / 1000 / (2 * f)))


#: By the EXIF model string (upper case).
CAMERAS: dict[str, Camera] = {
    # FLIR Tau 2 cores, 17 um pixels, radiometric JPEG in FLIR's format.
    "FLIR": Camera("DJI Zenmuse XT2/XTR (FLIR Tau 2)", "flir", 17.0, None),
    "XT2": Camera("DJI Zenmuse XT2 (FLIR Tau 2)", "flir", 17.0, None),
    "XTR": Camera("DJI Zenmuse XT (FLIR Tau 2)", "flir", 17.0, None),
    # DJI's own R-JPEG cameras, 12 um uncooled VOx sensors.
    "ZH20T": Camera("DJI Zenmuse H20T", "dji", 12.0, 13.5),
    "ZH20N": Camera("DJI Zenmuse H20N", "dji", 12.0, 13.5),
    "H30T": Camera("DJI Zenmuse H30T", "dji", 12.0, 24.0),
    "M30T": Camera("DJI Matrice 30T", "dji", 12.0, 9.1),
    "M3T": Camera("DJI Mavic 3T", "dji", 12.0, 9.1),
    "M3TD": Camera("DJI Matrice 3TD (Dock 2)", "dji", 12.0, 9.1),
    "M4T": Camera("DJI Matrice 4T", "dji", 12.0, 12.0),
    "M4TD": Camera("DJI Matrice 4TD (Dock 3)", "dji", 12.0, 12.0),
    "XT S": Camera("DJI Zenmuse XT S", "dji", 17.0, 19.0),
    "MAVIC2-ENTERPRISE-ADVANCED": Camera("DJI Mavic 2 Enterprise Advanced", "dji", 12.0, 9.0),
}


def camera_for(make: str, model: str) -> Camera | None:
    """The table entry for an EXIF make and model (None: unknown camera)."""
    key = model.strip().upper()
    if key in CAMERAS:
        return CAMERAS[key]
    if make.strip().upper().startswith("FLIR"):
        return Camera(f"FLIR {model.strip()}".replace("FLIR FLIR", "FLIR"), "flir", 0.0, None)
    return None

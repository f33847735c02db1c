"""Where and how a frame was taken: EXIF (camera, time, GPS, focal length) and DJI's XMP
(height above the take-off point, gimbal and aircraft angles, laser range finder).

EXIF as CIPA DC-008 (Exif 2.3) defines it; DJI writes its flight data as XMP properties in the
``drone-dji`` namespace (``http://www.dji.com/drone-dji/1.0/``): ``RelativeAltitude`` (m above
the take-off point), ``GimbalYawDegree`` (clockwise from north), ``GimbalPitchDegree`` (-90 is
straight down, 0 the horizon), ``GimbalRollDegree``, ``FlightYawDegree`` and, on cameras with a
laser range finder, ``LRFTargetDistance`` (m) with ``LRFStatus``.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from urbanops.domains.thermal.radiometric.jpeg import Segment

XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\0"
#: XMP packets larger than this are not parsed (DJI's are a few KB).
MAX_XMP_BYTES = 256 * 1024


@dataclass
class FrameMeta:
    """What a frame says about itself (None when the file does not say)."""

    make: str = ""
    model: str = ""
    time: datetime | None = None
    lat: float | None = None
    lon: float | None = None
    gps_altitude_m: float | None = None
    relative_altitude_m: float | None = None
    gimbal_yaw_deg: float | None = None
    gimbal_pitch_deg: float | None = None
    gimbal_roll_deg: float | None = None
    flight_yaw_deg: float | None = None
    laser_distance_m: float | None = None
    focal_length_mm: float | None = None

    def properties(self) -> dict[str, Any]:
        return {
            "make": self.make,
            "model": self.model,
            "time": self.time.isoformat() if self.time else None,
            "lat": self.lat,
            "lon": self.lon,
            "relative_altitude_m": self.relative_altitude_m,
            "gimbal_yaw_deg": self.gimbal_yaw_deg,
            "gimbal_pitch_deg": self.gimbal_pitch_deg,
            "gimbal_roll_deg": self.gimbal_roll_deg,
            "laser_distance_m": self.laser_distance_m,
            "focal_length_mm": self.focal_length_mm,
        }


def read_meta(data: bytes, segs: list[Segment]) -> FrameMeta:
    """EXIF and DJI XMP of a JPEG (values that are missing or malformed stay None)."""
    meta = FrameMeta()
    _exif(data, meta)
    _xmp(data, segs, meta)
    return meta


def _exif(data: bytes, meta: FrameMeta) -> None:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            exif = im.getexif()
            sub = exif.get_ifd(0x8769)
            gps = exif.get_ifd(0x8825)
    except Exception:
        return
    meta.make = str(exif.get(0x010F, "") or "").strip("\0 ")
    meta.model = str(exif.get(0x0110, "") or "").strip("\0 ")
    stamp = sub.get(0x9003) or exif.get(0x0132)
    if isinstance(stamp, str):
        for fmt in ("%Y:%m:%d %H:%M:%S", "%Y-%m-%d %H:%M:%S"):
            try:
                meta.time = datetime.strptime(stamp.strip("\0 "), fmt)
                break
            except ValueError:
                continue
    focal = _number(sub.get(0x920A))
    meta.focal_length_mm = focal if focal and 0 < focal < 1000 else None
    lat = _dms(gps.get(2), gps.get(1), "S")
    lon = _dms(gps.get(4), gps.get(3), "W")
    if lat is not None and lon is not None and -90 <= lat <= 90 and -180 <= lon <= 180:
        meta.lat, meta.lon = lat, lon
    alt = _number(gps.get(6))
    if alt is not None:
        meta.gps_altitude_m = -alt if gps.get(5) in (1, b"\x01") else alt


def _number(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return f if math.isfinite(f) else None


def _dms(value: Any, ref: Any, negative: str) -> float | None:
    try:
        d, m, s = (float(v) for v in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    out = d + m / 60 + s / 3600
    if not math.isfinite(out):
        return None
    ref_s = ref.decode() if isinstance(ref, bytes) else str(ref or "")
    return -out if ref_s.strip("\0 ").upper() == negative else out


_PROP = re.compile(rb'drone-dji:(\w+)\s*=\s*"([^"]{0,64})"|<drone-dji:(\w+)>([^<]{0,64})</')


def _xmp(data: bytes, segs: list[Segment], meta: FrameMeta) -> None:
    props: dict[str, str] = {}
    for s in segs:
        if s.marker != 0xE1 or data[s.offset : s.offset + len(XMP_HEADER)] != XMP_HEADER:
            continue
        packet = data[s.offset : s.offset + min(s.length, MAX_XMP_BYTES)]
        for m in _PROP.finditer(packet):
            key = (m.group(1) or m.group(3)).decode("ascii", "replace")
            props[key] = (m.group(2) if m.group(1) else m.group(4)).decode("utf-8", "replace")

    def num(key: str, lo: float, hi: float) -> float | None:
        v = _number(props.get(key, "").strip().lstrip("+"))
        return v if v is not None and lo <= v <= hi else None

    meta.relative_altitude_m = num("RelativeAltitude", -1000, 10_000)
    meta.gimbal_yaw_deg = num("GimbalYawDegree", -360, 360)
    meta.gimbal_pitch_deg = num("GimbalPitchDegree", -180, 180)
    meta.gimbal_roll_deg = num("GimbalRollDegree", -180, 180)
    meta.flight_yaw_deg = num("FlightYawDegree", -360, 360)
    status = props.get("LRFStatus", "").strip().lower()
    laser = num("LRFTargetDistance", 0.1, 5_000)
    meta.laser_distance_m = laser if laser and status in ("", "normal") else None

"""Write radiometric JPEGs in FLIR's format with DJI's flight metadata, as a Zenmuse XT2 does.

For generated flights (tests, benchmarks, the evidence on generated scenes): the temperatures
are turned back into the camera's raw counts with the same radiometric model the decoder
inverts (:func:`flir.from_celsius`), stored as an FFF record file in APP1 ``FLIR`` segments,
with EXIF (camera, time, GPS, focal length) and DJI's ``drone-dji`` XMP (height, gimbal).
A grey picture of the scene is the visible JPEG, as in the camera's files.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from urbanops.domains.thermal.radiometric.flir import FlirCalibration, from_celsius

#: A FLIR Tau 2 calibration (as found in XT2 files), measurement set to 0.95 / 60 m.
TAU2 = FlirCalibration(
    emissivity=0.95,
    distance_m=60.0,
    reflected_c=-5.0,
    atmosphere_c=0.0,
    window_c=0.0,
    window_transmission=1.0,
    humidity=0.6,
    r1=17096.453125,
    r2=0.046582058,
    b=1428.0,
    f=1.0,
    o=-267.0,
    alpha1=0.006569,
    alpha2=0.012620,
    beta1=-0.002276,
    beta2=-0.006670,
    x=1.9,
    camera="",
    lens="",
    fov_deg=None,
    time=None,
)


@dataclass(frozen=True)
class Shot:
    """Where and how a frame was taken."""

    lat: float | None  # None: no GPS in the file
    lon: float | None
    relative_altitude_m: float
    yaw_deg: float = 0.0
    pitch_deg: float = -90.0
    roll_deg: float = 0.0
    time: datetime | None = None
    focal_length_mm: float = 19.0
    model: str = "XT2"


def frame_bytes(temp_c: np.ndarray, shot: Shot, cal: FlirCalibration = TAU2) -> bytes:
    """A radiometric JPEG of ``temp_c`` (rows x cols, deg C) taken as ``shot`` says."""
    import cv2

    raw = from_celsius(temp_c.astype(np.float64), cal)
    counts = np.clip(np.rint(raw), 0, 65535).astype("<u2")
    h, w = counts.shape
    finite = temp_c[np.isfinite(temp_c)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    grey = np.clip((temp_c - lo) / max(hi - lo, 1e-6) * 255, 0, 255).astype(np.uint8)
    ok, jpg = cv2.imencode(".jpg", grey, [cv2.IMWRITE_JPEG_QUALITY, 80])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    body = jpg.tobytes()
    segs = [_app1(_exif(shot)), _app1(_xmp(shot))]
    segs += [_app1(c) for c in _flir_chunks(_fff(counts, cal, w, h))]
    return body[:2] + b"".join(segs) + body[2:]


def _app1(payload: bytes) -> bytes:
    if len(payload) > 65533:
        raise ValueError("APP1 payload too long")
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def _exif(shot: Shot) -> bytes:
    from fractions import Fraction

    from PIL import Image
    from PIL.TiffImagePlugin import IFDRational

    def rational(v: float, den: int = 1_000_000) -> IFDRational:
        q = Fraction(v).limit_denominator(den)
        return IFDRational(q.numerator, q.denominator)

    exif = Image.Exif()
    exif[0x010F] = "DJI"
    exif[0x0110] = shot.model
    stamp = (shot.time or datetime(2026, 1, 15, 2, 0, 0)).strftime("%Y:%m:%d %H:%M:%S")
    exif[0x0132] = stamp
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = stamp
    sub[0x920A] = rational(shot.focal_length_mm, 1000)
    if shot.lat is None or shot.lon is None:
        return exif.tobytes()
    gps = exif.get_ifd(0x8825)

    def dms(v: float) -> tuple[IFDRational, IFDRational, IFDRational]:
        v = abs(v)
        d = int(v)
        m = int((v - d) * 60)
        s = ((v - d) * 60 - m) * 60
        return rational(d), rational(m), rational(s, 10_000)

    gps[1] = "N" if shot.lat >= 0 else "S"
    gps[2] = dms(shot.lat)
    gps[3] = "E" if shot.lon >= 0 else "W"
    gps[4] = dms(shot.lon)
    gps[5] = b"\x00"
    gps[6] = rational(60.0, 1000)
    return exif.tobytes()  # starts with Exif\0\0


def _xmp(shot: Shot) -> bytes:
    attrs = {
        "RelativeAltitude": f"{shot.relative_altitude_m:+.2f}",
        "GimbalRollDegree": f"{shot.roll_deg:+.2f}",
        "GimbalYawDegree": f"{shot.yaw_deg:+.2f}",
        "GimbalPitchDegree": f"{shot.pitch_deg:+.2f}",
        "FlightYawDegree": f"{shot.yaw_deg:+.2f}",
    }
    body = " ".join(f'drone-dji:{k}="{v}"' for k, v in attrs.items())
    packet = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        f'xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/" {body}/></rdf:RDF></x:xmpmeta>'
    )
    return b"http://ns.adobe.com/xap/1.0/\x00" + packet.encode()


def _camera_info(cal: FlirCalibration) -> bytes:
    rec = bytearray(0x400)
    struct.pack_into("<H", rec, 0, 2)  # byte order mark: little-endian

    def put(off: int, v: float) -> None:
        struct.pack_into("<f", rec, off, v)

    put(0x20, cal.emissivity)
    put(0x24, cal.distance_m)
    put(0x28, cal.reflected_c + 273.15)
    put(0x2C, cal.atmosphere_c + 273.15)
    put(0x30, cal.window_c + 273.15)
    put(0x34, cal.window_transmission)
    put(0x3C, cal.humidity)
    put(0x58, cal.r1)
    put(0x5C, cal.b)
    put(0x60, cal.f)
    put(0x70, cal.alpha1)
    put(0x74, cal.alpha2)
    put(0x78, cal.beta1)
    put(0x7C, cal.beta2)
    put(0x80, cal.x)
    struct.pack_into("<i", rec, 0x308, int(cal.o))
    put(0x30C, cal.r2)
    return bytes(rec)


def _fff(counts: np.ndarray, cal: FlirCalibration, w: int, h: int) -> bytes:
    raw = bytearray(32)
    struct.pack_into("<HHH", raw, 0, 2, w, h)
    raw += counts.tobytes()
    records = [(0x0001, bytes(raw)), (0x0020, _camera_info(cal))]
    header = bytearray(64)
    header[:4] = b"FFF\0"
    header[4:20] = b"UrbanOps".ljust(16, b"\0")
    struct.pack_into(">III", header, 20, 100, 64, len(records))
    offset = 64 + 32 * len(records)
    directory = bytearray()
    for k, (rtype, data) in enumerate(records):
        directory += struct.pack(">HHIIII", rtype, 0, 100, k + 1, offset, len(data)) + bytes(12)
        offset += len(data)
    return bytes(header + directory + b"".join(d for _t, d in records))


def _flir_chunks(fff: bytes, size: int = 65_000) -> list[bytes]:
    pieces = [fff[i : i + size] for i in range(0, len(fff), size)]
    last = len(pieces) - 1
    return [b"FLIR\x00\x01" + bytes([k, last]) + p for k, p in enumerate(pieces)]

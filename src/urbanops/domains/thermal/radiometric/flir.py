"""FLIR radiometric JPEG: the FFF record file in APP1, raw counts to deg C with Planck's law.

Sources (public descriptions, no code taken): the FLIR FFF layout as ExifTool documents it
(Image::ExifTool::FLIR, tables ``FFF``, ``RawData``, ``CameraInfo``), and the radiometric
equations of FLIR's calibration as published by Tattersall's Thermimage (``raw2temp``) and by
Minkina & Dudzik, *Infrared Thermography: Errors and Uncertainties* (2009), chapter 2.

Container. The JPEG's APP1 segments that begin ``FLIR\\0`` carry, after 8 bytes (``FLIR\\0``,
1, segment index, last index), consecutive pieces of one FFF file. The FFF file starts with
``FFF\\0``, a creator string, a format version and the offset and count of a directory of 32-byte
entries (big-endian): record type, subtype, version, id, data offset, data length. Record 0x01
holds the raw image (a 32-byte header with width and height, then a PNG, a TIFF or bare 16-bit
counts); record 0x20 (*CameraInfo*) the calibration and the measurement parameters. Inside a
record, the byte order is the one in which its first 16-bit word reads 2.

Conversion. The camera's counts follow ``S = R1 / (R2 (exp(B / T) - F)) - O`` for a black body at
``T`` kelvin. What reaches the sensor is the object's emission attenuated by the atmosphere
(transmission ``tau`` from distance and humidity with the camera's own constants alpha1, alpha2,
beta1, beta2, X) and an external window if any, plus the reflected surroundings, the
atmosphere's and the window's emission. Solving for the object's counts and inverting Planck's
law gives its temperature.
"""

from __future__ import annotations

import io
import math
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from urbanops.domains.thermal.radiometric.jpeg import RadiometricError, Segment

RAW_DATA = 0x0001
CAMERA_INFO = 0x0020
#: Largest FFF file accepted (the biggest FLIR frames are a few MB).
MAX_FFF_BYTES = 64 * 2**20


@dataclass(frozen=True)
class FlirCalibration:
    """What CameraInfo holds that the conversion needs (temperatures in deg C)."""

    emissivity: float
    distance_m: float
    reflected_c: float
    atmosphere_c: float
    window_c: float
    window_transmission: float
    humidity: float  # 0-1
    r1: float
    r2: float
    b: float
    f: float
    o: float
    alpha1: float
    alpha2: float
    beta1: float
    beta2: float
    x: float
    camera: str
    lens: str
    fov_deg: float | None
    time: datetime | None


def is_flir(data: bytes, segs: list[Segment]) -> bool:
    return any(s.marker == 0xE1 and data[s.offset : s.offset + 5] == b"FLIR\0" for s in segs)


def fff_file(data: bytes, segs: list[Segment], name: str) -> bytes:
    """The FFF file spread over the APP1 ``FLIR`` segments, in index order."""
    parts: dict[int, bytes] = {}
    for s in segs:
        if s.marker != 0xE1 or data[s.offset : s.offset + 5] != b"FLIR\0" or s.length < 8:
            continue
        index = data[s.offset + 6]
        parts[index] = data[s.offset + 8 : s.offset + s.length]
    if not parts or sorted(parts) != list(range(len(parts))):
        raise RadiometricError(f"{name}: FLIR data segments missing or out of order")
    out = b"".join(parts[i] for i in range(len(parts)))
    if len(out) > MAX_FFF_BYTES:
        raise RadiometricError(f"{name}: FLIR record file larger than {MAX_FFF_BYTES} bytes")
    return out


def records(fff: bytes, name: str) -> dict[int, bytes]:
    """Record type -> record bytes, from the FFF directory."""
    if fff[:4] != b"FFF\0" or len(fff) < 64:
        raise RadiometricError(f"{name}: FLIR data without an FFF header")
    # The header is big-endian in FLIR's own cameras and little-endian in DJI's Tau-based ones
    # (creator "ATAU_RBFO"): the format version, 100 (or 1xx), tells which.
    e = ">" if 100 <= struct.unpack_from(">I", fff, 20)[0] < 200 else "<"
    dir_offset, count = struct.unpack_from(e + "II", fff, 24)
    if count > 4096 or dir_offset + 32 * count > len(fff):
        raise RadiometricError(f"{name}: corrupt FLIR record directory")
    out: dict[int, bytes] = {}
    for k in range(count):
        rtype, _sub, _ver, _id, off, length = struct.unpack_from(
            e + "HHIIII", fff, dir_offset + 32 * k
        )
        if rtype == 0 or off + length > len(fff):
            continue
        out.setdefault(rtype, fff[off : off + length])
    return out


def _order(record: bytes) -> str:
    """``<`` or ``>``: the byte order in which the record's first word reads 2."""
    return "<" if struct.unpack_from("<H", record, 0)[0] == 2 else ">"


def _text(record: bytes, offset: int, size: int) -> str:
    return record[offset : offset + size].split(b"\0", 1)[0].decode("latin-1").strip()


def calibration(record: bytes, name: str) -> FlirCalibration:
    """Parse CameraInfo (offsets as ExifTool's FLIR CameraInfo table)."""
    if len(record) < 0x310:
        raise RadiometricError(f"{name}: FLIR CameraInfo record too short ({len(record)} bytes)")
    e = _order(record)

    def f32(off: int) -> float:
        return float(struct.unpack_from(e + "f", record, off)[0])

    humidity = f32(0x3C)
    humidity = humidity / 100 if humidity > 2 else humidity
    fov = f32(0x1B4) if len(record) >= 0x1B8 else float("nan")
    time = None
    if len(record) >= 0x38E:
        seconds, millis, tz_min = struct.unpack_from(e + "IIh", record, 0x384)
        if 0 < seconds < 2**31:
            time = datetime.fromtimestamp(seconds, UTC) + timedelta(milliseconds=millis % 1000)
            time = time.replace(tzinfo=None) if tz_min == 0 else time
    return FlirCalibration(
        emissivity=f32(0x20),
        distance_m=f32(0x24),
        reflected_c=f32(0x28) - 273.15,
        atmosphere_c=f32(0x2C) - 273.15,
        window_c=f32(0x30) - 273.15,
        window_transmission=f32(0x34),
        humidity=humidity,
        r1=f32(0x58),
        b=f32(0x5C),
        f=f32(0x60),
        alpha1=f32(0x70),
        alpha2=f32(0x74),
        beta1=f32(0x78),
        beta2=f32(0x7C),
        x=f32(0x80),
        camera=_text(record, 0xD4, 32),
        lens=_text(record, 0x170, 32) if len(record) >= 0x190 else "",
        fov_deg=fov if math.isfinite(fov) and 0 < fov < 180 else None,
        o=float(struct.unpack_from(e + "i", record, 0x308)[0]),
        r2=f32(0x30C),
        time=time,
    )


def raw_counts(record: bytes, name: str) -> np.ndarray:
    """The raw 16-bit counts of record 0x01 (PNG, TIFF or bare)."""
    if len(record) < 32:
        raise RadiometricError(f"{name}: FLIR raw record too short")
    e = _order(record)
    width, height = struct.unpack_from(e + "HH", record, 2)
    if not (0 < width <= 4096 and 0 < height <= 4096):
        raise RadiometricError(f"{name}: FLIR raw image of {width} x {height} pixels")
    body = record[32:]
    if body[:8] == b"\x89PNG\r\n\x1a\n":
        img = _decode_png16(body, name)
        # FLIR writes its 16-bit counts into the PNG little-endian, against the PNG standard.
        img = img.byteswap()
    elif body[:4] in (b"II*\0", b"MM\0*"):
        img = _decode_tiff16(body, name)
    else:
        if len(body) < width * height * 2:
            raise RadiometricError(f"{name}: FLIR raw image truncated")
        img = np.frombuffer(body, dtype=e + "u2", count=width * height).reshape(height, width)
    if img.shape != (height, width):
        raise RadiometricError(
            f"{name}: FLIR raw image is {img.shape[1]} x {img.shape[0]}, header says "
            f"{width} x {height}"
        )
    return img.astype(np.float32)


def _decode_png16(body: bytes, name: str) -> np.ndarray:
    import cv2

    img = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None or img.dtype != np.uint16 or img.ndim != 2:
        raise RadiometricError(f"{name}: FLIR raw PNG is not a 16-bit grey image")
    return img


def _decode_tiff16(body: bytes, name: str) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(body)) as im:
            img = np.asarray(im)
    except Exception as exc:
        raise RadiometricError(f"{name}: FLIR raw TIFF unreadable ({exc})") from None
    if img.ndim != 2 or img.dtype.itemsize != 2:
        raise RadiometricError(f"{name}: FLIR raw TIFF is not a 16-bit grey image")
    return img.astype(np.uint16)


def to_celsius(raw: np.ndarray, cal: FlirCalibration, **override: Any) -> np.ndarray:
    """Object temperatures (deg C) from raw counts; ``override`` may set ``emissivity``,
    ``distance_m``, ``reflected_c``, ``humidity`` (0-1) or ``atmosphere_c``."""
    c, tau, window_t = _path_terms(cal, **override)
    r1, r2, b, f, o = c["r1"], c["r2"], c["b"], c["f"], c["o"]
    emissivity, t_atm = c["emissivity"], c["atmosphere_c"]

    def counts(t_c: float) -> float:
        return r1 / (r2 * (math.exp(b / (t_c + 273.15)) - f)) - o

    # The path is split in two halves around the (optional) window: tau before and after.
    reflected = (1 - emissivity) / emissivity * counts(c["reflected_c"])
    atmosphere1 = (1 - tau) / emissivity / tau * counts(t_atm)
    window = (1 - window_t) / emissivity / tau / window_t * counts(c["window_c"])
    atmosphere2 = (1 - tau) / emissivity / tau / window_t / tau * counts(t_atm)
    # obj + O = raw / (e tau^2 window) - (the other terms) + O, in one multiply-add over the
    # image (float32: the counts are at most 65,535, so the rounding is far under 0.001 deg C).
    gain = np.float32(1.0 / (emissivity * tau * window_t * tau))
    shift = np.float32(o - atmosphere1 - atmosphere2 - window - reflected)
    with np.errstate(invalid="ignore", divide="ignore"):
        denom = np.asarray(raw, dtype=np.float32) * gain + shift
        np.divide(np.float32(r1 / r2), denom, out=denom)
        denom += np.float32(f)
        np.log(denom, out=denom)
        np.divide(np.float32(b), denom, out=denom)
        denom -= np.float32(273.15)
        return denom


def _path_terms(cal: FlirCalibration, **override: Any) -> tuple[dict[str, Any], float, float]:
    """The merged parameters, the atmosphere's transmission over half the path, and the
    window's transmission (1 without a window)."""
    c = {**cal.__dict__, **{k: v for k, v in override.items() if v is not None}}
    t_atm = c["atmosphere_c"]
    h2o = c["humidity"] * math.exp(
        1.5587 + 0.06939 * t_atm - 0.00027816 * t_atm**2 + 0.00000068455 * t_atm**3
    )
    half = math.sqrt(max(0.0, c["distance_m"]) / 2)
    tau = c["x"] * math.exp(-half * (c["alpha1"] + c["beta1"] * math.sqrt(h2o))) + (
        1 - c["x"]
    ) * math.exp(-half * (c["alpha2"] + c["beta2"] * math.sqrt(h2o)))
    window_t = c["window_transmission"] if c["window_transmission"] > 0 else 1.0
    return c, tau, window_t


def from_celsius(temp_c: np.ndarray, cal: FlirCalibration, **override: Any) -> np.ndarray:
    """The camera's raw counts for objects at ``temp_c`` (the inverse of :func:`to_celsius`,
    for writing test frames)."""
    c, tau, window_t = _path_terms(cal, **override)
    r1, r2, b, f, o, e = c["r1"], c["r2"], c["b"], c["f"], c["o"], c["emissivity"]

    def counts(t: Any) -> Any:
        return r1 / (r2 * (np.exp(b / (np.asarray(t) + 273.15)) - f)) - o

    reflected = (1 - e) / e * counts(c["reflected_c"])
    atmosphere1 = (1 - tau) / e / tau * counts(c["atmosphere_c"])
    window = (1 - window_t) / e / tau / window_t * counts(c["window_c"])
    atmosphere2 = (1 - tau) / e / tau / window_t / tau * counts(c["atmosphere_c"])
    obj = counts(temp_c)
    return (obj + atmosphere1 + atmosphere2 + window + reflected) * e * tau * window_t * tau

"""JPEG markers: the application segments radiometric cameras hide their data in.

A JPEG is a sequence of markers (ITU-T T.81, annex B): ``FF D8`` (start of image), then
segments ``FF xx`` with a big-endian 16-bit length that counts itself, up to ``FF DA`` (start of
scan), after which the entropy-coded picture runs to the end. Thermal cameras put their raw
sensor values and calibration into APPn segments (``FF E0`` - ``FF EF``), each at most 65,533
bytes of payload, so large records are split over several segments of the same marker.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from urbanops.errors import UrbanOpsError

#: Segments we read before the picture starts: a guard against hostile files declaring
#: millions of tiny segments.
MAX_SEGMENTS = 4096


class RadiometricError(UrbanOpsError):
    """A frame that cannot be decoded to temperatures (the message says why)."""

    status = 422
    title = "Unreadable thermal frame"


@dataclass(frozen=True)
class Segment:
    marker: int  # 0xE0-0xEF for APP0-APP15
    offset: int  # of the payload (after the length field)
    length: int  # of the payload


def segments(data: bytes, name: str = "frame") -> list[Segment]:
    """The segments before the start of scan, checked to lie inside ``data``."""
    if len(data) < 4 or data[:2] != b"\xff\xd8":
        raise RadiometricError(f"{name}: not a JPEG file (no start-of-image marker)")
    out: list[Segment] = []
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            raise RadiometricError(f"{name}: corrupt JPEG (no marker at byte {i})")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xDA or marker == 0xD9:  # start of scan / end of image
            return out
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            i += 2
            continue
        (length,) = struct.unpack_from(">H", data, i + 2)
        if length < 2 or i + 2 + length > len(data):
            raise RadiometricError(
                f"{name}: truncated JPEG (segment at byte {i} runs past the end)"
            )
        out.append(Segment(marker, i + 4, length - 2))
        if len(out) > MAX_SEGMENTS:
            raise RadiometricError(f"{name}: more than {MAX_SEGMENTS} JPEG segments")
        i += 2 + length
    raise RadiometricError(f"{name}: truncated JPEG (no picture data)")


def payload(data: bytes, segs: list[Segment], marker: int) -> bytes:
    """The payloads of every segment with ``marker``, concatenated in file order."""
    return b"".join(data[s.offset : s.offset + s.length] for s in segs if s.marker == marker)

"""Radiometric frames: decoding speed against flyr (PyPI), and a 900-frame folder listed.

Decoding: the real 640 x 512 DJI Zenmuse XT2 frame and the 640 x 480 FLIR T640 frame of
``../shared/data/thermal`` decoded ``--repeat`` times each, one thread; flyr (the pure-Python
FLIR reader on PyPI, installed with the dev extras) on the same files in the same run.

Survey: ``--frames`` copies of the XT2 frame re-tagged as nadir frames of a grid flight at
60 m (positions spaced as a survey with 70 % overlap would be), listed with
``urbanops thermal frames`` in its own process (decode, georeference, GeoJSON), timed from
start to exit.

    .venv/bin/python benchmarks/bench_frames.py [--repeat 100] [--frames 900]
"""

from __future__ import annotations

import argparse
import math
import re
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, machine

sys.path.insert(0, str(ROOT / "src"))

from urbanops.domains.thermal.radiometric.frame import Overrides, read_frame
from urbanops.domains.thermal.radiometric.jpeg import segments

THERMAL = ROOT.parent / "shared" / "data" / "thermal"


def _decode_speed(repeat: int) -> None:
    for name in ("flir_format/DJI_XT2.jpg", "flir_format/FLIR_T640.jpg"):
        path = THERMAL / name
        read_frame(path)  # warm up (imports)
        t0 = time.perf_counter()
        for _ in range(repeat):
            frame = read_frame(path, Overrides(distance_from="file"))
        ours = (time.perf_counter() - t0) / repeat
        h, w = frame.temp_c.shape
        line = (
            f"  {name} ({w} x {h}): UrbanOps {ours * 1000:.1f} ms/frame = {1 / ours:.0f} frames/s"
        )
        try:
            import flyr

            t0 = time.perf_counter()
            n = max(1, repeat // 10)
            for _ in range(n):
                flyr.unpack(str(path)).celsius  # noqa: B018 - the decode is the point
            theirs = (time.perf_counter() - t0) / n
            line += f"; flyr {theirs * 1000:.0f} ms/frame ({theirs / ours:.1f} x slower)"
        except ImportError:
            line += "; flyr not installed"
        except Exception as exc:
            line += f"; flyr fails ({type(exc).__name__}: {exc})"
        print(line)


def _retag(data: bytes, values: dict[str, str]) -> bytes:
    out = bytearray(data[:2])
    pos = 2
    for seg in segments(data):
        payload = data[seg.offset : seg.offset + seg.length]
        out += data[pos : seg.offset - 4]
        if seg.marker == 0xE1 and payload.startswith(b"http://ns.adobe.com/xap/1.0/"):
            for key, value in values.items():
                payload = re.sub(
                    rb"drone-dji:" + key.encode() + rb'="[^"]*"',
                    b"drone-dji:" + key.encode() + b'="' + value.encode() + b'"',
                    payload,
                )
        out += bytes([0xFF, seg.marker]) + struct.pack(">H", len(payload) + 2) + payload
        pos = seg.offset + seg.length
    return bytes(out + data[pos:])


def _gps(data: bytes, lat: float, lon: float) -> bytes:
    """Rewrite the EXIF GPS latitude and longitude rationals in place (same byte length)."""
    from PIL import Image

    with Image.open(THERMAL / "flir_format/DJI_XT2.jpg") as im:
        gps = im.getexif().get_ifd(0x8825)
    old_lat, old_lon = gps[2], gps[4]
    out = data
    for old, new in ((old_lat, lat), (old_lon, lon)):
        d, m, s = (float(v) for v in old)
        nd = int(abs(new))
        nm = int((abs(new) - nd) * 60)
        ns = ((abs(new) - nd) * 60 - nm) * 60
        old_bytes = b"".join(struct.pack("<II", v.numerator, v.denominator) for v in old)
        new_bytes = struct.pack("<IIIIII", nd, 1, nm, 1, round(ns * 10000), 10000)
        assert len(old_bytes) == len(new_bytes) and old_bytes in out, (d, m, s)
        out = out.replace(old_bytes, new_bytes, 1)
    return out


def _survey(n: int, tmp: Path) -> None:
    data = (THERMAL / "flir_format/DJI_XT2.jpg").read_bytes()
    nadir = _retag(
        data,
        {
            "RelativeAltitude": "+60.00",
            "GimbalPitchDegree": "-90.00",
            "GimbalYawDegree": "+0.00",
            "GimbalRollDegree": "+0.00",
        },
    )
    folder = tmp / "flight"
    folder.mkdir()
    # 60 m up: a 34 m x 28 m footprint; 70 % overlap: a frame every 8 m along, 10 m across.
    per_line = 30
    lat0, lon0 = 37.42, 127.12  # Seongnam
    for k in range(n):
        line, pos = divmod(k, per_line)
        lat = lat0 + (pos * 8.0) / 111_320
        lon = lon0 + (line * 10.0) / (111_320 * math.cos(math.radians(lat0)))
        (folder / f"DJI_{k:04d}_T.jpg").write_bytes(_gps(nadir, lat, lon))
    t0 = time.perf_counter()
    out = tmp / "frames.geojson"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "urbanops.cli.main",
            "thermal",
            "frames",
            str(folder),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    seconds = time.perf_counter() - t0
    print(
        f"  {n} frames (640 x 512) listed with footprints in {seconds:.1f} s whole process "
        f"({n / seconds:.0f} frames/s): {proc.stdout.splitlines()[0]}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=100)
    parser.add_argument("--frames", type=int, default=900)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    if not THERMAL.exists():
        sys.exit(f"{THERMAL} not found: the benchmark decodes the real frames there")
    print("decoding, one thread:")
    _decode_speed(args.repeat)
    with tempfile.TemporaryDirectory(prefix="uo-bench-frames-") as tmp:
        print("survey folder:")
        _survey(args.frames, Path(tmp))


if __name__ == "__main__":
    main()

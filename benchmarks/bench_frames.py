"""Radiometric frames: decoding speed against flyr (PyPI), and a 900-frame folder listed.

Decoding: the real 640 x 512 DJI Zenmuse XT2 frame and the 640 x 480 FLIR T640 frame of
``../shared/data/thermal`` decoded ``--repeat`` times each, one thread; flyr (the pure-Python
FLIR reader on PyPI, installed with the dev extras) on the same files in the same run.

Survey: a generated flight of about ``--frames`` frames at 60 m over a generated scene with
its pipes (:mod:`urbanops.domains.thermal.flight`), inspected from the folder with
``urbanops thermal inspect FRAMES_DIR`` in its own process (decode, georeference, level and
blend the mosaic, detect, report), timed from start to exit.

    .venv/bin/python benchmarks/bench_frames.py [--repeat 100] [--frames 900]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, machine, run_process

sys.path.insert(0, str(ROOT / "src"))

from urbanops.domains.thermal.radiometric.frame import Overrides, read_frame

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


def _survey(n: int, tmp: Path) -> None:
    from urbanops.domains.thermal import flight, synthetic

    # A square scene that a lawn-mower flight at 60 m (70 % overlap, 60 % sidelap) covers with
    # about n frames: each frame adds about 8.3 m x 13.7 m.
    side = math.sqrt(n * 8.3 * 13.7)
    t0 = time.perf_counter()
    scene = synthetic.generate(21, width_m=side, height_m=side, gsd_m=0.1)
    paths = flight.write_flight(scene, tmp / "survey", flight.FlightPlan(altitude_m=60), seed=21)
    print(
        f"  generated flight: {paths['count']} frames (640 x 512) over {side:.0f} m x "
        f"{side:.0f} m, {scene.pipe_length_m / 1000:.1f} km of pipe "
        f"({time.perf_counter() - t0:.0f} s)"
    )
    cmd = [sys.executable, "-m", "urbanops.cli.main", "thermal", "inspect", str(paths["frames"])]
    cmd += ["--network", str(paths["pipes"]), "--exclude", str(paths["known"])]
    seconds, rss_mib, out = run_process([*cmd, "--out", str(tmp / "out")])
    lines = [line.strip() for line in out.splitlines()]
    print(
        f"  folder to report: {seconds:.1f} s whole process, peak memory "
        f"{rss_mib:.0f} MiB; {lines[0]}; {lines[-1]}"
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

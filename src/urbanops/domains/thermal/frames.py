"""A folder of drone frames: decode each, place it on the ground, say what was skipped and why.

One bad frame never stops a survey: a plain RGB picture, a truncated file, a DJI R-JPEG (not
decoded here), a frame without GPS or height, an oblique frame, a camera the survey does not
use, each is skipped with its reason and the rest is processed. Frames of more than one camera
in a folder: the camera with the most frames is the survey's, the others are skipped (their
temperatures and geometry are not comparable).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from urbanops.domains.thermal.georef import (
    NotGeoreferenced,
    Pose,
    footprint_lonlat,
    pose,
)
from urbanops.domains.thermal.io import ThermalInputError
from urbanops.domains.thermal.radiometric.frame import Frame, Overrides, read_frame
from urbanops.domains.thermal.radiometric.jpeg import RadiometricError

SUFFIXES = (".jpg", ".jpeg")
#: Frames in one survey folder, at most (a long flight is a few thousand).
MAX_FRAMES = 20_000

Progress = Callable[[float, str], None]


@dataclass
class FrameEntry:
    """One decoded frame: its statistics, pose and footprint (None if not georeferenced)."""

    file: str
    camera: str
    properties: dict[str, Any]
    pose: Pose | None
    footprint: list[tuple[float, float]] | None
    problem: str | None = None


@dataclass
class Survey:
    frames: list[FrameEntry] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)

    @property
    def georeferenced(self) -> list[FrameEntry]:
        return [f for f in self.frames if f.footprint is not None]

    def summary(self) -> dict[str, Any]:
        reasons = Counter(_kind(r) for _f, r in self.skipped)
        return {
            "frames": len(self.frames) + len(self.skipped),
            "decoded": len(self.frames),
            "georeferenced": len(self.georeferenced),
            "skipped": len(self.skipped),
            "skipped_by_reason": dict(reasons),
        }

    def feature_collection(self) -> dict[str, Any]:
        """RFC 7946: one feature per decoded frame (footprint polygon, or no geometry)."""
        feats = []
        for f in self.frames:
            geometry = (
                {"type": "Polygon", "coordinates": [[list(c) for c in f.footprint]]}
                if f.footprint
                else None
            )
            feats.append({"type": "Feature", "geometry": geometry, "properties": f.properties})
        return {"type": "FeatureCollection", "features": feats}


def _kind(reason: str) -> str:
    text = reason.lower()
    for key, label in (
        ("dji r-jpeg", "DJI R-JPEG not decoded"),
        ("no radiometric data", "not a thermal frame"),
        ("truncated", "truncated or corrupt"),
        ("corrupt", "truncated or corrupt"),
        ("not a jpeg", "not a JPEG"),
        ("oblique", "oblique"),
        ("camera", "other camera"),
    ):
        if key in text:
            return label
    return "other"


def list_frames(folder: Path) -> list[Path]:
    """The JPEG frames of ``folder`` (not recursive), sorted by name."""
    if not folder.is_dir():
        raise ThermalInputError(f"{folder}: no such folder", field="frames")
    paths = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
    if not paths:
        raise ThermalInputError(f"{folder}: no JPEG frames in the folder", field="frames")
    if len(paths) > MAX_FRAMES:
        raise ThermalInputError(
            f"{folder}: {len(paths)} frames, more than {MAX_FRAMES} in one survey", field="frames"
        )
    return paths


def survey(
    folder: Path,
    overrides: Overrides | None = None,
    *,
    progress: Progress | None = None,
) -> Survey:
    """Decode and georeference every frame of ``folder``. Only each frame's statistics and
    pose are kept, never its pixels, so memory does not grow with the number of frames."""
    paths = list_frames(folder)
    out = Survey()
    done: list[tuple[Path, FrameEntry | None, str | None]] = []

    def one(path: Path) -> tuple[Path, FrameEntry | None, str | None]:
        try:
            return path, _entry(read_frame(path, overrides)), None
        except RadiometricError as exc:
            return path, None, exc.detail

    with ThreadPoolExecutor(2) as pool:
        for n, item in enumerate(pool.map(one, paths), start=1):
            done.append(item)
            if progress:
                progress(0.9 * n / len(paths), f"frame {n}/{len(paths)}")
    cameras = Counter(e.camera for _p, e, _err in done if e is not None)
    main_camera = cameras.most_common(1)[0][0] if cameras else None
    for path, entry, error in done:
        if entry is None:
            out.skipped.append((path.name, error or "unreadable"))
        elif entry.camera != main_camera:
            reason = f"{path.name}: camera {entry.camera}, not the survey's {main_camera}"
            out.skipped.append((path.name, reason))
        else:
            out.frames.append(entry)
    if progress:
        progress(1.0, f"{len(out.frames)} frames decoded")
    return out


def _entry(frame: Frame) -> FrameEntry:
    props: dict[str, Any] = {
        "file": frame.path.name,
        "camera": frame.camera.name,
        "time": frame.meta.time.isoformat() if frame.meta.time else None,
        **frame.stats(),
        "distance_m": round(frame.distance_m, 2),
        "distance_source": frame.distance_source,
        "emissivity": round(frame.emissivity, 3),
        "reflected_c": round(frame.reflected_c, 2),
        "humidity": round(frame.humidity, 3),
        "width_px": int(frame.temp_c.shape[1]),
        "height_px": int(frame.temp_c.shape[0]),
        "lon": frame.meta.lon,
        "lat": frame.meta.lat,
        "relative_altitude_m": frame.meta.relative_altitude_m,
        "gimbal_yaw_deg": frame.meta.gimbal_yaw_deg,
        "gimbal_pitch_deg": frame.meta.gimbal_pitch_deg,
        "gimbal_roll_deg": frame.meta.gimbal_roll_deg,
        "hfov_deg": None if frame.fov_deg is None else round(frame.fov_deg, 2),
    }
    try:
        p = pose(frame)
        ring = footprint_lonlat(p)
        props["gsd_m"] = round(p.gsd_m, 4)
        props["georeferenced"] = True
        return FrameEntry(frame.path.name, frame.camera.name, props, p, ring)
    except NotGeoreferenced as exc:
        props["georeferenced"] = False
        props["problem"] = str(exc)
        return FrameEntry(frame.path.name, frame.camera.name, props, None, None, str(exc))


def write_geojson(result: Survey, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.feature_collection()))
    return path

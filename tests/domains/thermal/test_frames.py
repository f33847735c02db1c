"""Radiometric frames: decoding to the reference values, refusals, distance, georeferencing."""

from __future__ import annotations

import json
import math
import re
import struct
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.conftest import SHARED_DATA
from urbanops.domains.thermal.frames import survey
from urbanops.domains.thermal.georef import NotGeoreferenced, footprint_lonlat, pose
from urbanops.domains.thermal.radiometric.frame import Overrides, read_frame
from urbanops.domains.thermal.radiometric.jpeg import RadiometricError, segments

THERMAL = SHARED_DATA / "thermal"
pytestmark = pytest.mark.skipif(not THERMAL.exists(), reason="../shared/data not present")

#: From ../shared/data/thermal/README.md (min, max, median, deg C).
FLIR_REFERENCE = {
    "flir_format/DJI_XT2.jpg": (21.46, 82.92, 31.59),
    "flir_format/DJI_XTR.jpg": (15.93, 59.73, 27.68),
    "flir_format/FLIR_B60.jpg": (-68.08, -0.23, -7.69),
    "flir_format/FLIR_E40.jpg": (17.88, 24.7, 21.01),
    "flir_format/FLIR_T640.jpg": (25.46, 97.85, 34.53),
}
DJI_FILES = {
    "dji_multi_camera/DJI_XTS.jpg": "XT S",
    "dji_multi_camera/H20T_DJI_0001_R.JPG": "H20T",
    "dji_multi_camera/H30T_DJI_0001_R.JPG": "H30T",
    "dji_multi_camera/M30T_DJI_0002_R.JPG": "30T",
    "dji_multi_camera/M3TD_DJI_0001_R.JPG": "3TD",
    "dji_multi_camera/M4T_DJI_0002_R.JPG": "4T",
}


@pytest.mark.parametrize(("name", "ref"), FLIR_REFERENCE.items())
def test_flir_frames_decode_to_the_reference_temperatures(
    name: str, ref: tuple[float, float, float]
) -> None:
    frame = read_frame(THERMAL / name, Overrides(distance_from="file"))
    s = frame.stats()
    assert frame.temp_c.dtype == np.float32 and np.isfinite(frame.temp_c).all()
    for got, want in zip((s["min_c"], s["max_c"], s["median_c"]), ref, strict=True):
        assert abs(got - want) <= 0.1, (name, s, ref)
    assert frame.meta.time is not None


@pytest.mark.parametrize(("name", "model"), DJI_FILES.items())
def test_dji_rjpeg_is_refused_by_name_never_approximated(name: str, model: str) -> None:
    with pytest.raises(RadiometricError, match=rf"DJI R-JPEG \(.*{re.escape(model)}.*not decoded"):
        read_frame(THERMAL / name)


def _retag(data: bytes, **values: str) -> bytes:
    """``data`` with drone-dji XMP properties set (segment lengths rewritten)."""
    out = bytearray(data[:2])
    pos = 2
    for seg in segments(data):
        start = seg.offset - 4
        out += data[pos:start]
        payload = data[seg.offset : seg.offset + seg.length]
        if seg.marker == 0xE1 and payload.startswith(b"http://ns.adobe.com/xap/1.0/"):
            for key, value in values.items():
                pattern = rb"drone-dji:" + key.encode() + rb'="[^"]*"'
                new = b"drone-dji:" + key.encode() + b'="' + value.encode() + b'"'
                if re.search(pattern, payload):
                    payload = re.sub(pattern, new, payload)
                else:
                    payload = payload.replace(
                        b"drone-dji:AbsoluteAltitude", new + b" drone-dji:AbsoluteAltitude", 1
                    )
        out += bytes([0xFF, seg.marker]) + struct.pack(">H", len(payload) + 2) + payload
        pos = seg.offset + seg.length
    out += data[pos:]
    return bytes(out)


@pytest.fixture
def nadir(tmp_path: Path) -> Path:
    """The real XT2 frame, re-tagged as taken straight down from 60 m, heading north."""
    data = (THERMAL / "flir_format/DJI_XT2.jpg").read_bytes()
    path = tmp_path / "nadir.jpg"
    path.write_bytes(
        _retag(
            data,
            RelativeAltitude="+60.00",
            GimbalPitchDegree="-90.00",
            GimbalYawDegree="+0.00",
            GimbalRollDegree="+0.00",
        )
    )
    return path


def test_distance_comes_from_the_laser_then_the_flight_height_then_the_file(
    nadir: Path, tmp_path: Path
) -> None:
    flight = read_frame(nadir)
    assert (flight.distance_m, flight.distance_source) == (60.0, "relative altitude")
    own = read_frame(nadir, Overrides(distance_from="file"))
    assert own.distance_m == 20.0
    # A longer path through the air (40 deg C in this file) lets less of the object and more of
    # the air reach the camera: correcting for it moves objects away from the air temperature.
    hot, cold = own.temp_c > 45, own.temp_c < 35
    assert (flight.temp_c[hot] > own.temp_c[hot]).all()
    assert (flight.temp_c[cold] < own.temp_c[cold]).all()
    laser = tmp_path / "laser.jpg"
    laser.write_bytes(_retag(nadir.read_bytes(), LRFTargetDistance="58.20", LRFStatus="Normal"))
    assert read_frame(laser).distance_source == "laser"
    assert read_frame(laser).distance_m == pytest.approx(58.2)
    forced = read_frame(laser, Overrides(distance_m=30.0, emissivity=0.9, reflected_c=-5.0))
    assert (forced.distance_m, forced.emissivity, forced.reflected_c) == (30.0, 0.9, -5.0)
    # Lower emissivity: the same radiance means a warmer object (it emits less).
    assert np.nanmedian(forced.temp_c) > np.nanmedian(
        read_frame(laser, Overrides(distance_m=30.0)).temp_c
    )
    with pytest.raises(RadiometricError, match="emissivity"):
        read_frame(nadir, Overrides(emissivity=1.5))


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    from pyproj import Geod

    return float(Geod(ellps="WGS84").inv(a[0], a[1], b[0], b[1])[2])


def test_a_nadir_frame_footprint_is_where_the_camera_looked(nadir: Path, tmp_path: Path) -> None:
    frame = read_frame(nadir)
    p = pose(frame)
    ring = footprint_lonlat(p)
    assert len(ring) == 5 and ring[0] == ring[-1]
    # XT2 19 mm lens, 640 x 512 pixels of 17 um: 32.0 x 25.9 degrees; at 60 m 34.4 m x 27.6 m.
    width = 2 * 60 * math.tan(math.radians(frame.fov_deg or 0) / 2)
    assert width == pytest.approx(34.4, abs=0.2)
    top_left, top_right, bottom_right = ring[0], ring[1], ring[2]
    assert _metres(top_left, top_right) == pytest.approx(width, rel=0.01)
    assert _metres(top_right, bottom_right) == pytest.approx(width * 512 / 640, rel=0.01)
    assert top_left[1] > bottom_right[1] and top_left[0] < top_right[0]  # north up, east right
    centre = (sum(c[0] for c in ring[:4]) / 4, sum(c[1] for c in ring[:4]) / 4)
    assert _metres(centre, (frame.meta.lon, frame.meta.lat)) < 0.05
    assert p.gsd_m == pytest.approx(width / 640, rel=1e-6)
    # Heading east: the image's top edge now runs north-south, on the east side.
    east = tmp_path / "east.jpg"
    east.write_bytes(_retag(nadir.read_bytes(), GimbalYawDegree="+90.00"))
    ring_e = footprint_lonlat(pose(read_frame(east)))
    assert ring_e[0][0] > centre[0] and ring_e[1][0] > centre[0]
    assert ring_e[0][1] > ring_e[1][1]


def test_oblique_grounded_and_unplaced_frames_are_not_georeferenced(
    nadir: Path, tmp_path: Path
) -> None:
    oblique = tmp_path / "oblique.jpg"
    oblique.write_bytes(_retag(nadir.read_bytes(), GimbalPitchDegree="-45.00"))
    with pytest.raises(NotGeoreferenced, match="oblique"):
        pose(read_frame(oblique))
    with pytest.raises(NotGeoreferenced, match="from the ground"):
        pose(read_frame(THERMAL / "flir_format/DJI_XT2.jpg"))  # 1.9 m up: a ground shot
    with pytest.raises(NotGeoreferenced, match="no GPS"):
        pose(read_frame(THERMAL / "flir_format/FLIR_T640.jpg"))


def test_bad_files_are_refused_with_their_reason(tmp_path: Path) -> None:
    import cv2

    rgb = tmp_path / "photo.jpg"
    _ok, buf = cv2.imencode(
        ".jpg", (np.random.default_rng(1).random((64, 80, 3)) * 255).astype(np.uint8)
    )
    rgb.write_bytes(buf.tobytes())
    with pytest.raises(RadiometricError, match="no radiometric data"):
        read_frame(rgb)
    data = (THERMAL / "flir_format/DJI_XT2.jpg").read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[:200_000])
    with pytest.raises(RadiometricError, match="truncated"):
        read_frame(cut)
    text = tmp_path / "notes.jpg"
    text.write_bytes(b"not a picture at all")
    with pytest.raises(RadiometricError, match="not a JPEG"):
        read_frame(text)
    # A FLIR record directory pointing past its data.
    broken = bytearray(data)
    k = broken.find(b"FFF\0")
    broken[k + 24 : k + 28] = struct.pack("<I", 10**8)
    bad = tmp_path / "baddir.jpg"
    bad.write_bytes(bytes(broken))
    with pytest.raises(RadiometricError, match="directory"):
        read_frame(bad)


def test_a_survey_folder_keeps_going_past_bad_frames(nadir: Path, tmp_path: Path) -> None:
    from urbanops.cli.main import app

    folder = tmp_path / "flight"
    folder.mkdir()
    (folder / "a_nadir.jpg").write_bytes(nadir.read_bytes())
    (folder / "b_nadir_east.jpg").write_bytes(_retag(nadir.read_bytes(), GimbalYawDegree="+90.00"))
    (folder / "c_oblique.jpg").write_bytes(_retag(nadir.read_bytes(), GimbalPitchDegree="-30.00"))
    (folder / "d_truncated.jpg").write_bytes(nadir.read_bytes()[:5000])
    (folder / "e_handheld.jpg").write_bytes((THERMAL / "flir_format/FLIR_T640.jpg").read_bytes())
    (folder / "f_h20t.jpg").write_bytes(
        (THERMAL / "dji_multi_camera/H20T_DJI_0001_R.JPG").read_bytes()
    )
    (folder / "notes.txt").write_text("ignored: not a JPEG name")
    result = survey(folder)
    s = result.summary()
    assert (s["frames"], s["decoded"], s["georeferenced"], s["skipped"]) == (6, 3, 2, 3)
    assert s["skipped_by_reason"] == {
        "truncated or corrupt": 1,
        "other camera": 1,
        "DJI R-JPEG not decoded": 1,
    }
    out = tmp_path / "frames.geojson"
    res = CliRunner().invoke(app, ["thermal", "frames", str(folder), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "6 frames: 3 decoded, 2 georeferenced, 3 skipped" in res.output
    fc = json.loads(out.read_text())
    props = {f["properties"]["file"]: f for f in fc["features"]}
    assert set(props) == {"a_nadir.jpg", "b_nadir_east.jpg", "c_oblique.jpg"}
    for f in fc["features"]:
        for key in ("file", "camera", "time", "min_c", "max_c", "median_c", "distance_m"):
            assert key in f["properties"]
    assert props["a_nadir.jpg"]["geometry"]["type"] == "Polygon"
    assert props["c_oblique.jpg"]["geometry"] is None
    assert "oblique" in props["c_oblique.jpg"]["properties"]["problem"]
    # Nothing decodable, an empty folder, a missing folder, a bad override: non-zero exits.
    only_bad = tmp_path / "bad"
    only_bad.mkdir()
    (only_bad / "x.jpg").write_bytes(b"\xff\xd8\xff")
    res = CliRunner().invoke(app, ["thermal", "frames", str(only_bad), "--out", str(out)])
    assert res.exit_code == 1 and "none of the 1 frames" in res.output
    empty = tmp_path / "empty"
    empty.mkdir()
    res = CliRunner().invoke(app, ["thermal", "frames", str(empty), "--out", str(out)])
    assert res.exit_code == 1 and "no JPEG frames" in res.output
    res = CliRunner().invoke(app, ["thermal", "frames", str(tmp_path / "nope"), "--out", str(out)])
    assert res.exit_code == 1 and "no such folder" in res.output
    res = CliRunner().invoke(
        app, ["thermal", "frames", str(folder), "--out", str(out), "--emissivity", "3"]
    )
    assert res.exit_code != 0

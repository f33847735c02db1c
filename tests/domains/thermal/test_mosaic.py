"""From a folder of drone frames to a mosaic and to findings (generated flight, known truth)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from pyproj import Transformer
from typer.testing import CliRunner

from urbanops.cli.main import app
from urbanops.domains.thermal import flight, synthetic
from urbanops.domains.thermal.mosaic import build_mosaic


@pytest.fixture(scope="module")
def flown(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """54 frames at 60 m over a 70 m scene with three leaks (seed 8); camera drift sd 0.4."""
    out = tmp_path_factory.mktemp("flight")
    scene = synthetic.generate(8, width_m=70, height_m=70, gsd_m=0.1)
    plan = flight.FlightPlan(altitude_m=60, drift_sd_c=0.4)
    paths = flight.write_flight(scene, out, plan, seed=8)
    return {"scene": scene, "paths": paths, "dir": out}


def _sample(mosaic: Path, scene: synthetic.Scene, every: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Mosaic values at the scene's pixel centres, and the scene's own."""
    with rasterio.open(mosaic) as ds:
        data = ds.read(1)
        tr = Transformer.from_crs(synthetic.CRS, ds.crs, always_xy=True)
        h, w = scene.temp_c.shape
        rr, cc = np.mgrid[0:h:every, 0:w:every]
        xs = synthetic.ORIGIN_XY[0] + (cc + 0.5) * scene.gsd_m
        ys = synthetic.ORIGIN_XY[1] + scene.height_m - (rr + 0.5) * scene.gsd_m
        x, y = tr.transform(xs.ravel(), ys.ravel())
        r, c = (np.asarray(v) for v in rasterio.transform.rowcol(ds.transform, x, y))
    ok = (r >= 0) & (r < data.shape[0]) & (c >= 0) & (c < data.shape[1])
    got = np.full(r.shape, np.nan)
    got[ok] = data[r[ok], c[ok]]
    return got, scene.temp_c[rr, cc].ravel()


def test_the_mosaic_of_the_frames_is_the_scene(flown: dict[str, Any], tmp_path: Path) -> None:
    result = build_mosaic(flown["paths"]["frames"], tmp_path / "m.tif")
    assert result.crs == "EPSG:32652"  # UTM 52N over Seongnam
    assert len(result.frames) == flown["paths"]["count"]
    # Camera drift of sd 0.4 deg C per frame was added; levelling finds offsets of that size.
    assert 0.25 < result.offsets_sd_c < 0.55
    got, truth = _sample(result.path, flown["scene"])
    both = np.isfinite(got) & np.isfinite(truth)
    assert both.mean() > 0.9
    diff = got[both] - truth[both]
    diff -= np.median(diff)  # the common level is the frames' average drift
    assert np.median(np.abs(diff)) < 0.08
    assert np.percentile(np.abs(diff), 95) < 0.25
    with rasterio.open(result.path) as ds:
        assert ds.dtypes[0] == "float32" and math.isnan(ds.nodata)
        assert np.isnan(ds.read(1, window=((0, 4), (0, 4)))).all()  # corners: nothing seen


def test_inspect_a_folder_of_frames(flown: dict[str, Any], tmp_path: Path) -> None:
    p = flown["paths"]
    out = tmp_path / "out"
    args = ["thermal", "inspect", str(p["frames"]), "--network", str(p["pipes"])]
    res = CliRunner().invoke(app, [*args, "--exclude", str(p["known"]), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "54 in the folder, 54 in the mosaic" in res.output
    assert (out / "mosaic.tif").exists()
    fc = json.loads((out / "findings.geojson").read_text())
    truth = json.loads(p["truth"].read_text())
    tr = Transformer.from_crs("EPSG:4326", synthetic.CRS, always_xy=True)
    places = [tr.transform(*f["geometry"]["coordinates"]) for f in fc["features"]]
    for lk in truth["leaks"]:
        if lk["peak_c"] >= 5:
            assert min(math.hypot(x - lk["x"], y - lk["y"]) for x, y in places) <= 1.5
    for f in fc["features"]:
        frames = f["properties"]["frames"].split(";")
        assert len(frames) >= 2 and f["properties"]["best_frame"] == frames[0]
        assert all((p["frames"] / name).exists() for name in frames)
    html = (out / "report.html").read_text()
    assert html.count("<small>from frame DJI_") == len(fc["features"])
    # Per-survey measurement settings apply to frames, and are refused for a mosaic.
    again = tmp_path / "again"
    res = CliRunner().invoke(app, [*args, "--out", str(again), "--emissivity", "0.9"])
    assert res.exit_code == 0, res.output
    warmer = json.loads((again / "findings.geojson").read_text())["features"]
    assert max(f["properties"]["peak_c"] for f in warmer) > max(
        f["properties"]["peak_c"] for f in fc["features"]
    )
    res = CliRunner().invoke(
        app,
        [
            "thermal",
            "inspect",
            str(out / "mosaic.tif"),
            "--network",
            str(p["pipes"]),
            "--out",
            str(again),
            "--emissivity",
            "0.9",
        ],
    )
    assert res.exit_code == 1 and "apply to a folder of frames" in res.output


def test_frames_that_cannot_be_placed_are_skipped_and_said(
    flown: dict[str, Any], tmp_path: Path
) -> None:
    from tests.conftest import SHARED_DATA

    folder = tmp_path / "mixed"
    shutil.copytree(flown["paths"]["frames"], folder)
    first = sorted(folder.iterdir())[0]
    (folder / "zz_truncated.jpg").write_bytes(first.read_bytes()[:3000])
    (folder / "zz_rgb.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01")
    out = tmp_path / "m.tif"
    res = CliRunner().invoke(app, ["thermal", "mosaic", str(folder), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "54 frames ->" in res.output and "zz_truncated.jpg" in res.output
    assert out.exists()
    # A folder whose frames are all ground shots or handheld: nothing to mosaic.
    thermal = SHARED_DATA / "thermal" / "flir_format"
    if thermal.exists():
        ground = tmp_path / "ground"
        ground.mkdir()
        shutil.copy(thermal / "DJI_XT2.jpg", ground / "a.jpg")
        res = CliRunner().invoke(app, ["thermal", "mosaic", str(ground), "--out", str(out)])
        assert res.exit_code == 1 and "no georeferenced frame" in res.output
    res = CliRunner().invoke(app, ["thermal", "mosaic", str(tmp_path / "none"), "--out", str(out)])
    assert res.exit_code == 1 and "no such folder" in res.output


def test_an_unknown_camera_is_decoded_but_not_placed(tmp_path: Path) -> None:
    from urbanops.domains.thermal.georef import NotGeoreferenced, pose
    from urbanops.domains.thermal.radiometric.frame import read_frame
    from urbanops.domains.thermal.radiometric.writer import Shot, frame_bytes

    temp = np.full((64, 80), 3.0, np.float32)
    path = tmp_path / "acme.jpg"
    path.write_bytes(frame_bytes(temp, Shot(37.4, 127.1, 50.0, model="ACME-9")))
    frame = read_frame(path)
    assert frame.camera.name == "unknown camera (DJI ACME-9)"
    assert abs(frame.stats()["median_c"] - 3.0) < 0.05
    with pytest.raises(NotGeoreferenced, match=r"unknown camera \(DJI ACME-9\).*camera table"):
        pose(frame)


def test_a_frame_without_height_or_gps_is_decoded_but_not_placed(tmp_path: Path) -> None:
    from urbanops.domains.thermal.georef import NotGeoreferenced, pose
    from urbanops.domains.thermal.radiometric.frame import read_frame
    from urbanops.domains.thermal.radiometric.writer import Shot, frame_bytes

    data = frame_bytes(np.full((64, 80), 3.0, np.float32), Shot(37.4, 127.1, 50.0))
    no_height = tmp_path / "no_height.jpg"
    no_height.write_bytes(
        data.replace(b"drone-dji:RelativeAltitude", b"drone-dji:RelativeAltitudX")
    )
    with pytest.raises(NotGeoreferenced, match="no height above the take-off point"):
        pose(read_frame(no_height))
    no_gps = tmp_path / "no_gps.jpg"
    no_gps.write_bytes(frame_bytes(np.full((64, 80), 3.0, np.float32), Shot(None, None, 50.0)))
    frame = read_frame(no_gps)
    assert frame.meta.lat is None and abs(frame.stats()["median_c"] - 3.0) < 0.05
    with pytest.raises(NotGeoreferenced, match="no GPS"):
        pose(frame)

"""Every input an inspector may get wrong is refused with one clear line and exit code 1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from typer.testing import CliRunner

from tests.domains.thermal.conftest import write_json
from urbanops.cli.main import app

runner = CliRunner()


def _tif(path: Path, data: np.ndarray, **profile: Any) -> Path:
    count = 1 if data.ndim == 2 else data.shape[0]
    base = {
        "driver": "GTiff",
        "height": data.shape[-2],
        "width": data.shape[-1],
        "count": count,
        "dtype": str(data.dtype),
        "crs": "EPSG:5186",
        "transform": from_origin(209_000, 535_160, 0.15, 0.15),
    }
    base.update(profile)
    with rasterio.open(path, "w", **base) as dst:
        dst.write(data if data.ndim == 3 else data[None])
    return path


def _inspect(mosaic: Path, network: Path, out: Path) -> Any:
    return runner.invoke(
        app, ["thermal", "inspect", str(mosaic), "--network", str(network), "--out", str(out)]
    )


def _shifted(pipes: Path, dx: float, target: Path) -> Path:
    data = json.loads(pipes.read_text())
    for f in data["features"]:
        f["geometry"]["coordinates"] = [[x + dx, y] for x, y in f["geometry"]["coordinates"]]
    return write_json(target, data)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("no_crs", "has no CRS"),
        ("rgb", "RGB"),
        ("truncated", "not a readable GeoTIFF"),
        ("all_nodata", "no data"),
        ("kelvin", "Kelvin"),
        ("int_no_scale", "without scale/offset"),
        ("not_a_tiff", "not a readable GeoTIFF"),
        ("missing_mosaic", "no such file"),
        ("empty_network", "has no pipes"),
        ("no_overlap", "overlaps the mosaic"),
        ("points", "must be lines"),
        ("garbage_network", "not a readable GeoJSON"),
    ],
)
def test_bad_inputs(case: str, message: str, scene: dict[str, Any], tmp_path: Path) -> None:
    p = scene["paths"]
    mosaic, network = p["mosaic"], p["pipes"]
    temps = np.full((200, 200), 1.5, dtype=np.float32)
    if case == "no_crs":
        mosaic = _tif(tmp_path / "m.tif", temps, crs=None)
    elif case == "rgb":
        mosaic = _tif(tmp_path / "m.tif", np.zeros((3, 200, 200), dtype=np.uint8))
    elif case == "truncated":
        raw = p["mosaic"].read_bytes()
        mosaic = tmp_path / "m.tif"
        mosaic.write_bytes(raw[: len(raw) // 3])
    elif case == "all_nodata":
        mosaic = _tif(tmp_path / "m.tif", np.full((200, 200), -9999, np.float32), nodata=-9999)
    elif case == "kelvin":
        mosaic = _tif(tmp_path / "m.tif", temps + 273.15)
    elif case == "int_no_scale":
        mosaic = _tif(tmp_path / "m.tif", np.full((200, 200), 300, np.int16))
    elif case == "not_a_tiff":
        mosaic = tmp_path / "m.tif"
        mosaic.write_text("this is a text file")
    elif case == "missing_mosaic":
        mosaic = tmp_path / "nope.tif"
    elif case == "empty_network":
        network = write_json(tmp_path / "n.geojson", {"type": "FeatureCollection", "features": []})
    elif case == "no_overlap":
        network = _shifted(p["pipes"], 50_000, tmp_path / "n.geojson")
    elif case == "points":
        network = p["known"]
    elif case == "garbage_network":
        network = tmp_path / "n.geojson"
        network.write_text("{not json")
    result = _inspect(mosaic, network, tmp_path / "out")
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out" / "findings.geojson").exists()  # nothing half-written


def test_truncated_after_a_valid_header_is_refused_while_reading(
    scene: dict[str, Any], tmp_path: Path
) -> None:
    """A file cut in the middle of its data (header intact) fails when a tile is read."""
    raw = scene["paths"]["mosaic"].read_bytes()
    mosaic = tmp_path / "m.tif"
    mosaic.write_bytes(raw[: int(len(raw) * 0.9)])
    result = _inspect(mosaic, scene["paths"]["pipes"], tmp_path / "out")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "corrupt" in result.output or "not a readable GeoTIFF" in result.output


def test_compare_two_surveys(inspected: dict[str, Any], tmp_path: Path) -> None:
    old = inspected["dir"]
    fc = json.loads((old / "findings.geojson").read_text())
    assert len(fc["features"]) >= 3
    new = tmp_path / "new"
    new.mkdir()
    gone = fc["features"].pop(0)  # repaired
    fc["features"][0]["properties"]["delta_t_c"] += 1.0  # grown
    added = json.loads(json.dumps(fc["features"][1]))
    added["properties"]["id"] = "F9999"
    added["geometry"]["coordinates"][0] += 0.001  # about 90 m east: a new place
    fc["features"].append(added)
    write_json(new / "findings.geojson", fc)
    result = runner.invoke(app, ["thermal", "compare", str(old), str(new)])
    assert result.exit_code == 0, result.output
    report = json.loads((new / "compare.json").read_text())
    assert [f["id"] for f in report["resolved"]] == [gone["properties"]["id"]]
    assert [f["id"] for f in report["new"]] == ["F9999"]
    assert [f["id"] for f in report["grown"]] == [fc["features"][0]["properties"]["id"]]
    assert len(report["unchanged"]) == len(fc["features"]) - 2
    bad = runner.invoke(app, ["thermal", "compare", str(old), str(tmp_path / "nowhere")])
    assert bad.exit_code == 1 and "not an inspection folder" in bad.output


def test_known_features_that_cannot_be_placed_are_refused(
    scene: dict[str, Any], tmp_path: Path
) -> None:
    """Known features are positioned in the image now (their lids are modelled): one with
    coordinates outside any longitude and latitude is refused, as a pipe would be."""
    p = scene["paths"]
    bad = write_json(
        tmp_path / "known.geojson",
        {"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {},
             "geometry": {"type": "Point", "coordinates": [999.0, 999.0]}}]},
    )  # fmt: skip
    result = runner.invoke(
        app,
        ["thermal", "inspect", str(p["mosaic"]), "--network", str(p["pipes"]),
         "--exclude", str(bad), "--out", str(tmp_path / "out")],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "feature 0 cannot be placed" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out" / "findings.geojson").exists()

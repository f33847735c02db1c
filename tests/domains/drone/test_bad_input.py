"""Bad input to ``urbanops drone plan``: a clear message, exit 1, and no files written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from shapely.geometry import LineString, Point, box
from typer.testing import CliRunner

from urbanops.cli.main import app

from .conftest import X0, Y0, fc, feature, local


def run(*args: str) -> Any:
    return CliRunner().invoke(app, ["drone", "plan", *args], catch_exceptions=False)


def base(site: dict[str, Any], out: Path) -> dict[str, str]:
    return {
        "--network": str(site["network"]),
        "--airspace": str(site["zones"]),
        "--camera": "H20T",
        "--gsd": "0.10",
        "--overlap": "0.3",
        "--home": site["home"],
        "--out": str(out),
        "--search-s": "0.3",
        "--start": "2026-12-01T01:00",
    }


def args(opts: dict[str, str]) -> list[str]:
    return [x for kv in opts.items() for x in kv]


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


CASES = {
    "unknown camera": ({"--camera": "H99X"}, "unknown camera 'H99X'"),
    "gsd zero": ({"--gsd": "0"}, "above 0"),
    "gsd negative": ({"--gsd": "-0.1"}, "above 0"),
    "gsd out of reach": ({"--gsd": "0.5", "--ceiling-m": "120"}, "best GSD reachable"),
    "gsd too fine": ({"--gsd": "0.01"}, "below the 20 m minimum"),
    "overlap one": ({"--overlap": "1"}, "[0, 1)"),
    "overlap above one": ({"--overlap": "1.5"}, "[0, 1)"),
    "home not a pair": ({"--home": "127.1"}, "LON,LAT"),
    "home text": ({"--home": "seongnam"}, "LON,LAT"),
    "home off the globe": ({"--home": "500,37"}, "not a longitude,latitude"),
    "endurance zero": ({"--endurance-min": "0"}, "endurance"),
    "bad start": ({"--start": "tomorrow"}, "ISO 8601"),
    "missing network": ({"--network": "/nonexistent/pipes.geojson"}, "no such file"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_option_is_refused_without_files(site: dict[str, Any], case: str) -> None:
    out = site["dir"] / "out"
    change, message = CASES[case]
    res = run(*args({**base(site, out), **change}))
    assert res.exit_code == 1
    assert message in res.output, res.output
    assert not out.exists()


def test_home_inside_a_zone(site: dict[str, Any]) -> None:
    out = site["dir"] / "out"
    lon, lat = local(500, 500)
    res = run(*args({**base(site, out), "--home": f"{lon},{lat}"}))
    assert res.exit_code == 1 and "inside zone 'Z-AIR'" in res.output
    assert not out.exists()


def test_home_within_the_margin(site: dict[str, Any]) -> None:
    out = site["dir"] / "out"
    lon, lat = local(500, 500 + 155)  # 5 m outside the 150 m circle
    res = run(*args({**base(site, out), "--home": f"{lon},{lat}"}))
    assert res.exit_code == 1 and "safety margin" in res.output
    assert not out.exists()


def test_zones_covering_everything(site: dict[str, Any]) -> None:
    out = site["dir"] / "out"
    big = box(X0 - 40, Y0 - 40, X0 + 3000, Y0 + 3000)
    zones = write(site["dir"] / "all.geojson", fc([feature(big, id="Z-ALL")]))
    res = run(*args({**base(site, out), "--airspace": str(zones)}))
    assert res.exit_code == 1
    assert "nothing to fly" in res.output and "9.00 km" in res.output
    assert not out.exists()


def test_home_enclosed_by_zones(site: dict[str, Any]) -> None:
    """Home in a clearing no transit can leave: no line can be flown."""
    out = site["dir"] / "out"
    ring = box(X0 - 400, Y0 - 400, X0 - 5, Y0 - 5).difference(
        box(X0 - 200, Y0 - 200, X0 - 20, Y0 - 20)
    )
    zones = write(site["dir"] / "ring.geojson", fc([feature(ring, id="Z-RING")]))
    res = run(*args({**base(site, out), "--airspace": str(zones)}))
    assert res.exit_code == 1 and "unreachable" in res.output, res.output
    assert not out.exists()


def test_lines_beyond_reach_are_reported_not_dropped(site: dict[str, Any]) -> None:
    """Home in a clearing that holds a little pipe: that is flown, the rest is listed."""
    out = site["dir"] / "out"
    ring = box(X0 - 400, Y0 - 400, X0 + 300, Y0 + 300).difference(
        box(X0 - 200, Y0 - 200, X0 + 100, Y0 + 100)
    )
    zones = write(site["dir"] / "ring.geojson", fc([feature(ring, id="Z-RING")]))
    res = run(*args({**base(site, out), "--airspace": str(zones)}))
    assert res.exit_code == 0, res.output
    assert "not flown: unreachable from home" in res.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["not_flown_km"] > 8 and summary["coverage_pct"] < 10


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (fc([]), "no pipes"),
        (fc([feature(Point(X0, Y0), id="P")]), "must be lines"),
        ("{not json", "not a readable"),
        ("", "not a readable"),
    ],
    ids=["empty", "points", "malformed", "blank"],
)
def test_bad_network(site: dict[str, Any], content: Any, message: str) -> None:
    out = site["dir"] / "out"
    net = write(site["dir"] / "bad.geojson", content)
    res = run(*args({**base(site, out), "--network": str(net)}))
    assert res.exit_code == 1 and message in res.output, res.output
    assert not out.exists()


def test_network_in_projected_coordinates_without_crs(site: dict[str, Any]) -> None:
    out = site["dir"] / "out"
    raw = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {},
                "geometry": {"type": "LineString", "coordinates": [[X0, Y0], [X0 + 100, Y0]]},
            }
        ],
    }
    net = write(site["dir"] / "projected.geojson", raw)
    res = run(*args({**base(site, out), "--network": str(net)}))
    assert res.exit_code == 1 and "outside longitude/latitude" in res.output, res.output


@pytest.mark.parametrize(
    ("zone", "message"),
    [
        (feature(LineString([(X0, Y0), (X0 + 10, Y0)]), id="L"), "must be a Polygon"),
        (feature(box(X0, Y0, X0 + 9, Y0 + 9), id="Z", ceiling_m=10, floor_m=20), "not above"),
        (feature(box(X0, Y0, X0 + 9, Y0 + 9), id="Z", floor_m="high"), "not a number"),
        (feature(box(X0, Y0, X0 + 9, Y0 + 9), id="Z", active_hours="9am-5pm"), "HH:MM-HH:MM"),
        (feature(box(X0, Y0, X0 + 9, Y0 + 9), id="Z", active_days="Someday"), "Mon..Sun"),
        (feature(box(X0, Y0, X0 + 9, Y0 + 9), id="Z", active_from="soon"), "ISO 8601"),
    ],
    ids=["line", "ceiling-below-floor", "floor-text", "hours", "days", "from"],
)
def test_bad_zone_is_refused_with_the_reason(site: dict[str, Any], zone: Any, message: str) -> None:
    out = site["dir"] / "out"
    zones = write(site["dir"] / "badzones.geojson", fc([zone]))
    res = run(*args({**base(site, out), "--airspace": str(zones)}))
    assert res.exit_code == 1 and message in res.output, res.output
    assert not out.exists()


def test_zero_area_zone_is_refused(site: dict[str, Any]) -> None:
    out = site["dir"] / "out"
    flat = {
        "type": "Feature",
        "properties": {"id": "FLAT"},
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[127.12, 37.42], [127.13, 37.42], [127.14, 37.42], [127.12, 37.42]]],
        },
    }
    zones = write(site["dir"] / "flat.geojson", fc([flat]))
    res = run(*args({**base(site, out), "--airspace": str(zones)}))
    assert res.exit_code == 1 and "no area" in res.output, res.output


def test_failed_replan_keeps_the_previous_plan(site: dict[str, Any]) -> None:
    out = site["dir"] / "out"
    assert run(*args(base(site, out))).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    res = run(*args({**base(site, out), "--gsd": "-1"}))
    assert res.exit_code == 1
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_custom_camera_file(site: dict[str, Any]) -> None:
    out = site["dir"] / "out"
    cam = write(
        site["dir"] / "mycam.json",
        {"name": "Boson 640 14 mm", "width_px": 640, "height_px": 512, "pixel_pitch_um": 12,
         "focal_length_mm": 14},
    )  # fmt: skip
    res = run(*args({**base(site, out), "--camera": str(cam)}))
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["altitude_m"] == pytest.approx(0.10 * 14 / 0.012, abs=0.1)
    bad = write(site["dir"] / "badcam.json", {"width_px": 640})
    res = run(*args({**base(site, out), "--camera": str(bad)}))
    assert res.exit_code == 1 and "height_px" in res.output

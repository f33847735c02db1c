"""``urbanops drone plan`` end to end, with an independent check of every exported leg."""

from __future__ import annotations

import json
import math
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, shape
from typer.testing import CliRunner

from urbanops.cli.main import app

SEOUL = ZoneInfo("Asia/Seoul")


def run(*args: str) -> Any:
    return CliRunner().invoke(app, ["drone", "plan", *args], catch_exceptions=False)


def plan_args(site: dict[str, Any], out: Path, *extra: str) -> list[str]:
    return [
        "--network", str(site["network"]), "--airspace", str(site["zones"]),
        "--camera", "H20T", "--gsd", "0.10", "--overlap", "0.3", "--home", site["home"],
        "--out", str(out), "--search-s", "0.6", *extra,
    ]  # fmt: skip


def _in_force(props: dict[str, Any], start: datetime, end: datetime) -> bool:
    """Independent reading of the fixture's schedules (only 'HH:MM-HH:MM' is used there)."""
    hours = props.get("active_hours")
    if not hours:
        return True
    a, b = (time.fromisoformat(x) for x in hours.split("-"))
    day = start.astimezone(SEOUL).date() - timedelta(days=1)
    while day <= end.astimezone(SEOUL).date():
        w0 = datetime.combine(day, a, SEOUL)
        w1 = datetime.combine(day, b, SEOUL)
        if w1 <= w0:
            w1 += timedelta(days=1)
        if w0 <= end and w1 >= start:
            return True
        day += timedelta(days=1)
    return False


def legs(plan: dict[str, Any]) -> tuple[list[tuple[float, float]], list[float]]:
    """Positions flown in order (lon, lat): home, each positional item, home again."""
    lat0, lon0, _ = plan["mission"]["plannedHomePosition"]
    pts, alts = [(lon0, lat0)], []
    for it in plan["mission"]["items"]:
        if it["command"] in (16, 22):
            p = it["params"]
            pts.append((p[5], p[4]))
            alts.append(p[6])
        elif it["command"] == 20:
            pts.append((lon0, lat0))
    return pts, alts


def violations(out: Path, zones_path: Path) -> list[str]:
    """Every leg of every exported plan against every zone in force at the sortie's time."""
    to_m = Transformer.from_crs("EPSG:4326", "EPSG:5186", always_xy=True)
    zones = json.loads(zones_path.read_text())["features"]
    summary = json.loads((out / "summary.json").read_text())
    found = []
    for s in summary["sorties"]:
        plan = json.loads((out / s["file"]).read_text())
        pts, alts = legs(plan)
        start, end = datetime.fromisoformat(s["start"]), datetime.fromisoformat(s["end"])
        xy = [to_m.transform(lon, lat) for lon, lat in pts]
        path = LineString(xy)
        for z in zones:
            props = z["properties"]
            poly = shapely.make_valid(
                shapely.transform(shape(z["geometry"]), to_m.transform, interleaved=False)
            )
            floor = props.get("floor_m") or 0
            ceiling = props.get("ceiling_m") or math.inf
            if not any(floor <= a <= ceiling for a in alts):
                continue
            if not _in_force(props, start, end):
                continue
            if path.intersects(poly):
                found.append(f"{s['file']} crosses {props['id']}")
    return found


def test_plan_writes_every_output_and_keeps_out_of_zones(site: dict[str, Any]) -> None:
    out = site["dir"] / "night"
    res = run(*plan_args(site, out, "--start", "2026-12-01T01:00"))
    assert res.exit_code == 0, res.output
    assert "invalid polygon repaired" in res.output  # the bow tie
    summary = json.loads((out / "summary.json").read_text())
    plans = sorted(out.glob("mission-*.plan"))
    assert len(plans) == summary["batteries"] >= 1
    for p in plans:
        plan = json.loads(p.read_text())
        assert plan["fileType"] == "Plan"
        mission = plan["mission"]
        assert len(mission["plannedHomePosition"]) == 3
        items = mission["items"]
        assert items[0]["command"] == 22 and items[-1]["command"] == 20
        assert any(it["command"] == 206 and it["params"][0] > 0 for it in items)
        for it in items:
            if it["command"] in (16, 22):
                lat, lon = it["params"][4], it["params"][5]
                assert 37.3 < lat < 37.5 and 127.0 < lon < 127.3  # params 5, 6: lat, lon
                assert it["frame"] == 3 and it["params"][6] == pytest.approx(112.5, abs=0.1)
        # the zones in force are also written as the autopilot's exclusion fence
        assert all(not poly["inclusion"] for poly in plan["geoFence"]["polygons"])
    assert violations(out, site["zones"]) == []
    # coverage of the pipe outside zones, at the requested GSD
    assert summary["gsd_m"] == pytest.approx(0.10, abs=1e-3)
    assert summary["coverage_pct"] >= 99.0
    zones_in_force = set(summary["zones"]["in_force"])
    assert {"Z-AIR", "Z-NIGHT", "Z-BOW"} <= zones_in_force
    assert "Z-LOW" not in zones_in_force  # its ceiling is below the survey height
    auth = {a["zone"]: a["pipe_km"] for a in summary["needs_authorisation"]}
    assert auth["Z-AIR"] == pytest.approx(0.6, abs=0.01)  # two streets cross a 150 m circle
    assert auth["Z-NIGHT"] == pytest.approx(0.2, abs=0.01)
    assert summary["pipe_km_total"] == pytest.approx(9.0, abs=0.01)
    # KML and GeoJSON open as what they claim to be
    gj = json.loads((out / "mission.geojson").read_text())
    kinds = {f["properties"]["kind"] for f in gj["features"]}
    assert {
        "home",
        "zone",
        "flight_path",
        "survey_line",
        "waypoint",
        "needs_authorisation",
    } <= kinds
    import xml.etree.ElementTree as ET

    root = ET.fromstring((out / "mission.kml").read_bytes())
    assert root.tag.endswith("kml")
    page = (out / "map.html").read_text()
    assert "<svg" in page and "http://" not in page.replace("http://www.w3.org", "")


def test_daytime_plan_flies_where_the_night_zone_was(site: dict[str, Any]) -> None:
    out = site["dir"] / "day"
    res = run(*plan_args(site, out, "--start", "2026-12-01T10:00"))
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert "Z-NIGHT" not in summary["zones"]["in_force"]
    assert "Z-NIGHT" not in {a["zone"] for a in summary["needs_authorisation"]}
    assert violations(out, site["zones"]) == []


def test_plan_that_runs_into_the_night_avoids_the_night_zone(site: dict[str, Any]) -> None:
    """Sorties that start at 21:40 run past 22:00: the night zone shapes the plan."""
    out = site["dir"] / "dusk"
    res = run(*plan_args(site, out, "--start", "2026-12-01T21:40", "--endurance-min", "15"))
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["end"] > "2026-12-01T22:00"
    assert "Z-NIGHT" in summary["zones"]["in_force"]
    assert violations(out, site["zones"]) == []


def test_network_in_another_crs_gives_the_same_plan(site: dict[str, Any]) -> None:
    import numpy as np
    import pyogrio.raw

    from .conftest import grid_lines

    gpkg = site["dir"] / "pipes_5186.gpkg"
    lines = grid_lines()
    pyogrio.raw.write(
        gpkg,
        geometry=np.array([shapely.to_wkb(ln) for ln in lines], dtype=object),
        field_data=[np.array([f"P{i}" for i in range(len(lines))], dtype=object)],
        fields=["id"],
        crs="EPSG:5186",
        geometry_type="LineString",
        driver="GPKG",
    )
    a, b = site["dir"] / "a", site["dir"] / "b"
    assert run(*plan_args(site, a, "--start", "2026-12-01T01:00")).exit_code == 0
    args = plan_args(site, b, "--start", "2026-12-01T01:00")
    args[args.index(str(site["network"]))] = str(gpkg)
    res = run(*args)
    assert res.exit_code == 0, res.output
    sa = json.loads((a / "summary.json").read_text())
    sb = json.loads((b / "summary.json").read_text())
    assert sb["pipe_km_total"] == pytest.approx(sa["pipe_km_total"], abs=0.001)
    assert sb["coverage_pct"] == pytest.approx(sa["coverage_pct"], abs=0.1)


def test_the_independent_check_sees_a_leg_through_a_zone(site: dict[str, Any]) -> None:
    """The checker above must be able to fail: move one waypoint into the air-base zone."""
    from .conftest import local

    out = site["dir"] / "tampered"
    assert run(*plan_args(site, out, "--start", "2026-12-01T01:00")).exit_code == 0
    first = json.loads((out / "mission-1.plan").read_text())
    lon, lat = local(500, 500)
    wp = next(it for it in first["mission"]["items"] if it["command"] == 16)
    wp["params"][4], wp["params"][5] = lat, lon
    (out / "mission-1.plan").write_text(json.dumps(first))
    assert violations(out, site["zones"]) == ["mission-1.plan crosses Z-AIR"]


def test_bundled_example_plans(tmp_path: Path) -> None:
    """The example the docs show: 12 km of real street geometry, 15 zones."""
    ex = Path(__file__).resolve().parents[3] / "examples" / "drone"
    res = run(
        "--network", str(ex / "pipes.geojson"), "--airspace", str(ex / "zones.geojson"),
        "--camera", "H20T", "--gsd", "0.10", "--overlap", "0.3",
        "--home", "145.730801,-16.911031", "--start", "2026-12-01T01:00",
        "--out", str(tmp_path), "--search-s", "0.5",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["pipe_km_total"] == pytest.approx(12.0, abs=0.01)
    assert summary["coverage_pct"] >= 99.0
    assert summary["flight_km_total"] <= summary["baseline_nearest_neighbour_km"]


def test_wide_corridor_gets_parallel_lines_and_forward_overlap_sets_the_trigger(
    site: dict[str, Any],
) -> None:
    out = site["dir"] / "wide"
    res = run(
        *plan_args(
            site, out, "--start", "2026-12-01T01:00", "--corridor-m", "150",
            "--forward-overlap", "0.8",
        )
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["passes"] == 3  # 64 m footprint, 44.8 m apart: 3 lines image 153.6 m
    assert summary["trigger_distance_m"] == pytest.approx(51.2 * 0.2, abs=0.01)
    gj = json.loads((out / "mission.geojson").read_text())
    lines = [f for f in gj["features"] if f["properties"]["kind"] == "survey_line"]
    assert len(lines) >= 3 * 6  # each of the 6 streets flown three times (more where cut)
    # 10.24 m between shots at 2 s per still: the survey speed is capped, and said so
    assert "survey speed lowered" in res.output
    plan = json.loads((out / "mission-1.plan").read_text())
    speeds = {it["params"][1] for it in plan["mission"]["items"] if it["command"] == 178}
    assert min(speeds) == pytest.approx(10.24 / 2, abs=0.01)
    assert violations(out, site["zones"]) == []

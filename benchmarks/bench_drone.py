"""Drone survey planning (issue 5): coverage, airspace violations, distance, planning time.

The network is real street geometry: the shapes of the Cairns GTFS feed in ../shared/data
(bus routes follow streets; stretches several routes share are kept once), 50 km around the
centre, taken as heat mains under those streets. 100 restricted zones are generated near it
(``urbanops.domains.drone.synthetic.random_zones``: circles and rotated rectangles, 40-250 m,
a share with floors/ceilings and a share with hours), for several seeds, each with its own home
point. For each seed the whole command runs in a fresh process, ``urbanops drone plan`` with
the H20T at 10 cm GSD and 30 % overlap, and the figures are read from its outputs:

- coverage of the pipe outside zones in force, from ``summary.json``;
- violations, by an independent check of every leg of every exported ``.plan`` against every
  zone in force at the sortie's time (not the planner's own check);
- total flight distance against the nearest-neighbour order of the same lines (same transit
  distances around zones, same battery rule: go home when the next line would not fit);
- wall time of the command (reading, planning, writing) and of ``plan_mission`` alone.

Run: ``.venv/bin/python benchmarks/bench_drone.py [--seeds 5]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer
from shapely.geometry import LineString, Point, shape

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import machine  # noqa: E402

GTFS = ROOT.parent / "shared" / "data" / "mobility" / "cairns_gtfs.zip"
START = "2026-12-01T01:00"


def independent_violations(out: Path, zones_path: Path, crs: CRS) -> int:
    """Legs of the exported plans that cross a zone in force (own reading of the files)."""
    from urbanops.domains.drone.airspace import read_zones

    zones, _ = read_zones(zones_path, crs)  # schedules parsed by the library; geometry checked here
    raw = json.loads(zones_path.read_text())["features"]
    to_m = Transformer.from_crs(CRS.from_epsg(4326), crs, always_xy=True)
    polys = {
        f["properties"]["id"]: shapely.transform(
            shape(f["geometry"]), to_m.transform, interleaved=False
        )
        for f in raw
    }
    summary = json.loads((out / "summary.json").read_text())
    bad = 0
    for s in summary["sorties"]:
        plan = json.loads((out / s["file"]).read_text())
        lat0, lon0, _ = plan["mission"]["plannedHomePosition"]
        pts, alts = [(lon0, lat0)], []
        for it in plan["mission"]["items"]:
            if it["command"] in (16, 22):
                pts.append((it["params"][5], it["params"][4]))
                alts.append(it["params"][6])
            elif it["command"] == 20:
                pts.append((lon0, lat0))
        path = LineString([to_m.transform(x, y) for x, y in pts])
        t0, t1 = datetime.fromisoformat(s["start"]), datetime.fromisoformat(s["end"])
        for z in zones:
            if not any(z.floor_m <= a <= z.ceiling_m for a in alts):
                continue
            if z.in_force(t0, t1) and path.intersects(polys[z.id]):
                bad += 1
    return bad


def scenario(seed: int, tmp: Path) -> dict[str, Any]:
    from urbanops.domains.drone import synthetic

    lines, crs = synthetic.network_from_gtfs_shapes(GTFS, target_km=50)
    rng = np.random.default_rng(seed)
    net = shapely.MultiLineString(lines)
    c = net.centroid
    while True:  # a home point near the middle, off the pipes
        home = Point(c.x + rng.normal(0, 600), c.y + rng.normal(0, 600))
        if home.distance(net) > 20:
            break
    zones = synthetic.random_zones(lines, n=100, seed=seed, keep_clear=home)
    (tmp / "pipes.geojson").write_text(json.dumps(synthetic.to_geojson(lines, crs)))
    (tmp / "zones.geojson").write_text(json.dumps(synthetic.to_geojson(zones, crs)))
    lon, lat = Transformer.from_crs(crs, CRS.from_epsg(4326), always_xy=True).transform(
        home.x, home.y
    )
    return {"crs": crs, "home": f"{lon:.7f},{lat:.7f}", "km": net.length / 1000}


def run_cli(tmp: Path, home: str, out: Path) -> float:
    cmd = [
        str(ROOT / ".venv" / "bin" / "urbanops"), "drone", "plan",
        "--network", str(tmp / "pipes.geojson"), "--airspace", str(tmp / "zones.geojson"),
        "--camera", "H20T", "--gsd", "0.10", "--overlap", "0.3", "--home", home,
        "--start", START, "--out", str(out),
    ]  # fmt: skip
    t = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t
    if res.returncode:
        raise SystemExit(res.stderr + res.stdout)
    return wall


def library_time(tmp: Path, home: str) -> float:
    from zoneinfo import ZoneInfo

    from urbanops.domains.drone import (
        PlanOptions,
        get_camera,
        plan_mission,
        read_network,
        read_zones,
    )

    net = read_network(tmp / "pipes.geojson")
    zones, _ = read_zones(tmp / "zones.geojson", net.crs)
    lon, lat = (float(v) for v in home.split(","))
    start = datetime.fromisoformat(START).replace(tzinfo=ZoneInfo("Asia/Seoul"))
    t = time.perf_counter()
    plan_mission(net, zones, get_camera("H20T"), (lon, lat), PlanOptions(start=start))
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args()
    if not GTFS.exists():
        raise SystemExit(f"needs {GTFS} (../shared/data)")
    print(machine())
    rows = []
    for seed in range(1, args.seeds + 1):
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            sc = scenario(seed, tmp)
            out = tmp / "out"
            wall = run_cli(tmp, sc["home"], out)
            lib = library_time(tmp, sc["home"])
            s = json.loads((out / "summary.json").read_text())
            v = independent_violations(out, tmp / "zones.geojson", sc["crs"])
            rows.append(
                {
                    "seed": seed,
                    "pipe_km": s["pipe_km_total"],
                    "outside_km": s["pipe_km_outside_zones"],
                    "auth_km": s["pipe_km_needs_authorisation"],
                    "zones_in_force": len(s["zones"]["in_force"]),
                    "coverage_pct": s["coverage_pct"],
                    "violations": v,
                    "sorties": s["batteries"],
                    "flight_km": s["flight_km_total"],
                    "nn_km": s["baseline_nearest_neighbour_km"],
                    "saving_pct": s["saving_vs_nearest_neighbour_pct"],
                    "cli_s": wall,
                    "plan_s": lib,
                }
            )
            r = rows[-1]
            print(
                f"seed {seed}: {r['pipe_km']:.1f} km pipe ({r['outside_km']:.1f} outside "
                f"{r['zones_in_force']} zones in force, {r['auth_km']:.1f} need authorisation), "
                f"coverage {r['coverage_pct']:.2f} %, violations {v}, {r['sorties']} sorties "
                f"{r['flight_km']:.1f} km vs nearest neighbour {r['nn_km']:.1f} km "
                f"({r['saving_pct']:.1f} % shorter), command {wall:.1f} s, "
                f"plan_mission {lib:.1f} s",
                flush=True,
            )
    print()
    print(
        "| seed | pipe km | outside zones km | coverage % | violations | sorties | flight km "
        "| nearest-neighbour km | shorter by | command s | plan_mission s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['seed']} | {r['pipe_km']:.1f} | {r['outside_km']:.1f} | "
            f"{r['coverage_pct']:.2f} | {r['violations']} | {r['sorties']} | "
            f"{r['flight_km']:.1f} | {r['nn_km']:.1f} | {r['saving_pct']:.1f} % | "
            f"{r['cli_s']:.1f} | {r['plan_s']:.1f} |"
        )
    cov = [r["coverage_pct"] for r in rows]
    sav = [r["saving_pct"] for r in rows]
    cli = [r["cli_s"] for r in rows]
    print(
        f"\nminimum coverage {min(cov):.2f} % (goal >= 99), violations "
        f"{sum(r['violations'] for r in rows)} (goal 0), saving vs nearest neighbour median "
        f"{statistics.median(sav):.1f} % / minimum {min(sav):.1f} % (goal >= 10), command "
        f"time median {statistics.median(cli):.1f} s / max {max(cli):.1f} s (goal <= 10)"
    )


if __name__ == "__main__":
    main()

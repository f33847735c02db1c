"""Heat map (issue 6): cross-validated accuracy on real Berlin citizen stations, and speed.

Accuracy: the raw Netatmo citizen-station data of Berlin, January 2017 (../shared/data/heat,
about 2,500 stations, hourly), at night (02:00 UTC, 03:00 local) and in the afternoon
(13:00 UTC, 14:00 local) on six days. For each time, the day before is quality-controlled
(``urbanops.domains.heat.qc``), the stations passing it are merged where they share a position
(the file's coordinates are rounded to 0.01 deg), and 10-fold cross-validation over those sites
scores every method on the same folds (``urbanops heat validate``): the training sites' mean,
IDW (power 2, 12 neighbours), ordinary kriging (the map's choice without covariate rasters)
and regression kriging on the stations' elevation (the file's ``z``; the map's choice when a
covariate raster is given).

Speed: ``heat_map`` for 1,100 stations (random positions over a 12.2 km square, 150 km2,
a generated smooth field plus noise; temperature and humidity) onto a 10 m grid (1.51 million
cells): quality control of the hour, variogram fits, kriging of air temperature and humidity,
apparent temperature, standard deviation. Median of 5 runs; IDW onto the same grid and
kriging every cell directly (no 50 m nodes; timed on 100,000 cells and scaled) are the
references in the same run.

Response plan: ``urbanops heat plan`` in its own process for 100,000 vulnerable people (generated
around real Seoul bus stops, 300 m spread), 500 candidate sites and 300 existing shelters (real
Seoul bus stop positions, drawn at random), a heat map of Seoul from the 851 real S-DoT sensor
positions (generated afternoon values, 100 m cells) and a generated 500 m road grid over the
city for 3 spraying trucks. The greedy covering heuristic is the baseline, in the same run.

Run: ``.venv/bin/python benchmarks/bench_heat.py``
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import machine  # noqa: E402

BERLIN = ROOT.parent / "shared" / "data" / "heat" / "netatmo_berlin_2017-01.csv.gz"
DAYS = (5, 10, 15, 20, 25, 30)


def accuracy() -> None:
    from urbanops.domains.heat.observations import read_observations
    from urbanops.domains.heat.validate import cross_validate

    obs = read_observations(BERLIN)
    rows = []
    for label, hour in (("night", 2), ("afternoon", 13)):
        for day in DAYS:
            at = datetime(2017, 1, day, hour, tzinfo=UTC)
            scores, chosen, n = cross_validate(obs, at, station_covariates=["z"])
            r = {"period": label, "at": at.isoformat()[:16], "sites": n, "chosen": chosen}
            for s in scores:
                r[s.method] = s.rmse_c
                r[s.method + "_mae"] = s.mae_c
            rows.append(r)
            print(
                f"{label:9s} {r['at']} sites {n}: RMSE mean {r['mean']:.3f}, IDW {r['idw']:.3f}, "
                f"OK {r['ok']:.3f}, RK(z) {r['rk']:.3f}",
                flush=True,
            )
    df = pd.DataFrame(rows)
    print("\n| period | time (UTC) | sites | mean | IDW | OK (chosen) | RK on elevation |")
    print("|---|---|---|---|---|---|---|")
    for r in df.itertuples():
        print(
            f"| {r.period} | {r.at} | {r.sites} | {r.mean:.3f} | {r.idw:.3f} | {r.ok:.3f} | "
            f"{r.rk:.3f} |"
        )
    print("\nmean over the six times, RMSE / MAE (deg C):")
    for period, g in df.groupby("period", sort=False):
        parts = [
            f"{m} {g[m].mean():.3f} / {g[m + '_mae'].mean():.3f}"
            for m in ("mean", "idw", "ok", "rk")
        ]
        wins = int((g["ok"] < g["idw"]).sum())
        print(f"  {period}: " + ", ".join(parts) + f"; OK below IDW at {wins} of {len(g)} times")


def speed(runs: int = 5) -> None:
    from urbanops.domains.heat.grid import evaluate
    from urbanops.domains.heat.interpolate import idw, ordinary_kriging
    from urbanops.domains.heat.mapping import heat_map

    rng = np.random.default_rng(0)
    n = 1100
    lon0, lat0, side_m = 126.92, 37.50, 12_247.0
    lon = lon0 + rng.uniform(0, side_m / (111_320 * np.cos(np.radians(lat0))), n)
    lat = lat0 + rng.uniform(0, side_m / 110_540, n)
    ta = 30 + 2 * np.sin(lon * 300) + np.cos(lat * 250) + rng.normal(0, 0.3, n)
    at = datetime(2026, 8, 1, 6, tzinfo=UTC)
    df = pd.DataFrame(
        {
            "station_id": [f"S{i}" for i in range(n)],
            "time": pd.Timestamp(at),
            "lon": lon,
            "lat": lat,
            "air_temp_c": ta,
            "rh_pct": 60 + rng.normal(0, 5, n),
        }
    )
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        m = heat_map(df, at, cell_m=10)
        times.append(time.perf_counter() - t)
    cells = m.grid.nx * m.grid.ny
    xy, v = m.sites.xy, m.sites.air_c
    t = time.perf_counter()
    evaluate(m.grid, lambda q: (idw(xy, v, q),), node_m=10)
    t_idw = time.perf_counter() - t
    sample = m.grid.centres()[:100_000]
    t = time.perf_counter()
    ordinary_kriging(xy, v, sample, m.variogram)
    t_direct = (time.perf_counter() - t) * cells / len(sample)
    print(
        f"\nheat_map, {n} stations, {m.grid.nx} x {m.grid.ny} = {cells:,} cells of 10 m: "
        f"median {statistics.median(times):.2f} s (runs {', '.join(f'{x:.2f}' for x in times)}; "
        f"goal <= 2 s); IDW on every cell {t_idw:.2f} s; kriging every cell directly "
        f"~{t_direct:.1f} s (scaled from 100,000 cells)"
    )


def response() -> None:
    import json
    import subprocess
    import tempfile

    stops_path = ROOT.parent / "shared" / "data" / "mobility" / "seoul_bus_stops.csv"
    sdot_path = ROOT.parent / "shared" / "data" / "heat" / "sdot_sensor_locations_2020.csv"
    if not (stops_path.exists() and sdot_path.exists()):
        print("skipping the response plan: ../shared/data not found")
        return
    rng = np.random.default_rng(5)
    stops = pd.read_csv(stops_path, encoding="cp949")
    stops.columns = ["id", "name", "lon", "lat"]
    stops = stops[
        (stops.lon > 126.7) & (stops.lon < 127.3) & (stops.lat > 37.4) & (stops.lat < 37.75)
    ]
    pick = rng.permutation(len(stops))
    cands, shelters = stops.iloc[pick[:500]], stops.iloc[pick[500:800]]
    home = stops.iloc[rng.integers(0, len(stops), 100_000)]
    d_lat = rng.normal(0, 300, 100_000) / 110_540
    d_lon = rng.normal(0, 300, 100_000) / (111_320 * np.cos(np.radians(37.55)))
    sdot = pd.read_csv(sdot_path)  # serial, latitude, longitude (Korean headers)
    s_lat, s_lon = sdot.iloc[:, 1].to_numpy(float), sdot.iloc[:, 2].to_numpy(float)
    ta = 33 + 2.5 * np.exp(-((s_lon - 126.98) ** 2 + (s_lat - 37.56) ** 2) / 0.05**2)
    ta = ta + rng.normal(0, 0.4, len(ta))
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        pd.DataFrame(
            {
                "id": [f"P{i}" for i in range(100_000)],
                "lon": home.lon.to_numpy() + d_lon,
                "lat": home.lat.to_numpy() + d_lat,
            }
        ).to_csv(tmp / "people.csv", index=False)
        cands[["id", "lon", "lat"]].to_csv(tmp / "cands.csv", index=False)
        shelters[["id", "lon", "lat"]].to_csv(tmp / "shelters.csv", index=False)
        pd.DataFrame(
            {
                "station_id": [f"S{i}" for i in range(len(ta))],
                "time": "2026-08-01T06:00:00Z",
                "lon": s_lon,
                "lat": s_lat,
                "air_temp_c": ta,
                "rh_pct": 60.0,
            }
        ).to_csv(tmp / "obs.csv", index=False)
        feats = []
        for lat in np.arange(37.45, 37.70, 0.0045):
            feats.append(
                {
                    "type": "Feature",
                    "properties": {},
                    "geometry": {
                        "type": "LineString",
                        "coordinates": [[126.80, lat], [127.18, lat]],
                    },
                }
            )
        for lon in np.arange(126.80, 127.18, 0.0057):
            feats.append(
                {
                    "type": "Feature",
                    "properties": {},
                    "geometry": {"type": "LineString", "coordinates": [[lon, 37.45], [lon, 37.70]]},
                }
            )
        (tmp / "roads.geojson").write_text(
            json.dumps({"type": "FeatureCollection", "features": feats})
        )
        exe = str(ROOT / ".venv" / "bin" / "urbanops")
        subprocess.run(
            [
                exe,
                "heat",
                "map",
                "--observations",
                str(tmp / "obs.csv"),
                "--at",
                "2026-08-01T06:00:00Z",
                "--cell",
                "100",
                "--out",
                str(tmp / "map"),
                "--no-tiles",
            ],
            check=True,
            capture_output=True,
        )
        cmd = [
            exe,
            "heat",
            "plan",
            "--people",
            str(tmp / "people.csv"),
            "--shelters",
            str(tmp / "shelters.csv"),
            "--candidates",
            str(tmp / "cands.csv"),
            "--heat",
            str(tmp / "map" / "apparent_temp.tif"),
            "--roads",
            str(tmp / "roads.geojson"),
            "--depot",
            "126.978,37.566",
            "--trucks",
            "3",
            "--new",
            "30",
            "--out",
            str(tmp / "plan"),
        ]
        t = time.perf_counter()
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t
        if res.returncode:
            raise SystemExit(res.stderr + res.stdout)
        s = json.loads((tmp / "plan" / "summary.json").read_text())
        print(
            f"\nheat plan, 100,000 people, 500 candidates, 300 shelters, 3 trucks: {wall:.1f} s "
            f"(goal <= 30 s); people within 500 m walk: {s['people_covered_before']:,} -> "
            f"{s['people_covered_after']:,} with 30 new sites; heat-weighted coverage "
            f"{s['weighted_coverage_before_pct']:.2f} % -> "
            f"{s['weighted_coverage_after_pct']:.2f} % "
            f"(greedy {s['weighted_coverage_after_greedy_pct']:.2f} %, MIP optimal: "
            f"{s['mclp_optimal']}); trucks {s['trucks']}"
        )


def main() -> None:
    print(machine())
    if BERLIN.exists():
        accuracy()
    else:
        print(f"skipping accuracy: {BERLIN} not found")
    speed()
    response()


if __name__ == "__main__":
    main()

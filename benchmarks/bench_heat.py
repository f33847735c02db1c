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


def main() -> None:
    print(machine())
    if BERLIN.exists():
        accuracy()
    else:
        print(f"skipping accuracy: {BERLIN} not found")
    speed()


if __name__ == "__main__":
    main()

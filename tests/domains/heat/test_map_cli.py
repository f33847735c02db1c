"""``urbanops heat map``, ``validate`` and ``advisories`` end to end, and their bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.conftest import SHARED_DATA
from urbanops.cli.main import app

from .conftest import AT, field_c

SEOUL = SHARED_DATA / "heat" / "seoul_hourly_weather_2017-12_2018-11_SeoulBikeData.csv"


def heat(*args: str) -> Any:
    return CliRunner().invoke(app, ["heat", *args], catch_exceptions=False)


def test_map_contract(stations: dict[str, Any]) -> None:
    import rasterio
    from pyproj import Transformer

    out = stations["dir"] / "map"
    res = heat(
        "map", "--observations", str(stations["path"]), "--at", "2026-07-20T06:00:00Z",
        "--cell", "200", "--out", str(out),
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    with rasterio.open(out / "air_temp.tif") as ds:
        assert ds.crs is not None and ds.crs.is_projected
        assert ds.nodata is not None
        data = ds.read(1, masked=True)
        df = stations["df"].dropna(subset=["lon", "lat"])
        tr = Transformer.from_crs("EPSG:4326", ds.crs.to_wkt(), always_xy=True)
        x, y = tr.transform(df.lon.to_numpy(), df.lat.to_numpy())
        b = ds.bounds
        assert b.left <= x.min() and x.max() <= b.right and b.bottom <= y.min() and y.max() <= b.top
        # the map reproduces the generating field between the stations (noise 0.2 deg C)
        inv = Transformer.from_crs(ds.crs.to_wkt(), "EPSG:4326", always_xy=True)
        rows, cols = np.mgrid[5 : ds.height - 5 : 7, 5 : ds.width - 5 : 7]
        xs, ys = rasterio.transform.xy(ds.transform, rows.ravel(), cols.ravel())
        lon, lat = inv.transform(np.array(xs), np.array(ys))
        truth = field_c(lon, lat, 6.0)
        inside = (lon > 127.105) & (lon < 127.195) & (lat > 37.405) & (lat < 37.475)
        err = np.asarray(data[rows.ravel(), cols.ravel()])[inside] - truth[inside]
        assert np.sqrt(np.mean(err**2)) < 0.5
    for name in ("apparent_temp.tif", "uncertainty.tif", "qc.csv", "stations.csv", "summary.json"):
        assert (out / name).exists(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"] == "ok"
    assert summary["apparent_temp_c"]["max"] > summary["air_temp_c"]["max"] - 5
    tiles = list((out / "tiles" / "air_temp").rglob("*.png"))
    assert tiles and (out / "legend_air_temp.png").exists()
    flags = pd.read_csv(out / "qc.csv")
    # every observation of the day before --at, with its flags
    day = pd.to_datetime(stations["df"]["time"]) > pd.Timestamp(AT) - pd.Timedelta(hours=24)
    assert len(flags) == day.sum()
    mapped = pd.read_csv(out / "stations.csv")
    assert not set(stations["bad"]) - {"S004"} & set(mapped.station_id)  # S004: only RH is bad


def test_idw_method_and_validation(stations: dict[str, Any]) -> None:
    out = stations["dir"] / "idw"
    res = heat(
        "map", "--observations", str(stations["path"]), "--at", "2026-07-20T06:00:00Z",
        "--cell", "200", "--out", str(out), "--method", "idw", "--no-tiles",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert not (out / "uncertainty.tif").exists()
    res = heat(
        "validate", "--observations", str(stations["path"]), "--at", "2026-07-20T06:00:00Z",
        "--folds", "5", "--json",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    scores = {s["method"]: s["rmse_c"] for s in data["scores"]}
    assert scores["ok"] < scores["mean"] and scores["idw"] < scores["mean"]
    assert data["chosen"] == "ok"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--at", "2026-07-25T06:00:00Z"], "no observations"),
        (["--at", "yesterday"], "ISO 8601"),
        (["--cell", "0"], "above 0"),
        (["--cell", "0.01"], "cells; at most"),
        (["--method", "magic"], "use one of"),
        (["--method", "rk"], "needs covariate rasters"),
        (["--covariate", "elevation"], "NAME=RASTER"),
    ],
    ids=["no-data", "bad-time", "cell-0", "too-many-cells", "method", "rk-no-rasters", "cov"],
)
def test_map_bad_input(stations: dict[str, Any], args: list[str], message: str) -> None:
    out = stations["dir"] / "bad"
    opts = {
        "--observations": str(stations["path"]),
        "--at": "2026-07-20T06:00:00Z",
        "--cell": "200",
        "--out": str(out),
    }
    i = 0
    while i < len(args):
        opts[args[i]] = args[i + 1]
        i += 2
    res = heat("map", *[x for kv in opts.items() for x in kv])
    assert res.exit_code == 1 and message in res.output, res.output
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("station_id,time,lon,lat\nA,2026-07-20T06:00:00Z,127,37\n", "missing column(s)"),
        ("", "empty file"),
        ("station_id,time,lon,lat,air_temp_c\nA,soon,127,37,20\n", "ISO 8601"),
    ],
    ids=["columns", "empty", "time"],
)
def test_bad_observation_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "obs.csv"
    path.write_text(content)
    res = heat("map", "--observations", str(path), "--at", "2026-07-20T06:00:00Z", "--out",
               str(tmp_path / "o"))  # fmt: skip
    assert res.exit_code == 1 and message in res.output, res.output


def test_too_few_stations_for_kriging(tmp_path: Path) -> None:
    rows = ["station_id,time,lon,lat,air_temp_c"]
    for i in range(3):
        rows.append(f"S{i},2026-07-20T06:00:00Z,{127.1 + i / 100},{37.4 + i / 100},30")
    path = tmp_path / "few.csv"
    path.write_text("\n".join(rows))
    res = heat("map", "--observations", str(path), "--at", "2026-07-20T06:00:00Z", "--out",
               str(tmp_path / "o"), "--cell", "100")  # fmt: skip
    assert res.exit_code == 1 and "OK needs at least 5" in res.output
    assert "--method idw" in res.output
    res = heat("map", "--observations", str(path), "--at", "2026-07-20T06:00:00Z", "--out",
               str(tmp_path / "o"), "--cell", "100", "--method", "idw", "--no-tiles")  # fmt: skip
    assert res.exit_code == 0, res.output


@pytest.mark.skipif(not SEOUL.exists(), reason="../shared/data not present")
def test_kma_advisories_on_seoul_2018() -> None:
    from urbanops.domains.heat.advisories import daily_max_apparent, kma_levels
    from urbanops.domains.heat.weather import read_hourly

    levels = kma_levels(daily_max_apparent(read_hourly(SEOUL)))
    d = pd.to_datetime(levels["date"])
    summer = levels[(d.dt.month >= 5) & (d.dt.month <= 9)]
    assert (summer["level"] != "").sum() == 28
    assert (summer["level"] == "warning").sum() == 8
    res = heat("advisories", "--weather", str(SEOUL))
    assert res.exit_code == 0 and "28 advisory-level days, 8 warning-level" in res.output


def test_advisory_runs_need_consecutive_days() -> None:
    from datetime import date

    from urbanops.domains.heat.advisories import kma_levels

    daily = pd.DataFrame(
        {
            "district": ["A"] * 6,
            "date": [date(2026, 8, d) for d in (1, 2, 4, 6, 7, 8)],
            "max_apparent_c": [34, 36, 36, 35.5, 35.2, 30],
        }
    )
    levels = kma_levels(daily)["level"].tolist()
    # 1-2: a run (advisory, one day >= 35 is not a warning run); 4 alone (gap on the 3rd and
    # 5th); 6-7: a warning run
    assert levels == ["advisory", "advisory", "", "warning", "warning", ""]


def test_regression_kriging_with_a_covariate_raster(tmp_path: Path) -> None:
    """Temperature that follows the terrain: a DEM as covariate beats ordinary kriging."""
    import rasterio
    from affine import Affine
    from pyproj import Transformer

    rng = np.random.default_rng(8)
    to_m = Transformer.from_crs("EPSG:4326", "EPSG:5186", always_xy=True)
    x0, y0 = to_m.transform(127.05, 37.38)
    # a DEM at 30 m: two sharp ridges the stations only sample sparsely
    nx = ny = 300
    xs = x0 + (np.arange(nx) + 0.5) * 30
    ys = y0 + 9000 - (np.arange(ny) + 0.5) * 30
    gx, gy = np.meshgrid(xs, ys)
    dem = (
        40
        + 500 * np.exp(-(((gx - x0 - 3000) / 500) ** 2))
        + 400 * np.exp(-(((gy - y0 - 6000) / 400) ** 2))
    )
    with rasterio.open(
        tmp_path / "dem.tif", "w", driver="GTiff", width=nx, height=ny, count=1,
        dtype="float32", crs="EPSG:5186", transform=Affine(30, 0, x0, 0, -30, y0 + 9000),
    ) as ds:  # fmt: skip
        ds.write(dem.astype(np.float32), 1)
    n = 150
    sx, sy = x0 + rng.uniform(300, 8700, n), y0 + rng.uniform(300, 8700, n)
    col, row = ((sx - x0) / 30).astype(int), ((y0 + 9000 - sy) / 30).astype(int)
    ta = 32 - 0.01 * dem[row, col] + rng.normal(0, 0.15, n)
    to_ll = Transformer.from_crs("EPSG:5186", "EPSG:4326", always_xy=True)
    lon, lat = to_ll.transform(sx, sy)
    obs = tmp_path / "obs.csv"
    pd.DataFrame(
        {"station_id": [f"S{i}" for i in range(n)], "time": "2026-08-01T06:00:00Z", "lon": lon,
         "lat": lat, "air_temp_c": ta}
    ).to_csv(obs, index=False)  # fmt: skip
    res = heat("validate", "--observations", str(obs), "--at", "2026-08-01T06:00:00Z",
               "--covariate", f"elevation={tmp_path / 'dem.tif'}", "--json")  # fmt: skip
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    scores = {s["method"]: s["rmse_c"] for s in data["scores"]}
    assert data["chosen"] == "rk"
    assert scores["rk"] < 0.6 * scores["ok"] and scores["rk"] < scores["idw"]
    out = tmp_path / "map"
    res = heat("map", "--observations", str(obs), "--at", "2026-08-01T06:00:00Z", "--cell", "60",
               "--covariate", f"elevation={tmp_path / 'dem.tif'}", "--out", str(out),
               "--no-tiles")  # fmt: skip
    assert res.exit_code == 0, res.output
    s = json.loads((out / "summary.json").read_text())
    assert s["method"] == "rk" and s["trend"][1] == pytest.approx(-0.01, abs=0.002)
    with rasterio.open(out / "air_temp.tif") as ds:
        a = ds.read(1, masked=True)
        # on the ridge, which no station may sit on, the map follows the terrain
        assert float(a.min()) < 32 - 0.01 * 400
    res = heat("map", "--observations", str(obs), "--at", "2026-08-01T06:00:00Z", "--covariate",
               f"elevation={tmp_path / 'missing.tif'}", "--out", str(tmp_path / "x"))  # fmt: skip
    assert res.exit_code == 1 and "not a readable raster" in res.output

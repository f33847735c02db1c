"""A day of generated street-station readings around Seongnam, with known bad stations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

AT = datetime(2026, 7, 20, 6, 0, tzinfo=UTC)  # 15:00 in Seoul
LON0, LAT0 = 127.10, 37.40


def field_c(lon: np.ndarray, lat: np.ndarray, hour_utc: float) -> np.ndarray:
    """A smooth warm field: a diurnal cycle plus a 2 deg C heat island at the centre."""
    diurnal = 28 + 5 * np.sin((hour_utc + 9 - 9) / 24 * 2 * np.pi)
    d2 = ((lon - LON0 - 0.05) / 0.04) ** 2 + ((lat - LAT0 - 0.04) / 0.03) ** 2
    return diurnal + 2.0 * np.exp(-d2) + 8 * (lon - LON0)


def make(n: int = 60, seed: int = 1) -> tuple[pd.DataFrame, dict[str, str]]:
    rng = np.random.default_rng(seed)
    lon = LON0 + rng.uniform(0, 0.1, n)
    lat = LAT0 + rng.uniform(0, 0.08, n)
    rows = []
    ids = [f"S{i:03d}" for i in range(n)]
    for h in range(25):
        t = AT - timedelta(hours=24 - h)
        hour = t.hour + t.minute / 60
        ta = field_c(lon, lat, hour) + rng.normal(0, 0.2, n)
        rh = np.clip(60 + rng.normal(0, 3, n), 0, 100)
        for i in range(n):
            rows.append([ids[i], t.isoformat(), lon[i], lat[i], round(ta[i], 2), round(rh[i], 1)])
    df = pd.DataFrame(rows, columns=["station_id", "time", "lon", "lat", "air_temp_c", "rh_pct"])
    bad = {}
    # a station in the sun: 6 deg too warm in the afternoon hours
    sun = ids[0]
    t = pd.to_datetime(df["time"])
    df.loc[(df.station_id == sun) & (t.dt.hour.between(3, 8)), "air_temp_c"] += 6
    bad[sun] = "outlier"
    # a stuck sensor
    df.loc[df.station_id == ids[1], "air_temp_c"] = 27.3
    bad[ids[1]] = "persistence"
    # an indoor sensor: flat 23 deg C with noise, not following the day
    df.loc[df.station_id == ids[2], "air_temp_c"] = 23 + rng.normal(0, 0.05, 25).round(2)
    bad[ids[2]] = "correlation"
    # impossible readings and humidity
    df.loc[(df.station_id == ids[3]) & (df.time == AT.isoformat()), "air_temp_c"] = 200.0
    bad[ids[3]] = "range"
    df.loc[df.station_id == ids[4], "rh_pct"] = 120.0
    bad[ids[4]] = "rh_range"
    # no coordinates
    df.loc[df.station_id == ids[5], ["lon", "lat"]] = np.nan
    bad[ids[5]] = "meta"
    return df, bad


@pytest.fixture
def stations(tmp_path: Path) -> dict[str, Any]:
    df, bad = make()
    path = tmp_path / "obs.csv"
    df.to_csv(path, index=False)
    return {"path": path, "df": df, "bad": bad, "dir": tmp_path}

"""The demo city: real positions and districts, plausible readings, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from shapely.geometry import Point, shape
from sqlalchemy import Engine, func, select

from urbanops.core.latest import latest_observations
from urbanops.core.zones import zones_geojson
from urbanops.demo.load import load_demo
from urbanops.domains.heat.service import observations_from_db
from urbanops.storage import tables as t


def test_demo_load(engine: Engine) -> None:
    end = datetime(2026, 7, 30, 12, 0, tzinfo=UTC)
    summary = load_demo(engine, days=1, end=end, progress=lambda _m: None)
    assert "200 sensors" in summary
    with engine.connect() as conn:
        zones = zones_geojson(conn, kind="district")["features"]
        assert len(zones) == 25
        polys = [shape(z["geometry"]) for z in zones]
        assert all(p.is_valid and not p.is_empty for p in polys)
        locs = conn.execute(select(t.locations.c.location)).scalars().all()
        import json

        points = [Point(json.loads(g)["coordinates"]) for g in locs]
        assert len(points) == 200
        inside = sum(any(p.covers(pt) for p in polys) for pt in points)
        assert inside >= 195  # a few S-DoT sensors sit right on the city edge
        n_obs = conn.execute(select(func.count()).select_from(t.observations)).scalar_one()
        assert n_obs == 620 * 144
        temps = latest_observations(conn, observed_property="air_temperature")
        assert len(temps) == 140
        assert all(20 < v["result"] < 40 for v in temps)  # late-July heat wave
        assert all(v["phenomenonTime"] == "2026-07-30T12:00:00Z" for v in temps)
        levels = latest_observations(conn, observed_property="water_level")
        assert len(levels) == 40 and all(v["result"] >= 0 for v in levels)
    again = load_demo(engine, days=1, if_empty=True, progress=lambda _m: None)
    assert "already holds" in again


@pytest.mark.parametrize("end_utc_hour", [6, 18])  # 15:00 and 03:00 in Seoul
def test_demo_weather_follows_seouls_clock(engine: Engine, end_utc_hour: int) -> None:
    """Afternoons are the warm part of the day whenever the demo is loaded.

    The recorded week used to begin at the demo's first step, whatever the hour: a demo
    loaded at 15:00 had its night-time temperatures in the afternoon.
    """
    end = datetime(2026, 7, 30, end_utc_hour, 0, tzinfo=UTC)
    load_demo(engine, days=1, end=end, progress=lambda _m: None)
    with engine.connect() as conn:
        obs = observations_from_db(conn, end - timedelta(days=1), end)
    local_hour = obs["time"].dt.tz_convert("Asia/Seoul").dt.hour
    by_hour = obs.groupby(local_hour)["air_temp_c"].median()
    afternoon = by_hour.loc[13:16].mean()
    before_dawn = by_hour.loc[3:6].mean()
    assert afternoon > before_dawn + 3.0, by_hour.round(1).to_dict()

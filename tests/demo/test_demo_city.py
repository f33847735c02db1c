"""The demo city: real positions and districts, plausible readings, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime

from shapely.geometry import Point, shape
from sqlalchemy import Engine, func, select

from urbanops.core.latest import latest_observations
from urbanops.core.zones import zones_geojson
from urbanops.demo.load import load_demo
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

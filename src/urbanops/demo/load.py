"""Load the demo city into an UrbanOps database.

What is real and what is generated:

* **Real**: the positions of 200 S-DoT street sensors (Seoul open data), the 25 districts (derived
  from the Ttareungyi bike-station register, see ``scripts/build_demo_data.py``), and the hourly
  Seoul weather of 27 July - 2 August 2018 (the heat wave; UCI Seoul Bike Sharing data, CC BY 4.0)
  that drives the temperature, humidity and rain.
* **Generated** (seeded): per-sensor offsets and noise around that weather, PM2.5 with rush-hour
  peaks, street noise with a day/night cycle, drain water levels that follow the real rain through
  a linear-reservoir response, and pedestrian counts with a daily profile. The history ends now
  and the recorded week is laid on Seoul's clock (its afternoons fall on afternoons), so
  dashboards show live-looking data.

Sensor kinds: 140 S-DoT environment stations (air temperature, humidity, PM2.5, noise; public),
40 drain water-level gauges and 20 people counters (not public).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, func, insert, select

from urbanops.core.sensing.observations import ObservationRow, write_observations
from urbanops.core.sensing.write import Writer
from urbanops.storage import tables as t

STEP_S = 600
SEOUL_UTC_OFFSET_S = 9 * 3600  # KST, no daylight saving
OM = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"

KINDS = {
    "environment": [
        (
            "Air temperature",
            "air_temperature",
            "degree Celsius",
            "degC",
            "http://vocab.nerc.ac.uk/standard_name/air_temperature/",
        ),
        (
            "Relative humidity",
            "relative_humidity",
            "percent",
            "%",
            "http://vocab.nerc.ac.uk/standard_name/relative_humidity/",
        ),
        (
            "PM2.5",
            "pm25",
            "microgram per cubic metre",
            "ug/m3",
            "http://vocab.nerc.ac.uk/standard_name/mass_concentration_of_pm2p5_ambient_aerosol_particles_in_air/",
        ),
        (
            "Noise level",
            "noise",
            "decibel (A-weighted)",
            "dB(A)",
            "https://www.wikidata.org/wiki/Q1139508",
        ),
    ],
    "flood": [
        (
            "Drain water level",
            "water_level",
            "centimetre",
            "cm",
            "http://vocab.nerc.ac.uk/standard_name/water_surface_height_above_reference_datum/",
        ),
    ],
    "crowd": [
        (
            "Pedestrian count",
            "people_count",
            "persons per 10 minutes",
            "{persons}/10min",
            "https://www.wikidata.org/wiki/Q2472587",
        ),
    ],
}


def _data(name: str) -> Any:
    return resources.files("urbanops.demo").joinpath("data", name)


def _weather(times_s: np.ndarray) -> dict[str, np.ndarray]:
    """The recorded week's weather at ``times_s`` (seconds since 1970, UTC), by Seoul's clock.

    The week is laid on the calendar so that its midnights fall on Seoul's midnights: the
    afternoon's heat comes in the afternoon whenever the demo is loaded. The week repeats for
    longer demos.
    """
    with _data("seoul_weather_week.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if len(rows) % 24:
        raise ValueError(f"seoul_weather_week.csv: {len(rows)} hours, not whole days")
    hourly = {
        k: np.array([float(r[k]) for r in rows])
        for k in ("temperature_degc", "humidity_pct", "rain_mm")
    }
    # Interpolate hourly values onto the 10-minute grid (rain is spread evenly over its hour).
    x_h = np.arange(len(rows)) * 3600.0
    x = (np.asarray(times_s, dtype=float) + SEOUL_UTC_OFFSET_S) % (len(rows) * 3600.0)
    out = {k: np.interp(x, x_h, v) for k, v in hourly.items() if k != "rain_mm"}
    out["rain_mm"] = hourly["rain_mm"][(x // 3600).astype(int)] * STEP_S / 3600.0
    return out


def _ar1(rng: np.random.Generator, n: int, sd: float, phi: float = 0.9) -> np.ndarray:
    e = rng.normal(0, sd * np.sqrt(1 - phi**2), n)
    out = np.empty(n)
    acc = rng.normal(0, sd)
    for i in range(n):
        acc = phi * acc + e[i]
        out[i] = acc
    return out


def series(
    kind: str, var: str, rng: np.random.Generator, times: np.ndarray, wx: dict[str, np.ndarray]
) -> np.ndarray:
    """Generated values of one datastream (see the module docstring for the models)."""
    n = len(times)
    hour = ((times + SEOUL_UTC_OFFSET_S) / 3600.0) % 24  # local hour in Seoul
    if var == "air_temperature":
        return np.round(wx["temperature_degc"] + rng.normal(0.4, 0.8) + _ar1(rng, n, 0.35), 2)
    if var == "relative_humidity":
        return np.round(
            np.clip(wx["humidity_pct"] + rng.normal(0, 3) + _ar1(rng, n, 2.0), 5, 100), 1
        )
    if var == "pm25":
        rush = np.exp(-((hour - 8.5) ** 2) / 2) + 0.8 * np.exp(-((hour - 19) ** 2) / 3)
        base = rng.lognormal(np.log(18), 0.25)
        return np.round(np.clip(base * (1 + 0.6 * rush) * np.exp(_ar1(rng, n, 0.2)), 1, 500), 1)
    if var == "noise":
        day = 1 / (1 + np.exp(-(hour - 6.5) * 2)) - 1 / (1 + np.exp(-(hour - 23) * 2))
        return np.round(rng.normal(47, 3) + 14 * day + rng.normal(0, 1.5, n), 1)
    if var == "water_level":
        # Linear reservoir: level responds to rain with a 90-minute time constant.
        gain = rng.uniform(2.0, 6.0)
        k = np.exp(-STEP_S / 5400.0)
        level = np.empty(n)
        acc = 0.0
        for i in range(n):
            acc = acc * k + gain * wx["rain_mm"][i]
            level[i] = acc
        return np.round(rng.uniform(3, 8) + level + rng.normal(0, 0.3, n), 1)
    # people_count
    profile = np.exp(-((hour - 12.5) ** 2) / 18) + 0.7 * np.exp(-((hour - 19) ** 2) / 4)
    return rng.poisson(rng.uniform(40, 160) * profile + 2).astype(float)


def load_demo(
    engine: Engine,
    *,
    days: int = 7,
    seed: int = 42,
    if_empty: bool = False,
    end: datetime | None = None,
    progress: Callable[[str], None] = print,
) -> str:
    """Load the demo city; returns a one-line summary.

    Parameters
    ----------
    engine
        A migrated database.
    days
        Length of the generated history, ending at ``end``.
    seed
        Seed of the generated variation (same seed, same data).
    if_empty
        Skip when the database already holds Things (``make run`` uses this).
    end
        Last timestamp (default: now, floored to 10 minutes).
    """
    with engine.connect() as conn:
        n_things = conn.execute(select(func.count()).select_from(t.things)).scalar_one()
    if if_empty and n_things:
        return f"demo not loaded: the database already holds {n_things} Things"
    rng = np.random.default_rng(seed)
    end = end or datetime.now(UTC)
    end = end.replace(second=0, microsecond=0) - timedelta(minutes=end.minute % 10)
    n_steps = days * 86400 // STEP_S
    start = end - timedelta(seconds=STEP_S * (n_steps - 1))
    rel = np.arange(n_steps) * float(STEP_S)
    times_abs = rel + (start - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()
    wx = _weather(times_abs)
    stamps = [start + timedelta(seconds=STEP_S * i) for i in range(n_steps)]

    districts = json.loads(_data("seoul_districts.geojson").read_text(encoding="utf-8"))
    with _data("sdot_sensors.csv").open(encoding="utf-8") as fh:
        sensors = list(csv.DictReader(fh))

    total = 0
    with engine.begin() as conn:
        existing = set(
            conn.execute(select(t.zones.c.name).where(t.zones.c.kind == "district")).scalars()
        )
        for f in districts["features"]:
            if f["properties"]["name"] in existing:
                continue
            conn.execute(
                insert(t.zones).values(
                    name=f["properties"]["name"],
                    kind="district",
                    code=None,
                    geometry=json.dumps(f["geometry"]),
                    properties={
                        "name_ko": f["properties"]["name_ko"],
                        "source": "derived from Ttareungyi station register (approximate)",
                    },
                )
            )
        progress(f"{len(districts['features'])} districts of Seoul")
        writer = Writer(conn)
        sensor_ids: dict[str, int] = {}
        prop_ids: dict[str, int] = {}
        for kind, variables in KINDS.items():
            sensor_ids[kind] = writer.create(
                "Sensors",
                {
                    "name": {
                        "environment": "S-DoT environment station",
                        "flood": "Drain water-level gauge",
                        "crowd": "Pedestrian counter",
                    }[kind],
                    "description": f"demo {kind} sensor model",
                    "encodingType": "text/plain",
                    "metadata": "synthetic readings around real positions and weather",
                },
            )
            for label, var, _unit, _sym, definition in variables:
                if var not in prop_ids:
                    prop_ids[var] = writer.create(
                        "ObservedProperties",
                        {"name": var, "definition": definition, "description": label},
                    )
        for i, s in enumerate(sensors):
            kind = "environment" if i % 10 < 7 else ("flood" if i % 10 < 9 else "crowd")
            lon, lat = float(s["lon"]), float(s["lat"])
            body = {
                "name": f"{kind}-{s['serial']}",
                "description": f"{KINDS[kind][0][0]} sensor in {s['district'] or 'Seoul'}",
                "properties": {
                    "kind": kind,
                    "serial": s["serial"],
                    "district": s["district"],
                    "public": kind == "environment",
                    "demo": True,
                },
                "Locations": [
                    {
                        "name": f"S-DoT {s['serial']}",
                        "description": s["district"],
                        "encodingType": "application/geo+json",
                        "location": {"type": "Point", "coordinates": [lon, lat]},
                    }
                ],
                "Datastreams": [
                    {
                        "name": f"{label} {s['serial']}",
                        "description": f"{label}, 10-minute",
                        "observationType": OM,
                        "unitOfMeasurement": {"name": unit, "symbol": sym, "definition": ""},
                        "Sensor": {"@iot.id": sensor_ids[kind]},
                        "ObservedProperty": {"@iot.id": prop_ids[var]},
                    }
                    for label, var, unit, sym, _d in KINDS[kind]
                ],
            }
            thing_id = writer.create("Things", body)
            ds_rows = conn.execute(
                select(t.datastreams.c.id, t.observed_properties.c.name)
                .join(
                    t.observed_properties,
                    t.observed_properties.c.id == t.datastreams.c.observed_property_id,
                )
                .where(t.datastreams.c.thing_id == thing_id)
                .order_by(t.datastreams.c.id)
            ).all()
            batch: list[ObservationRow] = []
            for ds_id, var in ds_rows:
                values = series(kind, var, rng, times_abs, wx)
                batch.extend(
                    ObservationRow(ds_id, stamps[j], None, None, 0, float(values[j]), None, None)
                    for j in range(n_steps)
                )
            write_observations(conn, batch)
            total += len(batch)
            if (i + 1) % 50 == 0:
                progress(f"{i + 1}/{len(sensors)} sensors, {total:,} observations")
    return (
        f"demo city loaded: {len(districts['features'])} districts, {len(sensors)} sensors, "
        f"{total:,} observations from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC"
    )


#: Central Bundang (Seongnam), where the demo's taxi dispatch runs: (west, south, east, north).
DEMO_TAXI_BOUNDS = (127.095, 37.345, 127.135, 37.395)


def write_demo_taxi_network(data_dir: Path) -> Path | None:
    """Write ``<data_dir>/taxi/network.graphml`` (a generated street grid over central Bundang)
    unless a network is there already; taxi dispatch uses it when ``URBANOPS_TAXI_NETWORK`` is
    unset. It is a generated grid, not Bundang's streets (no OSM extract ships offline)."""
    from urbanops.domains.taxi.network import write_graphml
    from urbanops.domains.taxi.synthetic import generate_city

    path = Path(data_dir) / "taxi" / "network.graphml"
    if path.exists():
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    write_graphml(generate_city(DEMO_TAXI_BOUNDS, spacing_m=250, seed=7), tmp)
    tmp.replace(path)
    return path

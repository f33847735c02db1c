"""The simulator on the real Helsinki extract: request files, metrics, declines, plots."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import SHARED_DATA
from urbanops.domains.taxi import demand
from urbanops.domains.taxi.eta import EtaModel, OffNetworkError
from urbanops.domains.taxi.simulate import (
    UNSERVED_AFTER_S,
    fare_krw,
    gini,
    read_trips,
    simulate,
    write_outputs,
)
from urbanops.errors import ValidationError

NYC = SHARED_DATA / "mobility" / "nyc_tlc_taxis_2019-03_sample.csv"
STOPS = SHARED_DATA / "mobility" / "seoul_bus_stops.csv"


def _trips(model: EtaModel, n: int, *, seed: int = 0, hours: float = 6.0) -> pd.DataFrame:
    """Requests between random road nodes over ``hours`` (local time, no offset)."""
    rng = np.random.default_rng(seed)
    net = model.network
    a = rng.integers(0, net.n_nodes, n)
    b = rng.integers(0, net.n_nodes, n)
    b = np.where(a == b, (b + 1) % net.n_nodes, b)
    secs = np.sort(rng.uniform(0, hours * 3600, n))
    times = pd.Timestamp("2026-07-01T07:00:00") + pd.to_timedelta(secs, unit="s")
    return pd.DataFrame(
        {
            "request_time": times.strftime("%Y-%m-%dT%H:%M:%S"),
            "pickup_lon": net.lon[a],
            "pickup_lat": net.lat[a],
            "dropoff_lon": net.lon[b],
            "dropoff_lat": net.lat[b],
            "wheelchair": (rng.random(n) < 0.05).astype(int),
        }
    )


def _write(frame: pd.DataFrame, tmp_path: Path, name: str = "trips.csv") -> Path:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def test_a_day_of_requests_gives_consistent_metrics(model: EtaModel, tmp_path: Path) -> None:
    trips = read_trips(_write(_trips(model, 400), tmp_path), model)
    assert trips.count == 400
    assert trips.start.isoformat() == "2026-07-01T00:00:00+09:00"
    assert trips.time_s[0] >= 7 * 3600  # naive times are the city's local time
    result = simulate(model, trips, fleet=12, policy="batch", seed=1)
    m = result.metrics
    for key in ("mean_wait_s", "p90_wait_s", "unserved_share", "utilisation", "earnings_gini"):
        assert key in m
    req = result.requests
    picked = req["status"] == "picked_up"
    assert m["served"] == int(picked.sum())
    assert (req.loc[picked, "wait_s"] >= 0).all()
    # The wait is at least the ETA the cab was matched with
    assert (req.loc[picked, "wait_s"] >= req.loc[picked, "pickup_eta_s"] - 1).all()
    late = (~picked) | (req["wait_s"] > UNSERVED_AFTER_S)
    assert m["unserved_share"] == pytest.approx(late.mean(), abs=1e-4)
    assert 0 < float(m["utilisation"]) < 1  # type: ignore[arg-type]
    assert 0 <= float(m["earnings_gini"]) < 1  # type: ignore[arg-type]
    # Wheelchair riders only ride in accessible cabs
    access = result.vehicles.set_index("vehicle")["accessible"]
    wheel = req[picked & (req["wheelchair"] == 1)]
    assert (access.loc[wheel["vehicle"]] == 1).all()
    # Trips per cab add up
    assert result.vehicles["trips"].sum() == m["served"]


def test_seeded_runs_repeat_and_policies_differ(model: EtaModel, tmp_path: Path) -> None:
    trips = read_trips(_write(_trips(model, 300, hours=1.0), tmp_path), model)
    a = simulate(model, trips, fleet=8, policy="batch", seed=3).metrics
    b = simulate(model, trips, fleet=8, policy="batch", seed=3).metrics
    g = simulate(model, trips, fleet=8, policy="greedy", seed=3).metrics
    assert a == b
    assert g["policy"] == "greedy" and g["batch_s"] is None
    assert g["dispatch_rounds"] != a["dispatch_rounds"]


def test_declines_are_counted_and_redispatched(model: EtaModel, tmp_path: Path) -> None:
    trips = read_trips(_write(_trips(model, 200), tmp_path), model)
    m = simulate(model, trips, fleet=10, fault_rate=0.2, safety_rate=0.1, seed=2).metrics
    by = m["declines_by_reason"]
    assert isinstance(by, dict)
    assert by["vehicle_fault"] > 10 and by["safety"] > 5
    assert m["declines"] == sum(by.values())
    assert 0 < int(m["redispatched"]) <= int(m["declines"])  # type: ignore[call-overload]
    assert int(m["served"]) > 150  # type: ignore[call-overload]


def test_outputs_are_written(model: EtaModel, tmp_path: Path) -> None:
    trips = read_trips(_write(_trips(model, 150), tmp_path), model)
    result = simulate(model, trips, fleet=6, seed=0)
    paths = write_outputs(result, tmp_path / "out")
    names = {p.name for p in paths}
    assert names == {"metrics.json", "hourly.csv", "requests.csv", "vehicles.csv", "waits.png"}
    assert (tmp_path / "out" / "waits.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert saved["requests"] == 150
    hourly = pd.read_csv(tmp_path / "out" / "hourly.csv")
    assert hourly["requests"].sum() == 150


def test_bad_request_files(model: EtaModel, tmp_path: Path) -> None:
    good = _trips(model, 20)
    cases: list[tuple[pd.DataFrame, type[Exception], str]] = []
    same = good.copy()
    same.loc[3, ["dropoff_lon", "dropoff_lat"]] = same.loc[3, ["pickup_lon", "pickup_lat"]].values
    cases.append((same, ValidationError, "line 5: pickup = drop-off"))
    sea = good.copy()
    sea.loc[0, ["pickup_lon", "pickup_lat"]] = (24.96, 60.15)
    cases.append((sea, OffNetworkError, "line 2: pickup more than 150 m off the network"))
    bad_time = good.copy()
    bad_time.loc[2, "request_time"] = "yesterday"
    cases.append((bad_time, ValidationError, "line 4: request_time 'yesterday' is not a time"))
    mixed = good.copy()
    mixed.loc[1, "request_time"] = "2026-07-01T08:00:00+09:00"
    cases.append((mixed, ValidationError, "no UTC offset while others do"))
    numeric = good.copy()
    numeric["request_time"] = np.arange(20)
    cases.append((numeric, ValidationError, "ISO 8601"))
    cases.append((good.drop(columns=["dropoff_lat"]), ValidationError, "missing column"))
    text = good.copy()
    text["pickup_lon"] = text["pickup_lon"].astype(object)
    text.loc[0, "pickup_lon"] = "east"
    cases.append((text, ValidationError, "not a lon/lat"))
    wheel = good.copy()
    wheel.loc[0, "wheelchair"] = 7
    cases.append((wheel, ValidationError, "wheelchair must be 0 or 1"))
    spread = good.copy()
    spread.loc[19, "request_time"] = "2026-09-01T08:00:00"
    cases.append((spread, ValidationError, "span"))
    for i, (frame, error, message) in enumerate(cases):
        with pytest.raises(error, match=message):
            read_trips(_write(frame, tmp_path, f"bad{i}.csv"), model)


def test_skip_invalid_drops_and_counts(model: EtaModel, tmp_path: Path) -> None:
    frame = _trips(model, 30)
    frame.loc[0, ["pickup_lon", "pickup_lat"]] = (24.96, 60.15)
    frame.loc[1, ["dropoff_lon", "dropoff_lat"]] = frame.loc[1, ["pickup_lon", "pickup_lat"]].values
    trips = read_trips(_write(frame, tmp_path), model, skip_invalid=True)
    assert trips.count == 28
    assert sum(trips.skipped.values()) == 2
    assert 2 not in trips.row.tolist() and 3 not in trips.row.tolist()


def test_simulation_options_are_bounded(model: EtaModel, tmp_path: Path) -> None:
    trips = read_trips(_write(_trips(model, 10), tmp_path), model)
    for kwargs in ({"fleet": 0}, {"policy": "random"}, {"batch_s": 0}, {"fault_rate": 0.9}):
        with pytest.raises(ValidationError):
            simulate(model, trips, **{"fleet": 5, **kwargs})  # type: ignore[arg-type]


def test_fares_follow_the_gyeonggi_tariff() -> None:
    fares = fare_krw(np.array([1000.0, 1600.0, 1601.0, 1600 + 131 * 10]), np.array([12] * 4))
    assert fares.tolist() == [4800, 4800, 4900, 5800]
    assert fare_krw(np.array([1000.0]), np.array([23]))[0] == 5800  # +20 % at night, rounded


def test_gini() -> None:
    assert gini(np.ones(10)) == pytest.approx(0.0)
    assert gini(np.array([0, 0, 0, 10.0])) == pytest.approx(0.75)
    assert gini(np.zeros(3)) == 0.0


@pytest.mark.skipif(not NYC.is_file(), reason="shared data absent")
def test_demand_profile_from_real_taxi_trips() -> None:
    profile = demand.read_profile(NYC)
    assert profile.distances_m.size > 6000
    assert 2500 < np.median(profile.distances_m) < 3500  # a 1.7-1.9 mile median trip
    shape = profile.hourly(date(2026, 7, 1))
    assert shape.sum() == pytest.approx(1.0)
    assert shape[18] > 3 * shape[4]  # evening rush against the small hours


@pytest.mark.skipif(not STOPS.is_file(), reason="shared data absent")
def test_requests_from_real_places(tmp_path: Path) -> None:
    places = demand.read_places(STOPS)  # CP949, Korean headers
    assert places.shape[0] > 11_000
    assert np.all((places[:, 0] > 126.7) & (places[:, 0] < 127.3))
    frame = demand.generate_trips(
        demand.read_profile(NYC), places, count=2000, day=date(2026, 7, 4), seed=5
    )
    assert len(frame) == 2000
    times = pd.to_datetime(frame["request_time"])
    assert times.is_monotonic_increasing
    assert (times.dt.date == date(2026, 7, 4)).all()
    assert ((frame.pickup_lon != frame.dropoff_lon) | (frame.pickup_lat != frame.dropoff_lat)).all()
    assert 0 < frame["wheelchair"].sum() < 100


def test_bad_demand_inputs(tmp_path: Path) -> None:
    bad = tmp_path / "places.csv"
    bad.write_text("name,where\na,b\n")
    with pytest.raises(ValidationError, match="lon and lat"):
        demand.read_places(bad)
    bad.write_text("lon,lat\nx,y\n")
    with pytest.raises(ValidationError, match="no usable places"):
        demand.read_places(bad)
    trips = tmp_path / "trips.csv"
    trips.write_text("when,miles\n2019-03-01 08:00,1.0\n")
    with pytest.raises(ValidationError, match="pickup time column"):
        demand.read_profile(trips)
    profile = demand.DemandProfile(np.ones((7, 24)), np.array([1000.0]))
    with pytest.raises(ValidationError, match="count"):
        demand.generate_trips(profile, np.zeros((3, 2)), count=0, day=date(2026, 1, 1))
    with pytest.raises(ValidationError, match="two places"):
        demand.generate_trips(profile, np.zeros((1, 2)), count=5, day=date(2026, 1, 1))

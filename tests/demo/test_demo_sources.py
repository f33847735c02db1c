"""The packaged demo slices are faithful to the public data they come from (../shared/data)."""

from __future__ import annotations

import csv
from importlib import resources

import pytest

from tests.conftest import SHARED_DATA

pytestmark = pytest.mark.skipif(not SHARED_DATA.exists(), reason="../shared/data not present")


def _packaged(name: str) -> list[dict[str, str]]:
    with resources.files("urbanops.demo").joinpath("data", name).open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_sensor_positions_are_real_sdot_positions() -> None:
    with (SHARED_DATA / "heat" / "sdot_sensor_locations_2020.csv").open(encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))[1:]
    real = {serial: (float(lat), float(lon)) for serial, lat, lon in rows}
    packaged = _packaged("sdot_sensors.csv")
    assert len(packaged) == 200
    for s in packaged:
        lat, lon = real[s["serial"]]
        assert abs(lat - float(s["lat"])) < 1e-6 and abs(lon - float(s["lon"])) < 1e-6


def test_weather_week_is_the_real_record() -> None:
    path = SHARED_DATA / "heat" / "seoul_hourly_weather_2017-12_2018-11_SeoulBikeData.csv"
    with path.open(encoding="latin1") as fh:
        real = {
            (tuple(int(x) for x in r["Date"].split("/")), r["Hour"]): r for r in csv.DictReader(fh)
        }
    week = _packaged("seoul_weather_week.csv")
    assert len(week) == 7 * 24
    for w in week:
        r = real[(tuple(int(x) for x in w["date"].split("/")), w["hour"])]
        assert float(r["Temperature(C)"]) == float(w["temperature_degc"])
        assert float(r["Rainfall(mm)"]) == float(w["rain_mm"])
    assert max(float(w["temperature_degc"]) for w in week) > 35  # the 2018 heat wave

"""``urbanops drone windows``: on a year of real Seoul weather, and on bad files."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.conftest import SHARED_DATA
from urbanops.cli.main import app
from urbanops.domains.drone.windows import (
    WeatherError,
    WindowCriteria,
    assess,
    read_weather,
    sun_elevation_deg,
)

SEOUL_WEATHER = SHARED_DATA / "heat" / "seoul_hourly_weather_2017-12_2018-11_SeoulBikeData.csv"
needs_data = pytest.mark.skipif(not SEOUL_WEATHER.exists(), reason="../shared/data not present")
SEOUL = ZoneInfo("Asia/Seoul")


def test_sun_elevation_matches_known_values() -> None:
    # Seoul, 2018-06-21 12:30 KST: near the year's highest sun, 90 - 37.57 + 23.44
    t = datetime(2018, 6, 21, 12, 30, tzinfo=SEOUL).timestamp()
    assert sun_elevation_deg(np.array([t]), 126.98, 37.57)[0] == pytest.approx(75.9, abs=0.3)
    # and below the horizon at midnight
    t = datetime(2018, 6, 21, 0, 0, tzinfo=SEOUL).timestamp()
    assert sun_elevation_deg(np.array([t]), 126.98, 37.57)[0] < -20


@needs_data
def test_real_year_of_seoul_weather() -> None:
    w = read_weather(SEOUL_WEATHER)
    assert len(w.time_s) == 8760
    a = assess(w, WindowCriteria())
    months = Counter(w.local(i).month for i in np.flatnonzero(a.ok))
    # winter nights qualify, summer nights are too warm for contrast
    assert months[1] > 100 and months[12] > 100
    assert months[7] == 0 and months[8] == 0
    for i in np.flatnonzero(a.ok):
        assert w.wind_ms[i] < 5 and w.air_degc[i] <= 10
        assert not 8 <= w.local(i).hour <= 16  # never in daylight
        # no rain in the 24 hours up to it
        back = (w.time_s > w.time_s[i] - 24 * 3600) & (w.time_s <= w.time_s[i])
        assert w.precip_mm[back].sum() == 0
    assert all(j - i + 1 >= 2 for i, j in a.windows)


@needs_data
def test_windows_cli_writes_csv_and_chart(tmp_path: Path) -> None:
    out, png = tmp_path / "w.csv", tmp_path / "w.png"
    res = CliRunner().invoke(
        app,
        ["drone", "windows", "--weather", str(SEOUL_WEATHER), "--out", str(out), "--plot",
         str(png), "--top", "5"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "windows" in res.output
    assert len(out.read_text().splitlines()) == 8761
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("time,temp\n2026-01-01T00:00,1\n", "no column for wind speed, rainfall"),
        ("", "no observations"),
        ("time,temperature,wind speed,rain\nyesterday,1,1,0\n", "not ISO 8601"),
        ("time,temperature,wind speed,rain\n2026-01-01T00:00,275,1,0\n", "Kelvin"),
        ("time,temperature,wind speed,rain\n2026-01-01T00:00,1,fast,0\n", "not a number"),
        ("time,temperature,wind speed,rain\n2026-01-01T00:00,1,-2,0\n", "negative"),
    ],
    ids=["columns", "empty", "time", "kelvin", "text", "negative"],
)
def test_bad_weather_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "w.csv"
    path.write_text(text)
    with pytest.raises(WeatherError, match=message):
        read_weather(path)
    res = CliRunner().invoke(app, ["drone", "windows", "--weather", str(path)])
    assert res.exit_code == 1 and message.split(",")[0] in res.output


def test_iso_weather_with_rain_blocks_the_next_day(tmp_path: Path) -> None:
    rows = ["time,temperature_2m (°C),wind_speed_10m (km/h),precipitation (mm)"]
    for h in range(72):
        day, hour = divmod(h, 24)
        rain = 2.0 if (day, hour) == (0, 3) else 0.0
        rows.append(f"2026-01-{day + 5:02d}T{hour:02d}:00,-3,7.2,{rain}")
    path = tmp_path / "openmeteo.csv"
    path.write_text("\n".join(rows))
    w = read_weather(path)
    assert w.wind_ms[0] == pytest.approx(2.0)  # km/h converted
    a = assess(w)
    ok = [w.local(i) for i in np.flatnonzero(a.ok)]
    # rain at 03:00 on the 5th: no hour from then until 03:00 on the 6th
    rain = datetime(2026, 1, 5, 3, tzinfo=SEOUL)
    assert not [t for t in ok if rain <= t < datetime(2026, 1, 6, 3, tzinfo=SEOUL)]
    assert any(t < rain for t in ok)  # the night before the rain was fine
    assert any(t.day == 6 and t.hour == 3 for t in ok)
    assert any(t.day == 7 for t in ok)

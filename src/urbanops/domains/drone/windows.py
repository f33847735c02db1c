"""Hours when thermography of buried heating pipes works, from hourly weather.

A leak shows as warm ground above the pipe. The contrast is largest when the ground has lost
the sun's heat and the air is cold, and it is spoiled by wind (forced convection evens the
surface out), by wet ground (evaporation cools it, water spreads the heat) and by fog
(the camera sees the droplets, not the ground). Guidance for district-heating surveys
(e.g. the Danish and Swedish district-heating associations' thermography practice) is to
fly at night, in the cold season, in calm, dry weather. An hour is recommended when:

- the sun has been below the horizon for ``min_hours_after_sunset`` (solar gain has faded)
  and is below ``max_sun_elevation_deg`` (after civil dusk, before civil dawn);
- the wind is below ``max_wind_ms``;
- no rain or snow fell in the previous ``dry_hours``;
- the air is at most ``max_air_degc`` (a large ground-to-pipe contrast);
- the visibility, when given, is at least ``min_visibility_m``.

Consecutive good hours make a window; windows shorter than ``min_window_h`` are dropped (a
survey needs a few batteries). The sun's position is NOAA's solar position algorithm.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from urbanops.errors import ValidationError


class WeatherError(ValidationError):
    """A weather file that cannot be read as hourly observations."""


MAX_BYTES = 50_000_000
MAX_ROWS = 500_000


@dataclass(frozen=True)
class WindowCriteria:
    """When a survey may fly (see the module text)."""

    max_wind_ms: float = 5.0
    dry_hours: float = 24.0
    max_air_degc: float = 10.0
    min_hours_after_sunset: float = 2.0
    max_sun_elevation_deg: float = -6.0
    min_visibility_m: float = 1000.0
    min_window_h: int = 2
    lon: float = 127.1265  # Seongnam city hall
    lat: float = 37.4200
    tz: str = "Asia/Seoul"

    def check(self) -> None:
        if not (-180 <= self.lon <= 180 and -90 <= self.lat <= 90):
            raise WeatherError(f"site {self.lon},{self.lat} is not a longitude,latitude pair")
        for name, lo, hi in (
            ("max_wind_ms", 0, 60),
            ("dry_hours", 0, 24 * 14),
            ("max_air_degc", -60, 60),
            ("min_hours_after_sunset", 0, 12),
            ("max_sun_elevation_deg", -90, 90),
            ("min_visibility_m", 0, 100_000),
            ("min_window_h", 1, 24),
        ):
            v = getattr(self, name)
            if not (math.isfinite(v) and lo <= v <= hi):
                raise WeatherError(f"{name} {v!r} must be between {lo} and {hi}")


@dataclass
class Weather:
    """Hourly observations, sorted by time (UTC epoch seconds)."""

    time_s: np.ndarray
    air_degc: np.ndarray
    wind_ms: np.ndarray
    precip_mm: np.ndarray  # rain plus snow (water or cm, any > 0 counts)
    visibility_m: np.ndarray | None
    tz: str

    def local(self, i: int) -> datetime:
        return datetime.fromtimestamp(float(self.time_s[i]), ZoneInfo(self.tz))


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", name.lower()).strip()


def _find(names: list[str], *keys: str, avoid: tuple[str, ...] = ()) -> int | None:
    for i, n in enumerate(names):
        if any(k in n for k in keys) and not any(a in n for a in avoid):
            return i
    return None


def _floats(rows: list[list[str]], col: int, what: str) -> np.ndarray:
    out = np.empty(len(rows))
    for r, row in enumerate(rows):
        try:
            v = row[col].strip()
            out[r] = float(v) if v not in ("", "NA", "NaN", "-") else np.nan
        except (ValueError, IndexError):
            raise WeatherError(
                f"row {r + 2}: {what} {row[col] if col < len(row) else ''!r} is not a number"
            ) from None
    return out


def read_weather(path: Path, *, tz: str = "Asia/Seoul") -> Weather:
    """Hourly weather from a CSV: a timestamp (or date and hour), air temperature, wind,
    rain (and snow, visibility when present). Column names are matched loosely (the Seoul
    bike-sharing weather export, Open-Meteo and KMA ASOS CSV names all work)."""
    if not path.is_file():
        raise WeatherError(f"{path}: no such file", field="weather")
    if path.stat().st_size > MAX_BYTES:
        raise WeatherError(f"{path.name}: larger than {MAX_BYTES // 1_000_000} MB", field="weather")
    raw = path.read_bytes()
    for enc in ("utf-8-sig", "cp949", "latin-1"):
        try:
            text = raw.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    rows = list(csv.reader(io.StringIO(text)))
    if len(rows) < 2:
        raise WeatherError(f"{path.name}: no observations", field="weather")
    if len(rows) > MAX_ROWS:
        raise WeatherError(f"{path.name}: more than {MAX_ROWS} rows", field="weather")
    names = [_norm(h) for h in rows[0]]
    body = [r for r in rows[1:] if any(c.strip() for c in r)]
    t_col = _find(names, "timestamp", "datetime", "date time", "time", "일시")
    d_col = _find(names, "date")
    h_col = _find(names, "hour")
    temp = _find(names, "temp", "기온", avoid=("dew", "soil", "ground"))
    wind = _find(names, "wind", "풍속", avoid=("dir", "gust"))
    rain = _find(names, "rain", "precip", "강수")
    snow = _find(names, "snow", "적설")
    vis = _find(names, "visib", "시정")
    missing = [
        w
        for w, c in (("air temperature", temp), ("wind speed", wind), ("rainfall", rain))
        if c is None
    ]
    if missing:
        raise WeatherError(
            f"{path.name}: no column for {', '.join(missing)} (found: {', '.join(rows[0])})",
            field="weather",
        )
    zone = ZoneInfo(tz)
    times = np.empty(len(body))
    if d_col is not None and h_col is not None and (t_col is None or t_col == d_col):
        dayfirst = _dayfirst([r[d_col] for r in body])
        for r, row in enumerate(body):
            try:
                d = _date(row[d_col], dayfirst)
                h = int(float(row[h_col]))
                if not 0 <= h <= 24:
                    raise ValueError
            except (ValueError, IndexError):
                raise WeatherError(
                    f"row {r + 2}: date/hour {row[d_col : d_col + 1]}, "
                    f"{row[h_col] if h_col < len(row) else ''!r} not understood"
                ) from None
            times[r] = (
                datetime(d.year, d.month, d.day, tzinfo=zone) + timedelta(hours=h)
            ).timestamp()
    elif t_col is not None:
        for r, row in enumerate(body):
            try:
                t = datetime.fromisoformat(row[t_col].strip().replace(" ", "T"))
            except (ValueError, IndexError):
                raise WeatherError(f"row {r + 2}: time {row[t_col]!r} is not ISO 8601") from None
            times[r] = (t if t.tzinfo else t.replace(tzinfo=zone)).timestamp()
    else:
        raise WeatherError(f"{path.name}: no time column (a timestamp, or date and hour)")
    air = _floats(body, temp, "temperature")
    wnd = _floats(body, wind, "wind speed")
    if "km h" in names[wind] or "kmh" in names[wind]:
        wnd = wnd / 3.6
    pr = _floats(body, rain, "rainfall")
    if snow is not None:
        pr = pr + np.nan_to_num(_floats(body, snow, "snowfall"))
    vis_m = None
    if vis is not None:
        vis_m = _floats(body, vis, "visibility")
        if "10m" in names[vis].replace(" ", ""):
            vis_m = vis_m * 10
        elif names[vis].endswith(" km") or "km" in names[vis].split():
            vis_m = vis_m * 1000
    order = np.argsort(times, kind="stable")
    if np.any((air < -80) | (air > 60)):
        raise WeatherError(f"{path.name}: air temperatures outside -80..60 deg C (Kelvin?)")
    if np.any(wnd < 0) or np.any(pr < 0):
        raise WeatherError(f"{path.name}: negative wind speed or rainfall")
    return Weather(
        time_s=times[order],
        air_degc=air[order],
        wind_ms=wnd[order],
        precip_mm=pr[order],
        visibility_m=None if vis_m is None else vis_m[order],
        tz=tz,
    )


def _dayfirst(values: list[str]) -> bool:
    for v in values:
        parts = re.split(r"[/.]", v.strip())
        if len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit():
            if int(parts[0]) > 12:
                return True
            if int(parts[1]) > 12:
                return False
    return True


def _date(value: str, dayfirst: bool) -> datetime:
    v = value.strip()
    if "-" in v:
        return datetime.fromisoformat(v[:10])
    fmt = "%d/%m/%Y" if dayfirst else "%m/%d/%Y"
    return datetime.strptime(v.replace(".", "/"), fmt)


def sun_elevation_deg(time_s: np.ndarray, lon: float, lat: float) -> np.ndarray:
    """Solar elevation (degrees, no refraction) at UTC epoch seconds, NOAA's algorithm."""
    jd = np.asarray(time_s, dtype=float) / 86400.0 + 2440587.5
    jc = (jd - 2451545.0) / 36525.0
    l0 = np.radians((280.46646 + jc * (36000.76983 + jc * 0.0003032)) % 360)
    m = np.radians(357.52911 + jc * (35999.05029 - 0.0001537 * jc))
    e = 0.016708634 - jc * (0.000042037 + 0.0000001267 * jc)
    c = np.radians(
        np.sin(m) * (1.914602 - jc * (0.004817 + 0.000014 * jc))
        + np.sin(2 * m) * (0.019993 - 0.000101 * jc)
        + np.sin(3 * m) * 0.000289
    )
    omega = np.radians(125.04 - 1934.136 * jc)
    lam = l0 + c - np.radians(0.00569 + 0.00478 * np.sin(omega))
    eps0 = 23 + (26 + (21.448 - jc * (46.815 + jc * (0.00059 - jc * 0.001813))) / 60) / 60
    eps = np.radians(eps0 + 0.00256 * np.cos(omega))
    decl = np.arcsin(np.sin(eps) * np.sin(lam))
    y = np.tan(eps / 2) ** 2
    eot_min = 4 * np.degrees(
        y * np.sin(2 * l0)
        - 2 * e * np.sin(m)
        + 4 * e * y * np.sin(m) * np.cos(2 * l0)
        - 0.5 * y * y * np.sin(4 * l0)
        - 1.25 * e * e * np.sin(2 * m)
    )
    minutes_utc = (np.asarray(time_s) % 86400) / 60
    true_solar = (minutes_utc + eot_min + 4 * lon) % 1440
    hour_angle = np.radians(true_solar / 4 - 180)
    phi = math.radians(lat)
    cos_zen = np.sin(phi) * np.sin(decl) + np.cos(phi) * np.cos(decl) * np.cos(hour_angle)
    return 90 - np.degrees(np.arccos(np.clip(cos_zen, -1, 1)))


@dataclass
class Assessment:
    """Each hour's verdict and the windows of consecutive good hours."""

    weather: Weather
    ok: np.ndarray  # bool per hour
    reason: list[str]  # "" when ok, else the first criterion that fails
    windows: list[tuple[int, int]]  # (first, last) hour indices, inclusive


def assess(weather: Weather, criteria: WindowCriteria | None = None) -> Assessment:
    """Apply the criteria to every hour (vectorised) and group good hours into windows."""
    c = criteria or WindowCriteria()
    c.check()
    t = weather.time_s
    # sun below the horizon for the whole previous min_hours_after_sunset
    steps = np.arange(0, c.min_hours_after_sunset * 3600 + 1, 900.0)
    elev = sun_elevation_deg((t[:, None] - steps[None, :]).ravel(), c.lon, c.lat)
    elev = elev.reshape(len(t), len(steps))
    night = (elev[:, 0] < c.max_sun_elevation_deg) & (elev.max(axis=1) < 0)
    calm = weather.wind_ms < c.max_wind_ms
    # precipitation in (t - dry_hours, t]
    cum = np.concatenate([[0.0], np.cumsum(np.nan_to_num(weather.precip_mm, nan=1.0))])
    lo = np.searchsorted(t, t - c.dry_hours * 3600, side="right")
    dry = (cum[np.arange(len(t)) + 1] - cum[lo]) <= 0
    cold = weather.air_degc <= c.max_air_degc
    clear = (
        np.ones(len(t), dtype=bool)
        if weather.visibility_m is None
        else ~(weather.visibility_m < c.min_visibility_m)
    )
    tests = [
        ("daylight or dusk", night),
        (f"wind {c.max_wind_ms:g} m/s or more", calm),
        (f"rain or snow in the previous {c.dry_hours:g} h", dry),
        (f"air above {c.max_air_degc:g} deg C (low contrast)", cold),
        (f"visibility under {c.min_visibility_m:g} m", clear),
    ]
    ok = np.logical_and.reduce([v for _, v in tests])
    reason = [""] * len(t)
    for i in np.flatnonzero(~ok):
        reason[i] = next(name for name, v in tests if not v[i])
    windows = []
    i = 0
    n = len(t)
    while i < n:
        if not ok[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and ok[j + 1] and t[j + 1] - t[j] <= 3600:
            j += 1
        if j - i + 1 >= c.min_window_h:
            windows.append((i, j))
        i = j + 1
    return Assessment(weather, ok, reason, windows)


def plot_windows(a: Assessment, path: Path) -> None:
    """A day x hour chart of good hours (PNG), the calendar a crew plans from."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    w = a.weather
    local = [w.local(i) for i in range(len(w.time_s))]
    days = sorted({d.date() for d in local})
    index = {d: k for k, d in enumerate(days)}
    grid = np.full((24, len(days)), np.nan)
    for i, d in enumerate(local):
        grid[d.hour, index[d.date()]] = 1.0 if a.ok[i] else 0.0
    fig, ax = plt.subplots(figsize=(max(6, len(days) / 30), 3.2), dpi=120)
    ax.imshow(grid, aspect="auto", cmap="Greens", vmin=0, vmax=1.3, interpolation="nearest")
    ticks = [k for k, d in enumerate(days) if d.day == 1] or [0]
    ax.set_xticks(ticks, [days[k].strftime("%Y-%m") for k in ticks], rotation=45, fontsize=7)
    ax.set_yticks([0, 6, 12, 18, 23])
    ax.set_ylabel(f"hour ({w.tz})")
    ax.set_title(f"Hours fit for pipe thermography: {int(a.ok.sum())} of {len(a.ok)}")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)

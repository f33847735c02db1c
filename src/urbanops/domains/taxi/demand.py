"""Ride requests for the simulator: when from real taxi records, where from real places.

No public record gives Korean taxi requests with coordinates. The simulator's demand is
therefore assembled from two real sources:

- **when and how far**: the pickup times (hour of day by weekday) and trip distances of real
  taxi trips, e.g. the NYC TLC sample (``tpep_pickup_datetime``, ``trip_distance`` in miles);
- **where**: real places riders start from: bus stops, subway stations, points of interest
  of an OSM extract.

A trip starts at a place drawn at random (optionally weighted) and ends at the place nearest
to the point at the drawn straight-line distance (trip distance / a detour factor of 1.3) in
a random direction. Requests are written as the CSV ``simulate`` reads.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from pyproj import Transformer
from scipy.spatial import cKDTree

from urbanops.core.vector import utm_for
from urbanops.errors import ValidationError

#: Road distance over straight-line distance of an urban trip (a common figure: 1.2-1.4).
DETOUR_FACTOR = 1.3

#: Column names read as longitude / latitude in a places file.
_LON = ("lon", "lng", "longitude", "x", "x좌표", "경도")
_LAT = ("lat", "latitude", "y", "y좌표", "위도")

MAX_TRIPS = 2_000_000


@dataclass(frozen=True)
class DemandProfile:
    """Request shares by weekday (0 = Monday) and hour, and a sample of trip distances (m)."""

    weights: np.ndarray  # (7, 24)
    distances_m: np.ndarray

    def hourly(self, day: date) -> np.ndarray:
        """The 24 hourly shares of a given day (they sum to 1).

        Working days share one shape, and weekends another: a month's sample has too few trips
        per weekday and hour for a shape of its own.
        """
        rows = self.weights[5:] if day.weekday() >= 5 else self.weights[:5]
        row = rows.sum(axis=0)
        if row.sum() <= 0:
            row = self.weights.sum(axis=0)
        return row / row.sum()


def read_profile(path: Path | str) -> DemandProfile:
    """The demand profile of a taxi trip record (TLC yellow/green columns).

    Needs ``tpep_pickup_datetime`` (or ``pickup_datetime``/``lpep_pickup_datetime``) and
    ``trip_distance`` in miles; trips without a positive distance are ignored.
    """
    path = Path(path)
    try:
        frame = pd.read_csv(path, low_memory=False)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise ValidationError(f"cannot read trip record {path}: {exc}") from exc
    time_col = next(
        (
            c
            for c in ("tpep_pickup_datetime", "lpep_pickup_datetime", "pickup_datetime")
            if c in frame
        ),
        None,
    )
    if time_col is None or "trip_distance" not in frame:
        raise ValidationError(
            f"{path.name}: needs a pickup time column (tpep_pickup_datetime) and trip_distance"
        )
    when = pd.to_datetime(frame[time_col], errors="coerce")
    miles = pd.to_numeric(frame["trip_distance"], errors="coerce")
    ok = when.notna() & miles.gt(0) & miles.lt(100)
    if ok.sum() < 100:
        raise ValidationError(f"{path.name}: fewer than 100 usable trips")
    when, miles = when[ok], miles[ok]
    weights = np.zeros((7, 24))
    np.add.at(weights, (when.dt.day_of_week.to_numpy(), when.dt.hour.to_numpy()), 1.0)
    # Days of the week seen less often in the sample count per occurrence, not per trip.
    days = when.dt.normalize().groupby(when.dt.day_of_week).nunique()
    for wd, n_days in days.items():
        weights[int(wd)] /= max(1, int(n_days))
    return DemandProfile(weights=weights, distances_m=miles.to_numpy() * 1609.344)


def _decode(raw: bytes) -> str:
    for encoding in ("utf-8-sig", "cp949"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValidationError("places file is neither UTF-8 nor CP949 text")


def read_places(path: Path | str) -> np.ndarray:
    """Lon/lat of the places in a CSV (columns lon/lng/longitude/x and lat/latitude/y, any
    case, UTF-8 or CP949); rows without numeric, in-range coordinates are skipped."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ValidationError(f"cannot read places {path}: {exc}") from exc
    reader = csv.reader(io.StringIO(_decode(raw)))
    header = [h.strip().lower() for h in next(reader, [])]
    lon_i = next((i for i, h in enumerate(header) if h in _LON), None)
    lat_i = next((i for i, h in enumerate(header) if h in _LAT), None)
    if lon_i is None or lat_i is None:
        raise ValidationError(f"{path.name}: needs lon and lat columns, has {header}")
    out: list[tuple[float, float]] = []
    for row in reader:
        try:
            lon, lat = float(row[lon_i]), float(row[lat_i])
        except (IndexError, ValueError):
            continue
        if -180 <= lon <= 180 and -90 <= lat <= 90 and (lon, lat) != (0.0, 0.0):
            out.append((lon, lat))
    if not out:
        raise ValidationError(f"{path.name}: no usable places")
    return np.asarray(out)


def places_from_osm(path: Path | str) -> np.ndarray:
    """Lon/lat of the points of interest (amenity, shop, public transport, tourism, office
    nodes) of an OSM extract."""
    import osmium

    out: list[tuple[float, float]] = []

    class Handler(osmium.SimpleHandler):  # type: ignore[misc]
        def node(self, n: osmium.osm.Node) -> None:
            tags = n.tags
            if any(k in tags for k in ("amenity", "shop", "public_transport", "tourism", "office")):
                out.append((n.location.lon, n.location.lat))

    try:
        Handler().apply_file(str(path))
    except (RuntimeError, ValueError) as exc:
        raise ValidationError(f"{Path(path).name}: not a readable OSM file ({exc})") from exc
    if not out:
        raise ValidationError(f"{Path(path).name}: no points of interest")
    return np.asarray(out)


def generate_trips(
    profile: DemandProfile,
    places: np.ndarray,
    *,
    count: int,
    day: date,
    tz: str = "Asia/Seoul",
    wheelchair_share: float = 0.01,
    min_distance_m: float = 500.0,
    seed: int = 0,
) -> pd.DataFrame:
    """``count`` requests over one day, as the columns ``simulate`` reads.

    Parameters
    ----------
    profile
        When requests come and how far riders go (:func:`read_profile`).
    places
        ``(n, 2)`` lon/lat of real places (:func:`read_places`, :func:`places_from_osm`).
    count
        Number of requests.
    day
        The local date simulated; its weekday picks the profile's row.
    wheelchair_share
        Share of requests that need a wheelchair-accessible cab.
    min_distance_m
        Shorter straight-line trips are drawn again (nobody hails a cab for 100 m).
    """
    if not 1 <= count <= MAX_TRIPS:
        raise ValidationError(f"count must be 1-{MAX_TRIPS:,}")
    if not 0 <= wheelchair_share <= 1:
        raise ValidationError("wheelchair_share must be 0-1")
    places = np.asarray(places, dtype=float)
    if places.ndim != 2 or places.shape[0] < 2:
        raise ValidationError("need at least two places")
    rng = np.random.default_rng(seed)
    crs = utm_for(float(np.median(places[:, 0])), float(np.median(places[:, 1])))
    to_m = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    px, py = to_m.transform(places[:, 0], places[:, 1])
    xy = np.column_stack([px, py])
    tree = cKDTree(xy)
    hours = rng.choice(24, size=count, p=profile.hourly(day))
    seconds = np.sort(hours * 3600 + rng.uniform(0, 3600, count))
    origin = rng.integers(0, places.shape[0], count)
    straight = rng.choice(profile.distances_m, size=count) / DETOUR_FACTOR
    straight = np.maximum(straight, min_distance_m)
    angle = rng.uniform(0, 2 * np.pi, count)
    target = xy[origin] + np.column_stack([np.cos(angle), np.sin(angle)]) * straight[:, None]
    _, nearest = tree.query(target, k=2)
    dest = np.where(nearest[:, 0] != origin, nearest[:, 0], nearest[:, 1])
    start = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz))
    times = [start + timedelta(seconds=float(s)) for s in seconds]
    return pd.DataFrame(
        {
            "request_time": [t.isoformat(timespec="seconds") for t in times],
            "pickup_lon": places[origin, 0].round(6),
            "pickup_lat": places[origin, 1].round(6),
            "dropoff_lon": places[dest, 0].round(6),
            "dropoff_lat": places[dest, 1].round(6),
            "wheelchair": (rng.random(count) < wheelchair_share).astype(int),
        }
    )

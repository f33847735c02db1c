"""Restricted airspace: zones with floors, ceilings and hours, and the obstacles flights avoid.

A zone is a polygon with optional properties (GeoJSON feature properties):

``floor_m``, ``ceiling_m``
    Vertical extent in metres above ground (default 0 and unlimited). A zone matters to a
    flight when the flight altitude lies within ``[floor_m, ceiling_m]`` widened by the vertical
    margin; survey and transit legs are flown level, climbs and descents happen over home only.
``active_from``, ``active_until``
    ISO 8601 instants bounding when the zone exists (a NOTAM); a naive time is in the city's
    time zone.
``active_hours``
    ``"HH:MM-HH:MM"`` or a list of them, local time; a window may wrap past midnight.
``active_days``
    Weekdays the hours apply to: a list (``["Mon", "Tue"]``) or a range (``"Mon-Fri"``).

Without time properties a zone is always in force. Invalid polygons (self-intersections,
bow ties) are repaired with :func:`shapely.make_valid` and a warning; a zone without area, or
not a polygon, is refused with the reason.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import shapely
from pyproj import CRS, Transformer
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from urbanops.core import vector
from urbanops.errors import ValidationError


class AirspaceError(ValidationError):
    """A zones file or zone that cannot be used."""


_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
MAX_ZONES = 10_000


@dataclass(frozen=True)
class Zone:
    """One restricted zone, its polygon in the plan's metric CRS."""

    id: str
    name: str
    polygon: BaseGeometry
    floor_m: float = 0.0
    ceiling_m: float = math.inf
    active_from: datetime | None = None
    active_until: datetime | None = None
    hours: tuple[tuple[time, time], ...] = ()
    days: frozenset[int] | None = None
    tz: str = "Asia/Seoul"
    properties: dict[str, Any] = field(default_factory=dict, compare=False)

    def applies_at_altitude(self, altitude_m: float, margin_m: float = 0.0) -> bool:
        """Whether level flight at ``altitude_m`` (and climbs from the ground) may enter it.

        Survey and transit legs are level at ``altitude_m``; the zone matters when that height
        lies within its floor and ceiling widened by ``margin_m``.
        """
        return self.floor_m - margin_m <= altitude_m <= self.ceiling_m + margin_m

    def in_force(self, start: datetime, end: datetime) -> bool:
        """Whether the zone is in force at any moment of ``[start, end]`` (aware datetimes)."""
        if self.active_from is not None and end < self.active_from:
            return False
        if self.active_until is not None and start > self.active_until:
            return False
        if not self.hours and self.days is None:
            return True
        return any(a <= end and b >= start for a, b in self._windows(start, end))

    def _windows(self, start: datetime, end: datetime) -> Iterable[tuple[datetime, datetime]]:
        tz = ZoneInfo(self.tz)
        first = start.astimezone(tz).date() - timedelta(days=1)
        last = end.astimezone(tz).date()
        hours = self.hours or ((time(0, 0), time(0, 0)),)
        d: date = first
        while d <= last:
            if self.days is None or d.weekday() in self.days:
                for h0, h1 in hours:
                    a = datetime.combine(d, h0, tz)
                    b = datetime.combine(d, h1, tz)
                    if b <= a:  # wraps past midnight (or the whole day when equal)
                        b += timedelta(days=1)
                    yield a, b
            d += timedelta(days=1)

    def describe_time(self) -> str:
        """The zone's schedule in words (``"always"``, ``"22:00-06:00 Mon-Fri"``...)."""
        parts = []
        if self.hours:
            parts.append(", ".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in self.hours))
        if self.days is not None:
            parts.append(" ".join(_DAYS[i].title() for i in sorted(self.days)))
        if self.active_from is not None:
            parts.append(f"from {self.active_from.isoformat()}")
        if self.active_until is not None:
            parts.append(f"until {self.active_until.isoformat()}")
        return " ".join(parts) or "always"


def _parse_instant(value: Any, name: str, where: str, tz: str) -> datetime | None:
    if _blank(value):
        return None
    try:
        t = datetime.fromisoformat(str(value))
    except ValueError:
        raise AirspaceError(f"{where}: {name} {value!r} is not an ISO 8601 time") from None
    return t.replace(tzinfo=ZoneInfo(tz)) if t.tzinfo is None else t


def _parse_hours(value: Any, where: str) -> tuple[tuple[time, time], ...]:
    if value is None or value == "":
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or len(items) > 24:
        raise AirspaceError(f"{where}: active_hours must be 'HH:MM-HH:MM' or a list of them")
    out = []
    for item in items:
        m = _HOURS.match(str(item))
        if not m:
            raise AirspaceError(f"{where}: active_hours {item!r} is not 'HH:MM-HH:MM'")
        h0, m0, h1, m1 = (int(g) for g in m.groups())
        if h0 > 24 or h1 > 24 or m0 > 59 or m1 > 59:
            raise AirspaceError(f"{where}: active_hours {item!r} is not a time of day")
        out.append((time(h0 % 24, m0), time(h1 % 24, m1)))
    return tuple(out)


def _parse_days(value: Any, where: str) -> frozenset[int] | None:
    if value is None or value == "" or value == []:
        return None
    items = value if isinstance(value, list) else [value]
    days: set[int] = set()
    for item in items:
        text = str(item).strip().lower()
        a, sep, b = text.partition("-")
        try:
            i0 = _DAYS.index(a.strip()[:3])
            i1 = _DAYS.index(b.strip()[:3]) if sep else i0
        except ValueError:
            raise AirspaceError(
                f"{where}: active_days {item!r}: use Mon..Sun, a list or a range like Mon-Fri"
            ) from None
        i = i0
        while True:
            days.add(i)
            if i == i1:
                break
            i = (i + 1) % 7
    return frozenset(days)


def _blank(v: Any) -> bool:
    """Missing: None, empty text, or the NaN GDAL gives a feature without the field."""
    return (
        v is None
        or (isinstance(v, str) and not v.strip())
        or (isinstance(v, float) and math.isnan(v))
    )


def _number(props: dict[str, Any], name: str, where: str, default: float) -> float:
    v = props.get(name)
    if _blank(v):
        return default
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise AirspaceError(f"{where}: {name} {v!r} is not a number of metres") from None
    if not math.isfinite(f) or f < 0 or f > 100_000:
        raise AirspaceError(f"{where}: {name} {v!r} must be between 0 and 100000 m")
    return f


def repair_polygon(geom: BaseGeometry, where: str) -> tuple[BaseGeometry, str | None]:
    """A valid polygonal geometry, and a warning when it had to be repaired.

    Raises :class:`AirspaceError` for geometries that are not polygons or have no area.
    """
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise AirspaceError(f"{where}: a zone must be a Polygon, got a {geom.geom_type}")
    warning = None
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        fixed = shapely.make_valid(geom)
        polys = [g for g in shapely.get_parts(fixed) if g.geom_type in ("Polygon", "MultiPolygon")]
        fixed = shapely.unary_union(polys) if polys else Polygon()
        if fixed.is_empty or fixed.area <= 0:
            raise AirspaceError(f"{where}: invalid polygon with no area ({reason})")
        warning = f"{where}: invalid polygon repaired ({reason})"
        geom = fixed
    if geom.is_empty or geom.area <= 0:
        raise AirspaceError(f"{where}: the polygon has no area")
    return geom, warning


def read_zones(path: Path, crs: CRS, *, tz: str = "Asia/Seoul") -> tuple[list[Zone], list[str]]:
    """Zones from a GeoJSON/GeoPackage file, in the metric CRS ``crs``, and repair warnings."""
    shapes, rows, src_crs = vector.read_layer(path, "airspace", error=AirspaceError)
    if len(shapes) > MAX_ZONES:
        raise AirspaceError(f"{path.name}: {len(shapes)} zones; at most {MAX_ZONES}")
    src = src_crs or CRS.from_epsg(4326)
    if src.is_geographic:
        for i, g in enumerate(shapes):
            if g is not None and not g.is_empty:
                x0, y0, x1, y1 = g.bounds
                if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
                    raise AirspaceError(
                        f"{path.name}: zone {i} has coordinates outside longitude/latitude "
                        "range (a projected file without its CRS?)"
                    )
    to_metric = Transformer.from_crs(src, crs, always_xy=True)
    zones: list[Zone] = []
    warnings: list[str] = []
    for i, (geom, row) in enumerate(zip(shapes, rows, strict=True)):
        zid = str(row.get("id") or row.get("name") or f"zone-{i + 1}")
        where = f"{path.name}: zone {zid!r} (feature {i})"
        if geom is None or geom.is_empty:
            raise AirspaceError(f"{where}: has no geometry")
        geom, warning = repair_polygon(geom, where)
        if warning:
            warnings.append(warning)
        floor = _number(row, "floor_m", where, 0.0)
        ceiling = _number(row, "ceiling_m", where, math.inf)
        if ceiling <= floor:
            raise AirspaceError(f"{where}: ceiling_m {ceiling:g} is not above floor_m {floor:g}")
        zones.append(
            Zone(
                id=zid,
                name=str(row.get("name") or zid),
                polygon=shapely.transform(geom, to_metric.transform, interleaved=False),
                floor_m=floor,
                ceiling_m=ceiling,
                active_from=_parse_instant(row.get("active_from"), "active_from", where, tz),
                active_until=_parse_instant(row.get("active_until"), "active_until", where, tz),
                hours=_parse_hours(_maybe_json(row.get("active_hours")), where),
                days=_parse_days(_maybe_json(row.get("active_days")), where),
                tz=tz,
                properties={k: v for k, v in row.items() if not _blank(v)},
            )
        )
    return zones, warnings


def _maybe_json(value: Any) -> Any:
    """GDAL hands list-valued GeoJSON properties over as JSON text (or as lists)."""
    if _blank(value):
        return None
    if isinstance(value, str) and value.strip().startswith("["):
        import json

        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    if value is not None and not isinstance(value, str | list) and hasattr(value, "tolist"):
        return value.tolist()
    return value


def active_zones(
    zones: Iterable[Zone],
    altitude_m: float,
    start: datetime,
    end: datetime,
    *,
    vertical_margin_m: float = 0.0,
) -> list[Zone]:
    """The zones a flight at ``altitude_m`` between ``start`` and ``end`` must keep out of."""
    return [
        z
        for z in zones
        if z.applies_at_altitude(altitude_m, vertical_margin_m) and z.in_force(start, end)
    ]


def obstacles(zones: Iterable[Zone], margin_m: float) -> BaseGeometry:
    """The area flights avoid: zones grown by ``margin_m``, merged, with few vertices.

    The buffer is simplified by a quarter of the margin, so the result still holds every zone
    grown by three quarters of the margin; transits bend at its corners.
    """
    polys = [z.polygon for z in zones]
    if not polys:
        return MultiPolygon()
    grown = shapely.buffer(polys, margin_m, quad_segs=2, join_style="mitre", mitre_limit=1.5)
    merged = shapely.unary_union(grown)
    simple = shapely.simplify(merged, margin_m * 0.25, preserve_topology=True)
    return shapely.make_valid(simple) if not simple.is_valid else simple


def now_utc() -> datetime:
    """The current time (UTC, aware)."""
    return datetime.now(UTC)

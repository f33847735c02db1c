"""What a city map needs in one call: every sensor's position and newest value; city figures.

A dashboard that shows 100,000 sensors cannot afford one JSON object per sensor with nested
SensorThings entities: :func:`sensor_points` answers in columns (one array per field), read
from the driver's cursor without per-row type processing, with positions reduced to one point
per Location in the database (PostGIS) or from the GeoJSON text (SQLite).
:func:`city_summary` gives the figures a control room watches: sensors online, readings per
minute (counted exactly between two calls), active alerts by severity.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, literal_column, select, true

from urbanops.core.latest import in_bbox, parse_bbox, property_condition
from urbanops.core.sensing.entities import DATASTREAM
from urbanops.core.sensing.query import visibility
from urbanops.errors import ValidationError
from urbanops.storage import tables as t

__all__ = ["COLUMNS", "city_summary", "parse_bbox", "parse_fields", "sensor_points"]

#: The columns of :func:`sensor_points`.
COLUMNS = ("id", "thing", "name", "property", "unit", "lon", "lat", "value", "time")


def _point_columns(conn: Connection) -> tuple[Any, Any]:
    loc = t.locations.c.location
    if conn.dialect.name == "postgresql":
        on_surface = func.ST_PointOnSurface(loc)
        return func.ST_X(on_surface), func.ST_Y(on_surface)
    return (
        func.json_extract(loc, literal_column("'$.coordinates[0]'")),
        func.json_extract(loc, literal_column("'$.coordinates[1]'")),
    )


def _mean_position(value: Any) -> float | None:
    """One coordinate of a non-point GeoJSON (SQLite gives its coordinate array as text)."""
    if isinstance(value, int | float):
        return float(value)
    try:
        nested = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return None
    flat: list[float] = []

    def walk(v: Any) -> None:
        if isinstance(v, list) and v and isinstance(v[0], int | float):
            flat.append(float(v[0]))
        elif isinstance(v, list):
            for item in v:
                walk(item)

    walk(nested)
    return sum(flat) / len(flat) if flat else None


def _epoch_s(value: Any) -> float | None:
    """Epoch seconds of a stored instant: a datetime (PostgreSQL) or microseconds (SQLite)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    return int(value) / 1e6


def _number(last: str | None) -> float | None:
    """The numeric ``result`` of a datastream's stored last-value fragment, else None.

    The fragment ends with ``"result":<JSON value>``; numbers are read with ``float`` (100,000
    rows in milliseconds, where parsing each fragment as JSON took most of a second).
    """
    if not last:
        return None
    text = last.rpartition('"result":')[2]
    if not text or text[0] not in "-0123456789":
        return None
    try:
        return float(text)
    except ValueError:  # an array or object that starts like a number cannot; be safe
        return None


def sensor_points(
    conn: Connection,
    *,
    bbox: tuple[float, float, float, float] | None = None,
    observed_property: str | None = None,
    public_only: bool = False,
    limit: int = 200_000,
    fields: list[str] | None = None,
) -> dict[str, Any]:
    """Every located datastream with its newest value, as columns.

    Parameters
    ----------
    conn
        Open connection.
    bbox
        ``(min_lon, min_lat, max_lon, max_lat)``: only Things with a Location there.
    observed_property
        ObservedProperty name, or its id as digits.
    public_only
        Only datastreams of public Things (anonymous callers).
    limit
        Most datastreams returned (the answer says ``truncated`` when there were more).
    fields
        Columns to return besides ``id`` (default all of :data:`COLUMNS`): a client that
        already has the positions refreshes with ``["value", "time"]``, a third of the bytes.

    Returns
    -------
    dict
        ``count``, ``truncated``, ``properties`` (id -> name), and the columns ``id``
        (datastream), ``thing``, ``name`` (the Thing's), ``property`` (ObservedProperty id),
        ``unit`` (symbol), ``lon``, ``lat``, ``value`` (number or null), ``time`` (the newest
        reading's phenomenon time, epoch seconds, or null).
    """
    d, th, tl, loc = t.datastreams, t.things, t.thing_locations, t.locations
    op = t.observed_properties
    x, y = _point_columns(conn)
    conds: list[Any] = []
    if observed_property is not None:
        conds.append(property_condition(d.c.observed_property_id, observed_property))
    if bbox is not None:
        conds.append(in_bbox(loc.c.location, bbox))
    if public_only:
        conds.append(visibility(DATASTREAM, d))
    unit = (
        func.json_extract(d.c.unit_of_measurement, literal_column("'$.symbol'"))
        if conn.dialect.name == "sqlite"
        else d.c.unit_of_measurement.op("->>")(literal_column("'symbol'"))
    )
    stmt = (
        select(
            d.c.id,
            d.c.thing_id,
            th.c.name,
            d.c.observed_property_id,
            unit,
            x,
            y,
            d.c.last_value_json,
            d.c.phenomenon_time_end,
        )
        .join(th, th.c.id == d.c.thing_id)
        .join(tl, tl.c.thing_id == d.c.thing_id)
        .join(loc, loc.c.id == tl.c.location_id)
        .where(and_(true(), *conds))
        .order_by(d.c.id)
        .limit(limit + 1)
    )
    cursor = conn.execute(stmt).cursor
    assert cursor is not None
    rows = cursor.fetchall()
    cols: dict[str, list[Any]] = {k: [] for k in COLUMNS}
    seen: set[int] = set()
    for ds, thing, name, prop, sym, lon, lat, last, end in rows:
        if ds in seen:  # a Thing with several Locations: its first one
            continue
        if len(seen) == limit:
            break
        seen.add(ds)
        lon_f, lat_f = _mean_position(lon), _mean_position(lat)
        if lon_f is None or lat_f is None:
            continue
        value = _number(last)
        cols["id"].append(ds)
        cols["thing"].append(thing)
        cols["name"].append(name)
        cols["property"].append(prop)
        cols["unit"].append(sym)
        cols["lon"].append(round(lon_f, 6))
        cols["lat"].append(round(lat_f, 6))
        cols["value"].append(value)
        cols["time"].append(_epoch_s(end))
    names = dict(conn.execute(select(op.c.id, op.c.name)).all())
    used = set(cols["property"])
    keep = set(COLUMNS if fields is None else fields) | {"id"}
    return {
        "count": len(cols["id"]),
        "truncated": len({r[0] for r in rows}) > limit,
        "properties": {str(k): v for k, v in names.items() if k in used},
        **{k: v for k, v in cols.items() if k in keep},
    }


def parse_fields(text: str) -> list[str]:
    """``"value,time"`` into known column names, or a clear error."""
    names = [f.strip() for f in text.split(",") if f.strip()]
    unknown = [f for f in names if f not in COLUMNS]
    if unknown or not names:
        raise ValidationError(
            f"fields: {', '.join(unknown) or 'none given'}; known: {', '.join(COLUMNS)}",
            field="fields",
        )
    return names


def city_summary(
    conn: Connection,
    *,
    stale_after_s: float,
    since_observation: int | None = None,
    public_only: bool = False,
    with_alerts: bool = False,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The control room's figures.

    Parameters
    ----------
    stale_after_s
        A datastream is online when its newest reading is at most this old.
    since_observation
        The ``observation_cursor`` of an earlier call: the answer counts the readings stored
        since (``readings_since``), from which the caller gets an exact rate.
    public_only
        Count only public Things' datastreams.
    with_alerts
        Add active alerts by severity (callers that may read alerts).

    Returns
    -------
    dict
        ``sensors`` (datastreams, located or not), ``online`` (those with a fresh reading),
        ``things`` and ``things_online`` (stations with at least one fresh datastream),
        ``observation_cursor`` (the newest
        observation id), ``readings_since`` (null without ``since_observation``), ``at``, and
        ``alerts`` (``{"critical": n, ...}``) when asked.
    """
    now = now or datetime.now(UTC)
    d, o = t.datastreams, t.observations
    scope = visibility(DATASTREAM, d) if public_only else true()
    since = now - timedelta(seconds=stale_after_s)
    fresh = d.c.phenomenon_time_end >= since
    sensors, online, things, things_online = conn.execute(
        select(
            func.count(),
            func.count().filter(fresh),
            func.count(d.c.thing_id.distinct()),
            func.count(d.c.thing_id.distinct()).filter(fresh),
        ).where(scope)
    ).one()
    cursor = conn.execute(select(func.max(o.c.id))).scalar() or 0
    readings = None
    if since_observation is not None:
        readings = conn.execute(
            select(func.count()).where(o.c.id > since_observation, o.c.id <= cursor)
        ).scalar_one()
    out: dict[str, Any] = {
        "at": now.isoformat().replace("+00:00", "Z"),
        "sensors": sensors,
        "online": online,
        "things": things,
        "things_online": things_online,
        "stale_after_s": stale_after_s,
        "observation_cursor": cursor,
        "readings_since": readings,
    }
    if with_alerts:
        a = t.alerts
        active = select(a.c.severity, func.count()).where(a.c.resolved_at.is_(None))
        counts = conn.execute(active.group_by(a.c.severity)).all()
        out["alerts"] = {severity: n for severity, n in counts}
    return out

"""Latest observation per datastream, for dashboards that show thousands of sensors at once.

Served from ``datastreams.last_observation_id`` (kept by the write path), so reading 10,000
datastreams is one indexed join rather than 10,000 "ORDER BY time DESC LIMIT 1" queries.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, and_, or_, select, true

from urbanops.core.sensing.entities import DATASTREAM
from urbanops.core.sensing.query import visibility
from urbanops.core.sensing.serialize import result_value
from urbanops.core.timeutil import format_time
from urbanops.errors import ValidationError
from urbanops.storage import tables as t
from urbanops.storage.types import geom_from_geojson, st_intersects


def parse_id_list(text: str, *, limit: int) -> list[int]:
    """Parse ``"1,2,3"`` into distinct positive ids, at most ``limit`` of them."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise ValidationError("datastreams: give at least one id", field="datastreams")
    if len(parts) > limit:
        raise ValidationError(
            f"datastreams: at most {limit} ids per call, got {len(parts)}", field="datastreams"
        )
    ids: list[int] = []
    for p in parts:
        if not p.isdigit() or len(p) > 18 or int(p) < 1:
            raise ValidationError(
                f"datastreams: {p!r} is not a positive integer id", field="datastreams"
            )
        ids.append(int(p))
    return list(dict.fromkeys(ids))


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """Parse ``minLon,minLat,maxLon,maxLat`` in EPSG:4326 with range checks."""
    parts = text.split(",")
    if len(parts) != 4:
        raise ValidationError("bbox: expected minLon,minLat,maxLon,maxLat", field="bbox")
    try:
        x0, y0, x1, y1 = (float(p) for p in parts)
    except ValueError:
        raise ValidationError("bbox: values must be numbers", field="bbox") from None
    if not all(v == v and abs(v) != float("inf") for v in (x0, y0, x1, y1)):
        raise ValidationError("bbox: values must be finite", field="bbox")
    if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        raise ValidationError(
            "bbox: need -180<=minLon<=maxLon<=180 and -90<=minLat<=maxLat<=90", field="bbox"
        )
    return x0, y0, x1, y1


def latest_observations(
    conn: Connection,
    *,
    datastream_ids: list[int] | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    observed_property: str | None = None,
    public_only: bool = False,
    limit: int = 10_000,
) -> list[dict[str, Any]]:
    """Newest observation of each selected datastream.

    Parameters
    ----------
    conn
        Open connection.
    datastream_ids
        Datastreams to read; or None to select by ``bbox`` / ``observed_property``.
    bbox
        ``(min_lon, min_lat, max_lon, max_lat)``: datastreams whose Thing has a Location there.
    observed_property
        ObservedProperty name, or its id as digits.
    public_only
        Only datastreams of public Things (anonymous callers).
    limit
        Most datastreams returned.

    Returns
    -------
    list of dict
        ``datastream_id, name, thing_id, observed_property_id, unit, phenomenonTime,
        resultTime, result`` (``result`` is None when the datastream has no observation yet).
    """
    if datastream_ids is None and bbox is None and observed_property is None:
        raise ValidationError("give datastreams=..., or bbox=... and/or observed_property=...")
    d, o = t.datastreams, t.observations
    conds: list[Any] = []
    if datastream_ids is not None:
        conds.append(d.c.id.in_(datastream_ids))
    if observed_property is not None:
        op = t.observed_properties
        if observed_property.isdigit():
            conds.append(d.c.observed_property_id == int(observed_property))
        else:
            conds.append(
                d.c.observed_property_id.in_(select(op.c.id).where(op.c.name == observed_property))
            )
    if bbox is not None:
        x0, y0, x1, y1 = bbox
        box = json.dumps(
            {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}
        )
        loc_ids = select(t.locations.c.id).where(
            st_intersects(t.locations.c.location, geom_from_geojson(box))
        )
        conds.append(
            d.c.thing_id.in_(
                select(t.thing_locations.c.thing_id).where(
                    t.thing_locations.c.location_id.in_(loc_ids)
                )
            )
        )
    if public_only:
        conds.append(visibility(DATASTREAM, d))
    stmt = (
        select(
            d.c.id,
            d.c.name,
            d.c.thing_id,
            d.c.observed_property_id,
            d.c.unit_of_measurement,
            o.c.phenomenon_time_start,
            o.c.phenomenon_time_end,
            o.c.result_time,
            o.c.result_kind,
            o.c.result_number,
            o.c.result_string,
            o.c.result_json,
        )
        .select_from(d.outerjoin(o, o.c.id == d.c.last_observation_id))
        .where(and_(true(), *conds) if conds else or_(true()))
        .order_by(d.c.id)
        .limit(limit)
    )
    out = []
    for ds, name, thing, prop, unit, start, end, rtime, kind, num, text, js in conn.execute(stmt):
        if start is None:
            pt = None
        elif end is None:
            pt = format_time(start)
        else:
            pt = f"{format_time(start)}/{format_time(end)}"
        out.append(
            {
                "datastream_id": ds,
                "name": name,
                "thing_id": thing,
                "observed_property_id": prop,
                "unit": unit,
                "phenomenonTime": pt,
                "resultTime": format_time(rtime) if rtime is not None else None,
                "result": result_value(kind, num, text, js) if kind is not None else None,
            }
        )
    return out

"""Latest observation per datastream, for dashboards that show thousands of sensors at once.

Served from ``datastreams.last_observation_id`` (kept by the write path), so reading 10,000
datastreams is one indexed join rather than 10,000 "ORDER BY time DESC LIMIT 1" queries.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    Connection,
    String,
    and_,
    bindparam,
    select,
    text,
    true,
)
from sqlalchemy import column as sa_column

from urbanops.core.sensing.entities import DATASTREAM
from urbanops.core.sensing.query import visibility
from urbanops.errors import ValidationError
from urbanops.storage import tables as t
from urbanops.storage.types import geom_from_geojson, st_intersects

_ID_LIST = re.compile(r"\s*[1-9][0-9]{0,17}\s*(?:,\s*[1-9][0-9]{0,17}\s*)*,?")


def parse_id_list(text: str, *, limit: int) -> list[int]:
    """Parse ``"1,2,3"`` into distinct positive ids, at most ``limit`` of them."""
    if not text.strip():
        raise ValidationError("datastreams: give at least one id", field="datastreams")
    if _ID_LIST.fullmatch(text) is None:
        bad = next(
            (p for p in text.split(",") if re.fullmatch(r"[1-9][0-9]{0,17}", p.strip()) is None),
            text,
        )
        raise ValidationError(
            f"datastreams: {bad.strip()!r} is not a positive integer id", field="datastreams"
        )
    ids = list(map(int, filter(None, text.split(","))))
    if len(ids) > limit:
        raise ValidationError(
            f"datastreams: at most {limit} ids per call, got {len(ids)}", field="datastreams"
        )
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


def property_condition(column: Any, observed_property: str) -> Any:
    """``column`` (an ObservedProperty id) names ``observed_property``: its name, or its id
    as digits."""
    if observed_property.isascii() and observed_property.isdigit():
        return column == int(observed_property)
    op = t.observed_properties
    return column.in_(select(op.c.id).where(op.c.name == observed_property))


def in_bbox(geometry: Any, bbox: tuple[float, float, float, float]) -> Any:
    """``geometry`` (a stored geometry column) intersects the lon/lat box."""
    x0, y0, x1, y1 = bbox
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    box = json.dumps({"type": "Polygon", "coordinates": [ring]})
    return st_intersects(geometry, geom_from_geojson(box))


def latest_json(
    conn: Connection,
    *,
    datastream_ids: list[int] | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    observed_property: str | None = None,
    public_only: bool = False,
    limit: int = 10_000,
) -> list[str]:
    """Newest observation of each selected datastream, one JSON text per datastream.

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
    list of str
        JSON objects ``datastream_id, name, thing_id, observed_property_id, unit,
        phenomenonTime, resultTime, result`` (``result`` is null when the datastream has no
        observation yet), ordered by datastream id.
    """
    if datastream_ids is None and bbox is None and observed_property is None:
        raise ValidationError("give datastreams=..., or bbox=... and/or observed_property=...")
    d = t.datastreams
    conds: list[Any] = []
    if datastream_ids is not None:
        conds.append(_id_in(conn, d.c.id, datastream_ids))
    if observed_property is not None:
        conds.append(property_condition(d.c.observed_property_id, observed_property))
    if bbox is not None:
        loc_ids = select(t.locations.c.id).where(in_bbox(t.locations.c.location, bbox))
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
        select(d.c.id, d.c.thing_id, d.c.observed_property_id, d.c.last_value_json)
        .where(and_(true(), *conds))
        .order_by(d.c.id)
        .limit(limit)
    )
    # The four columns need no type processing, so rows are read from the driver's cursor
    # directly: at 10,000 rows the generic row objects cost more than the query.
    cursor = conn.execute(stmt).cursor
    assert cursor is not None
    return [
        f'{{"datastream_id":{ds},"thing_id":{thing},"observed_property_id":{prop},'
        f"{value or _NO_VALUE}}}"
        for ds, thing, prop, value in cursor.fetchall()
    ]


def latest_observations(conn: Connection, **kwargs: Any) -> list[dict[str, Any]]:
    """Newest observation of each selected datastream, as dicts.

    Takes the same arguments as :func:`latest_json`; see there.
    """
    return [orjson.loads(row) for row in latest_json(conn, **kwargs)]


_NO_VALUE = '"phenomenonTime":null,"resultTime":null,"result":null'


def _id_in(conn: Connection, column: Any, ids: list[int]) -> Any:
    """``column IN ids`` with the whole list as one JSON text parameter.

    10,000 bound parameters (or a 10,000-element array, adapted item by item) cost more to
    prepare than the query takes to run; one JSON string is parsed by the database in C.
    """
    if conn.dialect.name == "postgresql":
        sql = "SELECT CAST(json_array_elements_text(CAST(:ids AS json)) AS bigint) AS value"
    else:
        sql = "SELECT value FROM json_each(:ids)"
    values = text(sql).bindparams(bindparam("ids", json.dumps(ids), type_=String))
    return column.in_(values.columns(sa_column("value", BigInteger)))

"""The live event feed: alerts and new observations, resumable by a cursor.

Events are read from tables that every writer already fills, in whatever process it runs (the
API, the MQTT consumer): ``alert_events`` (each alert opened, acknowledged, resolved) and
``observations``. Both have increasing ids, so a cursor ``a<alert event id>.o<observation id>``
says exactly what a client has seen; it is the SSE event id, and a client that reconnects with
``Last-Event-ID`` resumes after it, losing nothing still stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import orjson
from sqlalchemy import Connection, func, select

from urbanops.core.alerting import alert_event_public, alert_events_after
from urbanops.core.sensing.observations import ObservationRow, value_json
from urbanops.errors import ValidationError
from urbanops.storage import tables as t
from urbanops.storage.types import geom_as_geojson, st_intersects

_CURSOR = re.compile(r"a([0-9]{1,18})\.o([0-9]{1,18})")
MAX_BATCH = 1000


@dataclass
class Cursor:
    alert_event: int
    observation: int

    def text(self) -> str:
        return f"a{self.alert_event}.o{self.observation}"


def parse_cursor(text: str) -> Cursor:
    m = _CURSOR.fullmatch(text.strip())
    if m is None:
        raise ValidationError(
            "Last-Event-ID: expected a<number>.o<number> as sent by this server",
            field="Last-Event-ID",
        )
    return Cursor(int(m.group(1)), int(m.group(2)))


def current_cursor(conn: Connection) -> Cursor:
    """The cursor of 'now': a new subscriber sees only what comes after it."""
    a = conn.execute(select(func.max(t.alert_events.c.id))).scalar() or 0
    o = conn.execute(select(func.max(t.observations.c.id))).scalar() or 0
    return Cursor(int(a), int(o))


def datastreams_in_scope(
    conn: Connection,
    *,
    datastreams: list[int] | None,
    observed_property: str | None,
    zone: int | None,
) -> list[int] | None:
    """Datastream ids an observation subscription covers (None: no observations wanted)."""
    if datastreams is None and observed_property is None and zone is None:
        return None
    d = t.datastreams
    stmt = select(d.c.id)
    if datastreams is not None:
        stmt = stmt.where(d.c.id.in_(datastreams))
    if observed_property is not None:
        op = t.observed_properties
        stmt = stmt.where(
            d.c.observed_property_id.in_(select(op.c.id).where(op.c.name == observed_property))
        )
    if zone is not None:
        z = t.zones
        geom = conn.execute(select(geom_as_geojson(z.c.geometry)).where(z.c.id == zone)).scalar()
        if geom is None:
            raise ValidationError(f"zone {zone} does not exist", field="zone")
        from urbanops.storage.types import geom_from_geojson

        locs = select(t.thing_locations.c.thing_id).where(
            t.thing_locations.c.location_id.in_(
                select(t.locations.c.id).where(
                    st_intersects(t.locations.c.location, geom_from_geojson(geom))
                )
            )
        )
        stmt = stmt.where(d.c.thing_id.in_(locs))
    return [int(i) for i in conn.execute(stmt).scalars()]


def poll(
    conn: Connection, cursor: Cursor, *, alerts: bool, streams: list[int] | None
) -> list[tuple[str, str, bytes]]:
    """Events after ``cursor`` as ``(event id, event type, JSON data)``; advances ``cursor``."""
    out: list[tuple[str, str, bytes]] = []
    if alerts:
        rows = conn.execute(alert_events_after(cursor.alert_event).limit(MAX_BATCH)).all()
        for row in rows:
            cursor.alert_event = int(row.id)
            out.append(
                (cursor.text(), f"alert.{row.action}", orjson.dumps(alert_event_public(row)))
            )
    if streams:
        o = t.observations
        # Read up to a head taken first, so an observation committed meanwhile is not skipped.
        head = int(conn.execute(select(func.max(o.c.id))).scalar() or 0)
        rows = conn.execute(
            select(
                o.c.id,
                o.c.datastream_id,
                o.c.phenomenon_time_start,
                o.c.phenomenon_time_end,
                o.c.result_time,
                o.c.result_kind,
                o.c.result_number,
                o.c.result_string,
                o.c.result_json,
            )
            .where(o.c.id > cursor.observation, o.c.id <= head, o.c.datastream_id.in_(streams))
            .order_by(o.c.id)
            .limit(MAX_BATCH)
        ).all()
        for oid, ds, start, end, rtime, kind, num, text, js in rows:
            cursor.observation = int(oid)
            row = ObservationRow(ds, start, end, rtime, kind, num, text, js)
            out.append(
                (
                    cursor.text(),
                    "observation",
                    f'{{"@iot.id":{oid},"datastream_id":{ds},{value_json(row)}}}'.encode(),
                )
            )
        if len(rows) < MAX_BATCH:
            cursor.observation = max(cursor.observation, head)
    return out


def format_sse(event_id: str, event: str, data: bytes) -> bytes:
    """One Server-Sent Event."""
    return (
        b"id: " + event_id.encode() + b"\nevent: " + event.encode() + b"\ndata: " + data + b"\n\n"
    )


__all__ = [
    "Cursor",
    "current_cursor",
    "datastreams_in_scope",
    "format_sse",
    "parse_cursor",
    "poll",
]

"""Which datastreams lie in which zone: the membership alert rules with a zone scope need.

A datastream belongs to a zone when a location of its Thing lies in the zone's polygon (a point
location as is; a line or polygon location by a point guaranteed inside it). Membership is
computed in one vectorised pass (``shapely.contains_xy``) over every Thing location and zone,
kept per database, and rebuilt when it is older than :data:`MAX_AGE_S`: a sensor moved or
added meets the zone's rules within that time, and the write path never runs a spatial query
per reading.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np
import orjson
from sqlalchemy import Connection, select

from urbanops.storage import tables as t
from urbanops.storage.types import geom_as_geojson

MAX_AGE_S = 60.0


@dataclass
class ZoneIndex:
    """Zone membership of datastreams, with the zones' kinds and names."""

    built_at: float = 0.0
    zones_of: dict[int, frozenset[int]] = field(default_factory=dict)  # datastream -> zones
    members: dict[int, list[int]] = field(default_factory=dict)  # zone -> datastreams
    kind: dict[int, str] = field(default_factory=dict)
    name: dict[int, str] = field(default_factory=dict)

    def zones(self, datastream_id: int) -> frozenset[int]:
        return self.zones_of.get(datastream_id, frozenset())

    def of_kind(self, kind: str) -> list[int]:
        return [z for z, k in self.kind.items() if k == kind]


def _anchor(geojson: str) -> tuple[float, float] | None:
    """A point inside a location's geometry (its coordinates for a point)."""
    try:
        geom = orjson.loads(geojson)
    except orjson.JSONDecodeError:
        return None
    if isinstance(geom, dict) and geom.get("type") == "Point":
        c = geom.get("coordinates") or []
        return (float(c[0]), float(c[1])) if len(c) >= 2 else None
    from shapely.geometry import shape

    try:
        p = shape(geom).representative_point()
    except Exception:  # a geometry shapely cannot read places the Thing in no zone
        return None
    return (p.x, p.y)


def build(conn: Connection) -> ZoneIndex:
    """Compute the membership of every datastream in every zone."""
    import shapely
    from shapely.geometry import shape

    index = ZoneIndex(built_at=time.monotonic())
    z = t.zones
    zones = conn.execute(select(z.c.id, z.c.kind, z.c.name, geom_as_geojson(z.c.geometry))).all()
    if not zones:
        return index
    thing_xy: dict[int, list[tuple[float, float]]] = {}
    tl, loc = t.thing_locations, t.locations
    for thing_id, geojson in conn.execute(
        select(tl.c.thing_id, geom_as_geojson(loc.c.location)).join(
            loc, loc.c.id == tl.c.location_id
        )
    ):
        anchor = _anchor(geojson) if geojson else None
        if anchor is not None:
            thing_xy.setdefault(int(thing_id), []).append(anchor)
    things = [tid for tid, pts in thing_xy.items() for _ in pts]
    xy = np.array([p for pts in thing_xy.values() for p in pts], dtype=float).reshape(-1, 2)
    things_in: dict[int, set[int]] = {}
    for zid, kind, name, geojson in zones:
        index.kind[int(zid)] = str(kind)
        index.name[int(zid)] = str(name)
        if not len(things):
            continue
        try:
            geom = shape(orjson.loads(geojson))
        except Exception:
            continue
        shapely.prepare(geom)
        inside = shapely.contains_xy(geom, xy[:, 0], xy[:, 1])
        things_in[int(zid)] = {things[i] for i in np.flatnonzero(inside)}
    d = t.datastreams
    by_thing: dict[int, list[int]] = {}
    for ds, thing in conn.execute(select(d.c.id, d.c.thing_id)):
        by_thing.setdefault(int(thing), []).append(int(ds))
    zones_of: dict[int, set[int]] = {}
    for zid, members in things_in.items():
        streams = [ds for thing in members for ds in by_thing.get(thing, ())]
        index.members[zid] = sorted(streams)
        for ds in streams:
            zones_of.setdefault(ds, set()).add(zid)
    index.zones_of = {ds: frozenset(zs) for ds, zs in zones_of.items()}
    return index


class _Indexes:
    """One index per database, rebuilt when older than :data:`MAX_AGE_S`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_db: dict[str, ZoneIndex] = {}

    def get(self, conn: Connection) -> ZoneIndex:
        key = conn.engine.url.render_as_string(hide_password=True)
        with self._lock:
            index = self._by_db.get(key)
        if index is None or time.monotonic() - index.built_at > MAX_AGE_S:
            index = build(conn)
            with self._lock:
                self._by_db[key] = index
        return index

    def invalidate(self) -> None:
        """Forget every index (tests, and after zones are loaded)."""
        with self._lock:
            self._by_db.clear()


ZONES = _Indexes()

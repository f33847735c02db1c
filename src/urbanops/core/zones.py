"""City zones (districts, flood basins, crowd areas...) shared by every domain."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, select

from urbanops.storage import tables as t


def zones_geojson(conn: Connection, *, kind: str | None = None) -> dict[str, Any]:
    """Zones as a GeoJSON FeatureCollection (RFC 7946, EPSG:4326)."""
    z = t.zones
    stmt = select(z.c.id, z.c.name, z.c.kind, z.c.code, z.c.geometry, z.c.properties).order_by(
        z.c.id
    )
    if kind is not None:
        stmt = stmt.where(z.c.kind == kind)
    features = [
        {
            "type": "Feature",
            "id": zid,
            "geometry": orjson.loads(geom),
            "properties": {"name": name, "kind": zkind, "code": code, **(props or {})},
        }
        for zid, name, zkind, code, geom, props in conn.execute(stmt)
    ]
    return {"type": "FeatureCollection", "features": features}

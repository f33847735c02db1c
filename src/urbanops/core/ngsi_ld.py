"""Alerts as NGSI-LD entities shaped like the FIWARE Smart Data Models ``Alert``.

Normalized NGSI-LD (Property / GeoProperty), so context brokers (Orion-LD, Scorpio) and tools that
speak Smart Data Models can take UrbanOps alerts as they are.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, select

from urbanops.core.timeutil import format_time
from urbanops.storage import tables as t
from urbanops.storage.types import geom_as_geojson

CONTEXT = [
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld",
    "https://raw.githubusercontent.com/smart-data-models/dataModel.Alert/master/context.jsonld",
]
#: UrbanOps severities to the Smart Data Models scale (informational, low, medium, high, critical).
SEVERITY = {"info": "informational", "warning": "medium", "critical": "critical"}


def _prop(value: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value}


def _when(value: Any) -> dict[str, Any]:
    return _prop({"@type": "DateTime", "@value": format_time(value)})


def _source(row: Any) -> str:
    """What raised the alert: a datastream, a zone (aggregate rules) or the whole city."""
    if row.datastream_id is not None:
        return f"urn:ngsi-ld:Datastream:urbanops:{row.datastream_id}"
    if row.zone_id is not None:
        return f"urn:ngsi-ld:Zone:urbanops:{row.zone_id}"
    return "urn:ngsi-ld:City:urbanops"


def alert_entities(
    conn: Connection,
    *,
    alert_ids: list[int] | None = None,
    active_only: bool = False,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """Alerts as NGSI-LD ``Alert`` entities, newest first."""
    a, r, d, z = t.alerts, t.alert_rules, t.datastreams, t.zones
    loc = (
        select(t.locations.c.location)
        .join(t.thing_locations, t.thing_locations.c.location_id == t.locations.c.id)
        .where(t.thing_locations.c.thing_id == d.c.thing_id)
        .order_by(t.locations.c.id)
        .limit(1)
        .scalar_subquery()
    )
    stmt = (
        select(
            a.c.id,
            a.c.state,
            a.c.severity,
            a.c.message,
            a.c.value,
            a.c.opened_at,
            a.c.resolved_at,
            a.c.datastream_id,
            a.c.zone_id,
            a.c.subject,
            r.c.name,
            r.c.category,
            r.c.sub_category,
            d.c.thing_id,
            loc.label("location"),
            geom_as_geojson(z.c.geometry).label("zone_geometry"),
        )
        .join(r, r.c.id == a.c.rule_id)
        .outerjoin(d, d.c.id == a.c.datastream_id)
        .outerjoin(z, z.c.id == a.c.zone_id)
        .order_by(a.c.id.desc())
        .limit(limit)
    )
    if alert_ids is not None:
        stmt = stmt.where(a.c.id.in_(alert_ids))
    if active_only:
        stmt = stmt.where(a.c.resolved_at.is_(None))
    out = []
    for row in conn.execute(stmt):
        entity: dict[str, Any] = {
            "id": f"urn:ngsi-ld:Alert:urbanops:{row.id}",
            "type": "Alert",
            "category": _prop(row.category),
            "severity": _prop(SEVERITY.get(row.severity, "medium")),
            "description": _prop(row.message),
            "dateIssued": _when(row.opened_at),
            "validFrom": _when(row.opened_at),
            "alertSource": _prop(_source(row)),
            "data": _prop(
                {
                    "rule": row.name,
                    "state": row.state,
                    "value": row.value,
                    "subject": row.subject,
                    **(
                        {"thing": f"urn:ngsi-ld:Thing:urbanops:{row.thing_id}"}
                        if row.thing_id is not None
                        else {}
                    ),
                }
            ),
            "dataProvider": _prop("UrbanOps"),
            "@context": CONTEXT,
        }
        if row.sub_category:
            entity["subCategory"] = _prop(row.sub_category)
        if row.resolved_at is not None:
            entity["validTo"] = _when(row.resolved_at)
        where = row.location or row.zone_geometry
        if where:
            geom = orjson.loads(where) if isinstance(where, str | bytes) else where
            entity["location"] = {"type": "GeoProperty", "value": geom}
        out.append(entity)
    return out

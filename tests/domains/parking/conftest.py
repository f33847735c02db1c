"""NGSI-LD parking entities near Yeongdeungpo (both forms), written per test."""

from __future__ import annotations

from typing import Any

import pytest


def spot(
    i: int, lon: float, lat: float, *, key_values: bool = False, **extra: Any
) -> dict[str, Any]:
    eid = f"urn:ngsi-ld:ParkingSpot:ydp-{i:03d}"
    attrs = {
        "name": f"Bay {i}",
        "location": {"type": "Point", "coordinates": [lon, lat]},
        "status": "free",
        "refParkingSite": "urn:ngsi-ld:OffStreetParking:ydp-office",
        **extra,
    }
    if key_values:
        return {"id": eid, "type": "ParkingSpot", **attrs}
    out: dict[str, Any] = {"id": eid, "type": "ParkingSpot"}
    for k, v in attrs.items():
        if k == "location":
            out[k] = {"type": "GeoProperty", "value": v}
        elif k == "refParkingSite":
            out[k] = {"type": "Relationship", "object": v}
        else:
            out[k] = {"type": "Property", "value": v}
    return out


def site() -> dict[str, Any]:
    return {
        "id": "urn:ngsi-ld:OffStreetParking:ydp-office",
        "type": "OffStreetParking",
        "name": {"type": "Property", "value": "Yeongdeungpo office car park"},
        "location": {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [126.8962, 37.5264]},
        },
    }


@pytest.fixture
def entities() -> list[dict[str, Any]]:
    """A site, 8 bays shared around the clock, and one shared weekdays 09:00-18:00 only."""
    out = [site()]
    for i in range(8):
        out.append(spot(i, 126.8962 + i * 0.0002, 37.5264, key_values=i % 2 == 1))
    weekdays = {"days": ["Mon", "Tue", "Wed", "Thu", "Fri"], "start": "09:00", "end": "18:00"}
    out.append(spot(99, 126.8970, 37.5270, sharingWindows=[weekdays], closedDates=["2026-12-25"]))
    return out

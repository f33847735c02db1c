"""Reservations through the API: overlaps refused by the database, idempotency, bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.conftest import auth
from urbanops.domains.parking import service

BAY = "urn:ngsi-ld:ParkingSpot:ydp-000"
WEEKDAY_BAY = "urn:ngsi-ld:ParkingSpot:ydp-099"
API = "/api/v1/parking"


# One base for the whole module: computing it per call let two calls meant to be the same
# instant fall either side of a minute boundary (a retried request then differed from the first).
BASE = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=2)


def at(hours: float) -> str:
    """An instant ``hours`` after the module's base (two days ahead), ISO 8601 with offset."""
    return (BASE + timedelta(hours=hours)).isoformat()


@pytest.fixture
def loaded(engine: Engine, entities: list[dict[str, Any]]) -> Engine:
    with engine.begin() as conn:
        counts = service.import_entities(conn, entities)
    assert counts == {"sites": 1, "bays": 9}
    return engine


def reserve(client: TestClient, key: str, bay: str, start: str, end: str, **headers: str) -> Any:
    return client.post(
        f"{API}/reservations", json={"bay_id": bay, "start": start, "end": end},
        headers={**auth(key), **headers},
    )  # fmt: skip


def test_reserve_overlap_adjacent_cancel_extend(
    client: TestClient, loaded: Engine, keys: dict[str, str]
) -> None:
    op = keys["operator"]
    r = reserve(client, op, BAY, at(1), at(3))
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["id"] and first["status"] == "reserved" and first["price_krw"] == 4 * 600
    clash = reserve(client, op, BAY, at(2), at(4))
    assert clash.status_code == 409
    assert clash.headers["content-type"].startswith("application/problem+json")
    assert f"reservation {first['id']}" in clash.json()["detail"]
    assert reserve(client, op, BAY, at(3), at(4)).status_code == 201  # touching is fine
    listed = client.get(f"{API}/reservations", params={"bay_id": BAY}, headers=auth(keys["viewer"]))
    assert [x["status"] for x in listed.json()["value"]] == ["reserved", "reserved"]
    # extending into the next reservation is refused; cancelling frees the time
    ext = client.post(
        f"{API}/reservations/{first['id']}/extend", json={"end": at(3.5)}, headers=auth(op)
    )
    assert ext.status_code == 409
    second = listed.json()["value"][1]["id"]
    assert client.post(f"{API}/reservations/{second}/cancel", headers=auth(op)).status_code == 200
    ext = client.post(
        f"{API}/reservations/{first['id']}/extend", json={"end": at(3.5)}, headers=auth(op)
    )
    assert ext.status_code == 200 and ext.json()["price_krw"] == 5 * 600
    again = client.post(f"{API}/reservations/{second}/cancel", headers=auth(op))
    assert again.status_code == 409


def test_idempotency_key(client: TestClient, loaded: Engine, keys: dict[str, str]) -> None:
    op = keys["operator"]
    a = reserve(client, op, BAY, at(5), at(6), **{"Idempotency-Key": "req-1"})
    b = reserve(client, op, BAY, at(5), at(6), **{"Idempotency-Key": "req-1"})
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] == b.json()["id"] and b.headers.get("Idempotent-Replayed") == "true"
    other = reserve(client, op, BAY, at(7), at(8), **{"Idempotency-Key": "req-1"})
    assert other.status_code == 400 and "different reservation" in other.json()["detail"]
    listed = client.get(f"{API}/reservations", params={"bay_id": BAY}, headers=auth(op))
    assert len(listed.json()["value"]) == 1


def test_roles(client: TestClient, loaded: Engine, keys: dict[str, str]) -> None:
    assert reserve(client, keys["viewer"], BAY, at(1), at(2)).status_code == 403
    r = client.post(f"{API}/reservations", json={"bay_id": BAY, "start": at(1), "end": at(2)})
    assert r.status_code == 401


def body_of(bay: str, start: str, end: str) -> dict[str, str]:
    return {"bay_id": bay, "start": start, "end": end}


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (body_of(BAY, "2020-01-01T10:00:00+09:00", "2020-01-01T11:00:00+09:00"), 400, "past"),
        (body_of(BAY, "END", "START"), 400, "after start"),
        (body_of(BAY, "START", "LONG"), 400, "at most 7 days"),
        (body_of(BAY, "2030-01-01T10:00:00", "2030-01-01T11:00:00"), 400, "no offset"),
        (body_of("urn:ngsi-ld:ParkingSpot:nope", "START", "END"), 404, "does not exist"),
        (body_of(BAY, "soon", "END"), 400, "ISO 8601"),
        ({"start": "START", "end": "END"}, 400, "bay_id"),
        (body_of(WEEKDAY_BAY, "2030-01-05T10:00:00+09:00", "2030-01-05T11:00:00+09:00"), 400,
         "sharing windows"),
        (body_of(WEEKDAY_BAY, "2030-01-07T17:00:00+09:00", "2030-01-07T19:00:00+09:00"), 400,
         "sharing windows"),
    ],
    ids=["past", "end-before-start", "too-long", "no-offset", "unknown-bay", "bad-time", "no-bay",
         "weekend", "past-window-end"],
)  # fmt: skip
def test_bad_reservations(
    client: TestClient, loaded: Engine, keys: dict[str, str], body: dict[str, str], status: int,
    message: str,
) -> None:  # fmt: skip
    subst = {"START": at(1), "END": at(2), "LONG": at(24 * 8)}
    body = {k: subst.get(v, v) for k, v in body.items()}
    r = client.post(f"{API}/reservations", json=body, headers=auth(keys["operator"]))
    assert r.status_code == status and message in r.json()["detail"], r.text
    listed = client.get(f"{API}/reservations", headers=auth(keys["operator"]))
    assert listed.json()["value"] == []  # nothing stored


def test_weekday_window_accepts_inside(
    client: TestClient, loaded: Engine, keys: dict[str, str]
) -> None:
    r = reserve(
        client,
        keys["operator"],
        WEEKDAY_BAY,
        "2030-01-07T09:00:00+09:00",
        "2030-01-07T18:00:00+09:00",
    )
    assert r.status_code == 201, r.text
    closed = reserve(client, keys["operator"], WEEKDAY_BAY, "2026-12-25T10:00:00+09:00",
                     "2026-12-25T11:00:00+09:00")  # fmt: skip
    assert closed.status_code == 400  # a closed date


def test_availability(client: TestClient, loaded: Engine, keys: dict[str, str]) -> None:
    v = keys["viewer"]
    assert reserve(client, keys["operator"], BAY, at(1), at(3)).status_code == 201
    r = client.get(
        f"{API}/availability",
        params={"lon": 126.8962, "lat": 37.5264, "radius_m": 300, "start": at(2), "end": at(4)},
        headers=auth(v),
    )
    assert r.status_code == 200, r.text
    found = r.json()["value"]
    ids = [f["bay_id"] for f in found]
    assert BAY not in ids and len(ids) >= 7  # the reserved one is not free
    assert [f["distance_m"] for f in found] == sorted(f["distance_m"] for f in found)
    assert all(f["price_krw"] == 4 * 600 for f in found)
    params = {"lon": 500, "lat": 37, "start": at(1), "end": at(2)}
    bad = client.get(f"{API}/availability", params=params, headers=auth(v))
    assert bad.status_code == 422 or bad.status_code == 400


def test_ngsi_ld_round_trip(
    client: TestClient, loaded: Engine, keys: dict[str, str], tmp_path: Path
) -> None:
    r = client.get(f"{API}/ngsi-ld/entities", headers=auth(keys["viewer"]))
    assert r.status_code == 200
    data = r.json()
    spots = [e for e in data if e["type"] == "ParkingSpot"]
    assert len(spots) == 9 and spots[0]["status"]["type"] == "Property"
    assert {e["id"] for e in spots} >= {BAY, WEEKDAY_BAY}
    kv = client.get(
        f"{API}/ngsi-ld/entities", params={"options": "keyValues"}, headers=auth(keys["viewer"])
    ).json()
    assert all(isinstance(e.get("status", "free"), str) for e in kv if e["type"] == "ParkingSpot")
    # re-import what was exported: the same bays, updated in place
    r = client.post(
        f"{API}/ngsi-ld/entities", content=json.dumps(kv), headers=auth(keys["operator"])
    )
    assert r.status_code == 200 and r.json() == {"sites": 1, "bays": 9}
    bad = [*kv, {"id": "urn:x", "type": "ParkingSpot", "name": "no location"}]
    r = client.post(
        f"{API}/ngsi-ld/entities", content=json.dumps(bad), headers=auth(keys["operator"])
    )
    assert r.status_code == 400 and "Point location" in r.json()["detail"]

"""The live dispatch API on SQLite and PostgreSQL, with the real Helsinki road network."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import auth
from urbanops.api.app import create_app
from urbanops.domains.taxi.eta import EtaModel
from urbanops.settings import Settings

BASE = "/api/v1/taxi"


@pytest.fixture
def taxi(settings: Settings, pbf: Path) -> Iterator[TestClient]:
    app = create_app(settings.model_copy(update={"taxi_network": pbf}))
    with TestClient(app) as c:
        yield c
    app.state.engine.dispose()


def _at(model: EtaModel, node: int) -> dict[str, float]:
    return {"lon": float(model.network.lon[node]), "lat": float(model.network.lat[node])}


def _cab(
    c: TestClient, keys: dict[str, str], model: EtaModel, vid: str, node: int, **extra: Any
) -> None:
    r = c.post(f"{BASE}/vehicles", json={"id": vid, **extra}, headers=auth(keys["operator"]))
    assert r.status_code in (200, 201), r.text
    r = c.post(
        f"{BASE}/vehicles/{vid}/position", json=_at(model, node), headers=auth(keys["operator"])
    )
    assert r.status_code == 200, r.text
    r = c.post(
        f"{BASE}/vehicles/{vid}/state", json={"state": "idle"}, headers=auth(keys["operator"])
    )
    assert r.status_code == 200 and r.json()["state"] == "idle", r.text


def _ride(
    c: TestClient, keys: dict[str, str], model: EtaModel, a: int, b: int, **extra: Any
) -> int:
    body = {"rider": "r1", "pickup": _at(model, a), "dropoff": _at(model, b), **extra}
    r = c.post(f"{BASE}/requests", json=body, headers=auth(keys["operator"]))
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "requested"
    return int(r.json()["id"])


def _dispatch(c: TestClient, keys: dict[str, str]) -> dict[str, int]:
    r = c.post(f"{BASE}/dispatch", headers=auth(keys["operator"]))
    assert r.status_code == 200, r.text
    return r.json()


def test_a_ride_from_request_to_completion(
    taxi: TestClient, keys: dict[str, str], model: EtaModel
) -> None:
    op = auth(keys["operator"])
    thing = int(keys["device_thing"])
    _cab(taxi, keys, model, "GG-101", 100, thing_id=thing)
    _cab(taxi, keys, model, "GG-102", 1500)
    rid = _ride(taxi, keys, model, 120, 900)
    before = taxi.get(f"{BASE}/requests/{rid}", headers=op).json()
    assert before["eta_s"] is not None and before["eta_s"] >= 0  # an estimate before the match
    assert _dispatch(taxi, keys)["matched"] == 1
    view = taxi.get(f"{BASE}/requests/{rid}", headers=op).json()
    assert view["status"] == "matched"
    cab = view["vehicle_id"]
    want = float(model.pair_time_s([100], [120])[0])
    if cab == "GG-101":
        assert view["eta_s"] == pytest.approx(want, abs=1.0)
    dev = auth(keys["device"]) if cab == "GG-101" else op
    driver = taxi.get(f"{BASE}/vehicles/{cab}", headers=dev).json()
    assert driver["state"] == "en_route" and driver["request"]["id"] == rid
    # Illegal jumps are refused and change nothing
    r = taxi.post(f"{BASE}/requests/{rid}/complete", headers=dev)
    assert r.status_code == 409 and "on_board" in r.json()["detail"]
    r = taxi.post(f"{BASE}/vehicles/{cab}/state", json={"state": "offline"}, headers=dev)
    assert r.status_code == 409
    for action, status in (
        ("arriving", "arriving"),
        ("on-board", "on_board"),
        ("complete", "completed"),
    ):
        r = taxi.post(f"{BASE}/requests/{rid}/{action}", headers=dev)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == status
    r = taxi.post(f"{BASE}/requests/{rid}/cancel", headers=op)
    assert r.status_code == 409
    done = taxi.get(f"{BASE}/requests/{rid}", headers=op).json()
    assert done["status"] == "completed" and done["picked_up_at"] and done["finished_at"]
    assert taxi.get(f"{BASE}/vehicles/{cab}", headers=op).json()["state"] == "idle"


def test_a_decline_needs_a_reason_is_counted_and_redispatched_with_priority(
    taxi: TestClient, keys: dict[str, str], model: EtaModel
) -> None:
    op = auth(keys["operator"])
    _cab(taxi, keys, model, "A", 100)
    rid = _ride(taxi, keys, model, 110, 900)
    _dispatch(taxi, keys)
    r = taxi.post(f"{BASE}/requests/{rid}/decline", headers=op)
    assert r.status_code == 400 and "binding" in r.json()["detail"]
    r = taxi.post(f"{BASE}/requests/{rid}/decline", json={"reason": "too far"}, headers=op)
    assert r.status_code == 400
    r = taxi.post(f"{BASE}/requests/{rid}/decline", json={"reason": "vehicle_fault"}, headers=op)
    assert r.status_code == 200
    view = r.json()
    assert view["status"] == "requested" and view["priority"] is True and view["declines"] == 1
    assert taxi.get(f"{BASE}/vehicles/A", headers=op).json()["state"] == "offline"
    _cab(taxi, keys, model, "B", 200)
    assert _dispatch(taxi, keys)["matched"] == 1
    assert taxi.get(f"{BASE}/requests/{rid}", headers=op).json()["vehicle_id"] == "B"
    counts = taxi.get(f"{BASE}/declines", headers=auth(keys["viewer"])).json()
    assert counts["total"] == 1 and counts["by_reason"]["vehicle_fault"] == 1
    assert counts["by_vehicle"] == [{"vehicle_id": "A", "declines": 1}]


def test_wheelchair_rider_waits_for_an_accessible_cab(
    taxi: TestClient, keys: dict[str, str], model: EtaModel
) -> None:
    op = auth(keys["operator"])
    _cab(taxi, keys, model, "plain", 110)
    rid = _ride(taxi, keys, model, 111, 900, wheelchair=True)
    assert _dispatch(taxi, keys)["matched"] == 0
    assert taxi.get(f"{BASE}/requests/{rid}", headers=op).json()["status"] == "requested"
    _cab(taxi, keys, model, "van", 1400, accessible=True)
    assert _dispatch(taxi, keys)["matched"] == 1
    assert taxi.get(f"{BASE}/requests/{rid}", headers=op).json()["vehicle_id"] == "van"


def test_rider_cancels_and_the_cab_is_freed(
    taxi: TestClient, keys: dict[str, str], model: EtaModel
) -> None:
    op = auth(keys["operator"])
    _cab(taxi, keys, model, "C", 100)
    rid = _ride(taxi, keys, model, 120, 900)
    _dispatch(taxi, keys)
    r = taxi.post(f"{BASE}/requests/{rid}/cancel", headers=op)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert taxi.get(f"{BASE}/vehicles/C", headers=op).json()["state"] == "idle"
    assert taxi.post(f"{BASE}/requests/{rid}/arriving", headers=op).status_code == 409


def test_bad_positions_and_states_change_nothing(
    taxi: TestClient, keys: dict[str, str], model: EtaModel
) -> None:
    op = auth(keys["operator"])
    _cab(taxi, keys, model, "D", 100)
    before = taxi.get(f"{BASE}/vehicles/D", headers=op).json()
    now = datetime.now(UTC)
    bad: list[tuple[dict[str, Any], int, str]] = [
        ({"lon": 24.96, "lat": 60.15}, 400, "off the network"),  # in the sea
        ({"lon": 500, "lat": 60.17}, 400, "not a lon/lat"),
        ({"lon": "x", "lat": 60.17}, 400, "lon"),
        ({**_at(model, 5), "time": (now + timedelta(hours=1)).isoformat()}, 400, "clock"),
        ({**_at(model, 5), "time": "2026-13-01T00:00:00Z"}, 400, "date-time"),
        ({**_at(model, 5), "time": (now - timedelta(minutes=5)).isoformat()}, 409, "older"),
        ({**_at(model, 5), "speed": 3}, 400, "unknown field"),
    ]
    for body, status, words in bad:
        r = taxi.post(f"{BASE}/vehicles/D/position", json=body, headers=op)
        assert r.status_code == status, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert words in r.json()["detail"], r.json()
    for body in (
        {"state": ["idle", "offline"]},
        {"state": "idle", "also": "offline"},
        {"state": "occupied"},
        {},
    ):
        r = taxi.post(f"{BASE}/vehicles/D/state", json=body, headers=op)
        assert r.status_code == 400, (body, r.text)
    after = taxi.get(f"{BASE}/vehicles/D", headers=op).json()
    assert after == before
    assert (
        taxi.post(f"{BASE}/vehicles/NOPE/position", json=_at(model, 5), headers=op).status_code
        == 404
    )
    r = taxi.post(f"{BASE}/vehicles", json={"id": "E", "capacity": 40}, headers=op)
    assert r.status_code == 400
    r = taxi.post(f"{BASE}/vehicles", json={"id": "E", "thing_id": 999999}, headers=op)
    assert r.status_code == 409


def test_bad_requests_are_refused(taxi: TestClient, keys: dict[str, str], model: EtaModel) -> None:
    op = auth(keys["operator"])
    here = _at(model, 300)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"pickup": here, "dropoff": here}, "same place"),
        ({"pickup": {"lon": 24.96, "lat": 60.15}, "dropoff": here}, "off the network"),
        ({"pickup": here}, "dropoff"),
        ({"pickup": here, "dropoff": _at(model, 900), "party_size": 0}, "party_size"),
        ({"pickup": here, "dropoff": _at(model, 900), "wheelchair": "yes"}, "wheelchair"),
        ({"pickup": here, "dropoff": _at(model, 900), "rider": "x" * 65}, "rider"),
        ({"pickup": here, "dropoff": _at(model, 900), "fare": 1}, "unknown field"),
    ]
    for body, words in cases:
        r = taxi.post(f"{BASE}/requests", json=body, headers=op)
        assert r.status_code == 400, (body, r.text)
        assert words in r.json()["detail"]
    r = taxi.post(
        f"{BASE}/requests", content=b"[1,2", headers={**op, "content-type": "application/json"}
    )
    assert r.status_code == 400
    listed = taxi.get(f"{BASE}/vehicles", headers=op).json()
    assert listed["count"] == 0


def test_idempotent_request_creation(
    taxi: TestClient, keys: dict[str, str], model: EtaModel
) -> None:
    headers = {**auth(keys["operator"]), "Idempotency-Key": "app-42"}
    body = {"pickup": _at(model, 10), "dropoff": _at(model, 900)}
    first = taxi.post(f"{BASE}/requests", json=body, headers=headers)
    again = taxi.post(f"{BASE}/requests", json=body, headers=headers)
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]


def test_keys_and_roles(taxi: TestClient, keys: dict[str, str], model: EtaModel) -> None:
    _cab(taxi, keys, model, "F", 100)  # not bound to the device's Thing
    body = _at(model, 101)
    assert taxi.post(f"{BASE}/vehicles/F/position", json=body).status_code == 401
    r = taxi.post(f"{BASE}/vehicles/F/position", json=body, headers=auth(keys["device"]))
    assert r.status_code == 403 and "another cab" in r.json()["detail"]
    r = taxi.post(f"{BASE}/vehicles/F/position", json=body, headers=auth(keys["viewer"]))
    assert r.status_code == 403
    assert (
        taxi.post(f"{BASE}/vehicles", json={"id": "G"}, headers=auth(keys["device"])).status_code
        == 403
    )
    r = taxi.post(f"{BASE}/requests", json={"pickup": body, "dropoff": _at(model, 900)})
    assert r.status_code == 401
    assert taxi.get(f"{BASE}/declines").status_code == 401
    assert taxi.post(f"{BASE}/dispatch", headers=auth(keys["viewer"])).status_code == 403


def test_without_a_network_the_service_says_so(client: TestClient, keys: dict[str, str]) -> None:
    body = {"pickup": {"lon": 127.1, "lat": 37.4}, "dropoff": {"lon": 127.2, "lat": 37.4}}
    r = client.post(f"{BASE}/requests", json=body, headers=auth(keys["operator"]))
    assert r.status_code == 503
    assert "URBANOPS_TAXI_NETWORK" in r.json()["detail"]


def test_assignment_stream_delivers_the_match(
    taxi: TestClient, keys: dict[str, str], model: EtaModel
) -> None:
    """A cab's SSE stream carries its match with the ride, as it happens."""
    thing = int(keys["device_thing"])
    _cab(taxi, keys, model, "H", 100, thing_id=thing)
    got: list[tuple[str, dict[str, Any]]] = []
    ready = threading.Event()

    def listen() -> None:
        with taxi.stream(
            "GET", f"{BASE}/vehicles/H/assignments", headers=auth(keys["device"]), timeout=10
        ) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            event = None
            for line in r.iter_lines():
                ready.set()
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event:
                    got.append((event, json.loads(line[6:])))
                    return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert ready.wait(10)
    rid = _ride(taxi, keys, model, 120, 900)
    _dispatch(taxi, keys)
    thread.join(10)
    assert got and got[0][0] == "matched"
    assert got[0][1]["request"]["id"] == rid
    assert got[0][1]["request"]["pickup"] == _at(model, 120)


def test_unknown_cab_stream_is_404(taxi: TestClient, keys: dict[str, str]) -> None:
    r = taxi.get(f"{BASE}/vehicles/none/assignments", headers=auth(keys["operator"]))
    assert r.status_code == 404


def test_a_stale_change_loses_the_race(engine: Any, settings: Settings, pbf: Path) -> None:
    """Two state changes read the same cab; the second to write is refused, not merged."""
    from sqlalchemy import select

    from urbanops.domains.taxi import service
    from urbanops.domains.taxi.tables import taxi_vehicles
    from urbanops.errors import ConflictError

    with engine.begin() as conn:
        service.upsert_vehicle(conn, {"id": "R"})
        conn.execute(
            taxi_vehicles.update().values(lon=24.9445, lat=60.17, position_at=datetime.now(UTC))
        )
    with engine.connect() as conn:
        stale = conn.execute(select(taxi_vehicles).where(taxi_vehicles.c.id == "R")).first()
    with engine.begin() as conn:
        service.set_vehicle_state(conn, stale, {"state": "idle"})
    with pytest.raises(ConflictError, match="changed meanwhile"), engine.begin() as conn:
        service.set_vehicle_state(conn, stale, {"state": "idle"})  # as a second device would
    with engine.connect() as conn:
        row = conn.execute(select(taxi_vehicles).where(taxi_vehicles.c.id == "R")).first()
    assert row is not None and row.state == "idle" and row.version == stale.version + 1


def test_serve_dispatches_on_its_timer(
    settings: Settings, pbf: Path, keys: dict[str, str], model: EtaModel
) -> None:
    """With ``URBANOPS_TAXI_BATCH_S`` set, serve matches requests without being asked."""
    import time

    app = create_app(settings.model_copy(update={"taxi_network": pbf, "taxi_batch_s": 0.2}))
    with TestClient(app) as c:
        _cab(c, keys, model, "T", 100)
        rid = _ride(c, keys, model, 120, 900)
        deadline = time.monotonic() + 10
        status = "requested"
        while status == "requested" and time.monotonic() < deadline:
            time.sleep(0.1)
            status = c.get(f"{BASE}/requests/{rid}", headers=auth(keys["operator"])).json()[
                "status"
            ]
    app.state.engine.dispose()
    assert status == "matched"


def test_list_cabs_by_state(taxi: TestClient, keys: dict[str, str], model: EtaModel) -> None:
    _cab(taxi, keys, model, "L1", 100)
    _cab(taxi, keys, model, "L2", 1400)
    rid = _ride(taxi, keys, model, 110, 900)
    _dispatch(taxi, keys)
    view = auth(keys["viewer"])
    every = taxi.get(f"{BASE}/vehicles", headers=view).json()
    assert every["count"] == 2
    busy = taxi.get(f"{BASE}/vehicles", params={"state": "en_route"}, headers=view).json()
    assert busy["count"] == 1 and busy["value"][0]["request"]["id"] == rid
    assert taxi.get(f"{BASE}/vehicles", params={"state": "asleep"}, headers=view).status_code == 400


def test_map_layer_shows_cabs_on_duty_and_waiting_riders(
    taxi: TestClient, keys: dict[str, str], model: EtaModel
) -> None:
    _cab(taxi, keys, model, "M1", 100)
    _cab(taxi, keys, model, "M2", 1400)
    r = taxi.post(f"{BASE}/vehicles/M2/state", json={"state": "offline"},
                  headers=auth(keys["operator"]))  # fmt: skip
    assert r.status_code == 200
    rid = _ride(taxi, keys, model, 110, 900)
    done = _ride(taxi, keys, model, 120, 800)
    taxi.post(f"{BASE}/requests/{done}/cancel", headers=auth(keys["operator"]))
    assert taxi.get(f"{BASE}/map.geojson").status_code == 401
    layer = taxi.get(f"{BASE}/map.geojson", headers=auth(keys["viewer"])).json()
    props = [(f["properties"]["kind"], f["properties"]["id"], f["properties"]["state"])
             for f in layer["features"]]  # fmt: skip
    assert props == [("vehicle", "M1", "idle"), ("request", rid, "requested")]
    assert layer["features"][0]["geometry"]["coordinates"] == list(_at(model, 100).values())
    _dispatch(taxi, keys)
    layer = taxi.get(f"{BASE}/map.geojson", headers=auth(keys["viewer"])).json()
    states = {f["properties"]["kind"]: f["properties"]["state"] for f in layer["features"]}
    assert states == {"vehicle": "en_route", "request": "matched"}


def test_a_declined_ride_goes_at_once_to_another_cab_never_the_same(
    taxi: TestClient, keys: dict[str, str], model: EtaModel
) -> None:
    op = auth(keys["operator"])
    _cab(taxi, keys, model, "near", 100)
    _cab(taxi, keys, model, "far", 1400)
    rid = _ride(taxi, keys, model, 101, 900)
    _dispatch(taxi, keys)
    first = taxi.get(f"{BASE}/requests/{rid}", headers=op).json()["vehicle_id"]
    other = "far" if first == "near" else "near"
    r = taxi.post(f"{BASE}/requests/{rid}/decline", json={"reason": "safety"}, headers=op)
    assert r.status_code == 200
    assert taxi.get(f"{BASE}/vehicles/{first}", headers=op).json()["state"] == "idle"
    view = taxi.get(f"{BASE}/requests/{rid}", headers=op).json()
    assert view["status"] == "matched" and view["vehicle_id"] == other  # without a batch
    taxi.post(f"{BASE}/requests/{rid}/decline", json={"reason": "rider_no_show"}, headers=op)
    view = taxi.get(f"{BASE}/requests/{rid}", headers=op).json()
    assert view["status"] == "requested" and view["declines"] == 2  # both cabs declined it
    assert _dispatch(taxi, keys)["matched"] == 0

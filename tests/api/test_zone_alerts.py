"""Rules over zones: aggregates per district or city-wide, zone-scoped per-datastream rules.

Runs on SQLite and PostgreSQL: the zone membership comes from the Things' locations.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert

from tests.api.helpers import data_array, thing_body
from tests.conftest import auth
from urbanops.core.alerting import evaluate_staleness
from urbanops.storage import tables as t

STA = "/sta/v1.1"
T0 = datetime(2024, 8, 8, 14, 0, tzinfo=UTC)


def _box(x0: float, y0: float, x1: float, y1: float) -> str:
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return json.dumps({"type": "Polygon", "coordinates": [ring]})


@pytest.fixture
def city(client: TestClient, keys: dict[str, str], engine: Engine) -> dict[str, Any]:
    """Two districts (West, East), a flood basin over West, six sensors (one outside)."""
    with engine.begin() as conn:
        zones = {}
        for name, kind, code, box in (
            ("West-gu", "district", "W1", (126.90, 37.50, 126.95, 37.60)),
            ("East-gu", "district", "E1", (127.00, 37.50, 127.05, 37.60)),
            ("West basin", "flood_basin", "B1", (126.89, 37.49, 126.96, 37.61)),
        ):
            zones[code] = conn.execute(
                insert(t.zones)
                .values(name=name, kind=kind, code=code, geometry=_box(*box))
                .returning(t.zones.c.id)
            ).scalar_one()
    op = keys["operator"]
    streams: dict[str, int] = {}
    for name, lon in (
        ("w1", 126.91),
        ("w2", 126.92),
        ("w3", 126.93),
        ("e1", 127.01),
        ("e2", 127.02),
        ("far", 127.50),
    ):
        body = thing_body(name, lon=lon, lat=37.55)
        r = client.post(f"{STA}/Things", json=body, headers=auth(op))
        assert r.status_code == 201, r.text
        tid = r.json()["@iot.id"]
        ds = client.get(f"{STA}/Things({tid})/Datastreams", headers=auth(op)).json()["value"]
        streams[name] = ds[0]["@iot.id"]
    return {"zones": zones, "streams": streams}


def _rule(client: TestClient, key: str, **body: Any) -> dict[str, Any]:
    r = client.post("/api/v1/rules", json=body, headers=auth(key))
    assert r.status_code == 201, r.text
    return r.json()


def _send(client: TestClient, key: str, ds: int, value: float, at: datetime = T0) -> None:
    rows = [(at.strftime("%Y-%m-%dT%H:%M:%SZ"), value)]
    r = client.post(f"{STA}/CreateObservations", json=data_array(ds, rows), headers=auth(key))
    assert r.status_code == 201, r.text


def _active(client: TestClient, key: str, **query: Any) -> list[dict[str, Any]]:
    r = client.get("/api/v1/alerts", params={"state": "active", **query}, headers=auth(key))
    assert r.status_code == 200, r.text
    return r.json()["value"]


def test_mean_per_district_with_hysteresis(
    client: TestClient, keys: dict[str, str], city: dict[str, Any]
) -> None:
    op, s, z = keys["operator"], city["streams"], city["zones"]
    rule = _rule(
        client,
        op,
        name="district heat",
        kind="aggregate",
        scope={"observed_property": "air_temperature", "zone_kind": "district"},
        params={"statistic": "mean", "above": 33, "clear_below": 31, "min_count": 2},
        severity="critical",
        message="{zone}: {statistic} {value} degC over {count} sensors",
    )
    assert rule["scope"] == {"observed_property": "air_temperature", "zone_kind": "district"}
    for name, value in (("w3", 30), ("w1", 34), ("w2", 34), ("e1", 35)):
        _send(client, op, s[name], value)
    assert _active(client, op) == []  # West mean 32.7; East has one sensor (min_count 2)
    _send(client, op, s["e2"], 33)
    (east,) = _active(client, op)
    assert east["subject"] == f"zone:{z['E1']}" and east["zone_id"] == z["E1"]
    assert east["datastream_id"] is None and east["value"] == 34
    assert east["message"] == "East-gu: mean 34 degC over 2 sensors"
    _send(client, op, s["w3"], 35, T0 + timedelta(minutes=2))  # West mean 34.3
    _send(client, op, s["e1"], 36, T0 + timedelta(minutes=2))  # East still hot: no second alert
    active = _active(client, op)
    assert sorted(a["zone_id"] for a in active) == sorted([z["W1"], z["E1"]])
    assert [a["zone_id"] for a in _active(client, op, zone_id=z["W1"])] == [z["W1"]]
    # East cools into the hysteresis band (32), then below it (30.5): resolved once.
    _send(client, op, s["e1"], 31, T0 + timedelta(minutes=4))  # mean (31 + 33) / 2 = 32
    assert len(_active(client, op, zone_id=z["E1"])) == 1
    _send(client, op, s["e2"], 30, T0 + timedelta(minutes=4))  # mean 30.5
    assert _active(client, op, zone_id=z["E1"]) == []
    detail = client.get(f"/api/v1/alerts/{east['id']}", headers=auth(op)).json()
    assert [h["action"] for h in detail["history"]] == ["opened", "resolved"]
    assert detail["history"][1]["value"] == 30.5


def test_window_min_count_and_city_wide_statistics(
    client: TestClient, keys: dict[str, str], city: dict[str, Any]
) -> None:
    op, s, z = keys["operator"], city["streams"], city["zones"]
    _rule(
        client,
        op,
        name="West median",
        kind="aggregate",
        scope={"observed_property": "air_temperature", "zone": "West-gu"},
        params={"statistic": "median", "above": 33, "window_s": 900, "min_count": 2},
    )
    _rule(
        client,
        op,
        name="city max",
        kind="aggregate",
        scope={"observed_property": "air_temperature"},
        params={"statistic": "max", "above": 39.5},
        message="hottest sensor {value} in {zone}",
    )
    _send(client, op, s["w1"], 40, T0 - timedelta(hours=2))  # stale by the time others report
    _send(client, op, s["w2"], 34)
    # The hot West sensor is 2 h older than the newest reading: outside the window, and one
    # sensor alone is below min_count. The city max opened on it alone, then resolved when a
    # newer reading moved the window past it.
    assert _active(client, op) == []
    history = client.get("/api/v1/alerts", params={"state": "resolved"}, headers=auth(op))
    assert [a["subject"] for a in history.json()["value"]] == ["city"]
    _send(client, op, s["w3"], 35)
    (west,) = _active(client, op)
    assert west["zone_id"] == z["W1"] and west["value"] == 34.5  # median of 34 and 35
    _send(client, op, s["far"], 41)  # outside every zone: only the city-wide rule sees it
    city_alerts = [a for a in _active(client, op) if a["subject"] == "city"]
    assert len(city_alerts) == 1 and city_alerts[0]["zone_id"] is None
    assert city_alerts[0]["message"] == "hottest sensor 41 in the city"
    ngsi = client.get("/api/v1/ngsi-ld/alerts", headers=auth(op)).json()
    sources = {e["alertSource"]["value"] for e in ngsi}
    assert f"urn:ngsi-ld:Zone:urbanops:{z['W1']}" in sources
    assert "urn:ngsi-ld:City:urbanops" in sources
    west_entity = next(e for e in ngsi if e["alertSource"]["value"].endswith(f":{z['W1']}"))
    assert west_entity["location"]["value"]["type"] == "Polygon"


def test_zone_scoped_threshold_and_staleness(
    client: TestClient, keys: dict[str, str], city: dict[str, Any], engine: Engine
) -> None:
    op, s, z = keys["operator"], city["streams"], city["zones"]
    rule = _rule(
        client,
        op,
        name="basin heat",
        kind="threshold",
        scope={"zone": "B1", "observed_property": "air_temperature"},
        params={"above": 40},
    )
    assert rule["scope"] == {"zone": z["B1"], "observed_property": "air_temperature"}
    for name in ("w1", "e1", "far"):
        _send(client, op, s[name], 45)
    (alert,) = _active(client, op)
    assert alert["subject"] == f"datastream:{s['w1']}" and alert["datastream_id"] == s["w1"]
    _rule(
        client,
        op,
        name="West offline",
        kind="staleness",
        scope={"zone": z["W1"]},
        params={"max_age_s": 600},
    )
    with engine.begin() as conn:
        assert evaluate_staleness(conn, now=T0 + timedelta(hours=1)) == 3  # w1, w2, w3 only
    stale = {a["datastream_id"] for a in _active(client, op) if a["rule_id"] != rule["id"]}
    assert stale == {s["w1"], s["w2"], s["w3"]}


def test_bad_zone_scopes(client: TestClient, keys: dict[str, str], city: dict[str, Any]) -> None:
    op = keys["operator"]
    base = {"name": "x", "kind": "aggregate", "params": {"above": 1}}
    cases = [
        ({"observed_property": "air_temperature", "zone": "Atlantis"}, "scope.zone"),
        ({"observed_property": "air_temperature", "zone": 999999}, "scope.zone"),
        ({"observed_property": "air_temperature", "zone_kind": "galaxy"}, "scope.zone_kind"),
        ({"zone": "W1"}, "observed_property"),
        ({"observed_property": "air_temperature", "zone": [1, 2]}, "zone"),
    ]
    for scope, field in cases:
        r = client.post("/api/v1/rules", json={**base, "scope": scope}, headers=auth(op))
        assert r.status_code == 400, (scope, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert field in r.json()["detail"]
    assert client.get("/api/v1/rules", headers=auth(op)).json()["value"] == []
    r = client.get("/api/v1/alerts", params={"zone_id": 0}, headers=auth(op))
    assert r.status_code in (400, 422)

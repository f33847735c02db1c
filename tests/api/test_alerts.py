"""Alert rules evaluated on every write: threshold with hysteresis, duration, rate, staleness,
lifecycle and history. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.api.helpers import data_array, thing_body
from tests.conftest import auth
from urbanops.api.app import create_app
from urbanops.core.alerting import evaluate_staleness
from urbanops.settings import Settings

STA = "/sta/v1.1"
T0 = datetime(2024, 8, 8, 12, 0, tzinfo=UTC)


def _stream(client: TestClient, key: str, name: str = "gauge") -> tuple[int, int]:
    tid = client.post(f"{STA}/Things", json=thing_body(name), headers=auth(key)).json()["@iot.id"]
    ds = client.get(f"{STA}/Things({tid})/Datastreams", headers=auth(key)).json()["value"][0]
    return tid, ds["@iot.id"]


def _rule(client: TestClient, key: str, **body: Any) -> dict[str, Any]:
    r = client.post("/api/v1/rules", json=body, headers=auth(key))
    assert r.status_code == 201, r.text
    return r.json()


def _send(
    client: TestClient,
    key: str,
    ds: int,
    values: list[float],
    *,
    start: datetime = T0,
    step_s: int = 600,
) -> None:
    rows = [
        ((start + timedelta(seconds=i * step_s)).strftime("%Y-%m-%dT%H:%M:%SZ"), v)
        for i, v in enumerate(values)
    ]
    r = client.post(f"{STA}/CreateObservations", json=data_array(ds, rows), headers=auth(key))
    assert r.status_code == 201, r.text


def _alerts(client: TestClient, key: str, **query: Any) -> list[dict[str, Any]]:
    return client.get("/api/v1/alerts", params=query, headers=auth(key)).json()["value"]


def test_threshold_with_hysteresis_and_lifecycle(client: TestClient, keys: dict[str, str]) -> None:
    op = keys["operator"]
    _, ds = _stream(client, op)
    rule = _rule(
        client,
        op,
        name="heat",
        kind="threshold",
        scope={"observed_property": "air_temperature"},
        params={"above": 33, "clear_below": 31},
        severity="critical",
        message="{rule}: {value} degC at {datastream}",
    )
    _send(client, op, ds, [30, 32, 33.5, 34, 32, 33.8])  # 32 is inside the hysteresis band
    active = _alerts(client, op, state="active")
    assert len(active) == 1  # one alert, not one per hot reading
    alert = active[0]
    assert alert["severity"] == "critical" and alert["value"] == 33.5
    assert alert["message"] == "heat: 33.5 degC at S-DoT 1 temperature 0".replace(
        "S-DoT 1", "gauge"
    )
    assert alert["observed_at"] == "2024-08-08T12:20:00Z"
    assert (
        client.post(
            f"/api/v1/alerts/{alert['id']}/acknowledge",
            json={"note": "crew sent"},
            headers=auth(op),
        ).status_code
        == 204
    )
    assert (
        client.post(f"/api/v1/alerts/{alert['id']}/acknowledge", headers=auth(op)).status_code
        == 409
    )
    _send(client, op, ds, [30.5], start=T0 + timedelta(hours=2))  # below clear_below
    done = client.get(f"/api/v1/alerts/{alert['id']}", headers=auth(op)).json()
    assert done["state"] == "resolved"
    assert [h["action"] for h in done["history"]] == ["opened", "acknowledged", "resolved"]
    assert done["history"][1]["note"] == "crew sent"
    # Hot again: a new alert.
    _send(client, op, ds, [35], start=T0 + timedelta(hours=3))
    assert len(_alerts(client, op, state="open", rule_id=rule["id"])) == 1


def test_duration_and_rate_rules(client: TestClient, keys: dict[str, str]) -> None:
    op = keys["operator"]
    _, ds = _stream(client, op)
    _rule(
        client,
        op,
        name="long heat",
        kind="duration",
        scope={"datastream": ds},
        params={"above": 33, "for_s": 7200},
    )
    _rule(
        client,
        op,
        name="surge",
        kind="rate",
        scope={"datastream": ds},
        params={"rise": 5, "within_s": 1800},
    )
    _send(client, op, ds, [34, 34, 34, 34], step_s=1800)  # 1.5 h above: not yet
    assert _alerts(client, op, state="open") == []
    _send(client, op, ds, [34.5], start=T0 + timedelta(hours=2))  # 2 h above
    names = {a["message"].split(":")[0] for a in _alerts(client, op, state="open")}
    assert names == {"long heat"}
    _send(client, op, ds, [30, 36], start=T0 + timedelta(hours=3), step_s=600)  # +6 in 10 min
    names = {a["message"].split(":")[0] for a in _alerts(client, op, state="open")}
    assert names == {"surge"}  # the 30 ended the long-heat run


def test_staleness_rule_opens_and_data_resolves(
    client: TestClient, keys: dict[str, str], engine: Engine
) -> None:
    op = keys["operator"]
    tid, ds = _stream(client, op)
    _rule(
        client,
        op,
        name="offline",
        kind="staleness",
        scope={"thing": tid},
        params={"max_age_s": 900},
    )
    _send(client, op, ds, [20.0])
    with engine.begin() as conn:
        assert evaluate_staleness(conn, now=T0 + timedelta(minutes=5)) == 0
        assert evaluate_staleness(conn, now=T0 + timedelta(minutes=30)) == 1
        assert evaluate_staleness(conn, now=T0 + timedelta(minutes=45)) == 0  # still one
    assert len(_alerts(client, op, state="open")) == 1
    _send(client, op, ds, [21.0], start=T0 + timedelta(minutes=50))
    assert _alerts(client, op, state="active") == []


def test_rule_api_and_bad_input(client: TestClient, keys: dict[str, str]) -> None:
    op, viewer = keys["operator"], keys["viewer"]
    _, ds = _stream(client, op)
    rule = _rule(
        client, op, name="wet", kind="threshold", scope={"datastream": ds}, params={"above": 10}
    )
    assert (
        client.post(
            "/api/v1/rules",
            json={
                "name": "wet",
                "kind": "threshold",
                "scope": {"datastream": ds},
                "params": {"above": 1},
            },
            headers=auth(op),
        ).status_code
        == 409
    )
    r = client.post(
        "/api/v1/rules",
        json={
            "name": "x",
            "kind": "threshold",
            "scope": {"datastream": ds},
            "params": {"above": 1, "clear_below": 5},
        },
        headers=auth(op),
    )
    assert r.status_code == 400 and "clear_below" in r.json()["detail"]
    assert client.post("/api/v1/rules", json={"name": "v"}, headers=auth(viewer)).status_code == 403
    assert client.get("/api/v1/rules").status_code == 401
    r = client.patch(
        f"/api/v1/rules/{rule['id']}",
        json={"params": {"above": 20}, "enabled": False},
        headers=auth(op),
    )
    assert r.status_code == 200 and r.json()["params"] == {"above": 20.0, "clear_below": 20.0}
    _send(client, op, ds, [50])  # disabled: no alert
    assert _alerts(client, op) == []
    assert (
        client.patch(
            f"/api/v1/rules/{rule['id']}",
            json={"params": {"below": 1, "above": 2}},
            headers=auth(op),
        ).status_code
        == 400
    )
    assert client.delete(f"/api/v1/rules/{rule['id']}", headers=auth(op)).status_code == 204
    assert client.get(f"/api/v1/rules/{rule['id']}", headers=auth(op)).status_code == 404
    assert client.post("/api/v1/alerts/999/resolve", headers=auth(op)).status_code == 404
    assert client.get("/api/v1/alerts?state=bogus", headers=auth(op)).status_code == 400


def test_ngsi_ld_export(client: TestClient, keys: dict[str, str]) -> None:
    op = keys["operator"]
    _, ds = _stream(client, op)
    rule = _rule(
        client,
        op,
        name="flood",
        kind="threshold",
        scope={"datastream": ds},
        params={"above": 30},
        severity="critical",
        category="naturalDisaster",
        sub_category="flood",
    )
    assert rule["category"] == "naturalDisaster" and rule["sub_category"] == "flood"
    _send(client, op, ds, [35])
    r = client.get("/api/v1/ngsi-ld/alerts", headers=auth(op))
    assert r.headers["content-type"].startswith("application/ld+json")
    [entity] = r.json()
    assert entity["type"] == "Alert" and entity["id"].startswith("urn:ngsi-ld:Alert:")
    assert entity["category"] == {"type": "Property", "value": "naturalDisaster"}
    assert entity["subCategory"]["value"] == "flood"
    assert entity["severity"]["value"] == "critical"
    assert entity["dateIssued"]["value"]["@type"] == "DateTime"
    assert entity["location"]["type"] == "GeoProperty"
    assert entity["location"]["value"]["type"] == "Point"
    assert "@context" in entity
    bad = client.post(
        "/api/v1/rules",
        headers=auth(op),
        json={
            "name": "x",
            "kind": "threshold",
            "scope": {"datastream": ds},
            "params": {"above": 1},
            "category": "aliens",
        },
    )
    assert bad.status_code == 400 and "category" in bad.json()["detail"]


def test_staleness_timer_runs_in_the_served_app(settings: Settings, keys: dict[str, str]) -> None:
    """``urbanops serve`` checks staleness rules by itself (the app's lifespan timers)."""
    app = create_app(settings.model_copy(update={"alert_check_interval_s": 0.2}))
    op = keys["operator"]
    with TestClient(app) as client:
        tid, ds = _stream(client, op)
        _rule(
            client,
            op,
            name="offline",
            kind="staleness",
            scope={"thing": tid},
            params={"max_age_s": 60},
        )
        _send(client, op, ds, [20.0])  # in 2024: long stale by now
        deadline = time.monotonic() + 10
        while not _alerts(client, op, state="open") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(_alerts(client, op, state="open")) == 1
    app.state.engine.dispose()

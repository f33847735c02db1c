"""MQTT ingest against a real Mosquitto: topics, SenML, dead letters, republication, stats.

Runs on SQLite and PostgreSQL (the ``settings`` fixture).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from tests.conftest import MosquittoBroker, auth
from tests.ingest.helpers import Publisher, Subscriber, make_city, wait_until
from urbanops.ingest.mqtt import MqttIngest, parse_broker_url
from urbanops.settings import Settings
from urbanops.storage import tables as t


@pytest.fixture
def consumer(settings: Settings, engine: Engine, broker: MosquittoBroker) -> Iterator[MqttIngest]:
    cfg = settings.model_copy(update={"mqtt_url": broker.url, "mqtt_client_id": "test-ingest"})
    ingest = MqttIngest(cfg, engine)
    stop = threading.Event()
    thread = threading.Thread(target=ingest.run, args=(stop,), daemon=True)
    thread.start()
    assert ingest.connected.wait(10)
    yield ingest
    stop.set()
    thread.join(10)


def _count(engine: Engine, table: t.Table = t.observations) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_topics_senml_dead_letters_and_republication(
    consumer: MqttIngest,
    engine: Engine,
    broker: MosquittoBroker,
    client: TestClient,
    keys: dict[str, str],
) -> None:
    city = make_city(engine)
    stored = Subscriber(broker.port, "urbanops/v1/stored/+/Observations")
    pub = Publisher(broker.port)
    now = datetime.now(UTC).replace(microsecond=0)
    t0 = int((now - timedelta(hours=1)).timestamp())
    temp, hum, road = city["air_temperature"], city["relative_humidity"], city["road_state"]
    thing = city["thing"]
    rule = client.post(
        "/api/v1/rules",
        headers=auth(keys["operator"]),
        json={
            "name": "hot",
            "kind": "threshold",
            "scope": {"datastream": temp},
            "params": {"above": 31},
        },
    )
    assert rule.status_code == 201, rule.text
    try:
        # Good: one STA observation, one SenML pack of 100 readings (bn + n and bare n).
        pub.publish(
            f"v1.1/Datastreams({temp})/Observations",
            {"phenomenonTime": now.isoformat(), "result": 31.5},
        )
        pack = [{"bn": "urn:dev:gw:", "bt": t0, "bu": "Cel"}]
        pack += [{"n": "air_temperature", "v": 20 + i / 10, "t": 60 * i} for i in range(50)]
        pack += [
            {"n": "relative_humidity", "u": "%RH", "v": 50 + i, "t": 60 * i} for i in range(49)
        ]
        pack += [{"n": "road_state", "vs": "wet", "t": 0}]
        pub.publish(f"urbanops/v1/things/{thing}/senml", pack)
        # Duplicate of the first message: stored once.
        pub.publish(
            f"v1.1/Datastreams({temp})/Observations",
            {"phenomenonTime": now.isoformat(), "result": 31.5},
        )
        # Bad ones: each must be dead-lettered with a reason, none may stop the consumer.
        bad = {
            "not JSON": (f"v1.1/Datastreams({temp})/Observations", b"\xff{oops"),
            "does not exist": (
                "v1.1/Datastreams(999999)/Observations",
                {"phenomenonTime": now.isoformat(), "result": 1},
            ),
            "result type": (
                f"v1.1/Datastreams({temp})/Observations",
                {"phenomenonTime": now.isoformat(), "result": "hot"},
            ),
            "in the future": (
                f"v1.1/Datastreams({temp})/Observations",
                {"phenomenonTime": (now + timedelta(days=2)).isoformat(), "result": 1},
            ),
            "no timezone": (
                f"v1.1/Datastreams({temp})/Observations",
                {"phenomenonTime": "2024-07-01T00:00:00", "result": 1},
            ),
            "no datastream": (
                f"urbanops/v1/things/{thing}/senml",
                [{"n": "pm25", "v": 12, "t": 0}],
            ),
            "unit": (
                f"urbanops/v1/things/{thing}/senml",
                [{"n": "air_temperature", "u": "K", "v": 300, "t": 0}],
            ),
            f"no datastream of Thing({city['other']})": (
                f"urbanops/v1/things/{city['other']}/senml",
                [{"n": "relative_humidity", "v": 50, "t": 0}],
            ),
            "ingest topic": ("v1.1/Things(1)/Observations", {"result": 1}),
            "SenML record 1": (
                f"urbanops/v1/things/{thing}/senml",
                [{"n": "air_temperature", "v": 20, "t": -5}, {"n": "air_temperature", "v": "x"}],
            ),
        }
        for topic, payload in bad.values():
            pub.publish(topic, payload)
        # A good message after the bad ones proves the consumer kept going.
        pub.publish(
            f"v1.1/Datastreams({hum})/Observations",
            {"phenomenonTime": now.isoformat(), "result": 55},
        )
        pub.wait_all()
        wait_until(
            lambda: (
                _count(engine) == 1 + 100 + 1 and _count(engine, t.ingest_dead_letters) == len(bad)
            ),
            what="readings and dead letters",
        )
        with engine.connect() as conn:
            reasons = [r for (r,) in conn.execute(select(t.ingest_dead_letters.c.reason))]
        for expected in bad:
            assert any(expected in r for r in reasons), (expected, reasons)
        # Nothing partial from the half-bad SenML pack (its first record was valid).
        with engine.connect() as conn:
            n_temp = conn.execute(
                select(func.count())
                .select_from(t.observations)
                .where(t.observations.c.datastream_id == temp)
            ).scalar_one()
        assert n_temp == 1 + 50
        latest = client.get(
            f"/api/v1/latest?datastreams={road}", headers=auth(keys["viewer"])
        ).json()["value"]
        assert latest[0]["result"] == "wet"
        assert consumer.totals.duplicates >= 1

        # Every stored reading is republished on its datastream's own topic, with its id.
        def republished() -> int:
            return sum(len(body) for _topic, body in stored.messages)

        wait_until(lambda: republished() >= 102, timeout_s=20, what="republication")
        topic, body = stored.messages[0]
        assert topic == f"urbanops/v1/stored/Datastreams({temp})/Observations"
        assert body[0]["result"] == 31.5 and body[0]["@iot.id"] >= 1
        assert body[0]["phenomenonTime"] == now.isoformat().replace("+00:00", "Z")
        # The 31.5 reading that came over MQTT raised the alert in the same transaction.
        alerts = client.get("/api/v1/alerts?state=open", headers=auth(keys["viewer"])).json()
        assert [a["value"] for a in alerts["value"]] == [31.5]
        # The counters are served by the API.
        stats = client.get("/api/v1/ingest/stats", headers=auth(keys["viewer"])).json()
        assert stats["mqtt"]["readings_stored"] == 102
        assert stats["mqtt"]["dead_letters"] == len(bad)
        letters = client.get(
            "/api/v1/ingest/dead-letters?limit=3", headers=auth(keys["operator"])
        ).json()["value"]
        assert len(letters) == 3 and all(letter["reason"] for letter in letters)
        assert (
            client.get("/api/v1/ingest/dead-letters", headers=auth(keys["viewer"])).status_code
            == 403
        )
        assert client.get("/api/v1/ingest/stats").status_code == 401
    finally:
        pub.close()
        stored.close()


def test_broker_url_parsing() -> None:
    a = parse_broker_url("mqtt://ingest:s%40cret@broker.city.go.kr:1884")
    assert (a.host, a.port, a.tls, a.username, a.password) == (
        "broker.city.go.kr",
        1884,
        False,
        "ingest",
        "s@cret",
    )
    assert parse_broker_url("mqtts://broker").port == 8883
    for bad in ("http://x", "mqtt://", "mqtt://h:99999"):
        with pytest.raises(ValueError):
            parse_broker_url(bad)


def test_serve_ingests_from_the_broker_by_itself(broker: MosquittoBroker, tmp_path: Path) -> None:
    """The contract: `urbanops serve` with URBANOPS_MQTT_URL set stores what devices publish."""
    import httpx

    from tests.conftest import LiveServer
    from tests.ingest.helpers import Publisher

    server = LiveServer(tmp_path / "var", env={"URBANOPS_MQTT_URL": broker.url})
    pub = Publisher(broker.port, client_id="serve-contract-publisher")
    try:
        key = server.cli("keys", "create", "--role", "operator").stdout.strip().splitlines()[-1]
        headers = {"Authorization": f"Bearer {key}"}
        body = {
            "name": "gauge",
            "Datastreams": [
                {
                    "name": "level",
                    "observationType": "http://www.opengis.net/def/observationType/"
                    "OGC-OM/2.0/OM_Measurement",
                    "unitOfMeasurement": {"symbol": "cm"},
                    "Sensor": {"name": "radar", "encodingType": "text/plain", "metadata": "x"},
                    "ObservedProperty": {"name": "water_level", "definition": "urn:wl"},
                }
            ],
        }
        tid = httpx.post(f"{server.url}/sta/v1.1/Things", json=body, headers=headers).json()
        ds = httpx.get(
            f"{server.url}/sta/v1.1/Things({tid['@iot.id']})/Datastreams", headers=headers
        ).json()["value"][0]["@iot.id"]
        reading = {"phenomenonTime": "2024-07-01T00:00:00Z", "result": 12.5}

        def stored() -> bool:
            pub.publish(f"v1.1/Datastreams({ds})/Observations", reading)  # idempotent re-send
            r = httpx.get(
                f"{server.url}/sta/v1.1/Datastreams({ds})/Observations", headers=headers
            ).json()
            return len(r["value"]) == 1

        wait_until(stored, timeout_s=60, what="serve's consumer to store the reading")
    finally:
        pub.close()
        out = server.stop()
    assert "Traceback" not in out

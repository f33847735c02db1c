"""Observations written over HTTP are published on the stored topic too, only once committed.

Runs on SQLite and PostgreSQL against a real Mosquitto.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import data_array, thing_body
from tests.conftest import MosquittoBroker, auth
from tests.ingest.helpers import Subscriber, wait_until
from urbanops.api.app import create_app
from urbanops.settings import Settings

STA = "/sta/v1.1"


@pytest.fixture
def mqtt_client(settings: Settings, broker: MosquittoBroker) -> Iterator[TestClient]:
    cfg = settings.model_copy(update={"mqtt_url": broker.url, "mqtt_client_id": "test-api"})
    app = create_app(cfg)
    with TestClient(app) as c:
        assert app.state.stored_publisher is not None
        wait_until(app.state.stored_publisher.client.is_connected, 10, "the API's MQTT link")
        yield c
    app.state.engine.dispose()


def test_http_writes_are_published_after_commit(
    mqtt_client: TestClient, broker: MosquittoBroker, keys: dict[str, str]
) -> None:
    client, op = mqtt_client, keys["operator"]
    stored = Subscriber(broker.port, "urbanops/v1/stored/+/Observations")
    tid = client.post(f"{STA}/Things", json=thing_body("gauge"), headers=auth(op)).json()["@iot.id"]
    ds = client.get(f"{STA}/Things({tid})/Datastreams", headers=auth(op)).json()["value"][0][
        "@iot.id"
    ]
    rows = [("2024-08-08T12:00:00Z", 30.5), ("2024-08-08T12:10:00Z", 31.0)]
    r = client.post(f"{STA}/CreateObservations", json=data_array(ds, rows), headers=auth(op))
    assert r.status_code == 201, r.text
    ids = [int(link.rsplit("(", 1)[1].rstrip(")")) for link in r.json()]
    r = client.post(
        f"{STA}/Datastreams({ds})/Observations",
        json={"phenomenonTime": "2024-08-08T12:20:00Z", "result": 31.5},
        headers=auth(op),
    )
    assert r.status_code == 201, r.text
    single = r.json()["@iot.id"]
    # A bulk write with one bad row stores nothing, so publishes nothing.
    bad = data_array(ds, [("2024-08-08T12:30:00Z", 32.0), ("not a time", 1.0)])
    assert client.post(f"{STA}/CreateObservations", json=bad, headers=auth(op)).status_code == 400
    wait_until(lambda: len(stored.messages) >= 2, 10, "two stored-topic messages")
    topic, first = stored.messages[0]
    assert topic == f"urbanops/v1/stored/Datastreams({ds})/Observations"
    assert [o["@iot.id"] for o in first] == ids
    assert [o["result"] for o in first] == [30.5, 31.0]
    assert first[0]["phenomenonTime"] == "2024-08-08T12:00:00Z"
    assert [o["@iot.id"] for o in stored.messages[1][1]] == [single]
    # Give a wrongly published rollback time to arrive before checking it did not.
    r = client.post(
        f"{STA}/Datastreams({ds})/Observations",
        json={"phenomenonTime": "2024-08-08T12:40:00Z", "result": 33.0},
        headers=auth(op),
    )
    wait_until(lambda: len(stored.messages) >= 3, 10, "the last message")
    assert len(stored.messages) == 3
    assert [o["result"] for o in stored.messages[2][1]] == [33.0]
    stored.close()

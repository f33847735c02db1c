"""Webhooks: signed deliveries, retries with backoff after failures, the delivery log.

Runs on SQLite and PostgreSQL with a real HTTP receiver on a free port.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.api.helpers import data_array, thing_body
from tests.conftest import auth
from urbanops.core.webhooks import deliver_due


class Receiver:
    """Answers 500 to the first ``fail`` requests, then 204; records what it got."""

    def __init__(self, fail: int) -> None:
        self.fail = fail
        self.received: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = 500 if len(outer.received) <= outer.fail else 204
                self.send_response(status)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(fail=2)
    yield r
    r.close()


def test_signed_delivery_with_retries(
    client: TestClient, keys: dict[str, str], engine: Engine, receiver: Receiver
) -> None:
    admin = keys["admin"]
    sub = client.post(
        "/api/v1/webhooks",
        json={"url": receiver.url, "min_severity": "warning"},
        headers=auth(admin),
    )
    assert sub.status_code == 201, sub.text
    secret, sub_id = sub.json()["secret"], sub.json()["id"]
    tid = client.post("/sta/v1.1/Things", json=thing_body(), headers=auth(admin)).json()
    ds = client.get(f"/sta/v1.1/Things({tid['@iot.id']})/Datastreams", headers=auth(admin)).json()[
        "value"
    ][0]["@iot.id"]
    client.post(
        "/api/v1/rules",
        headers=auth(admin),
        json={
            "name": "hot",
            "kind": "threshold",
            "scope": {"datastream": ds},
            "params": {"above": 30},
            "severity": "critical",
        },
    )
    client.post(
        "/sta/v1.1/CreateObservations",
        headers=auth(admin),
        json=data_array(ds, [("2024-07-01T00:00:00Z", 35.0)]),
    )
    now = datetime.now(UTC)
    assert deliver_due(engine, now=now) == 0  # receiver answers 500
    state = client.get("/api/v1/webhooks", headers=auth(admin)).json()["value"][0]
    assert state["failures"] == 1 and "500" in state["last_error"]
    assert "secret" not in state
    assert deliver_due(engine, now=now) == 0  # backing off: not due yet, nothing sent
    assert len(receiver.received) == 1
    assert deliver_due(engine, now=now + timedelta(seconds=1.5)) == 0  # second failure
    assert deliver_due(engine, now=now + timedelta(seconds=2.5)) == 0  # backoff now 2 s
    assert deliver_due(engine, now=now + timedelta(seconds=4)) == 1  # third try succeeds
    headers, body = receiver.received[-1]
    assert (
        headers["x-urbanops-signature"]
        == "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    )
    event = orjson.loads(body)
    assert event["event"] == "alert.opened" and event["value"] == 35.0
    assert event["severity"] == "critical"
    log = client.get(f"/api/v1/webhooks/{sub_id}/deliveries", headers=auth(admin)).json()
    assert [d["delivered"] for d in log["value"]] == [True, False, False]
    assert [d["attempt"] for d in log["value"]] == [3, 2, 1]
    assert deliver_due(engine, now=now + timedelta(seconds=5)) == 0  # nothing left, no resend
    assert len(receiver.received) == 3


def test_webhook_bad_input_and_roles(client: TestClient, keys: dict[str, str]) -> None:
    admin = keys["admin"]
    for body, field in [
        ({"url": "ftp://x/y"}, "url"),
        ({"url": "http://"}, "url"),
        ({"url": "http://h/x", "events": ["alert.exploded"]}, "events"),
        ({"url": "http://h/x", "secret": "short"}, "secret"),
        ({"url": "http://h/x", "min_severity": "apocalyptic"}, "min_severity"),
        ({"url": "http://h/x", "colour": 1}, "colour"),
    ]:
        r = client.post("/api/v1/webhooks", json=body, headers=auth(admin))
        assert r.status_code == 400 and r.json()["field"] == field, (body, r.text)
    assert (
        client.post(
            "/api/v1/webhooks", json={"url": "http://h/x"}, headers=auth(keys["operator"])
        ).status_code
        == 403
    )
    assert client.get("/api/v1/webhooks").status_code == 401
    assert client.delete("/api/v1/webhooks/99", headers=auth(admin)).status_code == 404

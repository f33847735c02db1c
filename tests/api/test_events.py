"""Server-Sent Events against a live `urbanops serve`: alerts and observations, resumable."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx
import orjson

from tests.api.helpers import data_array, thing_body
from tests.conftest import LiveServer


def _read_events(response: httpx.Response, want: int, out: list[dict[str, Any]]) -> None:
    event: dict[str, Any] = {}
    for line in response.iter_lines():
        if line.startswith("id: "):
            event["id"] = line[4:]
        elif line.startswith("event: "):
            event["event"] = line[7:]
        elif line.startswith("data: "):
            event["data"] = orjson.loads(line[6:])
        elif line == "" and "event" in event:
            out.append(event)
            event = {}
            if len(out) >= want:
                return


def _collect(
    server: LiveServer,
    headers: dict[str, str],
    query: str,
    want: int,
    action: Any = None,
    extra: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    with (
        httpx.Client(base_url=server.url, timeout=30) as client,
        client.stream(
            "GET", f"/api/v1/events?{query}", headers={**headers, **(extra or {})}
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        reader = threading.Thread(target=_read_events, args=(response, want, got), daemon=True)
        reader.start()
        if action is not None:
            action()
        reader.join(30)
    return got


def test_event_stream_alerts_observations_and_resume(tmp_path: Path) -> None:
    server = LiveServer(tmp_path / "var")
    try:
        key = server.cli("keys", "create", "--role", "operator").stdout.strip().splitlines()[-1]
        headers = {"Authorization": f"Bearer {key}"}
        api = httpx.Client(base_url=server.url, headers=headers, timeout=30)
        tid = api.post("/sta/v1.1/Things", json=thing_body("gauge")).json()["@iot.id"]
        ds = api.get(f"/sta/v1.1/Things({tid})/Datastreams").json()["value"][0]["@iot.id"]
        assert (
            api.post(
                "/api/v1/rules",
                json={
                    "name": "hot",
                    "kind": "threshold",
                    "scope": {"datastream": ds},
                    "params": {"above": 30},
                },
            ).status_code
            == 201
        )

        def write() -> None:
            rows = [("2024-07-01T00:00:00Z", 25.0), ("2024-07-01T00:10:00Z", 31.0)]
            assert (
                api.post("/sta/v1.1/CreateObservations", json=data_array(ds, rows)).status_code
                == 201
            )

        events = _collect(server, headers, f"datastreams={ds}", 3, write)
        kinds = [e["event"] for e in events]
        assert kinds.count("observation") == 2 and "alert.opened" in kinds
        obs = [e["data"] for e in events if e["event"] == "observation"]
        assert [o["result"] for o in obs] == [25.0, 31.0] and obs[0]["datastream_id"] == ds
        alert = next(e["data"] for e in events if e["event"] == "alert.opened")
        assert alert["value"] == 31.0 and alert["severity"] == "warning"
        last = events[-1]["id"]
        # Meanwhile, one more reading; a client resuming from `last` gets exactly that one.
        api.post(
            "/sta/v1.1/CreateObservations", json=data_array(ds, [("2024-07-01T00:20:00Z", 26.0)])
        )
        resumed = _collect(
            server, headers, f"datastreams={ds}&alerts=false", 1, extra={"Last-Event-ID": last}
        )
        assert [e["data"]["result"] for e in resumed] == [26.0]
        # Bad input is refused before the stream starts.
        bad = api.get("/api/v1/events", headers={"Last-Event-ID": "nonsense"})
        assert bad.status_code == 400 and "Last-Event-ID" in bad.json()["detail"]
        assert api.get("/api/v1/events?zone=999").status_code == 400
        assert httpx.get(f"{server.url}/api/v1/events").status_code == 401
        api.close()
    finally:
        server.stop()

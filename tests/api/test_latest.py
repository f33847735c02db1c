"""The dashboard read path: newest observation of many datastreams, by ids or by area."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.helpers import data_array, thing_body
from tests.conftest import auth

STA = "/sta/v1.1"


def test_latest_by_ids_bbox_and_property(client: TestClient, keys: dict[str, str]) -> None:
    key = keys["admin"]
    ids = []
    for name, lon, lat in (("hall", 126.978, 37.5665), ("gangnam", 127.0276, 37.4979)):
        tid = client.post(
            f"{STA}/Things", json=thing_body(name, lon=lon, lat=lat), headers=auth(key)
        ).json()["@iot.id"]
        ids.append(
            client.get(f"{STA}/Things({tid})/Datastreams", headers=auth(key)).json()["value"][0][
                "@iot.id"
            ]
        )
    # Out-of-order arrival: the latest is the newest phenomenonTime, not the last written.
    client.post(
        f"{STA}/CreateObservations",
        json=data_array(ids[0], [("2024-07-01T00:10:00Z", 25.0), ("2024-07-01T00:00:00Z", 24.0)]),
        headers=auth(key),
    )
    client.post(
        f"{STA}/CreateObservations",
        json=data_array(ids[0], [("2024-07-01T00:05:00Z", 99.0)]),
        headers=auth(key),
    )
    client.post(
        f"{STA}/CreateObservations",
        json=data_array(ids[1], [("2024-07-01T00:00:00Z", 30.0)]),
        headers=auth(key),
    )
    body = client.get(
        f"/api/v1/latest?datastreams={ids[0]},{ids[1]},{ids[0]}", headers=auth(key)
    ).json()
    assert body["count"] == 2
    by_id = {v["datastream_id"]: v for v in body["value"]}
    assert by_id[ids[0]]["result"] == 25.0
    assert by_id[ids[0]]["phenomenonTime"] == "2024-07-01T00:10:00Z"
    assert by_id[ids[0]]["unit"]["symbol"] == "degC"
    assert by_id[ids[1]]["result"] == 30.0
    box = client.get(
        "/api/v1/latest?bbox=126.95,37.55,127.0,37.6&observed_property=air_temperature",
        headers=auth(key),
    ).json()
    assert [v["datastream_id"] for v in box["value"]] == [ids[0]]
    none = client.get(
        "/api/v1/latest?bbox=126.95,37.55,127.0,37.6&observed_property=pm25", headers=auth(key)
    ).json()
    assert none["count"] == 0


def test_latest_of_stream_without_observations(client: TestClient, keys: dict[str, str]) -> None:
    key = keys["admin"]
    tid = client.post(f"{STA}/Things", json=thing_body(), headers=auth(key)).json()["@iot.id"]
    ds = client.get(f"{STA}/Things({tid})/Datastreams", headers=auth(key)).json()["value"][0]
    v = client.get(f"/api/v1/latest?datastreams={ds['@iot.id']}", headers=auth(key)).json()
    assert v["value"][0]["result"] is None and v["value"][0]["phenomenonTime"] is None


def test_health_and_zones(client: TestClient) -> None:
    h = client.get("/health").json()
    assert h["status"] == "ok" and h["schema_revision"]
    z = client.get("/api/v1/zones")
    assert z.headers["content-type"] == "application/geo+json"
    assert z.json() == {"type": "FeatureCollection", "features": []}

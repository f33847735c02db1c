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
    assert set(by_id[ids[0]]) == {
        "datastream_id",
        "thing_id",
        "observed_property_id",
        "phenomenonTime",
        "resultTime",
        "result",
    }
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


def test_latest_value_of_every_result_type(client: TestClient, keys: dict[str, str]) -> None:
    key = keys["admin"]
    tid = client.post(f"{STA}/Things", json=thing_body(n_streams=4), headers=auth(key)).json()
    streams = client.get(
        f"{STA}/Things({tid['@iot.id']})/Datastreams?$orderby=id", headers=auth(key)
    ).json()["value"]
    results = ["dry", True, {"pm10": 31, "pm25": 18}, 21.5]
    for ds, res in zip(streams, results, strict=True):
        r = client.post(
            f"{STA}/Observations",
            json={
                "phenomenonTime": "2024-07-01T00:00:00.250Z/2024-07-01T00:10:00Z",
                "result": res,
                "resultTime": "2024-07-01T00:10:05+09:00",
                "Datastream": {"@iot.id": ds["@iot.id"]},
            },
            headers=auth(key),
        )
        assert r.status_code == 201, r.text
    ids = ",".join(str(ds["@iot.id"]) for ds in streams)
    got = client.get(f"/api/v1/latest?datastreams={ids}", headers=auth(key)).json()["value"]
    assert [v["result"] for v in got] == results
    assert got[0]["phenomenonTime"] == "2024-07-01T00:00:00.250Z/2024-07-01T00:10:00Z"
    assert got[0]["resultTime"] == "2024-06-30T15:10:05Z"
    # PATCHing the latest observation updates the latest value.
    obs = client.get(
        f"{STA}/Datastreams({streams[3]['@iot.id']})/Observations", headers=auth(key)
    ).json()["value"][0]
    client.patch(f"{STA}/Observations({obs['@iot.id']})", json={"result": 23.0}, headers=auth(key))
    again = client.get(
        f"/api/v1/latest?datastreams={streams[3]['@iot.id']}", headers=auth(key)
    ).json()["value"]
    assert again[0]["result"] == 23.0

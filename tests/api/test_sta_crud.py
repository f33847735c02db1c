"""SensorThings create/read/update/delete, deep insert, navigation, query options.

Runs once on SQLite and once on PostgreSQL/PostGIS (the ``settings`` fixture is parametrised).
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.helpers import data_array, thing_body
from tests.conftest import auth

STA = "/sta/v1.1"


def _create_thing(client: TestClient, key: str, **kw: Any) -> tuple[int, int]:
    r = client.post(f"{STA}/Things", json=thing_body(**kw), headers=auth(key))
    assert r.status_code == 201, r.text
    thing_id = r.json()["@iot.id"]
    assert r.headers["location"].endswith(f"/Things({thing_id})")
    ds = client.get(f"{STA}/Things({thing_id})/Datastreams", headers=auth(key)).json()["value"]
    return thing_id, ds[0]["@iot.id"]


def test_service_root_lists_entity_sets(client: TestClient) -> None:
    body = client.get(STA).json()
    names = {v["name"] for v in body["value"]}
    assert names == {
        "Things",
        "Locations",
        "HistoricalLocations",
        "Sensors",
        "ObservedProperties",
        "Datastreams",
        "Observations",
        "FeaturesOfInterest",
    }


def test_deep_insert_creates_everything_and_links(client: TestClient, keys: dict[str, str]) -> None:
    key = keys["admin"]
    thing_id, ds_id = _create_thing(client, key, n_streams=2)
    thing = client.get(
        f"{STA}/Things({thing_id})?$expand=Locations,Datastreams($expand=Sensor,"
        "ObservedProperty),HistoricalLocations",
        headers=auth(key),
    ).json()
    assert thing["@iot.selfLink"].endswith(f"/sta/v1.1/Things({thing_id})")
    assert thing["Datastreams@iot.navigationLink"].endswith(f"/Things({thing_id})/Datastreams")
    assert thing["Locations"][0]["location"] == {"type": "Point", "coordinates": [126.978, 37.5665]}
    assert len(thing["Datastreams"]) == 2
    assert thing["Datastreams"][0]["Sensor"]["name"] == "SHT31"
    assert thing["Datastreams"][1]["ObservedProperty"]["name"] == "air_temperature"
    assert len(thing["HistoricalLocations"]) == 1
    # Navigation both ways.
    assert (
        client.get(f"{STA}/Datastreams({ds_id})/Thing", headers=auth(key)).json()["@iot.id"]
        == thing_id
    )
    loc_id = thing["Locations"][0]["@iot.id"]
    things = client.get(f"{STA}/Locations({loc_id})/Things", headers=auth(key)).json()["value"]
    assert [t["@iot.id"] for t in things] == [thing_id]
    # A property and its raw value.
    assert client.get(f"{STA}/Things({thing_id})/name", headers=auth(key)).json() == {
        "name": "S-DoT 1"
    }
    assert client.get(f"{STA}/Things({thing_id})/name/$value", headers=auth(key)).text == "S-DoT 1"


def test_observations_feature_of_interest_generated_from_location(
    client: TestClient, keys: dict[str, str]
) -> None:
    key = keys["admin"]
    _, ds_id = _create_thing(client, key)
    r = client.post(
        f"{STA}/Datastreams({ds_id})/Observations",
        json={"phenomenonTime": "2024-07-01T05:00:00Z", "result": 31.5},
        headers=auth(key),
    )
    assert r.status_code == 201, r.text
    obs_id = r.json()["@iot.id"]
    foi = client.get(f"{STA}/Observations({obs_id})/FeatureOfInterest", headers=auth(key)).json()
    assert foi["feature"]["coordinates"] == [126.978, 37.5665]
    r2 = client.post(
        f"{STA}/Observations",
        json={
            "phenomenonTime": "2024-07-01T05:10:00Z",
            "result": 32,
            "Datastream": {"@iot.id": ds_id},
        },
        headers=auth(key),
    )
    foi2 = client.get(
        f"{STA}/Observations({r2.json()['@iot.id']})/FeatureOfInterest", headers=auth(key)
    ).json()
    assert foi2["@iot.id"] == foi["@iot.id"]  # reused, not one feature per reading


def test_result_types_round_trip(client: TestClient, keys: dict[str, str]) -> None:
    key = keys["admin"]
    _, ds_id = _create_thing(client, key)
    results = [12.25, "dry", True, {"pm10": 31, "pm25": 18}, [1, 2]]
    for i, res in enumerate(results):
        r = client.post(
            f"{STA}/Observations",
            json={
                "phenomenonTime": f"2024-07-01T0{i}:00:00Z",
                "result": res,
                "resultQuality": {"flag": "ok"},
                "parameters": {"battery_v": 3.6},
                "Datastream": {"@iot.id": ds_id},
            },
            headers=auth(key),
        )
        assert r.status_code == 201, r.text
    got = client.get(
        f"{STA}/Datastreams({ds_id})/Observations?$orderby=phenomenonTime", headers=auth(key)
    ).json()["value"]
    assert [o["result"] for o in got] == results
    assert got[0]["parameters"] == {"battery_v": 3.6}
    assert got[0]["resultQuality"] == {"flag": "ok"}


def test_interval_phenomenon_time(client: TestClient, keys: dict[str, str]) -> None:
    key = keys["admin"]
    _, ds_id = _create_thing(client, key)
    client.post(
        f"{STA}/Observations",
        json={
            "phenomenonTime": "2024-07-01T00:00:00Z/2024-07-01T01:00:00Z",
            "result": 3.2,
            "resultTime": "2024-07-01T01:00:05Z",
            "Datastream": {"@iot.id": ds_id},
        },
        headers=auth(key),
    )
    obs = client.get(f"{STA}/Datastreams({ds_id})/Observations", headers=auth(key)).json()
    assert obs["value"][0]["phenomenonTime"] == "2024-07-01T00:00:00Z/2024-07-01T01:00:00Z"
    assert obs["value"][0]["resultTime"] == "2024-07-01T01:00:05Z"
    ds = client.get(f"{STA}/Datastreams({ds_id})", headers=auth(key)).json()
    assert ds["phenomenonTime"] == "2024-07-01T00:00:00Z/2024-07-01T01:00:00Z"


def test_offset_times_are_stored_as_utc(client: TestClient, keys: dict[str, str]) -> None:
    key = keys["admin"]
    _, ds_id = _create_thing(client, key)
    r = client.post(
        f"{STA}/Observations",
        json={
            "phenomenonTime": "2024-07-01T14:00:00+09:00",
            "result": 30,
            "Datastream": {"@iot.id": ds_id},
        },
        headers=auth(key),
    )
    obs = client.get(f"{STA}/Observations({r.json()['@iot.id']})", headers=auth(key)).json()
    assert obs["phenomenonTime"] == "2024-07-01T05:00:00Z"


def test_filter_orderby_top_skip_count_and_paging(client: TestClient, keys: dict[str, str]) -> None:
    key = keys["admin"]
    _, ds_id = _create_thing(client, key)
    rows = [
        (f"2024-07-01T{h:02d}:{m:02d}:00Z", 20 + h + m / 100) for h in range(24) for m in (0, 30)
    ]
    r = client.post(f"{STA}/CreateObservations", json=data_array(ds_id, rows), headers=auth(key))
    assert r.status_code == 201, r.text
    assert len(r.json()) == 48
    q = (
        f"{STA}/Datastreams({ds_id})/Observations?$filter=phenomenonTime ge "
        "2024-07-01T06:00:00Z and phenomenonTime lt 2024-07-01T12:00:00Z"
        "&$orderby=phenomenonTime desc&$top=5&$count=true"
    )
    page = client.get(q, headers=auth(key)).json()
    assert page["@iot.count"] == 12
    assert [o["phenomenonTime"] for o in page["value"]][:2] == [
        "2024-07-01T11:30:00Z",
        "2024-07-01T11:00:00Z",
    ]
    seen = [o["@iot.id"] for o in page["value"]]
    while "@iot.nextLink" in page:
        page = client.get(page["@iot.nextLink"], headers=auth(key)).json()
        seen += [o["@iot.id"] for o in page["value"]]
    assert len(seen) == len(set(seen)) == 12
    # $count with $top=0 answers only the count.
    only = client.get(f"{STA}/Observations?$count=true&$top=0", headers=auth(key)).json()
    assert only == {"@iot.count": 48, "value": []}
    # Arithmetic, functions and navigation paths in $filter.
    hot = client.get(
        f"{STA}/Observations?$filter=result sub 20 gt 22.1 and "
        "Datastream/Thing/name eq 'S-DoT 1'&$count=true&$top=0",
        headers=auth(key),
    ).json()
    assert hot["@iot.count"] == 3  # 22:30, 23:00, 23:30
    by_hour = client.get(
        f"{STA}/Observations?$filter=hour(phenomenonTime) eq 7&$count=true&$top=0",
        headers=auth(key),
    ).json()
    assert by_hour["@iot.count"] == 2
    names = client.get(
        f"{STA}/Datastreams?$filter=startswith(name, 'S-DoT') and "
        "substringof('temperature', name) and not endswith(name, 'x')"
        "&$select=name",
        headers=auth(key),
    ).json()["value"]
    assert names and all(set(n) == {"name"} for n in names)


def test_spatial_filter_on_locations_and_things(client: TestClient, keys: dict[str, str]) -> None:
    key = keys["admin"]
    _create_thing(client, key, name="City Hall", lon=126.9780, lat=37.5665)
    _create_thing(client, key, name="Gangnam", lon=127.0276, lat=37.4979)
    poly = "POLYGON((126.95 37.55, 127.00 37.55, 127.00 37.58, 126.95 37.58, 126.95 37.55))"
    locs = client.get(
        f"{STA}/Locations?$filter=geo.intersects(location, geography'{poly}')", headers=auth(key)
    ).json()["value"]
    assert [loc["name"] for loc in locs] == ["City Hall pole"]
    things = client.get(
        f"{STA}/Things?$filter=st_within(Locations/location, geography'{poly}')", headers=auth(key)
    ).json()["value"]
    # The device Thing from the keys fixture has no location and must not match.
    assert [t["name"] for t in things] == ["City Hall"]


def test_nested_expand_two_levels_with_options(client: TestClient, keys: dict[str, str]) -> None:
    key = keys["admin"]
    thing_id, ds_id = _create_thing(client, key)
    client.post(
        f"{STA}/CreateObservations",
        json=data_array(ds_id, [(f"2024-07-01T00:0{i}:00Z", i) for i in range(5)]),
        headers=auth(key),
    )
    t = client.get(
        f"{STA}/Things({thing_id})?$expand=Datastreams($select=name;$expand="
        "Observations($top=2;$orderby=phenomenonTime desc;$count=true))",
        headers=auth(key),
    ).json()
    obs = t["Datastreams"][0]["Observations"]
    assert [o["result"] for o in obs] == [4, 3]
    assert t["Datastreams"][0]["Observations@iot.count"] == 5
    assert "Observations@iot.nextLink" in t["Datastreams"][0]
    assert set(t["Datastreams"][0]) >= {"name", "Observations"}
    assert "description" not in t["Datastreams"][0]


def test_patch_and_delete_cascade(client: TestClient, keys: dict[str, str]) -> None:
    key = keys["admin"]
    thing_id, ds_id = _create_thing(client, key)
    r = client.patch(
        f"{STA}/Things({thing_id})",
        json={"name": "renamed", "properties": {"public": True}},
        headers=auth(key),
    )
    assert r.status_code == 200, r.text
    assert client.get(f"{STA}/Things({thing_id})").json()["name"] == "renamed"  # now public
    obs = client.post(
        f"{STA}/Observations",
        json={
            "phenomenonTime": "2024-07-01T00:00:00Z",
            "result": 1,
            "Datastream": {"@iot.id": ds_id},
        },
        headers=auth(key),
    ).json()["@iot.id"]
    assert client.delete(f"{STA}/Things({thing_id})", headers=auth(key)).status_code == 200
    assert client.get(f"{STA}/Datastreams({ds_id})", headers=auth(key)).status_code == 404
    assert client.get(f"{STA}/Observations({obs})", headers=auth(key)).status_code == 404


def test_delete_latest_observation_moves_latest_pointer(
    client: TestClient, keys: dict[str, str]
) -> None:
    key = keys["admin"]
    _, ds_id = _create_thing(client, key)
    ids = client.post(
        f"{STA}/CreateObservations",
        json=data_array(ds_id, [("2024-07-01T00:00:00Z", 1.5), ("2024-07-01T00:10:00Z", 2.5)]),
        headers=auth(key),
    ).json()
    latest = client.get(f"/api/v1/latest?datastreams={ds_id}", headers=auth(key)).json()
    assert latest["value"][0]["result"] == 2.5
    last_id = int(ids[1].rsplit("(", 1)[1].rstrip(")"))
    client.delete(f"{STA}/Observations({last_id})", headers=auth(key))
    latest = client.get(f"/api/v1/latest?datastreams={ds_id}", headers=auth(key)).json()
    assert latest["value"][0]["result"] == 1.5
    assert latest["value"][0]["phenomenonTime"] == "2024-07-01T00:00:00Z"


def test_data_array_result_format(client: TestClient, keys: dict[str, str]) -> None:
    key = keys["admin"]
    _, ds_id = _create_thing(client, key)
    client.post(
        f"{STA}/CreateObservations",
        json=data_array(ds_id, [("2024-07-01T00:00:00Z", 1.5)]),
        headers=auth(key),
    )
    body = client.get(
        f"{STA}/Datastreams({ds_id})/Observations?$resultFormat=dataArray", headers=auth(key)
    ).json()
    group = body["value"][0]
    assert group["components"] == ["id", "phenomenonTime", "resultTime", "result"]
    assert group["dataArray"][0][1:] == ["2024-07-01T00:00:00Z", None, 1.5]

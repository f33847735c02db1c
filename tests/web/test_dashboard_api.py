"""The dashboard's server side: page, configuration, files, and the map's read paths.

Runs on SQLite and PostgreSQL/PostGIS (the ``client`` fixture). The browser tests are in
``test_dashboard_browser.py``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from tests.api.helpers import data_array, thing_body
from tests.conftest import auth

STA = "/sta/v1.1"


def _thing(client: TestClient, key: str, name: str, lon: float, lat: float, **kw: object) -> int:
    r = client.post(
        f"{STA}/Things", json=thing_body(name, lon=lon, lat=lat, **kw), headers=auth(key)
    )
    assert r.status_code == 201, r.text
    tid = r.json()["@iot.id"]
    return int(
        client.get(f"{STA}/Things({tid})/Datastreams", headers=auth(key)).json()["value"][0][
            "@iot.id"
        ]
    )


def test_page_is_self_contained_with_a_strict_policy(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert "https://tile.openstreetmap.org" in csp  # the default basemap's images only
    # every script and stylesheet comes from this server
    for ref in re.findall(r'(?:src|href)="([^"]+)"', r.text):
        assert ref.startswith(("/", "#", "data:")), ref
    for ref in re.findall(r'(?:src|href)="(/dashboard/[^"]+)"', r.text):
        assert client.get(ref).status_code == 200, ref
    js = client.get("/dashboard/static/app.js")
    assert js.headers["content-type"].startswith("text/javascript")
    assert client.get("/dashboard/vendor/leaflet/images/layers.png").status_code == 200


def test_only_known_files_are_served(client: TestClient) -> None:
    for path in (
        "/dashboard/static/index.py",
        "/dashboard/static/..%2F..%2Fsettings.py",
        "/dashboard/vendor/leaflet/../../../../etc/passwd",
        "/dashboard/vendor/leaflet/leaflet-src.js.map",
    ):
        r = client.get(path)
        assert r.status_code == 404, path
        assert r.headers["content-type"].startswith("application/problem+json")


def test_config_lists_every_domain_layer(client: TestClient) -> None:
    from urbanops.domains import ALL

    config = client.get("/dashboard/config.json").json()
    ids = {layer["id"] for layer in config["layers"]}
    assert ids == {layer.id for d in ALL for layer in d.layers}
    assert {"thermal.findings", "heat.apparent_temp", "parking.bays", "taxi.fleet"} <= ids
    for layer in config["layers"]:
        assert layer["kind"] in ("features", "tiles")
        assert set(layer["title"]) == {"en", "ko"}
        assert layer["url"].startswith("/")
    assert config["timezone"] == "Asia/Seoul" and config["stale_after_s"] == 3600
    assert config["streets"] is None


def test_offline_basemap_and_local_streets(settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from urbanops.api.app import create_app

    streets = tmp_path / "streets.geojson"
    streets.write_text('{"type":"FeatureCollection","features":[]}', encoding="utf-8")
    offline = settings.model_copy(update={"dashboard_tile_url": "", "dashboard_streets": streets})
    with TestClient(create_app(offline)) as c:
        config = c.get("/dashboard/config.json").json()
        assert config["tile_url"] is None and config["streets"] == "/dashboard/streets.geojson"
        assert c.get("/dashboard/streets.geojson").json()["type"] == "FeatureCollection"
        assert "openstreetmap" not in c.get("/").headers["content-security-policy"]
    gone = settings.model_copy(update={"dashboard_streets": tmp_path / "missing.geojson"})
    with TestClient(create_app(gone)) as c:
        assert c.get("/dashboard/streets.geojson").status_code == 404


def test_map_sensors_in_columns_with_visibility(client: TestClient, keys: dict[str, str]) -> None:
    admin = keys["admin"]
    public_ds = _thing(client, admin, "public", 126.978, 37.5665, public=True)
    private_ds = _thing(client, admin, "private", 127.0276, 37.4979)
    now = datetime.now(UTC).replace(microsecond=0)
    stamp = (now - timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    r = client.post(
        f"{STA}/CreateObservations",
        json=data_array(public_ds, [(stamp, 31.5)]),
        headers=auth(admin),
    )
    assert r.status_code == 201
    everyone = client.get("/api/v1/map/sensors").json()
    assert everyone["id"] == [public_ds] and everyone["count"] == 1
    staff = client.get("/api/v1/map/sensors", headers=auth(keys["viewer"])).json()
    assert staff["id"] == [public_ds, private_ds] and staff["truncated"] is False
    i = staff["id"].index(public_ds)
    assert staff["lon"][i] == 126.978 and staff["lat"][i] == 37.5665
    assert staff["value"][i] == 31.5 and staff["unit"][i] == "degC"
    assert abs(staff["time"][i] - (now - timedelta(minutes=5)).timestamp()) < 1
    assert staff["name"][i] == "public"
    # each deep insert made its own ObservedProperty: both named, keyed by id
    assert set(staff["properties"]) == {str(p) for p in staff["property"]}
    assert set(staff["properties"].values()) == {"air_temperature"}
    j = staff["id"].index(private_ds)
    assert staff["value"][j] is None and staff["time"][j] is None
    box = client.get(
        "/api/v1/map/sensors?bbox=127.0,37.45,127.1,37.52", headers=auth(keys["viewer"])
    ).json()
    assert box["id"] == [private_ds]
    one = client.get("/api/v1/map/sensors?limit=1", headers=auth(keys["viewer"])).json()
    assert one["count"] == 1 and one["truncated"] is True
    light = client.get("/api/v1/map/sensors?fields=value,time", headers=auth(keys["viewer"]))
    assert set(light.json()) == {"count", "truncated", "properties", "id", "value", "time"}
    assert light.json()["value"] == staff["value"]
    prop = client.get(
        "/api/v1/map/sensors?observed_property=pm25", headers=auth(keys["viewer"])
    ).json()
    assert prop["count"] == 0


def test_map_sensors_bad_input(client: TestClient, keys: dict[str, str]) -> None:
    for query in (
        "bbox=1,2,3",
        "bbox=a,b,c,d",
        "bbox=10,10,0,0",
        "bbox=0,0,200,10",
        "bbox=nan,0,1,1",
        "limit=0",
        "limit=-5",
        "limit=99999999999",
        "fields=",
        "fields=value,secret",
        "fields=" + "x," * 100,
    ):
        r = client.get(f"/api/v1/map/sensors?{query}")
        assert r.status_code == 400, query
        assert r.headers["content-type"].startswith("application/problem+json")
    assert client.get("/api/v1/map/sensors", headers=auth("uo_bad_key")).status_code == 401


def test_summary_counts_readings_exactly(client: TestClient, keys: dict[str, str]) -> None:
    admin = keys["admin"]
    ds = _thing(client, admin, "t", 126.978, 37.5665, public=True)
    _thing(client, admin, "silent", 126.99, 37.57, public=True)
    first = client.get("/api/v1/summary").json()
    assert first["sensors"] == 2 and first["online"] == 0 and "alerts" not in first
    assert first["readings_since"] is None
    now = datetime.now(UTC).replace(microsecond=0)
    rows = [
        ((now - timedelta(minutes=k)).isoformat().replace("+00:00", "Z"), 20.0 + k)
        for k in range(7)
    ]
    client.post(f"{STA}/CreateObservations", json=data_array(ds, rows), headers=auth(admin))
    second = client.get(f"/api/v1/summary?since_observation={first['observation_cursor']}").json()
    assert second["readings_since"] == 7 and second["online"] == 1
    assert second["things"] == 2 and second["things_online"] == 1
    staff = client.get("/api/v1/summary", headers=auth(keys["viewer"])).json()
    assert staff["alerts"] == {}
    for query in ("since_observation=-1", "since_observation=x", "since_observation=1e99"):
        assert client.get(f"/api/v1/summary?{query}").status_code == 400, query


def test_me_tells_the_role_and_never_a_secret(client: TestClient, keys: dict[str, str]) -> None:
    assert client.get("/api/v1/me").json()["role"] == "anonymous"
    me = client.get("/api/v1/me", headers=auth(keys["operator"])).json()
    assert me["role"] == "operator" and me["can_write_entities"] is True
    assert keys["operator"] not in str(me)
    viewer = client.get("/api/v1/me", headers=auth(keys["viewer"])).json()
    assert viewer["can_read_all"] is True and viewer["can_write_entities"] is False
    assert client.get("/api/v1/me", headers=auth("nope")).status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": "Basic !!"}).status_code == 401


def test_domain_layers_answer_their_declared_shapes(
    client: TestClient, keys: dict[str, str]
) -> None:
    from urbanops.domains import ALL

    viewer = auth(keys["viewer"])
    for domain in ALL:
        for layer in domain.layers:
            if layer.kind != "features":
                continue
            anonymous = client.get(layer.url)
            assert anonymous.status_code == (401 if layer.needs_key else 200), layer.id
            r = client.get(layer.url, headers=viewer)
            assert r.status_code == 200, (layer.id, r.text)
            body = r.json()
            assert isinstance(body, list) or body.get("type") == "FeatureCollection", layer.id
    findings = client.get("/api/v1/thermal/findings", headers=viewer).json()
    assert findings == {"type": "FeatureCollection", "features": [], "survey_id": None}


def test_parking_and_taxi_layers_show_their_objects(
    client: TestClient, keys: dict[str, str]
) -> None:
    op = auth(keys["operator"])
    bay = {
        "id": "urn:ngsi-ld:ParkingSpot:test-1",
        "type": "ParkingSpot",
        "name": "Jeongja bay 1",
        "location": {"type": "Point", "coordinates": [127.108, 37.366]},
        "status": "free",
        "tariffPer30Min": 600,
    }
    r = client.post("/api/v1/parking/ngsi-ld/entities", json=[bay], headers=op)
    assert r.status_code == 200, r.text
    bays = client.get("/api/v1/parking/bays.geojson").json()["features"]
    assert [(f["properties"]["id"], f["properties"]["status"]) for f in bays] == [
        ("urn:ngsi-ld:ParkingSpot:test-1", "free")
    ]
    assert bays[0]["geometry"]["coordinates"] == [127.108, 37.366]
    assert bays[0]["properties"]["datastream_id"] is None  # no occupancy sensor given
    taxi = client.get("/api/v1/taxi/map.geojson", headers=auth(keys["viewer"])).json()
    assert taxi == {"type": "FeatureCollection", "features": []}

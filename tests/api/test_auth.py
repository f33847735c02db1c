"""Keys and roles: 401 without or with a bad key, 403 for a role that may not, device scoping."""

from __future__ import annotations

import base64
import logging

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.api.helpers import thing_body
from tests.conftest import auth
from urbanops.core.keys import revoke_key

STA = "/sta/v1.1"


def _basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"anyuser:{key}".encode()).decode()}


def test_writes_need_a_key(client: TestClient) -> None:
    r = client.post(f"{STA}/Things", json={"name": "x"})
    assert r.status_code == 401
    assert "Bearer" in r.headers["www-authenticate"]
    r = client.post(
        f"{STA}/Things", json={"name": "x"}, headers={"Authorization": "Bearer uo_nothere_secret"}
    )
    assert r.status_code == 401
    r = client.post(f"{STA}/Things", json={"name": "x"}, headers={"Authorization": "Token abc"})
    assert r.status_code == 401


def test_roles(client: TestClient, keys: dict[str, str]) -> None:
    assert (
        client.post(f"{STA}/Things", json={"name": "v"}, headers=auth(keys["viewer"])).status_code
        == 403
    )
    assert (
        client.post(f"{STA}/Things", json={"name": "d"}, headers=auth(keys["device"])).status_code
        == 403
    )
    assert (
        client.post(f"{STA}/Things", json={"name": "o"}, headers=auth(keys["operator"])).status_code
        == 201
    )
    assert client.get(f"{STA}/Things", headers=auth(keys["viewer"])).status_code == 200


def test_basic_auth_with_key_as_password(client: TestClient, keys: dict[str, str]) -> None:
    r = client.post(f"{STA}/Things", json={"name": "basic"}, headers=_basic(keys["admin"]))
    assert r.status_code == 201
    r = client.post(f"{STA}/Things", json={"name": "basic"}, headers=_basic("wrong"))
    assert r.status_code == 401
    r = client.post(
        f"{STA}/Things", json={"name": "x"}, headers={"Authorization": "Basic !!notbase64"}
    )
    assert r.status_code == 401


def test_reads_of_private_things_need_a_viewer_key(
    client: TestClient, keys: dict[str, str]
) -> None:
    admin = keys["admin"]
    pub = client.post(
        f"{STA}/Things", json=thing_body("public", public=True), headers=auth(admin)
    ).json()["@iot.id"]
    priv = client.post(f"{STA}/Things", json=thing_body("private"), headers=auth(admin)).json()[
        "@iot.id"
    ]
    names = {t["name"] for t in client.get(f"{STA}/Things").json()["value"]}
    assert names == {"public"}
    assert client.get(f"{STA}/Things({priv})").status_code == 404
    assert client.get(f"{STA}/Things({pub})/Datastreams").json()["value"]
    ds_priv = client.get(f"{STA}/Things({priv})/Datastreams", headers=auth(admin)).json()["value"][
        0
    ]["@iot.id"]
    assert client.get(f"/api/v1/latest?datastreams={ds_priv}").json()["count"] == 0
    assert (
        client.get(f"/api/v1/latest?datastreams={ds_priv}", headers=auth(keys["viewer"])).json()[
            "count"
        ]
        == 1
    )
    # Expanding from a public entity never reveals private ones.
    locs = client.get(f"{STA}/Locations?$expand=Things").json()["value"]
    assert all(t["name"] == "public" for loc in locs for t in loc["Things"])


def test_device_key_writes_only_its_own_thing(client: TestClient, keys: dict[str, str]) -> None:
    admin, device = keys["admin"], keys["device"]
    own_thing = int(keys["device_thing"])
    body = thing_body("other")
    other = client.post(f"{STA}/Things", json=body, headers=auth(admin)).json()["@iot.id"]
    other_ds = client.get(f"{STA}/Things({other})/Datastreams", headers=auth(admin)).json()[
        "value"
    ][0]["@iot.id"]
    own_ds = client.post(
        f"{STA}/Datastreams",
        json={**{k: v for k, v in body["Datastreams"][0].items()}, "Thing": {"@iot.id": own_thing}},
        headers=auth(admin),
    ).json()["@iot.id"]
    obs = {"phenomenonTime": "2024-07-01T00:00:00Z", "result": 1}
    assert (
        client.post(
            f"{STA}/Datastreams({own_ds})/Observations", json=obs, headers=auth(device)
        ).status_code
        == 201
    )
    r = client.post(f"{STA}/Datastreams({other_ds})/Observations", json=obs, headers=auth(device))
    assert r.status_code == 403
    bulk = [
        {
            "Datastream": {"@iot.id": own_ds},
            "components": ["phenomenonTime", "result"],
            "dataArray": [["2024-07-01T00:01:00Z", 2]],
        },
        {
            "Datastream": {"@iot.id": other_ds},
            "components": ["phenomenonTime", "result"],
            "dataArray": [["2024-07-01T00:01:00Z", 2]],
        },
    ]
    assert (
        client.post(f"{STA}/CreateObservations", json=bulk, headers=auth(device)).status_code == 403
    )
    count = client.get(f"{STA}/Observations?$count=true&$top=0", headers=auth(admin)).json()
    assert count["@iot.count"] == 1  # the rejected bulk wrote nothing
    assert (
        client.patch(
            f"{STA}/Things({own_thing})", json={"name": "hacked"}, headers=auth(device)
        ).status_code
        == 403
    )


def test_revoked_key_is_refused(client: TestClient, keys: dict[str, str], engine: Engine) -> None:
    from urbanops.core.keys import list_keys

    with engine.begin() as conn:
        viewer = next(k for k in list_keys(conn) if k["role"] == "viewer")
        revoke_key(conn, viewer["id"])
    r = client.get(f"{STA}/Things", headers=auth(keys["viewer"]))
    assert r.status_code == 401
    assert "revoked" in r.json()["detail"]


def test_keys_are_never_logged(
    client: TestClient, keys: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client.post(f"{STA}/Things", json={"name": "x"}, headers=auth(keys["admin"]))
    client.get(f"{STA}/Things", headers=auth(keys["viewer"] + "x"))
    text = caplog.text
    for role in ("admin", "viewer"):
        assert keys[role] not in text
        assert keys[role].split("_", 2)[2] not in text

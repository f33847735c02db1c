"""Bad input answers problem+json 4xx naming the field or clause, and stores nothing.

Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import data_array, thing_body
from tests.conftest import auth

STA = "/sta/v1.1"


@pytest.fixture
def stream(client: TestClient, keys: dict[str, str]) -> int:
    r = client.post(f"{STA}/Things", json=thing_body(), headers=auth(keys["admin"]))
    tid = r.json()["@iot.id"]
    return int(
        client.get(f"{STA}/Things({tid})/Datastreams", headers=auth(keys["admin"])).json()["value"][
            0
        ]["@iot.id"]
    )


def _problem(r: Any, status: int, *, contains: str = "", field: str | None = None) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == status
    assert contains in body["detail"], body
    if field is not None:
        assert body.get("field") == field, body


def _count(client: TestClient, key: str, entity: str = "Observations") -> int:
    return int(
        client.get(f"{STA}/{entity}?$count=true&$top=0", headers=auth(key)).json()["@iot.count"]
    )


def test_malformed_json(client: TestClient, keys: dict[str, str]) -> None:
    r = client.post(
        f"{STA}/Things",
        content=b'{"name": "x",',
        headers={**auth(keys["admin"]), "Content-Type": "application/json"},
    )
    _problem(r, 400, contains="malformed JSON")
    r = client.post(f"{STA}/Things", content=b"", headers=auth(keys["admin"]))
    _problem(r, 400, contains="empty body")


def test_unknown_and_mistyped_fields(client: TestClient, keys: dict[str, str]) -> None:
    key = keys["admin"]
    _problem(
        client.post(f"{STA}/Things", json={"name": "x", "colour": "red"}, headers=auth(key)),
        400,
        field="colour",
    )
    _problem(
        client.post(f"{STA}/Things", json={"name": 5}, headers=auth(key)),
        400,
        contains="expected a string",
        field="name",
    )
    body = thing_body()
    body["Datastreams"][0]["unitOfMeasurement"] = "degC"
    _problem(
        client.post(f"{STA}/Things", json=body, headers=auth(key)),
        400,
        field="Datastreams[0].unitOfMeasurement",
    )
    del body["Datastreams"][0]["unitOfMeasurement"]
    _problem(
        client.post(f"{STA}/Things", json=body, headers=auth(key)),
        400,
        contains="required",
        field="Datastreams[0].unitOfMeasurement",
    )
    # Nothing from the failed deep inserts was kept (one Thing exists: the device's).
    assert _count(client, key, "Things") == 1
    assert _count(client, key, "Locations") == 0
    assert _count(client, key, "Sensors") == 0


@pytest.mark.parametrize(
    "raw",
    [
        b'{"phenomenonTime": "2024-07-01T00:00:00Z", "result": NaN}',
        b'{"phenomenonTime": "2024-07-01T00:00:00Z", "result": Infinity}',
        b'{"phenomenonTime": "2024-07-01T00:00:00Z", "result": 1e999}',
    ],
)
def test_nan_and_infinity_refused(
    client: TestClient, keys: dict[str, str], stream: int, raw: bytes
) -> None:
    r = client.post(
        f"{STA}/Datastreams({stream})/Observations",
        content=raw,
        headers={**auth(keys["admin"]), "Content-Type": "application/json"},
    )
    assert r.status_code == 400, r.text
    assert _count(client, keys["admin"]) == 0


@pytest.mark.parametrize(
    ("time", "message"),
    [
        ("2024-07-01T00:00:00", "no timezone"),
        ("2024-02-30T00:00:00Z", "not a valid date-time"),
        ("20244-01-01T00:00:00Z", "not a valid date-time"),
        ("1800-01-01T00:00:00Z", "outside"),
        ("yesterday", "not an ISO 8601"),
        ("2024-07-01T02:00:00Z/2024-07-01T01:00:00Z", "ends before it starts"),
    ],
)
def test_bad_times(
    client: TestClient, keys: dict[str, str], stream: int, time: str, message: str
) -> None:
    r = client.post(
        f"{STA}/Observations",
        json={"phenomenonTime": time, "result": 1, "Datastream": {"@iot.id": stream}},
        headers=auth(keys["admin"]),
    )
    _problem(r, 400, contains=message)


@pytest.mark.parametrize("coords", [[200, 37.5], [126.9, 95], [37.5, 126.9], ["a", 1], []])
def test_coordinates_out_of_range(
    client: TestClient, keys: dict[str, str], coords: list[Any]
) -> None:
    r = client.post(
        f"{STA}/Locations",
        json={
            "name": "x",
            "description": "",
            "encodingType": "application/geo+json",
            "location": {"type": "Point", "coordinates": coords},
        },
        headers=auth(keys["admin"]),
    )
    _problem(r, 400, field="location")


def test_unknown_ids(client: TestClient, keys: dict[str, str]) -> None:
    key = keys["admin"]
    _problem(client.get(f"{STA}/Things(999999)", headers=auth(key)), 404)
    _problem(client.get(f"{STA}/Things(999999)/Datastreams", headers=auth(key)), 404)
    _problem(client.patch(f"{STA}/Things(999999)", json={"name": "x"}, headers=auth(key)), 404)
    _problem(client.delete(f"{STA}/Sensors(999999)", headers=auth(key)), 404)
    _problem(
        client.post(
            f"{STA}/Observations",
            json={
                "phenomenonTime": "2024-07-01T00:00:00Z",
                "result": 1,
                "Datastream": {"@iot.id": 999999},
            },
            headers=auth(key),
        ),
        404,
        contains="Datastream",
    )
    _problem(client.get(f"{STA}/Things(0)", headers=auth(key)), 400)
    _problem(client.get(f"{STA}/Things(abc)", headers=auth(key)), 400)
    _problem(client.get(f"{STA}/Nothing", headers=auth(key)), 404)


def test_oversized_body(settings: Any, keys: dict[str, str]) -> None:
    from urbanops.api import create_app

    small = settings.model_copy(update={"max_body_bytes": 2048})
    app = create_app(small)
    with TestClient(app) as c:
        r = c.post(f"{STA}/Things", json={"name": "x" * 5000}, headers=auth(keys["admin"]))
        _problem(r, 413, contains="larger than 2048")
    app.state.engine.dispose()


@pytest.mark.parametrize(
    ("query", "clause"),
    [
        ("$filter=name eq", "$filter"),
        ("$filter=name eq 'x", "$filter"),
        ("$filter=nosuch eq 1", "$filter"),
        ("$filter=name eq 1 eq 2", "$filter"),
        ("$filter=frobnicate(name)", "$filter"),
        ("$filter=result gt 'a' and", "$filter"),
        ("$filter=geo.intersects(location, geography'POINT(500 1)')", "$filter"),
        ("$filter=phenomenonTime gt '2024-01-01'", "$filter"),
        ("$top=100000", "$top"),
        ("$top=-1", "$top"),
        ("$top=abc", "$top"),
        ("$skip=-5", "$skip"),
        ("$count=maybe", "$count"),
        ("$orderby=name sideways", "$orderby"),
        ("$select=name;drop", "$select"),
        ("$expand=Nonsense", "$expand"),
        ("$expand=Datastreams($top=1", "$expand"),
        ("$expand=Datastreams($expand=Observations($expand=Datastream($expand=Thing)))", "$expand"),
        ("$frobnicate=1", "$frobnicate"),
    ],
)
def test_bad_query_options(
    client: TestClient, keys: dict[str, str], query: str, clause: str
) -> None:
    entity = "Observations" if "result" in query or "phenomenonTime" in query else "Things"
    if "location" in query:
        entity = "Locations"
    r = client.get(f"{STA}/{entity}?{query}", headers=auth(keys["admin"]))
    _problem(r, 400, field=clause)


def test_bulk_with_one_bad_row_writes_nothing(
    client: TestClient, keys: dict[str, str], stream: int
) -> None:
    key = keys["admin"]
    rows = [(f"2024-07-01T00:{m:02d}:00Z", 20.0 + m) for m in range(50)]
    rows[37] = ("2024-07-01T00:37:00", 1.0)  # no timezone
    r = client.post(f"{STA}/CreateObservations", json=data_array(stream, rows), headers=auth(key))
    _problem(r, 400, contains="dataArray[37]")
    rows[37] = ("2024-07-01T00:37:00Z", 1.0)
    body = data_array(stream, rows) + data_array(999999, rows[:1])
    _problem(client.post(f"{STA}/CreateObservations", json=body, headers=auth(key)), 404)
    assert _count(client, key) == 0
    assert (
        client.post(
            f"{STA}/CreateObservations", json=data_array(stream, rows), headers=auth(key)
        ).status_code
        == 201
    )
    assert _count(client, key) == 50


def test_reposting_is_idempotent(client: TestClient, keys: dict[str, str], stream: int) -> None:
    key = keys["admin"]
    body = {
        "phenomenonTime": "2024-07-01T00:00:00Z",
        "result": 21.5,
        "Datastream": {"@iot.id": stream},
    }
    first = client.post(f"{STA}/Observations", json=body, headers=auth(key)).json()
    again = client.post(f"{STA}/Observations", json=body, headers=auth(key)).json()
    assert first["@iot.id"] == again["@iot.id"]
    rows = [("2024-07-01T00:00:00Z", 21.5), ("2024-07-01T00:01:00Z", 22.0)]
    a = client.post(f"{STA}/CreateObservations", json=data_array(stream, rows), headers=auth(key))
    b = client.post(f"{STA}/CreateObservations", json=data_array(stream, rows), headers=auth(key))
    assert a.json() == b.json()
    assert a.json()[0].endswith(f"Observations({first['@iot.id']})")
    assert _count(client, key) == 2


def test_bad_data_array_shapes(client: TestClient, keys: dict[str, str], stream: int) -> None:
    key = keys["admin"]
    cases = [
        ({"not": "a list"}, "JSON array"),
        (
            [{"Datastream": {"@iot.id": stream}, "components": ["result"], "dataArray": []}],
            "phenomenonTime and result are required",
        ),
        (
            [
                {
                    "Datastream": {"@iot.id": stream},
                    "components": ["phenomenonTime", "result", "x"],
                    "dataArray": [],
                }
            ],
            "unknown component",
        ),
        (
            [
                {
                    "Datastream": {"@iot.id": stream},
                    "components": ["phenomenonTime", "result"],
                    "dataArray": [["2024-07-01T00:00:00Z"]],
                }
            ],
            "dataArray[0]",
        ),
        ([{"components": ["phenomenonTime", "result"], "dataArray": []}], "Datastream"),
    ]
    for body, message in cases:
        _problem(
            client.post(f"{STA}/CreateObservations", json=body, headers=auth(key)),
            400,
            contains=message,
        )


def test_latest_bad_input(client: TestClient, keys: dict[str, str]) -> None:
    key = keys["admin"]
    _problem(client.get("/api/v1/latest", headers=auth(key)), 400)
    _problem(
        client.get("/api/v1/latest?datastreams=1,x", headers=auth(key)), 400, field="datastreams"
    )
    _problem(
        client.get(
            "/api/v1/latest?datastreams=" + ",".join(map(str, range(1, 10_002))), headers=auth(key)
        ),
        400,
        contains="at most 10000",
    )
    _problem(client.get("/api/v1/latest?bbox=1,2,3", headers=auth(key)), 400, field="bbox")
    _problem(client.get("/api/v1/latest?bbox=127,37,126,38", headers=auth(key)), 400, field="bbox")
    _problem(client.get("/api/v1/latest?bbox=nan,1,2,3", headers=auth(key)), 400, field="bbox")


def test_unicode_digits_are_not_ids(client: TestClient, keys: dict[str, str], stream: int) -> None:
    """'¹' and '٣' pass str.isdigit(); they must be refused, not crash int() (schemathesis)."""
    key = keys["admin"]
    for value in ("¹", "٣", "1,²"):
        _problem(
            client.get(f"/api/v1/latest?datastreams={value}", headers=auth(key)),
            400,
            field="datastreams",
        )
    r = client.get("/api/v1/latest?observed_property=¹", headers=auth(key))
    assert r.status_code == 200 and r.json()["count"] == 0
    r = client.post(
        f"{STA}/Observations",
        json={
            "phenomenonTime": "2024-07-01T00:00:00Z",
            "result": 1,
            "Datastream": {"@iot.id": "¹"},
        },
        headers=auth(key),
    )
    _problem(r, 400, field="Datastream.@iot.id")
    _problem(
        client.get(f"{STA}/Observations?$filter=result gt ٣", headers=auth(key)),
        400,
        field="$filter",
    )

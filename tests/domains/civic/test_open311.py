"""Open311 GeoReport v2 on SQLite and PostgreSQL; the staff workflow; the georeport client."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import LiveServer, auth

BASE = "/open311/v2"


def _post(c: TestClient, key: str | None, **fields: Any) -> Any:
    data = {"service_code": "pothole", "lat": "37.4837", "long": "127.0324", **fields}
    if key is not None:
        data["api_key"] = key
    return c.post(f"{BASE}/requests.json", data={k: v for k, v in data.items() if v is not None})


def test_services_list_and_definition(client: TestClient) -> None:
    services = client.get(f"{BASE}/services.json", params={"jurisdiction_id": "seocho"}).json()
    codes = {s["service_code"] for s in services}
    assert {"pothole", "illegal-dumping", "flooding", "streetlight"} <= codes
    first = services[0]
    assert set(first) >= {"service_code", "service_name", "description", "metadata", "type"}
    assert client.get(f"{BASE}/services/pothole.json").json() == {
        "service_code": "pothole",
        "attributes": [],
    }
    r = client.get(f"{BASE}/services/unicorns.json")
    assert r.status_code == 404 and r.json()[0]["code"] == 404


def test_create_follow_and_close_a_request(client: TestClient, keys: dict[str, str]) -> None:
    r = _post(
        client,
        keys["operator"],
        description="도로에 큰 구멍, 연락처 010-1234-5678",
        email="kim@example.kr",
        phone="010-1234-5678",
        first_name="민수",
    )
    assert r.status_code == 201, r.text
    made = r.json()[0]
    rid, token = made["service_request_id"], made["token"]
    assert client.get(f"{BASE}/tokens/{token}.json").json() == [
        {"service_request_id": rid, "token": token}
    ]
    got = client.get(f"{BASE}/requests/{rid}.json").json()
    assert isinstance(got, list) and len(got) == 1
    req = got[0]
    assert req["status"] == "open" and req["service_code"] == "pothole"
    assert req["agency_responsible"].startswith("도로과")
    assert req["lat"] == pytest.approx(37.4837) and req["long"] == pytest.approx(127.0324)
    expected = datetime.fromisoformat(req["expected_datetime"].replace("Z", "+00:00"))
    requested = datetime.fromisoformat(req["requested_datetime"].replace("Z", "+00:00"))
    assert expected - requested == timedelta(hours=72)
    # Personal data is not served; the phone number in the text is masked
    assert "010-1234-5678" not in str(req) and "[PHONE]" in req["description"]
    assert "email" not in req and "kim@example.kr" not in str(req)
    op = auth(keys["operator"])
    for status in ("assigned", "in_progress", "resolved", "closed"):
        r = client.post(
            f"/api/v1/civic/requests/{rid}/status",
            json={"status": status, "note": f"now {status}"},
            headers=op,
        )
        assert r.status_code == 200, r.text
    closed = client.get(f"{BASE}/requests/{rid}.json").json()[0]
    assert closed["status"] == "closed" and closed["status_notes"] == "now closed"
    r = client.post(f"/api/v1/civic/requests/{rid}/status", json={"status": "assigned"}, headers=op)
    assert r.status_code == 409  # closed is final
    hist = client.get(f"/api/v1/civic/requests/{rid}/history", headers=op).json()["value"]
    assert [h["status"] for h in hist] == [
        "received", "assigned", "in_progress", "resolved", "closed"
    ]  # fmt: skip


def test_duplicates_point_to_one_case(client: TestClient, keys: dict[str, str]) -> None:
    op = auth(keys["operator"])
    a = _post(client, keys["operator"]).json()[0]["service_request_id"]
    b = _post(client, keys["operator"]).json()[0]["service_request_id"]
    r = client.post(
        f"/api/v1/civic/requests/{b}/status",
        json={"status": "duplicate", "duplicate_of": int(a)},
        headers=op,
    )
    assert r.status_code == 200, r.text
    dup = client.get(f"{BASE}/requests/{b}.json").json()[0]
    assert dup["status"] == "closed" and dup["status_notes"].startswith(f"Duplicate of {a}")
    r = client.post(
        f"/api/v1/civic/requests/{a}/status",
        json={"status": "duplicate", "duplicate_of": int(b)},
        headers=op,
    )
    assert r.status_code == 409  # no chains of duplicates


def test_filters(client: TestClient, keys: dict[str, str]) -> None:
    op = auth(keys["operator"])
    ids = [_post(client, keys["operator"], service_code=c).json()[0]["service_request_id"]
           for c in ("pothole", "flooding", "flooding")]  # fmt: skip
    client.post(f"/api/v1/civic/requests/{ids[1]}/status", json={"status": "rejected"}, headers=op)
    flood = client.get(f"{BASE}/requests.json", params={"service_code": "flooding"}).json()
    assert {r["service_request_id"] for r in flood} == set(ids[1:])
    open_ = client.get(f"{BASE}/requests.json", params={"status": "open"}).json()
    assert ids[1] not in {r["service_request_id"] for r in open_}
    picked = client.get(
        f"{BASE}/requests.json", params={"service_request_id": f"{ids[0]},{ids[2]}"}
    )
    assert {r["service_request_id"] for r in picked.json()} == {ids[0], ids[2]}
    t1 = datetime.now(UTC) + timedelta(days=1)
    params = {"start_date": t1.isoformat(), "end_date": (t1 + timedelta(days=1)).isoformat()}
    assert client.get(f"{BASE}/requests.json", params=params).json() == []
    r = client.get(f"{BASE}/requests.json", params={"start_date": t1.isoformat()})
    assert r.status_code == 400 and "after" in r.json()[0]["description"]


@pytest.mark.parametrize(
    ("fields", "status", "words"),
    [
        ({"service_code": "unicorns"}, 404, "not a service"),
        ({"service_code": None}, 400, "service_code is required"),
        ({"lat": "91", "long": "127"}, 400, "not a position"),
        ({"lat": "abc"}, 400, "numbers"),
        ({"lat": None, "long": None}, 400, "location is required"),
        ({"media_url": "javascript:alert(1)"}, 400, "http"),
        ({"description": "x" * 5000}, 400, "longer"),
        ({"email": "not-an-email"}, 400, "e-mail"),
    ],
)
def test_bad_requests_answer_open311_errors(
    client: TestClient, keys: dict[str, str], fields: dict[str, Any], status: int, words: str
) -> None:
    r = _post(client, keys["operator"], **fields)
    assert r.status_code == status, r.text
    body = r.json()
    assert isinstance(body, list) and body[0]["code"] == status and words in body[0]["description"]
    assert client.get(f"{BASE}/requests.json").json() == []  # nothing stored


def test_keys(client: TestClient, keys: dict[str, str]) -> None:
    assert _post(client, None).status_code == 401
    assert _post(client, "wrong-key").status_code == 401
    assert _post(client, keys["viewer"]).status_code == 403
    r = client.post("/api/v1/civic/requests/1/status", json={"status": "assigned"})
    assert r.status_code == 401
    big = client.post(f"{BASE}/requests.json", content=b"a=" + b"x" * 70_000,
                      headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert big.status_code == 413
    r = client.get(f"{BASE}/requests/99999.json")
    assert r.status_code == 404 and r.json()[0]["code"] == 404
    r = client.get(f"{BASE}/requests.json", params={"status": "pending"})
    assert r.status_code == 400


@pytest.fixture
def served(tmp_path: Any) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path / "var")
    yield server
    server.stop()


def test_the_georeport_client_reads_our_server(served: LiveServer) -> None:
    """The PyPI Open311 client (``georeport``) lists services and reads requests."""
    import httpx
    from georeport import GeoReport

    key = served.cli("keys", "create", "--role", "operator").stdout.strip().split()[-1]
    r = httpx.post(
        f"{served.url}{BASE}/requests.json",
        data={"api_key": key, "service_code": "streetlight", "address_string": "서초대로 1",
              "description": "가로등이 꺼졌어요"},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    rid = r.json()[0]["service_request_id"]
    client = GeoReport(f"{served.url}{BASE}", jurisdiction="seocho.go.kr")
    services = client.get_service_list()
    assert "streetlight" in {s["service_code"] for s in services}
    assert client.get_service_definition("streetlight")["service_code"] == "streetlight"
    listed = client.get_service_requests(service_code="streetlight")
    assert [x["service_request_id"] for x in listed] == [rid]
    one = client.get_service_request(rid)  # the client unwraps the spec's one-item list
    assert one["address"] == "서초대로 1" and one["status"] == "open"


def test_duplicates_are_suggested_near_and_similar(
    client: TestClient, keys: dict[str, str]
) -> None:
    key = keys["operator"]
    base = {"lat": "37.48370", "long": "127.03240"}
    first = _post(client, key, description="도로에 큰 구멍이 났어요", **base).json()[0]
    # 20 m away, another category but the same problem, in English
    same = _post(
        client, key, service_code="other", description="There is a big hole in the road",
        lat="37.48388", long="127.03240",
    ).json()[0]  # fmt: skip
    # 20 m away, same category
    cat = _post(client, key, lat="37.48352", long="127.03240").json()[0]
    # 20 m away, unrelated category and text
    _post(client, key, service_code="noise", description="옆집 음악 소리가 커요",
          lat="37.48370", long="127.03262")  # fmt: skip
    # 200 m away, same category
    _post(client, key, lat="37.48550", long="127.03240")
    got = client.get(
        f"/api/v1/civic/requests/{first['service_request_id']}/duplicates",
        headers=auth(keys["viewer"]),
    ).json()["value"]
    ids = [g["service_request_id"] for g in got]
    assert set(ids) == {same["service_request_id"], cat["service_request_id"]}
    assert all(g["distance_m"] <= 50 for g in got)
    english = next(g for g in got if g["service_request_id"] == same["service_request_id"])
    assert english["text_similarity"] >= 0.35 and not english["same_service"]


def test_overdue_complaints_raise_and_clear_alerts(
    client: TestClient, keys: dict[str, str], engine: Any
) -> None:
    from urbanops.domains.civic.complaints import overdue_alerts

    key = keys["operator"]
    rid = _post(client, key, service_code="illegal-parking").json()[0]["service_request_id"]
    _post(client, key, service_code="abandoned-bike")  # due in 14 days
    later = datetime.now(UTC) + timedelta(hours=5)  # illegal parking is due in 4 h
    with engine.begin() as conn:
        assert overdue_alerts(conn, now=later) == {"opened": 1, "resolved": 0}
        assert overdue_alerts(conn, now=later) == {"opened": 0, "resolved": 0}  # no storm
    alerts = client.get("/api/v1/alerts", headers=auth(keys["viewer"])).json()
    items = alerts.get("value", alerts) if isinstance(alerts, dict) else alerts
    mine = [a for a in items if a.get("subject") == f"civic_request:{rid}"]
    assert mine and "overdue" in mine[0]["message"]
    client.post(f"/api/v1/civic/requests/{rid}/status", json={"status": "resolved"},
                headers=auth(key))  # fmt: skip
    with engine.begin() as conn:
        assert overdue_alerts(conn, now=later) == {"opened": 0, "resolved": 1}


def _png(width: int = 32, height: int = 24) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buf, "PNG")
    return buf.getvalue()


def test_photos_are_checked_before_they_are_stored(
    client: TestClient, keys: dict[str, str], settings: Any
) -> None:
    op = auth(keys["operator"])
    rid = _post(client, keys["operator"]).json()[0]["service_request_id"]
    url = f"/api/v1/civic/requests/{rid}/photo"
    r = client.post(url, files={"photo": ("p.png", _png(), "image/png")}, headers=op)
    assert r.status_code == 201, r.text
    media = r.json()["media_url"]
    assert client.get(f"/open311/v2/requests/{rid}.json").json()[0]["media_url"] == media
    got = client.get(media.replace("http://testserver", ""))
    assert got.status_code == 200 and got.headers["content-type"] == "image/png"
    assert got.content == _png()
    folder = settings.data_dir / "civic" / "photos"
    before = sorted(p.name for p in folder.iterdir())
    bad = [
        (b"just some text, not an image", 400),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", 400),
        (_png()[:40], 400),  # truncated
        (b"\xff\xd8\xff" + b"\x00" * 100, 400),  # a JPEG header and nothing else
        (b"", 400),
    ]
    for data, status in bad:
        r = client.post(url, files={"photo": ("x.jpg", data, "image/jpeg")}, headers=op)
        assert r.status_code == status, (data[:12], r.text)
    big = b"\xff\xd8\xff" + b"\x00" * (11 * 2**20)
    r = client.post(url, files={"photo": ("big.jpg", big, "image/jpeg")}, headers=op)
    assert r.status_code == 413
    assert sorted(p.name for p in folder.iterdir()) == before  # nothing half-stored
    r = client.post(url, files={"photo": ("p.png", _png(), "image/png")},
                    headers=auth(keys["viewer"]))  # fmt: skip
    assert r.status_code == 403
    r = client.post("/api/v1/civic/requests/99999/photo",
                    files={"photo": ("p.png", _png(), "image/png")}, headers=op)  # fmt: skip
    assert r.status_code == 404
    assert client.get("/api/v1/civic/photos/..%2Furbanops.db").status_code in (400, 404)
    assert client.get("/api/v1/civic/photos/nothing.png").status_code == 404

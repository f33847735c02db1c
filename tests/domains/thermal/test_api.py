"""Surveys over HTTP: upload, a background job with progress, results for the dashboard.

Runs on SQLite and PostgreSQL (the ``settings`` fixture).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import auth
from urbanops.api.app import create_app
from urbanops.settings import Settings


def _files(paths: dict[str, Path], **override: Any) -> list[tuple[str, Any]]:
    parts = {
        "mosaic": ("mosaic.tif", paths["mosaic"].read_bytes(), "image/tiff"),
        "network": ("pipes.geojson", paths["pipes"].read_bytes(), "application/geo+json"),
        "exclude": ("known.geojson", paths["known"].read_bytes(), "application/geo+json"),
    }
    parts.update(override)
    return [(k, v) for k, v in parts.items() if v is not None]


def _wait(client: TestClient, key: str, job_url: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    seen = set()
    while time.monotonic() < deadline:
        job = client.get(job_url, headers=auth(key)).json()
        seen.add(job["state"])
        if job["state"] in ("succeeded", "failed"):
            job["seen"] = seen
            return job
        time.sleep(0.1)
    raise AssertionError("the job did not finish")


def test_upload_inspect_and_read_results(
    client: TestClient, keys: dict[str, str], scene: dict[str, Any]
) -> None:
    op, viewer = keys["operator"], keys["viewer"]
    r = client.post(
        "/api/v1/thermal/surveys",
        files=_files(scene["paths"]),
        data={"name": "Bundang night survey"},
        headers=auth(op),
    )
    assert r.status_code == 202, r.text
    survey = r.json()
    assert survey["name"] == "Bundang night survey"
    assert r.headers["location"] == f"/api/v1/jobs/{survey['job_id']}"
    job = _wait(client, viewer, r.headers["location"])
    assert job["state"] == "succeeded", job
    assert job["progress"] == 1.0 and job["result"]["summary"]["findings"] > 0
    findings = client.get(survey["links"]["findings"], headers=auth(viewer))
    assert findings.status_code == 200
    assert findings.headers["content-type"].startswith("application/geo+json")
    fc = findings.json()
    assert (
        fc["type"] == "FeatureCollection"
        and len(fc["features"]) == (job["result"]["summary"]["findings"])
    )
    report = client.get(survey["links"]["report"], headers=auth(viewer))
    assert report.headers["content-type"].startswith("text/html") and "<table>" in report.text
    cov = client.get(survey["links"]["coverage"], headers=auth(viewer)).json()
    assert cov["fraction"] > 0.9
    listed = client.get("/api/v1/thermal/surveys", headers=auth(viewer)).json()["value"]
    assert [s["id"] for s in listed] == [survey["id"]]
    assert listed[0]["summary"]["findings"] == job["result"]["summary"]["findings"]


def test_bad_uploads_are_refused_before_parsing_and_store_nothing(
    client: TestClient, keys: dict[str, str], scene: dict[str, Any], settings: Settings
) -> None:
    op, viewer = keys["operator"], keys["viewer"]
    url = "/api/v1/thermal/surveys"
    cases = [
        (_files(scene["paths"], network=None), 400, "network: missing"),
        (
            _files(scene["paths"], mosaic=("m.tif", b"GIF89a not a tiff", "image/tiff")),
            400,
            "not a GeoTIFF",
        ),
        (
            _files(scene["paths"], network=("n.txt", b"PK\x03\x04zip", "text/plain")),
            400,
            "GeoJSON or GeoPackage",
        ),
    ]
    for files, status, text in cases:
        r = client.post(url, files=files, headers=auth(op))
        assert r.status_code == status, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert text in r.json()["detail"]
    assert client.post(url, files=_files(scene["paths"]), headers=auth(viewer)).status_code == 403
    assert client.post(url, files=_files(scene["paths"])).status_code == 401
    assert (
        client.post(
            url,
            content=b"not multipart",
            headers={**auth(op), "content-type": "multipart/form-data; boundary=x"},
        ).status_code
        == 400
    )
    assert client.get("/api/v1/thermal/surveys", headers=auth(viewer)).json()["value"] == []
    thermal_dir = settings.data_dir / "thermal"
    assert not thermal_dir.exists() or not any(thermal_dir.iterdir())
    assert client.get("/api/v1/thermal/surveys/999", headers=auth(viewer)).status_code == 404
    assert client.get("/api/v1/jobs/999", headers=auth(viewer)).status_code == 404
    assert client.get("/api/v1/thermal/surveys/0", headers=auth(viewer)).status_code == 400


def test_size_limit_and_a_mosaic_that_fails_in_the_job(
    settings: Settings, keys: dict[str, str], scene: dict[str, Any], tmp_path: Path
) -> None:
    app = create_app(settings.model_copy(update={"max_upload_bytes": 200_000}))
    op = keys["operator"]
    with TestClient(app) as client:
        r = client.post("/api/v1/thermal/surveys", files=_files(scene["paths"]), headers=auth(op))
        assert r.status_code == 413, r.text
        # A TIFF header on garbage passes the type check, then fails in the job, with a reason.
        junk = ("m.tif", b"II*\x00" + b"\x00" * 5000, "image/tiff")
        r = client.post(
            "/api/v1/thermal/surveys", files=_files(scene["paths"], mosaic=junk), headers=auth(op)
        )
        assert r.status_code == 202, r.text
        job = _wait(client, op, r.headers["location"])
        assert job["state"] == "failed" and "not a readable GeoTIFF" in job["error"]
        findings = client.get(r.json()["links"]["findings"], headers=auth(op))
        assert findings.status_code == 404
    app.state.engine.dispose()


def _flight_zip(tmp_path: Path, extra: dict[str, bytes] | None = None) -> tuple[bytes, Path]:
    """A ZIP of a small generated flight's frames (as copied off a camera card), and its dir."""
    import io
    import zipfile

    from urbanops.domains.thermal import flight, synthetic

    scene = synthetic.generate(8, width_m=40, height_m=40, gsd_m=0.1)
    paths = flight.write_flight(scene, tmp_path / "flight", flight.FlightPlan(altitude_m=60))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for frame in sorted(paths["frames"].iterdir()):
            zf.write(frame, f"DCIM/100MEDIA/{frame.name}")
        zf.writestr("DCIM/100MEDIA/notes.txt", "not a frame")
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return buf.getvalue(), tmp_path / "flight"


def test_upload_a_card_of_frames(
    client: TestClient, keys: dict[str, str], settings: Settings, tmp_path: Path
) -> None:
    op, viewer = keys["operator"], keys["viewer"]
    data, flight_dir = _flight_zip(tmp_path)
    first = sorted((flight_dir / "frames").iterdir())[0].read_bytes()
    # A hostile member name: only its base name is used, inside the survey's folder.
    import io
    import zipfile

    buf = io.BytesIO(data)
    with zipfile.ZipFile(buf, "a") as zf:
        zf.writestr("../../../../escaped.jpg", first)
    frames = ("card.zip", buf.getvalue(), "application/zip")
    network = ("pipes.geojson", (flight_dir / "pipes.geojson").read_bytes(), "application/json")
    r = client.post(
        "/api/v1/thermal/surveys",
        files=[("frames", frames), ("network", network)],
        headers=auth(op),
    )
    assert r.status_code == 202, r.text
    job = _wait(client, viewer, r.headers["location"])
    assert job["state"] == "succeeded", job
    count = len(list((flight_dir / "frames").iterdir()))
    assert job["result"]["summary"]["frames"]["georeferenced"] == count + 1
    fc = client.get(r.json()["links"]["frames"], headers=auth(viewer)).json()
    assert {f["geometry"]["type"] for f in fc["features"]} == {"Polygon"}
    assert "escaped.jpg" in {f["properties"]["file"] for f in fc["features"]}
    assert not (settings.data_dir / "escaped.jpg").exists()
    assert not (settings.data_dir.parent / "escaped.jpg").exists()
    # Either a mosaic or frames, not both, not neither; frames must be a ZIP.
    mosaic = ("m.tif", b"II*\x00" + b"\x00" * 100, "image/tiff")
    for files, text in (
        ([("frames", frames), ("mosaic", mosaic), ("network", network)], "either a mosaic"),
        ([("network", network)], "either a mosaic"),
        ([("frames", ("f.zip", b"GIF89a", "application/zip")), ("network", network)], "ZIP"),
    ):
        bad = client.post("/api/v1/thermal/surveys", files=files, headers=auth(op))
        assert bad.status_code == 400 and text in bad.json()["detail"], bad.text
    # An archive without frames fails in the job, with the reason.
    empty = io.BytesIO()
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("readme.txt", "nothing here")
    r = client.post(
        "/api/v1/thermal/surveys",
        files=[("frames", ("e.zip", empty.getvalue(), "application/zip")), ("network", network)],
        headers=auth(op),
    )
    job = _wait(client, viewer, r.headers["location"])
    assert job["state"] == "failed" and "no JPEG frames" in job["error"]

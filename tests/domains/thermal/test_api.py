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

"""The live heat map from the sensing store, on SQLite and PostGIS, and its API."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from tests.conftest import auth
from urbanops.demo.load import load_demo
from urbanops.domains.heat import service
from urbanops.settings import Settings
from urbanops.storage import tables as t

END = datetime(2026, 7, 30, 6, 0, tzinfo=UTC)  # 15:00 in Seoul, the demo's heat wave


def test_heat_map_api_follows_new_observations(
    client: TestClient, engine: Engine, keys: dict[str, str], settings: Settings
) -> None:
    load_demo(engine, days=1, end=END, progress=lambda _m: None)
    s = service.current_map(engine, settings.data_dir, cell_m=200)
    assert s["at"].startswith("2026-07-30T06:00")
    assert 120 <= s["stations_used"] <= 140  # 140 environment stations, a few flagged
    assert s["apparent_temp_c"] is not None and s["method"] == "ok"
    # flags are stored with the observations they concern, none deleted
    with engine.connect() as conn:
        q = (
            conn.execute(
                select(t.observations.c.result_quality).where(
                    t.observations.c.result_quality.is_not(None)
                )
            )
            .scalars()
            .all()
        )
    flagged = [json.loads(x) if isinstance(x, str) else x for x in q]
    assert flagged and all("urbanops_qc" in f for f in flagged)
    # unchanged data: the same map comes back without a rebuild
    again = service.current_map(engine, settings.data_dir, cell_m=200)
    assert again["source"]["built_at"] == s["source"]["built_at"]
    assert client.get("/api/v1/heat/map").status_code == 401
    r = client.get("/api/v1/heat/map", headers=auth(keys["viewer"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["at"].startswith("2026-07-30T06:00")
    tif = client.get(body["links"]["air_temp"], headers=auth(keys["viewer"]))
    assert tif.status_code == 200 and tif.content[:4] in (b"II*\x00", b"MM\x00*")
    tiles = body["tiles"]["air_temp"]
    folder = service.current_dir(settings.data_dir) / "tiles" / "air_temp"
    one = next(folder.rglob("*.png")).relative_to(folder)
    png = client.get(f"/api/v1/heat/tiles/air_temp/{one}", headers=auth(keys["viewer"]))
    assert png.status_code == 200 and png.content[:4] == b"\x89PNG" and tiles["tiles"] >= 1
    missing = client.get("/api/v1/heat/tiles/air_temp/0/0/0.png", headers=auth(keys["viewer"]))
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert (
        client.get("/api/v1/heat/map/../../etc.tif", headers=auth(keys["viewer"])).status_code
        == 404
    )
    # a new reading ten minutes later: the next read maps the new time
    with engine.connect() as conn:
        ds_id = conn.execute(
            select(t.datastreams.c.id)
            .join(
                t.observed_properties,
                t.observed_properties.c.id == t.datastreams.c.observed_property_id,
            )
            .where(t.observed_properties.c.name == "air_temperature")
            .limit(1)
        ).scalar_one()
    later = END + timedelta(minutes=10)
    w = client.post(
        f"/sta/v1.1/Datastreams({ds_id})/Observations",
        json={"phenomenonTime": later.isoformat().replace("+00:00", "Z"), "result": 31.5},
        headers=auth(keys["admin"]),
    )
    assert w.status_code == 201, w.text
    import os

    p = service.current_dir(settings.data_dir) / "summary.json"
    os.utime(p, (p.stat().st_atime - 120, p.stat().st_mtime - 120))  # the minimum interval passed
    r = client.get("/api/v1/heat/map", headers=auth(keys["viewer"]))
    assert r.status_code == 200 and r.json()["at"].startswith("2026-07-30T06:10")


def test_cli_map_reads_the_database_without_a_csv(
    engine: Engine, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from urbanops.cli.main import app

    if settings.database_url:  # one backend is enough for the command's wiring
        pytest.skip("covered on SQLite")
    monkeypatch.setenv("URBANOPS_DATA_DIR", str(settings.data_dir))
    from urbanops.settings import get_settings

    get_settings.cache_clear()
    res = CliRunner().invoke(
        app, ["heat", "map", "--at", "2026-07-30T06:00:00Z", "--out", str(tmp_path / "m")]
    )
    assert res.exit_code == 1 and "no air-temperature observations" in res.output, res.output
    load_demo(engine, days=1, end=END, progress=lambda _m: None)
    res = CliRunner().invoke(
        app,
        ["heat", "map", "--at", "2026-07-30T06:00:00Z", "--cell", "300", "--no-tiles", "--out",
         str(tmp_path / "m")],
    )  # fmt: skip
    get_settings.cache_clear()
    assert res.exit_code == 0, res.output
    assert (tmp_path / "m" / "air_temp.tif").exists()

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
    adv = client.get("/api/v1/heat/advisories", headers=auth(keys["viewer"]))
    assert adv.status_code == 200
    districts = adv.json()["value"]
    assert len(districts) >= 20 and {d["level"] for d in districts} <= {"", "advisory", "warning"}
    assert all(d["date"] == "2026-07-30" for d in districts)
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


def test_kma_advisories_are_raised_as_alerts(
    engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    if settings.database_url:
        pytest.skip("the alert tables are the core's, tested on both backends there")
    from urbanops.core.alerting import list_alerts
    from urbanops.core.domain_alerts import domain_rule

    load_demo(engine, days=2, end=END, progress=lambda _m: None)
    levels = service.district_levels(engine, END)
    assert set(levels["level"]) <= {"", "advisory", "warning"} and len(levels) > 0
    latest = levels.sort_values("date").groupby("district").tail(1)
    expected_adv = int(latest["level"].isin(["advisory", "warning"]).sum())
    expected_warn = int((latest["level"] == "warning").sum())
    first = service.raise_advisories(engine, END)
    assert first["opened"] == expected_adv + expected_warn > 0
    assert service.raise_advisories(engine, END)["opened"] == 0  # no duplicates
    with engine.begin() as conn:
        ids = {
            domain_rule(conn, service.ADVISORY_RULE, severity="warning", message="").id,
            domain_rule(conn, service.WARNING_RULE, severity="critical", message="").id,
        }
        alerts = list_alerts(conn, state="open")
    ours = [a for a in alerts if a["rule_id"] in ids]
    assert len(ours) == expected_adv + expected_warn
    assert all(a["zone_id"] is not None and a["datastream_id"] is None for a in ours)
    assert {a["severity"] for a in ours} <= {"warning", "critical"}
    # a cooler day: the district's alerts are resolved, with a note
    cool = latest.assign(level="")
    monkeypatch.setattr(service, "district_levels", lambda *a, **k: cool)
    out = service.raise_advisories(engine, END)
    assert out["resolved"] == expected_adv + expected_warn
    with engine.connect() as conn:
        still = [a for a in list_alerts(conn, state="open") if a["rule_id"] in ids]
    assert still == []


def test_domain_rules_refuse_parameters(engine: Engine) -> None:
    from urbanops.core.domain_alerts import domain_rule
    from urbanops.core.rule_store import update_rule
    from urbanops.core.rules import RulePatch
    from urbanops.errors import ValidationError

    with engine.begin() as conn:
        rule = domain_rule(conn, "KMA heat-wave advisory", severity="warning", message="m")
        assert rule is not None and rule.kind == "domain"
        with pytest.raises(ValidationError, match="no parameters"):
            update_rule(conn, rule.id, RulePatch(params={"above": 30}))
        update_rule(conn, rule.id, RulePatch(enabled=False))
        assert domain_rule(conn, "KMA heat-wave advisory", severity="warning", message="m") is None

"""``urbanops parking import --ngsi-ld FILE`` and ``export`` (the contract), and bad files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from urbanops.cli.main import app


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    from urbanops.settings import get_settings

    monkeypatch.setenv("URBANOPS_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("URBANOPS_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_import_keeps_ids_and_books_around_the_clock(
    data_dir: Path, entities: list[dict[str, Any]]
) -> None:
    from urbanops.domains.parking import service
    from urbanops.settings import get_settings
    from urbanops.storage.engine import make_engine

    f = data_dir / "spots.json"
    f.write_text(json.dumps(entities))
    res = CliRunner().invoke(app, ["parking", "import", "--ngsi-ld", str(f)])
    assert res.exit_code == 0 and "imported 9 bays and 1 sites" in res.output, res.output
    engine = make_engine(get_settings().sqlalchemy_url)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1, hours=1)
    start = start.replace(hour=2)  # 11:00 at night in Seoul: no window on imported spots
    row, new = service.reserve(
        engine, "urn:ngsi-ld:ParkingSpot:ydp-003", start, start + timedelta(hours=1),
        tz="Asia/Seoul",
    )  # fmt: skip
    assert new and row["bay_id"] == "urn:ngsi-ld:ParkingSpot:ydp-003"
    assert row["price_krw"] == 2 * service.DEFAULT_TARIFF_KRW
    engine.dispose()
    out = data_dir / "out.json"
    res = CliRunner().invoke(app, ["parking", "export", "--ngsi-ld", str(out), "--key-values"])
    assert res.exit_code == 0
    exported = json.loads(out.read_text())
    assert {e["id"] for e in exported} == {e["id"] for e in entities}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('[{"id": "urn:a", "type": "Car"}]', "not a parking entity"),
        ('[{"id": "urn:a", "type": "ParkingSpot", "location": {"type": "Point", "coordinates": '
         '[500, 37]}}]', "out of range"),
        ('[{"id": "urn:a", "type": "ParkingSpot", "location": {"type": "Point", "coordinates": '
         '[127, 37]}, "tariffPer30Min": -5}]', "whole KRW"),
    ],
    ids=["json", "type", "coords", "negative-price"],
)  # fmt: skip
def test_bad_import_writes_nothing(data_dir: Path, content: str, message: str) -> None:
    good = data_dir / "good.json"
    good.write_text(
        '[{"id": "urn:ok", "type": "ParkingSpot", "location": {"type": "Point", '
        '"coordinates": [127, 37.5]}}]'
    )
    assert CliRunner().invoke(app, ["parking", "import", "--ngsi-ld", str(good)]).exit_code == 0
    bad = data_dir / "bad.json"
    bad.write_text(content)
    res = CliRunner().invoke(app, ["parking", "import", "--ngsi-ld", str(bad)])
    assert res.exit_code == 1 and message in res.output, res.output
    out = data_dir / "out.json"
    CliRunner().invoke(app, ["parking", "export", "--ngsi-ld", str(out)])
    assert [e["id"] for e in json.loads(out.read_text())] == ["urn:ok"]


def test_process_statement_payout_refund_commands(data_dir: Path) -> None:
    from datetime import timedelta

    from urbanops.settings import get_settings
    from urbanops.storage.engine import make_engine, upgrade

    from .test_sessions import T0, readings, setup

    upgrade(get_settings())
    engine = make_engine(get_settings().sqlalchemy_url)
    ds = setup(engine, 1)
    readings(engine, ds[0], [(-120, 1), (-119, 1), (-60, 0), (-59, 0)])  # an hour, ending about now
    engine.dispose()
    run = CliRunner().invoke
    res = run(app, ["parking", "process"])
    assert res.exit_code == 0 and "opened 1" in res.output and "closed 1" in res.output, res.output
    month = (T0 - timedelta(hours=2)).astimezone().strftime("%Y-%m")
    res = run(app, ["parking", "statement", "--owner", "owner-a", "--month", month, "--json"])
    assert res.exit_code == 0, res.output
    st = json.loads(res.output)
    assert st["sessions"] == 1 and st["total_krw"] == 2 * 600 // 2
    assert run(app, ["parking", "statement", "--owner", "x", "--month", "May"]).exit_code == 1
    res = run(app, ["parking", "refund", "--session", "1", "--reason", "test"])
    assert res.exit_code == 0 and "refunded 1,200 KRW" in res.output
    assert run(app, ["parking", "refund", "--session", "1", "--reason", "again"]).exit_code == 1
    res = run(app, ["parking", "payout", "--owner", "owner-a"])
    assert res.exit_code == 0 and "paid 0 KRW" in res.output  # refunded before it was paid

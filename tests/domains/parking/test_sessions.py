"""Occupancy sensors drive sessions, charges, the ledger and alerts (both backends)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from urbanops.core.alerting import list_alerts
from urbanops.core.sensing.observations import ObservationRow, write_observations
from urbanops.core.sensing.write import Writer
from urbanops.domains.parking import service, sessions
from urbanops.domains.parking.tables import parking_ledger, parking_reservations, parking_sessions

from .conftest import spot

T0 = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(hours=1)


def setup(engine: Engine, n: int = 3) -> list[int]:
    """``n`` bays, each with an occupancy datastream (1 occupied, 0 free)."""
    ids = []
    with engine.begin() as conn:
        w = Writer(conn)
        sensor = w.create("Sensors", {"name": "magnetometer", "encodingType": "text/plain",
                                      "metadata": "bay occupancy"})  # fmt: skip
        prop = w.create("ObservedProperties", {"name": "occupancy", "definition": "urn:occupancy"})
        for i in range(n):
            w.create("Things", {
                "name": f"bay sensor {i}",
                "Datastreams": [{
                    "name": f"occupancy {i}",
                    "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
                    "unitOfMeasurement": {"name": "", "symbol": "", "definition": ""},
                    "Sensor": {"@iot.id": sensor}, "ObservedProperty": {"@iot.id": prop},
                }],
            })  # fmt: skip
        from urbanops.storage import tables as t

        ids = list(conn.execute(select(t.datastreams.c.id).order_by(t.datastreams.c.id)).scalars())
        bays = [
            spot(i, 126.9 + i * 1e-4, 37.52, occupancyDatastream=ids[i], owner="owner-a")
            for i in range(n)
        ]
        service.import_entities(conn, bays)
    return ids


def readings(engine: Engine, ds: int, values: list[tuple[float, int]]) -> None:
    """(minutes after T0, 0/1) readings of one datastream."""
    with engine.begin() as conn:
        write_observations(conn, [
            ObservationRow(ds, T0 + timedelta(minutes=m), None, None, 0, float(v), None, None)
            for m, v in values
        ])  # fmt: skip


def bay(i: int) -> str:
    return f"urn:ngsi-ld:ParkingSpot:ydp-{i:03d}"


def rules(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        alerts = list_alerts(conn, state="open")
    return alerts


def test_reserved_stay_is_charged_and_the_ledger_balances(engine: Engine) -> None:
    ds = setup(engine)
    r, _ = service.reserve(engine, bay(0), T0, T0 + timedelta(hours=2), tz="Asia/Seoul",
                           now=T0 - timedelta(minutes=30))  # fmt: skip
    # arrives 5 minutes early, leaves after 95 minutes: 4 started half-hours (charged as stayed)
    readings(engine, ds[0], [(-5, 1), (-4, 1), (-3, 1), (90, 0), (91, 0), (92, 0)])
    counts = sessions.process(engine, now=T0 + timedelta(minutes=100))
    assert counts["opened"] == 1 and counts["closed"] == 1
    with engine.connect() as conn:
        s = conn.execute(select(parking_sessions)).one()
        assert s.reservation_id == r["id"] and s.charge_krw == 4 * 600
        res = conn.execute(select(parking_reservations)).one()
        assert res.status == "completed"
        entries = conn.execute(select(parking_ledger)).all()
        assert sum(e.amount_krw for e in entries) == 0 == sessions.ledger_balance(conn)
        owner = [e for e in entries if e.account == "owner:owner-a"]
        assert owner and -owner[0].amount_krw == 4 * 600 * 50 // 100
        st = sessions.statement(conn, "owner-a", T0.astimezone().strftime("%Y-%m"))
        assert st["total_krw"] == 1200 and st["sessions"] == 1
    # processing again changes nothing (the cursor moved on)
    again = sessions.process(engine, now=T0 + timedelta(minutes=101))
    assert again["readings"] == 0 and again["opened"] == again["closed"] == 0


def test_unreserved_occupant_no_show_overstay_and_flapping(engine: Engine) -> None:
    ds = setup(engine)
    # bay 1: occupied with no reservation -> alert, cleared when it leaves
    readings(engine, ds[1], [(0, 1), (1, 1), (2, 1)])
    # bay 2: a sensor flapping every few seconds: no session, no alert
    flaps = [(m / 20, (m % 2)) for m in range(0, 201)]  # ends free, as it began
    readings(engine, ds[2], flaps)
    # bay 0: reserved but nobody comes -> no-show
    service.reserve(engine, bay(0), T0, T0 + timedelta(hours=1), tz="Asia/Seoul",
                    now=T0 - timedelta(minutes=30))  # fmt: skip
    counts = sessions.process(engine, now=T0 + timedelta(minutes=20))
    assert counts["opened"] == 1 and counts["no_shows"] == 1
    msgs = [a["message"] for a in rules(engine)]
    assert any("without a reservation" in m and bay(1) in m for m in msgs)
    assert any(m.startswith("no-show") for m in msgs)
    assert not any(bay(2) in m for m in msgs)
    with engine.connect() as conn:
        assert {s.bay_id for s in conn.execute(select(parking_sessions))} == {bay(1)}
    readings(engine, ds[1], [(30, 0), (31, 0), (32, 0)])
    sessions.process(engine, now=T0 + timedelta(minutes=40))
    assert not any("without a reservation" in a["message"] for a in rules(engine))
    with engine.connect() as conn:
        assert sessions.ledger_balance(conn) == 0
        payers = {e.account for e in conn.execute(select(parking_ledger)) if e.amount_krw > 0}
        assert payers == {f"unreserved:{bay(1)}"}


def test_overstay(engine: Engine) -> None:
    ds = setup(engine, 1)
    service.reserve(engine, bay(0), T0, T0 + timedelta(minutes=30), tz="Asia/Seoul",
                    now=T0 - timedelta(minutes=10))  # fmt: skip
    readings(engine, ds[0], [(0, 1), (1, 1), (2, 1)])
    sessions.process(engine, now=T0 + timedelta(minutes=10))
    assert not rules(engine)
    sessions.process(engine, now=T0 + timedelta(minutes=50))  # 20 min past its end
    msgs = [a["message"] for a in rules(engine)]
    assert len(msgs) == 1 and msgs[0].startswith("overstay")
    readings(engine, ds[0], [(55, 0), (56, 0), (57, 0)])
    sessions.process(engine, now=T0 + timedelta(minutes=60))
    assert not rules(engine)  # resolved when the car left
    with engine.connect() as conn:
        s = conn.execute(select(parking_sessions)).one()
        assert s.charge_krw == 2 * 600  # charged for the actual 55 minutes


def test_refund_and_payout_keep_the_ledger_balanced(engine: Engine) -> None:
    import pytest

    from urbanops.errors import ConflictError, NotFoundError, ValidationError

    ds = setup(engine, 2)
    readings(engine, ds[0], [(0, 1), (1, 1), (60, 0), (61, 0)])
    readings(engine, ds[1], [(0, 1), (1, 1), (30, 0), (31, 0)])
    sessions.process(engine, now=T0 + timedelta(minutes=70))
    with engine.connect() as conn:
        sid = conn.execute(
            select(parking_sessions.c.id).where(parking_sessions.c.charge_krw == 2 * 600)
        ).scalar_one()
        owed = -sessions.account_balance(conn, "owner:owner-a")
    assert owed == (2 * 600 + 1 * 600) // 2  # two stays, half to the owner
    out = sessions.refund(engine, sid, reason="sensor fault", now=T0 + timedelta(hours=2))
    assert out["refunded_krw"] == 2 * 600
    with pytest.raises(ConflictError):
        sessions.refund(engine, sid, reason="again")
    with pytest.raises(ValidationError):
        sessions.refund(engine, sid, reason=" ")
    with pytest.raises(NotFoundError):
        sessions.refund(engine, 99_999, reason="none")
    paid = sessions.payout(engine, "owner-a", now=T0 + timedelta(hours=3))
    assert paid["paid_krw"] == 300
    assert sessions.payout(engine, "owner-a")["paid_krw"] == 0
    with engine.connect() as conn:
        assert sessions.ledger_balance(conn) == 0
        assert sessions.account_balance(conn, "owner:owner-a") == 0
        assert sessions.account_balance(conn, "payouts") == -300


def test_serve_timer_runs_the_parking_processor(engine: Engine, settings: Any) -> None:
    """The background timer of ``serve`` applies readings (domains' periodic work)."""
    from urbanops.api.app import _check_staleness, create_app

    ds = setup(engine, 1)
    readings(engine, ds[0], [(-30, 1), (-29, 1)])
    app = create_app(settings)
    try:
        _check_staleness(app)
    finally:
        app.state.engine.dispose()
    with engine.connect() as conn:
        assert conn.execute(select(parking_sessions)).first() is not None

"""Occupancy sensors drive sessions, charges, the ledger and alerts.

:func:`process` follows the observations table by id (what it has read is kept in
``parking_state``), so every observation of a bay's occupancy datastream is seen once,
whichever process stored it (API, MQTT consumer). A sensor's new state counts only once it has
lasted ``debounce_s`` (a sensor flapping every second changes nothing); then:

- **occupied**: a session opens and is matched to the live reservation covering that time
  (from 15 minutes before its start); without one, an alert "occupied without a reservation";
- **free**: the session closes; the charge follows the actual stay (started half-hours times
  the tariff) and is booked in the double-entry ledger: the driver's account is debited, the
  owner's share and the platform's rest credited (the entries of a transaction sum to zero);
  the reservation is completed.

It also marks no-shows (a reservation 15 minutes past its start with no session) and raises
overstay alerts (still occupied 15 minutes after a reservation's end).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, insert, select, update

from urbanops.core.domain_alerts import clear_alert, domain_rule, raise_alert
from urbanops.domains.parking.service import LIVE, price_krw
from urbanops.domains.parking.tables import (
    parking_bays,
    parking_ledger,
    parking_reservations,
    parking_sessions,
    parking_state,
)
from urbanops.storage import tables as t

GRACE = timedelta(minutes=15)
CURSOR_KEY = "observation_cursor"
UNRESERVED = "Parking: occupied without a reservation"
OVERSTAY = "Parking: overstay"
NO_SHOW = "Parking: no-show"


def _get_state(conn: Connection, key: str, default: Any) -> Any:
    row = conn.execute(select(parking_state.c.value).where(parking_state.c.key == key)).first()
    return default if row is None else row[0]


def _set_state(conn: Connection, key: str, value: Any) -> None:
    if conn.execute(select(parking_state.c.key).where(parking_state.c.key == key)).first():
        conn.execute(update(parking_state).where(parking_state.c.key == key).values(value=value))
    else:
        conn.execute(insert(parking_state).values(key=key, value=value))


def occupancy(result_number: Any, result_string: Any, result_json: Any) -> str | None:
    """``"occupied"``, ``"free"`` or None (not an occupancy reading)."""
    if result_number is not None:
        return "occupied" if result_number >= 0.5 else "free"
    v = result_json if result_json is not None else result_string
    if isinstance(v, bool):
        return "occupied" if v else "free"
    if isinstance(v, str):
        s = v.strip().lower()
        if s in ("occupied", "true", "1", "busy"):
            return "occupied"
        if s in ("free", "false", "0", "vacant"):
            return "free"
    return None


def process(
    engine: Engine, *, now: datetime | None = None, debounce_s: float = 60.0
) -> dict[str, int]:
    """Read new occupancy readings, apply them, check reservations; returns counts."""
    now = now or datetime.now(UTC)
    counts = {"readings": 0, "opened": 0, "closed": 0, "no_shows": 0, "alerts": 0}
    with engine.begin() as conn:
        bays = {
            r.datastream_id: r
            for r in conn.execute(
                select(parking_bays).where(parking_bays.c.datastream_id.is_not(None))
            )
        }
        cursor = int(_get_state(conn, CURSOR_KEY, 0))
        o = t.observations
        upto = conn.execute(select(func.max(o.c.id))).scalar() or cursor  # read first: no gaps
        rows = []
        if bays:
            rows = conn.execute(
                select(
                    o.c.id,
                    o.c.datastream_id,
                    o.c.phenomenon_time_start,
                    o.c.result_number,
                    o.c.result_string,
                    o.c.result_json,
                )
                .where(and_(o.c.id > cursor, o.c.id <= upto, o.c.datastream_id.in_(list(bays))))
                .order_by(o.c.id)
                .limit(100_000)
            ).all()
        last = rows[-1][0] if len(rows) == 100_000 else upto  # a full batch: go on next time
        readings: dict[str, list[tuple[datetime, str]]] = {}
        for _oid, ds, at, num, text, js in rows:
            state = occupancy(num, text, js)
            if state is not None:
                readings.setdefault(bays[ds].id, []).append((at, state))
        counts["readings"] = sum(len(v) for v in readings.values())
        pending: dict[str, Any] = _get_state(conn, "pending", {})
        status = {b.id: b.status for b in bays.values()}
        transitions: list[tuple[str, datetime, str]] = []
        for bay_id in set(readings) | set(pending):
            cur = status.get(bay_id, "unknown")
            p = pending.get(bay_id)
            for at, state in sorted(readings.get(bay_id, [])):
                if state == cur:
                    p = None
                elif p is not None and p["state"] == state:
                    if (at - datetime.fromisoformat(p["since"])).total_seconds() >= debounce_s:
                        transitions.append((bay_id, datetime.fromisoformat(p["since"]), state))
                        cur, p = state, None
                else:
                    p = {"state": state, "since": at.isoformat()}
            if (
                p is not None
                and (now - datetime.fromisoformat(p["since"])).total_seconds() >= debounce_s
            ):
                transitions.append((bay_id, datetime.fromisoformat(p["since"]), p["state"]))
                cur, p = p["state"], None
            if p is None:
                pending.pop(bay_id, None)
            else:
                pending[bay_id] = p
            status[bay_id] = cur
        for bay_id, at, state in sorted(transitions, key=lambda x: x[1]):
            opened, closed, alerts = _apply(conn, bay_id, at, state)
            counts["opened"] += opened
            counts["closed"] += closed
            counts["alerts"] += alerts
        _set_state(conn, "pending", pending)
        _set_state(conn, CURSOR_KEY, int(last))
        ns, al = _check_reservations(conn, now)
        counts["no_shows"] += ns
        counts["alerts"] += al
    return counts


def _apply(conn: Connection, bay_id: str, at: datetime, state: str) -> tuple[int, int, int]:
    conn.execute(
        update(parking_bays).where(parking_bays.c.id == bay_id).values(status=state, status_at=at)
    )
    s, r = parking_sessions, parking_reservations
    open_session = conn.execute(
        select(s).where(and_(s.c.bay_id == bay_id, s.c.end_at.is_(None)))
    ).first()
    alerts = 0
    if state == "occupied":
        if open_session is not None:
            return 0, 0, 0
        res = conn.execute(
            select(r)
            .where(
                and_(
                    r.c.bay_id == bay_id,
                    r.c.status.in_(LIVE),
                    r.c.start_at <= at + GRACE,
                    r.c.end_at > at,
                )
            )
            .order_by(r.c.start_at)
            .limit(1)
        ).first()
        conn.execute(
            insert(s).values(bay_id=bay_id, start_at=at, reservation_id=res.id if res else None)
        )
        if res is not None:
            conn.execute(update(r).where(r.c.id == res.id).values(status="active", updated_at=at))
        else:
            rule = domain_rule(
                conn,
                UNRESERVED,
                severity="warning",
                message="a bay is occupied without a reservation",
            )
            msg = f"bay {bay_id} occupied at {at.isoformat()} without a reservation"
            if rule and raise_alert(
                conn, rule, subject=f"bay:{bay_id}", observed_at=at, message=msg
            ):
                alerts += 1
        return 1, 0, alerts
    # free
    if open_session is None:
        return 0, 0, 0
    bay = conn.execute(select(parking_bays).where(parking_bays.c.id == bay_id)).one()
    charge = price_krw(bay.tariff_krw_per_30min, open_session.start_at, at)
    conn.execute(update(s).where(s.c.id == open_session.id).values(end_at=at, charge_krw=charge))
    if open_session.reservation_id is not None:
        conn.execute(
            update(r)
            .where(r.c.id == open_session.reservation_id)
            .values(status="completed", updated_at=at)
        )
        payer = f"driver:r{open_session.reservation_id}"
        for name in (OVERSTAY,):
            rule = domain_rule(conn, name, severity="warning", message="overstay")
            if rule:
                clear_alert(
                    conn, rule, subject=f"reservation:{open_session.reservation_id}", note="left"
                )
    else:
        payer = f"unreserved:{bay_id}"
        rule = domain_rule(
            conn, UNRESERVED, severity="warning", message="occupied without a reservation"
        )
        if rule:
            clear_alert(conn, rule, subject=f"bay:{bay_id}", note=f"bay free at {at.isoformat()}")
    if charge > 0:
        share = charge * bay.owner_share_pct // 100
        memo = f"bay {bay_id} {open_session.start_at.isoformat()} - {at.isoformat()}"
        entries = [
            (payer, charge),
            (f"owner:{bay.owner or bay_id}", -share),
            ("platform", -(charge - share)),
        ]
        _post(conn, entries, memo, at, open_session.id)
    return 0, 1, 0


def _check_reservations(conn: Connection, now: datetime) -> tuple[int, int]:
    r, s = parking_reservations, parking_sessions
    no_shows = alerts = 0
    late = conn.execute(
        select(r).where(and_(r.c.status == "reserved", r.c.start_at < now - GRACE))
    ).all()
    for res in late:
        conn.execute(update(r).where(r.c.id == res.id).values(status="no_show", updated_at=now))
        no_shows += 1
        rule = domain_rule(conn, NO_SHOW, severity="info", message="a reserved bay was not used")
        if rule and raise_alert(
            conn,
            rule,
            subject=f"reservation:{res.id}",
            message=f"no-show: reservation {res.id} of bay {res.bay_id} "
            f"from {res.start_at.isoformat()}",
        ):
            alerts += 1
    over = conn.execute(
        select(r).where(and_(r.c.status == "active", r.c.end_at < now - GRACE))
    ).all()
    for res in over:
        still = conn.execute(
            select(s.c.id).where(and_(s.c.reservation_id == res.id, s.c.end_at.is_(None)))
        ).first()
        if still is None:
            continue
        rule = domain_rule(conn, OVERSTAY, severity="warning", message="overstay")
        if rule and raise_alert(
            conn,
            rule,
            subject=f"reservation:{res.id}",
            message=f"overstay: bay {res.bay_id} still occupied after {res.end_at.isoformat()}",
        ):
            alerts += 1
    return no_shows, alerts


def ledger_balance(conn: Connection) -> int:
    """Sum of every ledger entry: 0 when every transaction balances."""
    return int(
        conn.execute(select(func.coalesce(func.sum(parking_ledger.c.amount_krw), 0))).scalar_one()
    )


def statement(
    conn: Connection, owner: str, month: str, *, tz: str = "Asia/Seoul"
) -> dict[str, Any]:
    """An owner's earnings for a month (local time): each session's share and the total."""
    from zoneinfo import ZoneInfo

    try:
        y, m = (int(p) for p in month.split("-"))
        start = datetime(y, m, 1, tzinfo=ZoneInfo(tz))
    except (ValueError, TypeError):
        from urbanops.errors import ValidationError

        raise ValidationError(f"--month {month!r}: expected YYYY-MM") from None
    end = datetime(y + (m == 12), m % 12 + 1, 1, tzinfo=ZoneInfo(tz))
    led = parking_ledger
    rows = conn.execute(
        select(led.c.at, led.c.amount_krw, led.c.memo)
        .where(and_(led.c.account == f"owner:{owner}", led.c.at >= start, led.c.at < end))
        .order_by(led.c.at)
    ).all()
    lines = [{"at": a.isoformat(), "share_krw": -amount, "memo": memo} for a, amount, memo in rows]
    return {
        "owner": owner,
        "month": month,
        "sessions": len(lines),
        "total_krw": sum(x["share_krw"] for x in lines),
        "lines": lines,
    }


def periodic(engine: Engine, settings: Any) -> dict[str, int]:
    """The timer hook of ``urbanops serve``: process new readings and check reservations."""
    return process(engine)


def _post(conn: Connection, entries: list[tuple[str, int]], memo: str, at: datetime,
          session_id: int | None = None) -> str:  # fmt: skip
    """One balanced ledger transaction (refused if it does not sum to zero)."""
    if sum(a for _, a in entries) != 0:
        raise ValueError("unbalanced ledger transaction")
    txn = uuid.uuid4().hex
    for account, amount in entries:
        if amount:
            conn.execute(
                insert(parking_ledger).values(
                    txn=txn, at=at, account=account, amount_krw=amount, memo=memo,
                    session_id=session_id,
                )
            )  # fmt: skip
    return txn


def account_balance(conn: Connection, account: str) -> int:
    led = parking_ledger
    return int(
        conn.execute(
            select(func.coalesce(func.sum(led.c.amount_krw), 0)).where(led.c.account == account)
        ).scalar_one()
    )


def refund(
    engine: Engine, session_id: int, *, reason: str, now: datetime | None = None
) -> dict[str, Any]:
    """Reverse a session's charge (a disputed stay, a faulty sensor): the driver's account is
    credited, the owner's share and the platform's part debited back; once per session."""
    from urbanops.errors import ConflictError, NotFoundError, ValidationError

    if not reason.strip() or len(reason) > 500:
        raise ValidationError("a refund needs a reason (at most 500 characters)", field="reason")
    now = now or datetime.now(UTC)
    led = parking_ledger
    with engine.begin() as conn:
        rows = conn.execute(select(led).where(led.c.session_id == session_id)).all()
        if not rows:
            raise NotFoundError(f"session {session_id} has no charge to refund")
        if any(r.memo.startswith("refund") for r in rows):
            raise ConflictError(f"session {session_id} was already refunded")
        entries = [(r.account, -r.amount_krw) for r in rows]
        txn = _post(conn, entries, f"refund: {reason.strip()}", now, session_id)
        amount = sum(r.amount_krw for r in rows if r.amount_krw > 0)
    return {"session_id": session_id, "txn": txn, "refunded_krw": amount}


def payout(engine: Engine, owner: str, *, now: datetime | None = None) -> dict[str, Any]:
    """Pay an owner what has accrued: their account back to zero against ``payouts``."""
    now = now or datetime.now(UTC)
    with engine.begin() as conn:
        due = -account_balance(conn, f"owner:{owner}")  # credits are negative
        if due <= 0:
            return {"owner": owner, "paid_krw": 0, "txn": None}
        txn = _post(conn, [(f"owner:{owner}", due), ("payouts", -due)], f"payout to {owner}", now)
    return {"owner": owner, "paid_krw": due, "txn": txn}

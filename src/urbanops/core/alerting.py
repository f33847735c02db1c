"""Alert evaluation and lifecycle.

:func:`evaluate_rows` runs inside the transaction that stores observations (HTTP and MQTT alike),
so an alert is committed together with the reading that triggered it: it exists the moment the
reading does. :func:`evaluate_staleness` runs on a timer. An alert is ``open``, then maybe
``acknowledged`` by an operator, then ``resolved`` (by the data or by hand); a rule holds at most
one unresolved alert per subject (a datastream, or for aggregate rules a zone or the city; a
partial unique index enforces it), and every transition is recorded in ``alert_events``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Connection, and_, func, insert, or_, select, update

from urbanops.core.rules import render_message
from urbanops.core.timeutil import format_optional, format_time
from urbanops.core.zone_index import ZONES, ZoneIndex
from urbanops.errors import ConflictError, NotFoundError
from urbanops.storage import tables as t

OPEN, ACKNOWLEDGED, RESOLVED = "open", "acknowledged", "resolved"


@dataclass(frozen=True)
class Rule:
    id: int
    name: str
    kind: str
    scope_kind: str
    scope_value: str
    params: dict[str, Any]
    severity: str
    message: str
    scope: dict[str, Any]

    def matches(self, s: Stream, zones: ZoneIndex | None) -> bool:
        """Every part of the scope holds for datastream ``s``."""
        sc = self.scope
        if "datastream" in sc and sc["datastream"] != s.id:
            return False
        if "thing" in sc and sc["thing"] != s.thing_id:
            return False
        if "observed_property" in sc and sc["observed_property"] != s.observed_property:
            return False
        return "zone" not in sc or (zones is not None and sc["zone"] in zones.zones(s.id))

    @property
    def uses_zones(self) -> bool:
        return "zone" in self.scope or "zone_kind" in self.scope


@dataclass(frozen=True)
class Stream:
    id: int
    name: str
    thing_id: int
    observed_property: str


class RuleCache:
    """Enabled rules, reloaded when ``alert_rules_meta.version`` changes (any process).

    Rules are indexed by the most selective part of their scope so that matching a batch costs
    one dictionary lookup per datastream and scope kind, however many rules exist. Aggregate
    rules are indexed apart, by observed property.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: int | None = -1
        self.rules: list[Rule] = []
        self.index: dict[tuple[str, str], list[Rule]] = {}
        self.aggregates: dict[str, list[Rule]] = {}
        self.uses_zones = False

    def refresh(self, conn: Connection) -> RuleCache:
        version = conn.execute(select(t.alert_rules_meta.c.version)).scalar()
        with self._lock:
            if version != self._version:
                r = t.alert_rules
                self.rules = [
                    Rule(
                        row.id,
                        row.name,
                        row.kind,
                        row.scope_kind,
                        row.scope_value,
                        dict(row.params),
                        row.severity,
                        row.message,
                        dict(row.scope) if row.scope else legacy_scope(row),
                    )
                    for row in conn.execute(select(r).where(r.c.enabled.is_(True)))
                ]
                index: dict[tuple[str, str], list[Rule]] = {}
                aggregates: dict[str, list[Rule]] = {}
                for rule in self.rules:
                    if rule.kind == "aggregate":
                        aggregates.setdefault(rule.scope["observed_property"], []).append(rule)
                    else:
                        index.setdefault((rule.scope_kind, rule.scope_value), []).append(rule)
                self.index = index
                self.aggregates = aggregates
                self.uses_zones = any(rule.uses_zones for rule in self.rules)
                self._version = version
                ZONES.invalidate()  # new rules see the current zone membership
        return self

    def get(self, conn: Connection) -> list[Rule]:
        return self.refresh(conn).rules

    def for_stream(self, s: Stream, zones: ZoneIndex | None = None) -> list[Rule]:
        """Per-datastream rules whose whole scope holds for ``s``."""
        idx = self.index
        found = (
            idx.get(("datastream", str(s.id)), [])
            + idx.get(("thing", str(s.thing_id)), [])
            + idx.get(("observed_property", s.observed_property), [])
        )
        if zones is not None:
            for z in zones.zones(s.id):
                found = found + idx.get(("zone", str(z)), [])
        return [rule for rule in found if rule.matches(s, zones)]


def legacy_scope(row: Any) -> dict[str, Any]:
    """The scope of a rule stored before scopes were kept whole (one part)."""
    if row.scope_kind == "observed_property":
        return {"observed_property": row.scope_value}
    return {row.scope_kind: int(row.scope_value)}


def datastream_subject(datastream_id: int) -> str:
    return f"datastream:{datastream_id}"


def zone_subject(zone_id: int | None) -> str:
    return "city" if zone_id is None else f"zone:{zone_id}"


class _Caches:
    """One rule cache per database (a process may talk to several, e.g. in tests)."""

    def __init__(self) -> None:
        self._caches: dict[str, RuleCache] = {}
        self._lock = threading.Lock()

    def refresh(self, conn: Connection) -> RuleCache:
        key = conn.engine.url.render_as_string(hide_password=True)
        with self._lock:
            cache = self._caches.setdefault(key, RuleCache())
        return cache.refresh(conn)

    def get(self, conn: Connection) -> list[Rule]:
        return self.refresh(conn).rules


RULES = _Caches()


def bump_rules_version(conn: Connection) -> None:
    """Tell every process's cache that the rules changed.

    One upsert, so two transactions creating rules at once (an operator's API call and a
    domain's timer) both bump the version instead of racing to insert the first row.
    """
    m = t.alert_rules_meta
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    stmt = dialect_insert(m).values(id=1, version=1)
    conn.execute(
        stmt.on_conflict_do_update(index_elements=[m.c.id], set_={"version": m.c.version + 1})
    )


def _streams(conn: Connection, ids: Sequence[int]) -> dict[int, Stream]:
    d, op = t.datastreams, t.observed_properties
    rows = conn.execute(
        select(d.c.id, d.c.name, d.c.thing_id, op.c.name)
        .join(op, op.c.id == d.c.observed_property_id)
        .where(d.c.id.in_(list(ids)))
    ).all()
    return {r[0]: Stream(r[0], r[1], r[2], r[3]) for r in rows}


def _open_alerts(
    conn: Connection, rule_ids: list[int], subjects: list[str]
) -> dict[tuple[int, str], int]:
    """Unresolved alerts of these rules about these subjects, by (rule id, subject)."""
    a = t.alerts
    rows = conn.execute(
        select(a.c.rule_id, a.c.subject, a.c.id).where(
            a.c.rule_id.in_(rule_ids), a.c.subject.in_(subjects), a.c.resolved_at.is_(None)
        )
    ).all()
    return {(r[0], r[1]): r[2] for r in rows}


def evaluate_rows(conn: Connection, rows: Sequence[Any], *, now: datetime | None = None) -> int:
    """Evaluate the enabled rules against freshly stored rows; returns alerts opened.

    ``rows`` are :class:`~urbanops.core.sensing.observations.ObservationRow` objects. Only
    numeric results are evaluated.
    """
    cache = RULES.refresh(conn)
    if not cache.rules:
        return 0
    now = now or datetime.now(UTC)
    by_stream: dict[int, list[Any]] = {}
    for r in rows:
        by_stream.setdefault(r.datastream_id, []).append(r)
    streams = _streams(conn, list(by_stream))
    zones = ZONES.get(conn) if cache.uses_zones else None
    opened = _evaluate_streams(conn, cache, streams, by_stream, zones, now)
    if cache.aggregates:
        opened += _evaluate_aggregates(conn, cache, streams, zones, now)
    return opened


def _evaluate_streams(
    conn: Connection,
    cache: RuleCache,
    streams: dict[int, Stream],
    by_stream: dict[int, list[Any]],
    zones: ZoneIndex | None,
    now: datetime,
) -> int:
    pairs = [(rule, s) for s in streams.values() for rule in cache.for_stream(s, zones)]
    if not pairs:
        return 0
    open_ = _open_alerts(
        conn,
        sorted({p[0].id for p in pairs}),
        sorted({datastream_subject(p[1].id) for p in pairs}),
    )
    opened = 0
    for rule, s in pairs:
        key = (rule.id, datastream_subject(s.id))
        if rule.kind == "staleness":
            if key in open_:  # data arrived: the sensor is back
                _resolve(conn, open_[key], now, None, "data arrived")
            continue
        series = sorted(
            (
                r
                for r in by_stream[s.id]
                if r.result_kind == t.RESULT_NUMBER and r.result_number is not None
            ),
            key=lambda r: r.phenomenon_start,
        )
        if not series:
            continue
        if rule.kind == "threshold":
            p = rule.params
            for r in series:
                v = r.result_number
                raise_ = v > p["above"] if "above" in p else v < p["below"]
                clear = v < p["clear_below"] if "above" in p else v > p["clear_above"]
                if key not in open_ and raise_:
                    open_[key] = _open(conn, rule, s, r, now)
                    opened += 1
                elif key in open_ and clear:
                    _resolve(conn, open_.pop(key), now, v, "value back to normal")
            continue
        last = series[-1]
        holds = _condition(conn, rule, s, last)
        if holds and key not in open_:
            open_[key] = _open(conn, rule, s, last, now)
            opened += 1
        elif not holds and key in open_:
            _resolve(conn, open_.pop(key), now, last.result_number, "condition ended")
    return opened


def _aggregate_subjects(
    rule: Rule, streams: list[Stream], zones: ZoneIndex | None
) -> set[int | None]:
    """Zones (None: the whole city) whose aggregate the written ``streams`` may have changed."""
    sc = rule.scope
    if "zone" in sc:
        zid = int(sc["zone"])
        hit = zones is not None and any(zid in zones.zones(s.id) for s in streams)
        return {zid} if hit else set()
    if "zone_kind" in sc:
        if zones is None:
            return set()
        return {
            z for s in streams for z in zones.zones(s.id) if zones.kind.get(z) == sc["zone_kind"]
        }
    return {None}


def _members(zone_id: int | None, zones: ZoneIndex | None) -> list[int] | None:
    """Datastream ids an aggregate covers; None means every datastream of the property."""
    if zone_id is None:
        return None
    return [] if zones is None else zones.members.get(zone_id, [])


def aggregate_value(
    conn: Connection, rule: Rule, members: list[int] | None
) -> tuple[float, int] | None:
    """The rule's statistic over the latest readings of its datastreams, and how many counted.

    Only numeric latest results reported within ``window_s`` of the newest one count; None when
    fewer than ``min_count`` do.
    """
    d, op = t.datastreams, t.observed_properties
    stmt = (
        select(d.c.last_observation_time, d.c.last_value_json)
        .join(op, op.c.id == d.c.observed_property_id)
        .where(op.c.name == rule.scope["observed_property"], d.c.last_value_json.is_not(None))
    )
    latest: list[tuple[datetime, float]] = []
    parts: list[list[int] | None] = [None]
    if members is not None:
        parts = [members[i : i + 900] for i in range(0, len(members), 900)]
    for part in parts:
        q = stmt if part is None else stmt.where(d.c.id.in_(part))
        for when, value_json in conn.execute(q):
            result = orjson.loads("{" + value_json + "}").get("result")
            if isinstance(result, int | float) and not isinstance(result, bool) and when:
                latest.append((when, float(result)))
    if not latest:
        return None
    newest = max(w for w, _ in latest)
    window = timedelta(seconds=float(rule.params["window_s"]))
    values = sorted(v for w, v in latest if newest - w <= window)
    if len(values) < int(rule.params["min_count"]):
        return None
    stat = rule.params["statistic"]
    if stat == "mean":
        value = sum(values) / len(values)
    elif stat == "median":
        mid = len(values) // 2
        value = values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2
    elif stat == "min":
        value = values[0]
    else:
        value = values[-1]
    return value, len(values)


def _evaluate_aggregates(
    conn: Connection,
    cache: RuleCache,
    streams: dict[int, Stream],
    zones: ZoneIndex | None,
    now: datetime,
) -> int:
    """Re-evaluate the aggregates the batch touched: one value and one alert per zone."""
    by_property: dict[str, list[Stream]] = {}
    for s in streams.values():
        by_property.setdefault(s.observed_property, []).append(s)
    todo = [
        (rule, zid)
        for prop, written in by_property.items()
        for rule in cache.aggregates.get(prop, [])
        for zid in _aggregate_subjects(rule, written, zones)
    ]
    if not todo:
        return 0
    open_ = _open_alerts(
        conn, sorted({r.id for r, _ in todo}), sorted({zone_subject(z) for _, z in todo})
    )
    opened = 0
    for rule, zid in todo:
        key = (rule.id, zone_subject(zid))
        got = aggregate_value(conn, rule, _members(zid, zones))
        if got is None:
            continue
        value, count = got
        p = rule.params
        raise_ = value > p["above"] if "above" in p else value < p["below"]
        clear = value < p["clear_below"] if "above" in p else value > p["clear_above"]
        if key not in open_ and raise_:
            zone_name = "the city" if zid is None or zones is None else zones.name.get(zid, "")
            fields = {
                "rule": rule.name,
                "value": f"{value:.4g}",
                "zone": zone_name,
                "zone_id": "" if zid is None else zid,
                "count": count,
                "statistic": p["statistic"],
                "observed_property": rule.scope["observed_property"],
                "severity": rule.severity,
                "datastream": "",
                "datastream_id": "",
                "thing_id": "",
            }
            open_[key] = _insert_alert(
                conn,
                rule,
                subject=key[1],
                datastream_id=None,
                zone_id=zid,
                value=value,
                observed_at=None,
                message=render_message(rule.message, fields),
                now=now,
            )
            opened += 1
        elif key in open_ and clear:
            _resolve(conn, open_.pop(key), now, value, "aggregate back to normal")
    return opened


def _condition(conn: Connection, rule: Rule, s: Stream, r: Any) -> bool:
    """Duration and rate conditions at reading ``r``, looking back in the stored series."""
    o, p, v = t.observations, rule.params, r.result_number
    if rule.kind == "duration":
        above = "above" in p
        if (v <= p["above"]) if above else (v >= p["below"]):
            return False
        broken = (o.c.result_number <= p["above"]) if above else (o.c.result_number >= p["below"])
        last_false = conn.execute(
            select(o.c.phenomenon_time_start)
            .where(
                o.c.datastream_id == s.id,
                o.c.phenomenon_time_start <= r.phenomenon_start,
                or_(broken, o.c.result_number.is_(None)),
            )
            .order_by(o.c.phenomenon_time_start.desc())
            .limit(1)
        ).scalar()
        run = select(func.min(o.c.phenomenon_time_start)).where(o.c.datastream_id == s.id)
        if last_false is not None:
            run = run.where(o.c.phenomenon_time_start > last_false)
        start = conn.execute(run).scalar()
        return start is not None and (r.phenomenon_start - start).total_seconds() >= p["for_s"]
    # rate
    window = r.phenomenon_start - timedelta(seconds=p["within_s"])
    agg = func.min if "rise" in p else func.max
    ref = conn.execute(
        select(agg(o.c.result_number)).where(
            o.c.datastream_id == s.id,
            o.c.phenomenon_time_start >= window,
            o.c.phenomenon_time_start <= r.phenomenon_start,
        )
    ).scalar()
    if ref is None:
        return False
    return (v - ref > p["rise"]) if "rise" in p else (ref - v > p["fall"])


def _open(conn: Connection, rule: Rule, s: Stream, r: Any, now: datetime) -> int:
    value = None if r is None else r.result_number
    message = render_message(
        rule.message,
        {
            "rule": rule.name,
            "value": "n/a" if value is None else f"{value:g}",
            "datastream": s.name,
            "datastream_id": s.id,
            "thing_id": s.thing_id,
            "severity": rule.severity,
            "observed_property": s.observed_property,
        },
    )
    return _insert_alert(
        conn,
        rule,
        subject=datastream_subject(s.id),
        datastream_id=s.id,
        zone_id=None,
        value=value,
        observed_at=None if r is None else r.phenomenon_start,
        message=message,
        now=now,
    )


def _insert_alert(
    conn: Connection,
    rule: Rule,
    *,
    subject: str,
    datastream_id: int | None,
    zone_id: int | None,
    value: float | None,
    observed_at: datetime | None,
    message: str,
    now: datetime,
) -> int:
    alert_id = int(
        conn.execute(
            insert(t.alerts)
            .values(
                rule_id=rule.id,
                subject=subject,
                datastream_id=datastream_id,
                zone_id=zone_id,
                state=OPEN,
                severity=rule.severity,
                message=message,
                value=value,
                observed_at=observed_at,
                opened_at=now,
            )
            .returning(t.alerts.c.id)
        ).scalar_one()
    )
    conn.execute(
        insert(t.alert_events).values(
            alert_id=alert_id, at=now, action="opened", value=value, note=message
        )
    )
    return alert_id


def _resolve(
    conn: Connection,
    alert_id: int,
    now: datetime,
    value: float | None,
    note: str,
    by_key_id: int | None = None,
) -> None:
    conn.execute(
        update(t.alerts).where(t.alerts.c.id == alert_id).values(state=RESOLVED, resolved_at=now)
    )
    conn.execute(
        insert(t.alert_events).values(
            alert_id=alert_id,
            at=now,
            action="resolved",
            value=value,
            note=note,
            by_key_id=by_key_id,
        )
    )


def evaluate_staleness(conn: Connection, *, now: datetime | None = None) -> int:
    """Open an alert for every datastream in a staleness rule's scope with no recent reading."""
    now = now or datetime.now(UTC)
    rules = [r for r in RULES.get(conn) if r.kind == "staleness"]
    opened = 0
    d, op = t.datastreams, t.observed_properties
    zones = ZONES.get(conn) if any(r.uses_zones for r in rules) else None
    for rule in rules:
        cutoff = now - timedelta(seconds=rule.params["max_age_s"])
        stmt = (
            select(d.c.id, d.c.name, d.c.thing_id, op.c.name)
            .join(op, op.c.id == d.c.observed_property_id)
            .where(or_(d.c.last_observation_time.is_(None), d.c.last_observation_time < cutoff))
        )
        sc = rule.scope
        if "datastream" in sc:
            stmt = stmt.where(d.c.id == int(sc["datastream"]))
        if "thing" in sc:
            stmt = stmt.where(d.c.thing_id == int(sc["thing"]))
        if "observed_property" in sc:
            stmt = stmt.where(op.c.name == sc["observed_property"])
        stale = [Stream(*row) for row in conn.execute(stmt)]
        stale = [s for s in stale if rule.matches(s, zones)]
        if not stale:
            continue
        open_ = _open_alerts(conn, [rule.id], [datastream_subject(s.id) for s in stale])
        for s in stale:
            if (rule.id, datastream_subject(s.id)) not in open_:
                _open(conn, rule, s, None, now)
                opened += 1
    return opened


def alert_events_after(cursor: int) -> Any:
    """Alert lifecycle events after ``cursor`` (an ``alert_events`` id) with their alert, oldest
    first: what the live feed and the webhooks send."""
    e, a = t.alert_events, t.alerts
    return (
        select(
            e.c.id,
            e.c.at,
            e.c.action,
            e.c.value,
            e.c.note,
            a.c.id.label("alert_id"),
            a.c.rule_id,
            a.c.subject,
            a.c.datastream_id,
            a.c.zone_id,
            a.c.severity,
            a.c.state,
            a.c.message,
        )
        .join(a, a.c.id == e.c.alert_id)
        .where(e.c.id > cursor)
        .order_by(e.c.id)
    )


def alert_event_public(row: Any) -> dict[str, Any]:
    """One row of :func:`alert_events_after` as the feed and the webhooks show it."""
    return {
        "alert_id": row.alert_id,
        "rule_id": row.rule_id,
        "subject": row.subject,
        "datastream_id": row.datastream_id,
        "zone_id": row.zone_id,
        "severity": row.severity,
        "state": row.state,
        "message": row.message,
        "value": row.value,
        "note": row.note,
        "at": format_time(row.at),
    }


def alert_public(row: Any) -> dict[str, Any]:
    """An alert row as the API shows it."""
    return {
        "id": row.id,
        "rule_id": row.rule_id,
        "subject": row.subject,
        "datastream_id": row.datastream_id,
        "zone_id": row.zone_id,
        "state": row.state,
        "severity": row.severity,
        "message": row.message,
        "value": row.value,
        "observed_at": format_optional(row.observed_at),
        "opened_at": format_time(row.opened_at),
        "acknowledged_at": format_optional(row.acknowledged_at),
        "resolved_at": format_optional(row.resolved_at),
    }


def list_alerts(
    conn: Connection,
    *,
    state: str | None = None,
    severity: str | None = None,
    rule_id: int | None = None,
    datastream_id: int | None = None,
    zone_id: int | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[dict[str, Any]]:
    """Alerts, newest first; ``state="active"`` means open or acknowledged."""
    a = t.alerts
    stmt = select(a).order_by(a.c.id.desc()).limit(limit)
    if state == "active":
        stmt = stmt.where(a.c.resolved_at.is_(None))
    elif state is not None:
        stmt = stmt.where(a.c.state == state)
    for column, value in (
        (a.c.severity, severity),
        (a.c.rule_id, rule_id),
        (a.c.datastream_id, datastream_id),
        (a.c.zone_id, zone_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if before_id is not None:
        stmt = stmt.where(a.c.id < before_id)
    return [alert_public(r) for r in conn.execute(stmt)]


def alert_with_history(conn: Connection, alert_id: int) -> dict[str, Any]:
    """One alert and every step of its lifecycle."""
    row = conn.execute(select(t.alerts).where(t.alerts.c.id == alert_id)).first()
    if row is None:
        raise NotFoundError(f"alert {alert_id} does not exist")
    e = t.alert_events
    history = [
        {
            "at": format_time(h.at),
            "action": h.action,
            "value": h.value,
            "note": h.note,
            "by_key_id": h.by_key_id,
        }
        for h in conn.execute(select(e).where(e.c.alert_id == alert_id).order_by(e.c.id))
    ]
    return {**alert_public(row), "history": history}


def acknowledge(
    conn: Connection, alert_id: int, *, by_key_id: int | None, note: str | None = None
) -> None:
    """An operator takes the alert in hand."""
    a = t.alerts
    state = conn.execute(select(a.c.state).where(a.c.id == alert_id)).scalar()
    if state is None:
        raise NotFoundError(f"alert {alert_id} does not exist")
    if state != OPEN:
        raise ConflictError(f"alert {alert_id} is {state}, not open")
    now = datetime.now(UTC)
    conn.execute(
        update(a).where(and_(a.c.id == alert_id)).values(state=ACKNOWLEDGED, acknowledged_at=now)
    )
    conn.execute(
        insert(t.alert_events).values(
            alert_id=alert_id, at=now, action="acknowledged", note=note, by_key_id=by_key_id
        )
    )


def resolve(
    conn: Connection, alert_id: int, *, by_key_id: int | None, note: str | None = None
) -> None:
    """An operator closes the alert by hand."""
    state = conn.execute(select(t.alerts.c.state).where(t.alerts.c.id == alert_id)).scalar()
    if state is None:
        raise NotFoundError(f"alert {alert_id} does not exist")
    if state == RESOLVED:
        raise ConflictError(f"alert {alert_id} is already resolved")
    _resolve(conn, alert_id, datetime.now(UTC), None, note or "resolved by hand", by_key_id)

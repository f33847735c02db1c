"""Live dispatch: cabs report positions and states, riders request rides, batches match them.

The request's life: ``requested -> matched -> arriving -> on_board -> completed``, or
``cancelled`` (by the rider before the pickup). A match is binding: the cab cannot refuse,
only *decline with a reason* (:data:`DECLINE_REASONS`), which is logged, counted and sends the
request back to ``requested`` with priority, dispatched again in the next batch. A cab's state
follows: ``offline``, ``idle``, ``en_route`` (to a pickup), ``occupied``.

Every change is one transaction guarded by the row's current state (and the cab's
``version``): a transition that is not allowed from the current state, or that lost a race to
another change, is refused with :class:`~urbanops.errors.ConflictError` (HTTP 409) and nothing
is applied.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, and_, func, insert, select, update

from urbanops.core.timeutil import format_optional, format_time, parse_instant
from urbanops.domains.taxi.dispatch import Candidates, DispatchOptions, candidates, match_batch
from urbanops.domains.taxi.eta import EtaModel
from urbanops.domains.taxi.tables import taxi_events, taxi_requests, taxi_vehicles
from urbanops.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    UnavailableError,
    ValidationError,
)
from urbanops.settings import Settings

DECLINE_REASONS = ("vehicle_fault", "rider_no_show", "safety")
VEHICLE_STATES = ("offline", "idle", "en_route", "occupied")
#: Positions older than this do not count: the cab is not offered to riders.
POSITION_FRESH_S = 300.0
#: Largest batch read per dispatch round.
MAX_OPEN_REQUESTS = 20_000

# Request transitions a cab or a rider may ask for: action -> (allowed from, to)
_FLOW: dict[str, tuple[tuple[str, ...], str]] = {
    "arriving": (("matched",), "arriving"),
    "on_board": (("matched", "arriving"), "on_board"),
    "complete": (("on_board",), "completed"),
    "cancel": (("requested", "matched", "arriving"), "cancelled"),
    "decline": (("matched", "arriving"), "requested"),
}


# ------------------------------------------------------------------------ the road network
_models: dict[tuple[str, float], EtaModel] = {}
_models_lock = threading.Lock()


def network_path(settings: Settings) -> Path | None:
    """The configured road network: ``URBANOPS_TAXI_NETWORK``, else
    ``<data_dir>/taxi/network.graphml`` when present (the demo city writes one)."""
    if settings.taxi_network is not None:
        return Path(settings.taxi_network)
    default = settings.data_dir / "taxi" / "network.graphml"
    return default if default.is_file() else None


def get_model(settings: Settings) -> EtaModel:
    """The ETA model of the configured network, built once per file version (thread-safe)."""
    from urbanops.domains.taxi.network import read_network

    path = network_path(settings)
    if path is None or not path.is_file():
        raise UnavailableError(
            "taxi dispatch needs a road network: set URBANOPS_TAXI_NETWORK to an .osm.pbf, "
            ".osm or .graphml file (or run `urbanops demo load`)"
        )
    key = (str(path.resolve()), path.stat().st_mtime)
    with _models_lock:
        model = _models.get(key)
        if model is None:
            model = EtaModel.build(
                read_network(path), cache_dir=settings.data_dir / "cache" / "taxi"
            )
            _models.clear()
            _models[key] = model
    return model


# ------------------------------------------------------------------------ validation
def _lonlat(value: Any, name: str) -> tuple[float, float]:
    if isinstance(value, dict):
        value = [value.get("lon"), value.get("lat")]
    if (
        not isinstance(value, list | tuple)
        or len(value) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        raise ValidationError(f"{name}: expected {{'lon': x, 'lat': y}} or [lon, lat]", field=name)
    lon, lat = float(value[0]), float(value[1])
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValidationError(f"{name}: ({lon}, {lat}) is not a lon/lat", field=name)
    return lon, lat


def _vehicle_id(value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 64 or not value.isprintable():
        raise ValidationError("id: 1-64 printable characters", field="id")
    return value


def _bool(body: dict[str, Any], name: str, default: bool = False) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise ValidationError(f"{name}: true or false", field=name)
    return value


def _int(body: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = body.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValidationError(f"{name}: an integer {low}-{high}", field=name)
    return value


def _now() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------------ cabs
def upsert_vehicle(conn: Connection, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Register a cab or update its equipment (``accessible``, ``capacity``, ``thing_id``)."""
    allowed = {"id", "accessible", "capacity", "thing_id"}
    extra = set(body) - allowed
    if extra:
        raise ValidationError(f"unknown field(s) {sorted(extra)}; allowed: {sorted(allowed)}")
    vid = _vehicle_id(body.get("id"))
    values: dict[str, Any] = {
        "accessible": _bool(body, "accessible"),
        "capacity": _int(body, "capacity", 4, 1, 8),
    }
    thing = body.get("thing_id")
    if thing is not None:
        values["thing_id"] = _int(body, "thing_id", 0, 1, 2**31 - 1)
    now = _now()
    existing = conn.execute(select(taxi_vehicles.c.id).where(taxi_vehicles.c.id == vid)).first()
    from sqlalchemy.exc import IntegrityError

    try:
        with conn.begin_nested():
            if existing:
                conn.execute(
                    update(taxi_vehicles)
                    .where(taxi_vehicles.c.id == vid)
                    .values(**values, updated_at=now, version=taxi_vehicles.c.version + 1)
                )
            else:
                conn.execute(
                    insert(taxi_vehicles).values(
                        id=vid, state="offline", version=1, updated_at=now, **values
                    )
                )
    except IntegrityError:
        raise ConflictError(
            "thing_id: no such Thing, or it already belongs to another cab", field="thing_id"
        ) from None
    return vehicle_view(conn, vid), existing is None


def _vehicle(conn: Connection, vid: str) -> Any:
    row = conn.execute(select(taxi_vehicles).where(taxi_vehicles.c.id == vid)).first()
    if row is None:
        raise NotFoundError(f"no cab {vid!r}")
    return row


def check_vehicle_access(conn: Connection, vid: str, principal: Any) -> Any:
    """The cab's row if ``principal`` may act for it: its own device key, or an operator."""
    row = _vehicle(conn, vid)
    if principal.can_write_entities:
        return row
    if principal.role == "device" and principal.thing_id is not None:
        if row.thing_id == principal.thing_id:
            return row
        raise PermissionDeniedError(f"this device key belongs to another cab, not {vid!r}")
    raise PermissionDeniedError(f"a {principal.role} key cannot act for cab {vid!r}")


def _bump(conn: Connection, row: Any, **values: Any) -> None:
    """Update a cab if nobody changed it since ``row`` was read, else 409."""
    done = conn.execute(
        update(taxi_vehicles)
        .where(and_(taxi_vehicles.c.id == row.id, taxi_vehicles.c.version == row.version))
        .values(**values, version=row.version + 1, updated_at=_now())
    )
    if done.rowcount != 1:
        raise ConflictError(f"cab {row.id!r} changed meanwhile; read it again and retry")


def report_position(
    conn: Connection,
    row: Any,
    body: dict[str, Any],
    model: EtaModel,
    *,
    max_future_skew_s: float,
) -> dict[str, Any]:
    """Store a cab's position ``{"lon", "lat", "time"?}`` after checking it is on a road.

    A time in the future beyond ``max_future_skew_s`` (a wrong clock) is refused with 400; a
    time older than the stored position is refused with 409 (it would move the cab back).
    """
    extra = set(body) - {"lon", "lat", "time", "heading"}
    if extra:
        raise ValidationError(f"unknown field(s) {sorted(extra)}")
    lon, lat = _lonlat([body.get("lon"), body.get("lat")], "position")
    model.snap(lon, lat, what="position")
    now = _now()
    at = now
    if body.get("time") is not None:
        at = parse_instant(body["time"], field="time")
        if at > now + timedelta(seconds=max_future_skew_s):
            raise ValidationError(
                f"time {format_time(at)} is {(at - now).total_seconds():.0f} s ahead of the "
                "server clock: fix the device clock",
                field="time",
            )
        if at < now - timedelta(days=1):
            raise ValidationError("time: more than a day old", field="time")
    if row.position_at is not None and at < row.position_at:
        raise ConflictError(
            f"time {format_time(at)} is older than the stored position "
            f"({format_time(row.position_at)})"
        )
    _bump(conn, row, lon=lon, lat=lat, position_at=at)
    return vehicle_view(conn, row.id)


def set_vehicle_state(conn: Connection, row: Any, body: dict[str, Any]) -> dict[str, Any]:
    """Go on duty (``{"state": "idle"}``) or off duty (``"offline"``).

    The other states follow the ride (a match, a pickup, a drop-off); a cab on a ride cannot
    go idle or offline without completing or declining it first.
    """
    if set(body) != {"state"}:
        raise ValidationError('expected exactly {"state": "idle" | "offline"}')
    state = body["state"]
    if state not in ("idle", "offline"):
        raise ValidationError(
            f"state: 'idle' or 'offline' (got {state!r}); the others follow the ride",
            field="state",
        )
    if row.state in ("en_route", "occupied"):
        raise ConflictError(
            f"cab {row.id!r} is {row.state} on request {row.request_id}: complete or decline it "
            "first"
        )
    if state == row.state:
        return vehicle_view(conn, row.id)
    if state == "idle" and row.position_at is None:
        raise ConflictError("report a position before going on duty")
    now = _now()
    _bump(conn, row, state=state, idle_since=now if state == "idle" else None)
    conn.execute(insert(taxi_events).values(at=now, kind=f"state_{state}", vehicle_id=row.id))
    return vehicle_view(conn, row.id)


def list_vehicles(conn: Connection, state: str | None = None) -> list[dict[str, Any]]:
    """Every cab (optionally in one state) with its ride, in two queries."""
    query = select(taxi_vehicles).order_by(taxi_vehicles.c.id).limit(100_000)
    if state is not None:
        query = query.where(taxi_vehicles.c.state == state)
    rows = list(conn.execute(query))
    ids = [r.request_id for r in rows if r.request_id is not None]
    rides: dict[int, Any] = {}
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        for req in conn.execute(select(taxi_requests).where(taxi_requests.c.id.in_(chunk))):
            rides[req.id] = req
    return [_vehicle_dict(r, rides.get(r.request_id)) for r in rows]


def _point(lon: float, lat: float, **properties: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": properties,
    }


def map_geojson(conn: Connection) -> dict[str, Any]:
    """Cabs on duty (by state) and riders waiting for or meeting a cab, as GeoJSON points."""
    cabs = select(taxi_vehicles).where(
        taxi_vehicles.c.state != "offline", taxi_vehicles.c.lon.is_not(None)
    )
    features = [
        _point(v.lon, v.lat, kind="vehicle", id=v.id, state=v.state, accessible=v.accessible,
               position_at=format_optional(v.position_at))
        for v in conn.execute(cabs.order_by(taxi_vehicles.c.id).limit(100_000))
    ]  # fmt: skip
    waiting = select(taxi_requests).where(
        taxi_requests.c.status.in_(("requested", "matched", "arriving"))
    )
    features += [
        _point(r.pickup_lon, r.pickup_lat, kind="request", id=r.id, state=r.status,
               priority=r.priority, wheelchair=r.wheelchair, vehicle_id=r.vehicle_id,
               requested_at=format_time(r.requested_at))
        for r in conn.execute(waiting.order_by(taxi_requests.c.id).limit(100_000))
    ]  # fmt: skip
    return {"type": "FeatureCollection", "features": features}


def _vehicle_dict(row: Any, req: Any | None) -> dict[str, Any]:
    return {
        "id": row.id,
        "state": row.state,
        "accessible": row.accessible,
        "capacity": row.capacity,
        "thing_id": row.thing_id,
        "position": None if row.lon is None else {"lon": row.lon, "lat": row.lat},
        "position_at": format_optional(row.position_at),
        "request": None if req is None else _request_dict(req),
    }


def vehicle_view(conn: Connection, vid: str, model: EtaModel | None = None) -> dict[str, Any]:
    """The driver's view: state, position and the ride in hand (with the pickup ETA)."""
    row = _vehicle(conn, vid)
    req = None
    if row.request_id is not None:
        req = conn.execute(
            select(taxi_requests).where(taxi_requests.c.id == row.request_id)
        ).first()
    view = _vehicle_dict(row, req)
    if req is not None and model is not None and req.status in ("matched", "arriving"):
        view["request"]["eta_s"] = _eta_to_pickup(model, row, req)
    return view


# ------------------------------------------------------------------------ requests
def _request_dict(req: Any) -> dict[str, Any]:
    return {
        "id": req.id,
        "rider": req.rider,
        "status": req.status,
        "pickup": {"lon": req.pickup_lon, "lat": req.pickup_lat},
        "dropoff": {"lon": req.dropoff_lon, "lat": req.dropoff_lat},
        "party_size": req.party_size,
        "wheelchair": req.wheelchair,
        "priority": req.priority,
        "vehicle_id": req.vehicle_id,
        "eta_s": req.eta_s,
        "declines": req.declines,
        "requested_at": format_optional(req.requested_at),
        "matched_at": format_optional(req.matched_at),
        "picked_up_at": format_optional(req.picked_up_at),
        "finished_at": format_optional(req.finished_at),
    }


def _eta_to_pickup(model: EtaModel, cab: Any, req: Any) -> float | None:
    if cab.lon is None:
        return None
    a = model.snap(cab.lon, cab.lat, max_distance_m=1e9)
    b = model.snap(req.pickup_lon, req.pickup_lat, max_distance_m=1e9)
    eta = float(model.pair_time_s(a, b)[0])
    return round(eta, 0) if math.isfinite(eta) else None


def create_request(
    conn: Connection,
    body: dict[str, Any],
    model: EtaModel,
    *,
    key_id: int | None,
    idempotency_key: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """Store a ride request after checking both ends lie on the network and differ.

    Re-sending with the same ``Idempotency-Key`` returns the stored request (``False``).
    """
    if idempotency_key is not None:
        found = conn.execute(
            select(taxi_requests).where(taxi_requests.c.idempotency_key == idempotency_key)
        ).first()
        if found is not None:
            return _request_dict(found), False
    allowed = {"rider", "pickup", "dropoff", "party_size", "wheelchair", "priority"}
    extra = set(body) - allowed
    if extra:
        raise ValidationError(f"unknown field(s) {sorted(extra)}; allowed: {sorted(allowed)}")
    rider = body.get("rider", "anonymous")
    if not isinstance(rider, str) or not 1 <= len(rider) <= 64 or not rider.isprintable():
        raise ValidationError("rider: 1-64 printable characters", field="rider")
    pickup = _lonlat(body.get("pickup"), "pickup")
    dropoff = _lonlat(body.get("dropoff"), "dropoff")
    nodes = [
        int(model.snap(*pickup, what="pickup")[0]),
        int(model.snap(*dropoff, what="dropoff")[0]),
    ]
    if pickup == dropoff or nodes[0] == nodes[1]:
        raise ValidationError("pickup and drop-off are the same place", field="dropoff")
    now = _now()
    rid = conn.execute(
        insert(taxi_requests)
        .values(
            rider=rider,
            pickup_lon=pickup[0],
            pickup_lat=pickup[1],
            dropoff_lon=dropoff[0],
            dropoff_lat=dropoff[1],
            party_size=_int(body, "party_size", 1, 1, 8),
            wheelchair=_bool(body, "wheelchair"),
            priority=_bool(body, "priority"),
            status="requested",
            declines=0,
            requested_at=now,
            idempotency_key=idempotency_key,
            key_id=key_id,
        )
        .returning(taxi_requests.c.id)
    ).scalar_one()
    return request_view(conn, rid, model), True


def request_view(conn: Connection, rid: int, model: EtaModel | None = None) -> dict[str, Any]:
    """The rider's view: status, the cab and its position, and an ETA.

    Before a match the ETA is that of the nearest free cab able to take the ride (an estimate:
    the next batch may give that cab to someone else); after, that of the assigned cab.
    """
    req = conn.execute(select(taxi_requests).where(taxi_requests.c.id == rid)).first()
    if req is None:
        raise NotFoundError(f"no request {rid}")
    view = _request_dict(req)
    view["vehicle"] = None
    if req.vehicle_id is not None:
        cab = conn.execute(
            select(taxi_vehicles).where(taxi_vehicles.c.id == req.vehicle_id)
        ).first()
        if cab is not None:
            view["vehicle"] = {
                "id": cab.id,
                "position": None if cab.lon is None else {"lon": cab.lon, "lat": cab.lat},
                "position_at": format_optional(cab.position_at),
                "accessible": cab.accessible,
            }
            if model is not None and req.status in ("matched", "arriving"):
                view["eta_s"] = _eta_to_pickup(model, cab, req)
    elif model is not None and req.status == "requested":
        view["eta_s"] = _estimate(conn, model, req)
    return view


def _idle_cabs(conn: Connection, now: datetime, limit: int | None = None) -> list[Any]:
    query = select(taxi_vehicles).where(
        taxi_vehicles.c.state == "idle",
        taxi_vehicles.c.position_at >= now - timedelta(seconds=POSITION_FRESH_S),
    )
    if limit is not None:
        query = query.limit(limit)
    return list(conn.execute(query))


def _estimate(conn: Connection, model: EtaModel, req: Any) -> float | None:
    cabs = _idle_cabs(conn, _now())
    if not cabs:
        return None
    cand = candidates(
        model,
        model.snap(req.pickup_lon, req.pickup_lat, max_distance_m=1e9),
        model.snap([c.lon for c in cabs], [c.lat for c in cabs], max_distance_m=1e9),
        options=DispatchOptions(k=1),
        req_wheelchair=np.array([req.wheelchair]),
        req_party=np.array([req.party_size]),
        veh_accessible=np.array([c.accessible for c in cabs]),
        veh_capacity=np.array([c.capacity for c in cabs]),
    )
    return round(float(cand.eta_s.min()), 0) if cand.eta_s.size else None


def transition(
    conn: Connection,
    rid: int,
    action: str,
    principal: Any,
    *,
    reason: str | None = None,
) -> dict[str, Any]:
    """Apply a rider's or a cab's action to a request, or refuse it with 409.

    ``cancel`` is the rider's (an operator key); ``arriving``, ``on_board``, ``complete`` and
    ``decline`` (with ``reason``) are the assigned cab's (its device key) or an operator's.
    """
    if action not in _FLOW:
        raise ValidationError(f"unknown action {action!r}")
    allowed_from, to = _FLOW[action]
    req = conn.execute(select(taxi_requests).where(taxi_requests.c.id == rid)).first()
    if req is None:
        raise NotFoundError(f"no request {rid}")
    cab = None
    if action == "cancel":
        if not principal.can_write_entities:
            raise PermissionDeniedError(f"a {principal.role} key cannot cancel a ride")
        if req.vehicle_id is not None:
            cab = _vehicle(conn, req.vehicle_id)
    else:
        if req.vehicle_id is None:
            raise ConflictError(f"request {rid} is {req.status}: no cab assigned")
        cab = check_vehicle_access(conn, req.vehicle_id, principal)
    if action == "decline":
        if reason not in DECLINE_REASONS:
            raise ValidationError(
                f"reason: one of {', '.join(DECLINE_REASONS)} (a match is binding)", field="reason"
            )
    elif reason is not None:
        raise ValidationError("reason is only given with decline", field="reason")
    if req.status not in allowed_from:
        raise ConflictError(
            f"request {rid} is {req.status}; {action} needs {' or '.join(allowed_from)}"
        )
    now = _now()
    values: dict[str, Any] = {"status": to}
    if action == "on_board":
        values["picked_up_at"] = now
    if action in ("complete", "cancel"):
        values["finished_at"] = now
    if action == "decline":
        values.update(
            vehicle_id=None, eta_s=None, matched_at=None, priority=True, declines=req.declines + 1
        )
    done = conn.execute(
        update(taxi_requests)
        .where(taxi_requests.c.id == rid, taxi_requests.c.status == req.status)
        .values(**values)
    )
    if done.rowcount != 1:
        raise ConflictError(f"request {rid} changed meanwhile; read it again")
    if cab is not None:
        cab_values: dict[str, Any] = {}
        if action == "on_board":
            cab_values = {"state": "occupied"}
        elif action in ("complete", "cancel") or (
            action == "decline" and reason != "vehicle_fault"
        ):
            cab_values = {"state": "idle", "request_id": None, "idle_since": now}
        elif action == "decline":
            cab_values = {"state": "offline", "request_id": None, "idle_since": None}
        if cab_values:
            _bump(conn, cab, **cab_values)
    conn.execute(
        insert(taxi_events).values(
            at=now,
            kind="declined" if action == "decline" else to,
            request_id=rid,
            vehicle_id=req.vehicle_id,
            reason=reason,
            key_id=principal.key_id,
        )
    )
    return request_view(conn, rid)


def declines_summary(conn: Connection) -> dict[str, Any]:
    """Declines by reason code, and by cab (the cabs that decline most first)."""
    by_reason = dict(
        conn.execute(
            select(taxi_events.c.reason, func.count())
            .where(taxi_events.c.kind == "declined")
            .group_by(taxi_events.c.reason)
        ).all()
    )
    by_cab = conn.execute(
        select(taxi_events.c.vehicle_id, func.count().label("n"))
        .where(taxi_events.c.kind == "declined")
        .group_by(taxi_events.c.vehicle_id)
        .order_by(func.count().desc())
        .limit(100)
    ).all()
    return {
        "total": int(sum(by_reason.values())),
        "by_reason": {r: int(by_reason.get(r, 0)) for r in DECLINE_REASONS},
        "by_vehicle": [{"vehicle_id": v, "declines": int(n)} for v, n in by_cab],
    }


# ------------------------------------------------------------------------ the dispatcher
@dataclass
class RoundResult:
    """What one dispatch round did."""

    open_requests: int
    idle_cabs: int
    matched: int

    def as_dict(self) -> dict[str, int]:
        """JSON form."""
        return {
            "open_requests": self.open_requests,
            "idle_cabs": self.idle_cabs,
            "matched": self.matched,
        }


def dispatch_round(
    engine: Engine, model: EtaModel, options: DispatchOptions | None = None
) -> RoundResult:
    """Match every open request to the idle cabs with fresh positions, in one transaction.

    Each match moves the request to ``matched`` and the cab to ``en_route`` guarded by their
    current state and version, so a cab that went offline meanwhile is simply not used.
    """
    options = options or DispatchOptions()
    now = _now()
    with engine.begin() as conn:
        reqs = list(
            conn.execute(
                select(taxi_requests)
                .where(taxi_requests.c.status == "requested")
                .order_by(taxi_requests.c.id)
                .limit(MAX_OPEN_REQUESTS)
            )
        )
        cabs = _idle_cabs(conn, now)
        if not reqs or not cabs:
            return RoundResult(len(reqs), len(cabs), 0)
        req_node = model.snap(
            [r.pickup_lon for r in reqs], [r.pickup_lat for r in reqs], max_distance_m=1e9
        )
        cab_node = model.snap([c.lon for c in cabs], [c.lat for c in cabs], max_distance_m=1e9)
        cand = candidates(
            model,
            req_node,
            cab_node,
            options=options,
            req_wheelchair=np.array([r.wheelchair for r in reqs]),
            req_party=np.array([r.party_size for r in reqs]),
            veh_accessible=np.array([c.accessible for c in cabs]),
            veh_capacity=np.array([c.capacity for c in cabs]),
        )
        # A cab that declined a ride is never offered the same ride again.
        declined = {
            (int(a), str(b))
            for a, b in conn.execute(
                select(taxi_events.c.request_id, taxi_events.c.vehicle_id).where(
                    taxi_events.c.kind == "declined",
                    taxi_events.c.request_id.in_([r.id for r in reqs if r.declines]),
                )
            )
        }
        if declined:
            keep = np.array(
                [
                    (reqs[i].id, cabs[j].id) not in declined
                    for i, j in zip(cand.request.tolist(), cand.vehicle.tolist(), strict=True)
                ],
                dtype=bool,
            )
            cand = Candidates(cand.request[keep], cand.vehicle[keep], cand.eta_s[keep])
        idle_s = np.array(
            [(now - (c.idle_since or now)).total_seconds() for c in cabs], dtype=float
        )
        r_idx, v_idx, eta = match_batch(
            cand,
            len(reqs),
            len(cabs),
            options=options,
            req_priority=np.array([r.priority for r in reqs]),
            veh_idle_s=idle_s,
            req_waited_s=np.array([(now - r.requested_at).total_seconds() for r in reqs]),
        )
        matched = 0
        for i, j, e in zip(r_idx.tolist(), v_idx.tolist(), eta.tolist(), strict=True):
            req, cab = reqs[i], cabs[j]
            with conn.begin_nested() as nested:
                took = conn.execute(
                    update(taxi_vehicles)
                    .where(
                        taxi_vehicles.c.id == cab.id,
                        taxi_vehicles.c.version == cab.version,
                        taxi_vehicles.c.state == "idle",
                    )
                    .values(
                        state="en_route",
                        request_id=req.id,
                        version=cab.version + 1,
                        updated_at=now,
                    )
                ).rowcount
                got = conn.execute(
                    update(taxi_requests)
                    .where(taxi_requests.c.id == req.id, taxi_requests.c.status == "requested")
                    .values(status="matched", vehicle_id=cab.id, eta_s=round(e), matched_at=now)
                ).rowcount
                if took != 1 or got != 1:
                    nested.rollback()
                    continue
                conn.execute(
                    insert(taxi_events).values(
                        at=now, kind="matched", request_id=req.id, vehicle_id=cab.id, eta_s=round(e)
                    )
                )
                matched += 1
        return RoundResult(len(reqs), len(cabs), matched)


def tick(engine: Engine, settings: Settings) -> None:
    """The dispatcher's timer (``serve``): one round when a road network is configured."""
    if network_path(settings) is None:
        return
    dispatch_round(
        engine, get_model(settings), DispatchOptions(max_pickup_s=settings.taxi_max_pickup_s)
    )


def events_after(
    conn: Connection, vehicle_id: str, after_id: int, limit: int = 100
) -> list[tuple[int, str, dict[str, Any]]]:
    """A cab's events after ``after_id`` (its assignment stream), with the request inlined."""
    rows = conn.execute(
        select(taxi_events)
        .where(taxi_events.c.vehicle_id == vehicle_id, taxi_events.c.id > after_id)
        .order_by(taxi_events.c.id)
        .limit(limit)
    ).all()
    out = []
    for ev in rows:
        data: dict[str, Any] = {
            "at": format_optional(ev.at),
            "kind": ev.kind,
            "vehicle_id": ev.vehicle_id,
            "reason": ev.reason,
            "eta_s": ev.eta_s,
        }
        if ev.request_id is not None:
            req = conn.execute(
                select(taxi_requests).where(taxi_requests.c.id == ev.request_id)
            ).first()
            data["request"] = None if req is None else _request_dict(req)
        out.append((int(ev.id), str(ev.kind), data))
    return out


def last_event_id(conn: Connection) -> int:
    """The newest event id (a stream starts after it)."""
    return int(conn.execute(select(func.coalesce(func.max(taxi_events.c.id), 0))).scalar_one())

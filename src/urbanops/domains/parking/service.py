"""Parking use-cases: import/export of bays (NGSI-LD), availability, reservations.

Reservations are written so that two live reservations of a bay can never overlap, whatever
the concurrency: the database refuses the second (PostgreSQL exclusion constraint, SQLite
trigger under its single-writer lock), and the refusal becomes a 409 naming the reservation
in the way. A retried request with the same ``Idempotency-Key`` returns the first result.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from urbanops.domains.parking import windows as win
from urbanops.domains.parking.tables import parking_bays, parking_reservations, parking_sites
from urbanops.errors import ConflictError, NotFoundError, ValidationError

LIVE = ("reserved", "active")
DEFAULT_TARIFF_KRW = 600  # per 30 minutes, the Seoul district rate the issue names
DEFAULT_OWNER_SHARE_PCT = 50
MAX_RESERVATION = timedelta(days=7)
MAX_RADIUS_M = 10_000.0
EARTH_R_M = 6_371_008.8


# --- NGSI-LD -----------------------------------------------------------------------------------


def _value(entity: dict[str, Any], name: str) -> Any:
    """An attribute's value in normalized (``{"type": "Property", "value": ...}``,
    ``{"type": "Relationship", "object": ...}``) or keyValues form."""
    v = entity.get(name)
    if isinstance(v, dict) and v.get("type") in ("Property", "GeoProperty"):
        return v.get("value")
    if isinstance(v, dict) and v.get("type") == "Relationship":
        return v.get("object")
    return v


def _short_type(t: Any) -> str:
    return str(t).rsplit("/", 1)[-1].rsplit("#", 1)[-1]


def import_entities(conn: Connection, entities: Any) -> dict[str, int]:
    """Upsert ParkingSpot (bays) and OffStreetParking/OnStreetParking (sites) entities.

    All or nothing: the first bad entity raises, naming its index, and nothing is written
    (the caller's transaction rolls back).
    """
    if isinstance(entities, dict):
        entities = [entities]
    if not isinstance(entities, list):
        raise ValidationError("expected a JSON array of NGSI-LD entities")
    if len(entities) > 200_000:
        raise ValidationError(f"{len(entities)} entities; at most 200,000 at once")
    sites = bays = 0
    ordered = sorted(
        enumerate(entities), key=lambda ie: _short_type(ie[1].get("type")) == "ParkingSpot"
    )  # sites first, so bays can refer to them
    for i, e in ordered:
        if not isinstance(e, dict):
            raise ValidationError(f"entity {i}: not an object")
        eid, etype = e.get("id"), _short_type(e.get("type"))
        if not isinstance(eid, str) or not eid.strip() or len(eid) > 255:
            raise ValidationError(f"entity {i}: 'id' must be a non-empty string (<= 255)")
        loc = _value(e, "location")
        name = _value(e, "name") or eid
        if etype in ("OffStreetParking", "OnStreetParking", "ParkingGroup"):
            geom = json.dumps(loc) if isinstance(loc, dict) and "type" in loc else None
            _upsert(
                conn,
                parking_sites,
                eid,
                {
                    "name": str(name)[:255],
                    "kind": etype,
                    "geometry": geom,
                    "properties": {"ngsi_type": etype},
                },
            )
            sites += 1
        elif etype == "ParkingSpot":
            if not (isinstance(loc, dict) and loc.get("type") == "Point"):
                raise ValidationError(f"entity {i} ({eid}): a ParkingSpot needs a Point location")
            try:
                lon, lat = (float(c) for c in loc["coordinates"][:2])
            except (TypeError, ValueError, KeyError):
                raise ValidationError(f"entity {i} ({eid}): bad coordinates") from None
            if not (
                math.isfinite(lon) and math.isfinite(lat) and abs(lon) <= 180 and abs(lat) <= 90
            ):
                raise ValidationError(f"entity {i} ({eid}): coordinates out of range")
            tariff = _value(e, "tariffPer30Min")
            share = _value(e, "ownerSharePercent")
            tariff = DEFAULT_TARIFF_KRW if tariff is None else tariff
            share = DEFAULT_OWNER_SHARE_PCT if share is None else share
            if (
                not isinstance(tariff, int)
                or isinstance(tariff, bool)
                or not 0 <= tariff <= 1_000_000
            ):
                raise ValidationError(f"entity {i} ({eid}): tariffPer30Min must be whole KRW >= 0")
            if not isinstance(share, int) or isinstance(share, bool) or not 0 <= share <= 100:
                raise ValidationError(f"entity {i} ({eid}): ownerSharePercent must be 0-100")
            status = _value(e, "status") or "unknown"
            if status not in ("free", "occupied", "closed", "unknown"):
                raise ValidationError(
                    f"entity {i} ({eid}): status {status!r} is not free, occupied, closed "
                    "or unknown"
                )
            ds = _value(e, "occupancyDatastream")
            if ds is not None:
                if not isinstance(ds, int) or isinstance(ds, bool):
                    raise ValidationError(
                        f"entity {i} ({eid}): occupancyDatastream is a datastream id"
                    )
                from urbanops.storage import tables as core_tables

                if (
                    conn.execute(
                        select(core_tables.datastreams.c.id).where(
                            core_tables.datastreams.c.id == ds
                        )
                    ).first()
                    is None
                ):
                    raise ValidationError(f"entity {i} ({eid}): datastream {ds} does not exist")
            site = _value(e, "refParkingSite")
            if (
                site is not None
                and conn.execute(
                    select(parking_sites.c.id).where(parking_sites.c.id == str(site))
                ).first()
                is None
            ):
                site = None  # a site this file does not hold: keep the bay, drop the link
            _upsert(
                conn,
                parking_bays,
                eid,
                {
                    "site_id": site,
                    "name": str(name)[:255],
                    "lon": lon,
                    "lat": lat,
                    "owner": _value(e, "owner") if isinstance(_value(e, "owner"), str) else None,
                    "tariff_krw_per_30min": tariff,
                    "owner_share_pct": share,
                    "windows": win.check_windows(_value(e, "sharingWindows")),
                    "closed_dates": _dates(_value(e, "closedDates"), i),
                    "status": status,
                    "status_at": datetime.now(UTC),
                    "datastream_id": ds,
                    "properties": {"category": _value(e, "category")},
                },
            )
            bays += 1
        else:
            raise ValidationError(
                f"entity {i} ({eid}): type {e.get('type')!r} is not a parking entity"
            )
    return {"sites": sites, "bays": bays}


def _dates(value: Any, i: int) -> list[str] | None:
    if value is None:
        return None
    from datetime import date

    if not isinstance(value, list) or len(value) > 1000:
        raise ValidationError(f"entity {i}: closedDates must be a list of dates")
    try:
        return [date.fromisoformat(str(v)).isoformat() for v in value]
    except ValueError:
        raise ValidationError(f"entity {i}: closedDates must be ISO dates") from None


def _upsert(conn: Connection, table: Any, key: str, values: dict[str, Any]) -> None:
    if conn.execute(select(table.c.id).where(table.c.id == key)).first() is None:
        conn.execute(insert(table).values(id=key, **values))
    else:
        conn.execute(update(table).where(table.c.id == key).values(**values))


def bay_entity(row: Any, *, key_values: bool = False) -> dict[str, Any]:
    """A bay as a FIWARE ParkingSpot (NGSI-LD, normalized or keyValues)."""
    attrs: dict[str, Any] = {
        "name": row.name,
        "location": {"type": "Point", "coordinates": [row.lon, row.lat]},
        "status": row.status,
        "category": ["onStreet" if not row.site_id else "offStreet"],
        "tariffPer30Min": row.tariff_krw_per_30min,
        "ownerSharePercent": row.owner_share_pct,
    }
    if row.windows is not None:
        attrs["sharingWindows"] = row.windows
    if row.site_id:
        attrs["refParkingSite"] = row.site_id
    out: dict[str, Any] = {"id": row.id, "type": "ParkingSpot"}
    for k, v in attrs.items():
        if key_values:
            out[k] = v
        elif k == "location":
            out[k] = {"type": "GeoProperty", "value": v}
        elif k == "refParkingSite":
            out[k] = {"type": "Relationship", "object": v}
        else:
            out[k] = {"type": "Property", "value": v}
    out["@context"] = ["https://smartdatamodels.org/context.jsonld"]
    return out


def bays_geojson(conn: Connection) -> dict[str, Any]:
    """Every bay as a GeoJSON point with its status and tariff (the dashboard's layer)."""
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [b.lon, b.lat]},
            "properties": {
                "id": b.id,
                "name": b.name,
                "status": b.status,
                "site": b.site_id,
                "tariff_krw_per_30min": b.tariff_krw_per_30min,
                "datastream_id": b.datastream_id,  # its occupancy sensor, if it has one
            },
        }
        for b in conn.execute(select(parking_bays).order_by(parking_bays.c.id))
    ]
    return {"type": "FeatureCollection", "features": features}


def export_entities(conn: Connection, *, key_values: bool = False) -> list[dict[str, Any]]:
    """Every site (OffStreetParking) and bay (ParkingSpot) as NGSI-LD entities."""
    out: list[dict[str, Any]] = []
    for s in conn.execute(select(parking_sites).order_by(parking_sites.c.id)):
        e: dict[str, Any] = {"id": s.id, "type": s.kind or "OffStreetParking"}
        name = s.name
        geom = json.loads(s.geometry) if s.geometry else None
        if key_values:
            e["name"] = name
            if geom:
                e["location"] = geom
        else:
            e["name"] = {"type": "Property", "value": name}
            if geom:
                e["location"] = {"type": "GeoProperty", "value": geom}
        e["@context"] = ["https://smartdatamodels.org/context.jsonld"]
        out.append(e)
    for b in conn.execute(select(parking_bays).order_by(parking_bays.c.id)):
        out.append(bay_entity(b, key_values=key_values))
    return out


# --- time ---------------------------------------------------------------------------------------


def parse_instant(value: Any, name: str) -> datetime:
    """An ISO 8601 instant that carries its offset (no guessing a zone)."""
    if not isinstance(value, str):
        raise ValidationError(f"{name}: an ISO 8601 time with offset expected", field=name)
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(f"{name}: {value!r} is not an ISO 8601 time", field=name) from None
    if t.tzinfo is None:
        raise ValidationError(
            f"{name}: {value!r} has no offset; give one (e.g. +09:00 for Seoul, Z for UTC)",
            field=name,
        )
    return t.astimezone(UTC)


def check_interval(start: datetime, end: datetime, now: datetime, *, slack_s: float = 60) -> None:
    if end <= start:
        raise ValidationError("end must be after start", field="end")
    if start < now - timedelta(seconds=slack_s):
        raise ValidationError(f"start {start.isoformat()} is in the past", field="start")
    if end - start > MAX_RESERVATION:
        raise ValidationError("a reservation lasts at most 7 days", field="end")


def price_krw(tariff_per_30min: int, start: datetime, end: datetime) -> int:
    """Whole started half-hours times the tariff."""
    halves = math.ceil((end - start).total_seconds() / 1800 - 1e-9)
    return int(halves * tariff_per_30min)


# --- availability -------------------------------------------------------------------------------


def availability(
    conn: Connection,
    lon: float,
    lat: float,
    radius_m: float,
    start: datetime,
    end: datetime,
    *,
    tz: str,
    now: datetime | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Bays within ``radius_m`` free for the whole of ``[start, end)``, nearest first."""
    now = now or datetime.now(UTC)
    if not (abs(lon) <= 180 and abs(lat) <= 90):
        raise ValidationError("lon/lat out of range", field="lon")
    if not (0 < radius_m <= MAX_RADIUS_M):
        raise ValidationError(f"radius_m must be in (0, {MAX_RADIUS_M:g}]", field="radius_m")
    check_interval(start, end, now, slack_s=300)
    dlat = math.degrees(radius_m / EARTH_R_M)
    dlon = dlat / max(math.cos(math.radians(lat)), 1e-6)
    b = parking_bays
    rows = conn.execute(
        select(b).where(
            and_(
                b.c.lat.between(lat - dlat, lat + dlat),
                b.c.lon.between(lon - dlon, lon + dlon),
                b.c.status != "closed",
            )
        )
    ).all()
    cands = []
    for r in rows:
        d = _haversine_m(lon, lat, r.lon, r.lat)
        if d <= radius_m:
            cands.append((d, r))
    if not cands:
        return []
    ids = [r.id for _, r in cands]
    res = parking_reservations
    busy = set()
    for chunk in range(0, len(ids), 900):
        busy.update(
            conn.execute(
                select(res.c.bay_id).where(
                    and_(
                        res.c.bay_id.in_(ids[chunk : chunk + 900]),
                        res.c.status.in_(LIVE),
                        res.c.start_at < end,
                        res.c.end_at > start,
                    )
                )
            ).scalars()
        )
        # an occupant now without a reservation covering now blocks a start within 15 minutes
    soon = start < now + timedelta(minutes=15)
    covered_now: set[str] = set()
    if soon:
        covered_now = set(
            conn.execute(
                select(res.c.bay_id).where(
                    and_(
                        res.c.bay_id.in_(ids[:900]),
                        res.c.status.in_(LIVE),
                        res.c.start_at <= now,
                        res.c.end_at > now,
                    )
                )
            ).scalars()
        )
    out = []
    for d, r in sorted(cands, key=lambda c: c[0]):
        if r.id in busy:
            continue
        if soon and r.status == "occupied" and r.id not in covered_now:
            continue
        if not win.is_open(r.windows, r.closed_dates, start, end, tz):
            continue
        out.append(
            {
                "bay_id": r.id,
                "name": r.name,
                "lon": r.lon,
                "lat": r.lat,
                "distance_m": round(d, 1),
                "status": r.status,
                "price_krw": price_krw(r.tariff_krw_per_30min, start, end),
                "tariff_krw_per_30min": r.tariff_krw_per_30min,
            }
        )
        if len(out) >= limit:
            break
    return out


def _haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_R_M * math.asin(math.sqrt(min(1.0, a)))


# --- reservations -------------------------------------------------------------------------------


def reservation_public(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "bay_id": row.bay_id,
        "start": row.start_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "end": row.end_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "status": row.status,
        "price_krw": row.price_krw,
        "created_at": row.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
    }


def _get_bay(conn: Connection, bay_id: str) -> Any:
    row = conn.execute(select(parking_bays).where(parking_bays.c.id == bay_id)).first()
    if row is None:
        raise NotFoundError(f"bay {bay_id!r} does not exist")
    return row


def _overlap_conflict(
    conn: Connection, bay_id: str, start: datetime, end: datetime, exclude: int | None = None
) -> ConflictError:
    res = parking_reservations
    q = select(res).where(
        and_(
            res.c.bay_id == bay_id,
            res.c.status.in_(LIVE),
            res.c.start_at < end,
            res.c.end_at > start,
        )
    )
    if exclude is not None:
        q = q.where(res.c.id != exclude)
    other = conn.execute(q.limit(1)).first()
    if other is None:
        return ConflictError(f"bay {bay_id!r} is taken for part of that time")
    o = reservation_public(other)
    return ConflictError(
        f"bay {bay_id!r} is reserved from {o['start']} to {o['end']} (reservation {o['id']})"
    )


def reserve(
    engine: Engine,
    bay_id: str,
    start: datetime,
    end: datetime,
    *,
    tz: str,
    idempotency_key: str | None = None,
    key_id: int | None = None,
    now: datetime | None = None,
) -> tuple[dict[str, Any], bool]:
    """Reserve ``bay_id`` for ``[start, end)``; returns the reservation and whether it is new.

    Raises NotFoundError (unknown bay), ValidationError (bad interval, outside the sharing
    windows, idempotency key reused for another request) or ConflictError (overlap).
    """
    now = now or datetime.now(UTC)
    check_interval(start, end, now)
    if idempotency_key is not None and not (0 < len(idempotency_key) <= 100):
        raise ValidationError("Idempotency-Key: 1 to 100 characters", field="Idempotency-Key")
    res = parking_reservations
    if idempotency_key:
        with engine.connect() as conn:
            prior = conn.execute(
                select(res).where(res.c.idempotency_key == idempotency_key)
            ).first()
        if prior is not None:
            return _replay(prior, bay_id, start, end), False
    with engine.connect() as conn:
        bay = _get_bay(conn, bay_id)
    if bay.status == "closed":
        raise ConflictError(f"bay {bay_id!r} is closed")
    if not win.is_open(bay.windows, bay.closed_dates, start, end, tz):
        raise ValidationError(
            f"bay {bay_id!r} is not shared for the whole of {start.isoformat()} - "
            f"{end.isoformat()} (outside its sharing windows)",
            field="end",
        )
    try:
        with engine.begin() as conn:
            rid = conn.execute(
                insert(res)
                .values(
                    bay_id=bay_id,
                    start_at=start,
                    end_at=end,
                    status="reserved",
                    price_krw=price_krw(bay.tariff_krw_per_30min, start, end),
                    idempotency_key=idempotency_key,
                    key_id=key_id,
                    created_at=now,
                    updated_at=now,
                )
                .returning(res.c.id)
            ).scalar_one()
    except IntegrityError as exc:
        with engine.connect() as conn:
            if idempotency_key:
                prior = conn.execute(
                    select(res).where(res.c.idempotency_key == idempotency_key)
                ).first()
                if prior is not None:  # a concurrent retry with the same key won
                    return _replay(prior, bay_id, start, end), False
            if _is_overlap(exc):
                raise _overlap_conflict(conn, bay_id, start, end) from None
        raise
    with engine.connect() as conn:
        row = conn.execute(select(res).where(res.c.id == rid)).one()
    return reservation_public(row), True


def _is_overlap(exc: IntegrityError) -> bool:
    text = str(exc.orig)
    return "overlap" in text or "23P01" in text or "exclusion" in text.lower()


def _replay(prior: Any, bay_id: str, start: datetime, end: datetime) -> dict[str, Any]:
    if prior.bay_id != bay_id or prior.start_at != start or prior.end_at != end:
        raise ValidationError(
            "Idempotency-Key was already used for a different reservation", field="Idempotency-Key"
        )
    return reservation_public(prior)


def get_reservation(conn: Connection, rid: int) -> Any:
    row = conn.execute(select(parking_reservations).where(parking_reservations.c.id == rid)).first()
    if row is None:
        raise NotFoundError(f"reservation {rid} does not exist")
    return row


def cancel(engine: Engine, rid: int, *, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    with engine.begin() as conn:
        row = get_reservation(conn, rid)
        if row.status != "reserved":
            raise ConflictError(
                f"reservation {rid} is {row.status}; only a reserved one can be cancelled"
            )
        if row.end_at <= now:
            raise ConflictError(f"reservation {rid} has ended")
        conn.execute(
            update(parking_reservations)
            .where(parking_reservations.c.id == rid)
            .values(status="cancelled", updated_at=now)
        )
        return reservation_public(get_reservation(conn, rid))


def extend(
    engine: Engine, rid: int, new_end: datetime, *, tz: str, now: datetime | None = None
) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    with engine.connect() as conn:
        row = get_reservation(conn, rid)
        bay = _get_bay(conn, row.bay_id)
    if row.status not in LIVE:
        raise ConflictError(f"reservation {rid} is {row.status}; it cannot be extended")
    if new_end <= row.end_at:
        raise ValidationError("the new end must be after the current end", field="end")
    if new_end <= now:
        raise ValidationError("the new end is in the past", field="end")
    if new_end - row.start_at > MAX_RESERVATION:
        raise ValidationError("a reservation lasts at most 7 days", field="end")
    if not win.is_open(bay.windows, bay.closed_dates, row.start_at, new_end, tz):
        raise ValidationError("the bay is not shared until the new end", field="end")
    try:
        with engine.begin() as conn:
            conn.execute(
                update(parking_reservations)
                .where(parking_reservations.c.id == rid)
                .values(
                    end_at=new_end,
                    updated_at=now,
                    price_krw=price_krw(bay.tariff_krw_per_30min, row.start_at, new_end),
                )
            )
    except IntegrityError as exc:
        if _is_overlap(exc):
            with engine.connect() as conn:
                raise _overlap_conflict(
                    conn, row.bay_id, row.end_at, new_end, exclude=rid
                ) from None
        raise
    with engine.connect() as conn:
        return reservation_public(get_reservation(conn, rid))


def list_reservations(
    conn: Connection, *, bay_id: str | None = None, status: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    res = parking_reservations
    q = select(res).order_by(res.c.start_at).limit(limit)
    if bay_id is not None:
        q = q.where(res.c.bay_id == bay_id)
    if status is not None:
        q = q.where(res.c.status == status)
    return [reservation_public(r) for r in conn.execute(q)]


def count_bays(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(parking_bays)).scalar_one())

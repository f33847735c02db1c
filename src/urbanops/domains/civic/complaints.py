"""Complaints: Open311 service requests with a richer internal workflow and full history.

Internally a request is ``received``, ``assigned`` (to a department), ``in_progress``,
``resolved``, ``closed``, ``duplicate`` (merged into another case) or ``rejected``; Open311
clients see ``open`` (the first three) or ``closed`` with ``status_notes``. Every change is a
history row. ``expected_datetime`` is the request time plus the category's resolution time.
Personal data (name, e-mail, phone) is stored for the case but never returned by the Open311
endpoints, and the description is served with phone numbers, plates and e-mails masked.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Connection, and_, insert, select, update

from urbanops.core.timeutil import format_optional, format_time
from urbanops.domains.civic.services import Service
from urbanops.domains.civic.tables import civic_request_history, civic_requests
from urbanops.domains.civic.text import mask_personal_data
from urbanops.errors import ConflictError, NotFoundError, ValidationError

OPEN = ("received", "assigned", "in_progress")
STATUSES = (*OPEN, "resolved", "closed", "duplicate", "rejected")
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "received": ("assigned", "in_progress", "resolved", "duplicate", "rejected"),
    "assigned": ("assigned", "in_progress", "resolved", "duplicate", "rejected"),
    "in_progress": ("assigned", "resolved", "duplicate", "rejected"),
    "resolved": ("closed", "in_progress"),  # reopened when the fix did not hold
    "closed": (),
    "duplicate": (),
    "rejected": (),
}
MAX_DESCRIPTION = 4000
MAX_LIST = 1000
DEFAULT_DAYS = 90


def _text(fields: Mapping[str, Any], name: str, limit: int) -> str | None:
    value = fields.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{name}: text expected", field=name)
    value = " ".join(value.split()) if name != "description" else value.strip()
    if len(value) > limit:
        raise ValidationError(f"{name}: longer than {limit} characters", field=name)
    if "\x00" in value:
        raise ValidationError(f"{name}: contains a NUL character", field=name)
    return value


def parse_location(fields: Mapping[str, Any]) -> tuple[float | None, float | None, str | None]:
    """``(lat, lon, address)``: a lat/long pair, an address, or both; at least one of them."""
    lat_s, lon_s = fields.get("lat"), fields.get("long", fields.get("lon"))
    address = _text(fields, "address_string", 500) or _text(fields, "address", 500)
    lat = lon = None
    if lat_s not in (None, "") or lon_s not in (None, ""):
        try:
            lat, lon = float(lat_s), float(lon_s)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ValidationError("lat and long must both be numbers", field="lat") from None
        if not (
            math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180
        ):
            raise ValidationError(f"lat/long ({lat}, {lon}) is not a position", field="lat")
    if lat is None and not address:
        raise ValidationError(
            "a location is required: lat and long, or address_string", field="address_string"
        )
    return lat, lon, address


def create_request(
    conn: Connection,
    fields: Mapping[str, Any],
    services: Mapping[str, Service],
    *,
    key_id: int | None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Store a new complaint from Open311 fields; returns the Open311 POST answer item."""
    now = now or datetime.now(UTC)
    code = fields.get("service_code")
    if not isinstance(code, str) or not code:
        raise ValidationError("service_code is required", field="service_code")
    service = services.get(code)
    if service is None:
        raise NotFoundError(
            f"service_code {code[:64]!r} is not a service here", field="service_code"
        )
    lat, lon, address = parse_location(fields)
    media = _text(fields, "media_url", 2000)
    if media is not None and not media.lower().startswith(("https://", "http://")):
        raise ValidationError("media_url must be an http(s) URL", field="media_url")
    email = _text(fields, "email", 320)
    if email is not None and "@" not in email:
        raise ValidationError("email is not an e-mail address", field="email")
    values = {
        "token": str(uuid.uuid4()),
        "service_code": code,
        "status": "received",
        "description": _text(fields, "description", MAX_DESCRIPTION),
        "lat": lat,
        "lon": lon,
        "address": address,
        "department": service.department,
        "media_url": media,
        "email": email,
        "phone": _text(fields, "phone", 64),
        "first_name": _text(fields, "first_name", 100),
        "last_name": _text(fields, "last_name", 100),
        "device_id": _text(fields, "device_id", 200),
        "account_id": _text(fields, "account_id", 200),
        "jurisdiction_id": _text(fields, "jurisdiction_id", 100),
        "requested_at": now,
        "updated_at": now,
        "expected_at": now + timedelta(hours=service.sla_hours),
        "key_id": key_id,
    }
    rid = conn.execute(
        insert(civic_requests).values(**values).returning(civic_requests.c.id)
    ).scalar_one()
    conn.execute(
        insert(civic_request_history).values(
            request_id=rid, at=now, status="received", department=service.department, key_id=key_id
        )
    )
    return {
        "service_request_id": str(rid),
        "token": values["token"],
        "service_notice": f"{service.department}: expected by {format_time(values['expected_at'])}",
        "account_id": values["account_id"],
    }


def open311(row: Any, services: Mapping[str, Service]) -> dict[str, Any]:
    """The GeoReport v2 view of a stored request (no personal data; description masked)."""
    service = services.get(row.service_code)
    notes = row.status_notes
    if row.status == "duplicate" and row.duplicate_of:
        notes = f"Duplicate of {row.duplicate_of}" + (f": {notes}" if notes else "")
    return {
        "service_request_id": str(row.id),
        "status": "open" if row.status in OPEN else "closed",
        "status_notes": notes,
        "service_name": service.name if service else row.service_code,
        "service_code": row.service_code,
        "description": mask_personal_data(row.description) if row.description else None,
        "agency_responsible": row.department,
        "service_notice": None,
        "requested_datetime": format_optional(row.requested_at),
        "updated_datetime": format_optional(row.updated_at),
        "expected_datetime": format_optional(row.expected_at),
        "address": row.address,
        "address_id": None,
        "zipcode": None,
        "lat": row.lat,
        "long": row.lon,
        "media_url": row.media_url,
    }


def _ids(value: str) -> list[int]:
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if not parts or len(parts) > MAX_LIST or not all(p.isdigit() and len(p) < 10 for p in parts):
        raise ValidationError("service_request_id: comma-separated ids", field="service_request_id")
    return [int(p) for p in parts]


def list_requests(
    conn: Connection,
    services: Mapping[str, Service],
    *,
    service_request_id: str | None = None,
    service_code: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    status: str | None = None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Requests by ids, or filtered by service, date range (default: the last 90 days) and
    Open311 status, newest first, at most 1,000 (the spec's default)."""
    r = civic_requests
    query = select(r).order_by(r.c.requested_at.desc(), r.c.id.desc()).limit(MAX_LIST)
    if service_request_id:
        query = query.where(r.c.id.in_(_ids(service_request_id)))
    else:
        now = now or datetime.now(UTC)
        end = end or now
        start = start or end - timedelta(days=DEFAULT_DAYS)
        if start > end:
            raise ValidationError("start_date is after end_date", field="start_date")
        query = query.where(and_(r.c.requested_at >= start, r.c.requested_at <= end))
        if service_code:
            codes = [c.strip() for c in service_code.split(",") if c.strip()]
            query = query.where(r.c.service_code.in_(codes[:100]))
        if status:
            wanted = {s.strip() for s in status.split(",")}
            if not wanted <= {"open", "closed"}:
                raise ValidationError("status: open and/or closed", field="status")
            if wanted == {"open"}:
                query = query.where(r.c.status.in_(OPEN))
            elif wanted == {"closed"}:
                query = query.where(r.c.status.not_in(OPEN))
    return [open311(row, services) for row in conn.execute(query)]


def get_row(conn: Connection, rid: int) -> Any:
    row = conn.execute(select(civic_requests).where(civic_requests.c.id == rid)).first()
    if row is None:
        raise NotFoundError(f"no service request {rid}")
    return row


def by_token(conn: Connection, token: str) -> list[dict[str, str]]:
    """``[{"service_request_id", "token"}]`` of a token."""
    row = conn.execute(select(civic_requests.c.id).where(civic_requests.c.token == token)).first()
    if row is None:
        raise NotFoundError("no request with this token")
    return [{"service_request_id": str(row.id), "token": token}]


def set_status(
    conn: Connection,
    rid: int,
    status: str,
    *,
    note: str | None = None,
    department: str | None = None,
    duplicate_of: int | None = None,
    key_id: int | None = None,
    now: datetime | None = None,
) -> Any:
    """Move a request along the workflow (409 when the move is not allowed), with history."""
    if status not in STATUSES:
        raise ValidationError(f"status: one of {', '.join(STATUSES)}", field="status")
    if note is not None and len(note) > MAX_DESCRIPTION:
        raise ValidationError("note is too long", field="note")
    now = now or datetime.now(UTC)
    row = get_row(conn, rid)
    if status not in TRANSITIONS[row.status]:
        raise ConflictError(f"request {rid} is {row.status}; it cannot become {status}")
    values: dict[str, Any] = {"status": status, "updated_at": now}
    if note is not None:
        values["status_notes"] = note
    if department is not None:
        if not 1 <= len(department) <= 200:
            raise ValidationError("department: 1-200 characters", field="department")
        values["department"] = department
    if status == "duplicate":
        if duplicate_of is None or duplicate_of == rid:
            raise ValidationError(
                "duplicate needs duplicate_of, another request", field="duplicate_of"
            )
        target = get_row(conn, duplicate_of)
        if target.status == "duplicate":
            raise ConflictError(
                f"request {duplicate_of} is itself a duplicate of {target.duplicate_of}"
            )
        values["duplicate_of"] = duplicate_of
    done = conn.execute(
        update(civic_requests)
        .where(civic_requests.c.id == rid, civic_requests.c.status == row.status)
        .values(**values)
    )
    if done.rowcount != 1:
        raise ConflictError(f"request {rid} changed meanwhile; read it again")
    conn.execute(
        insert(civic_request_history).values(
            request_id=rid,
            at=now,
            status=status,
            note=note,
            department=values.get("department", row.department),
            key_id=key_id,
        )
    )
    return get_row(conn, rid)


def set_media_url(conn: Connection, rid: int, url: str) -> None:
    """Point a complaint's ``media_url`` at its stored photo."""
    conn.execute(
        update(civic_requests)
        .where(civic_requests.c.id == rid)
        .values(media_url=url, updated_at=datetime.now(UTC))
    )


def history(conn: Connection, rid: int) -> list[dict[str, Any]]:
    """Every change of a request, oldest first."""
    get_row(conn, rid)
    h = civic_request_history
    rows = conn.execute(select(h).where(h.c.request_id == rid).order_by(h.c.id)).all()
    return [
        {
            "at": format_optional(x.at),
            "status": x.status,
            "note": x.note,
            "department": x.department,
        }
        for x in rows
    ]


#: Open complaints this close (m) to a new one are offered to staff as possible duplicates.
DUPLICATE_RADIUS_M = 50.0
#: Language-centred cosine of two descriptions above which they count as saying the same.
SIMILAR_TEXT = 0.35


def suggest_duplicates(conn: Connection, rid: int, *, days: int = 30) -> list[dict[str, Any]]:
    """Open complaints within :data:`DUPLICATE_RADIUS_M` of complaint ``rid`` (received in the
    last ``days``), most similar first: the same category or a description that says the same
    thing (multilingual embeddings, so a Korean and an English report of one pothole meet).
    Staff merge them with the ``duplicate`` status."""
    row = get_row(conn, rid)
    if row.lat is None:
        return []
    r = civic_requests
    dlat = DUPLICATE_RADIUS_M / 111_320.0
    dlon = dlat / max(math.cos(math.radians(row.lat)), 1e-6)
    near = conn.execute(
        select(r).where(
            r.c.id != rid,
            r.c.status.in_(OPEN),
            r.c.lat.between(row.lat - dlat, row.lat + dlat),
            r.c.lon.between(row.lon - dlon, row.lon + dlon),
            r.c.requested_at >= row.requested_at - timedelta(days=days),
        )
    ).all()
    out = []
    texts = [row.description or ""] + [n.description or "" for n in near]
    sims = _text_similarity(texts) if near else []
    for n, sim in zip(near, sims, strict=True):
        dist = _distance_m(row.lat, row.lon, n.lat, n.lon)
        same = n.service_code == row.service_code
        if dist <= DUPLICATE_RADIUS_M and (same or sim >= SIMILAR_TEXT):
            out.append(
                {
                    "service_request_id": str(n.id),
                    "service_code": n.service_code,
                    "distance_m": round(dist, 1),
                    "text_similarity": round(sim, 3),
                    "same_service": same,
                    "requested_datetime": format_optional(n.requested_at),
                }
            )
    out.sort(key=lambda d: (-d["same_service"], -d["text_similarity"], d["distance_m"]))
    return out


def _distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def _text_similarity(texts: list[str]) -> list[float]:
    """Cosine of the first text with each of the others (0 where a text is empty)."""
    from urbanops.domains.civic.retrieve import embed, language_means
    from urbanops.domains.civic.text import language

    if not texts[0].strip():
        return [0.0] * (len(texts) - 1)
    means = language_means()
    vectors = embed([t if t.strip() else "-" for t in texts])
    vectors = vectors - [means[language(t)] for t in texts]
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
    sims = vectors[1:] @ vectors[0]
    return [float(s) if t.strip() else 0.0 for s, t in zip(sims, texts[1:], strict=True)]


OVERDUE_RULE = "civic.complaint_overdue"


def overdue_alerts(conn: Connection, *, now: datetime | None = None) -> dict[str, int]:
    """Open an alert for every open complaint past its ``expected_datetime``, and resolve the
    alerts of complaints that were closed, resolved or rescheduled. Through the alert engine:
    the alerts list, SSE, webhooks and NGSI-LD export see them like any other alert."""
    from urbanops.core.alerting import _open_alerts, _resolve
    from urbanops.core.domain_alerts import domain_rule, raise_alert
    from urbanops.storage import tables as t

    now = now or datetime.now(UTC)
    r = civic_requests
    late = conn.execute(
        select(r.c.id, r.c.service_code, r.c.department, r.c.expected_at).where(
            r.c.status.in_(OPEN), r.c.expected_at < now
        )
    ).all()
    # The rule is created with the first overdue complaint, not by every idle timer tick.
    exists = conn.execute(select(t.alert_rules.c.id).where(t.alert_rules.c.name == OVERDUE_RULE))
    if not late and exists.first() is None:
        return {"opened": 0, "resolved": 0}
    rule = domain_rule(
        conn,
        OVERDUE_RULE,
        severity="warning",
        message="A complaint is past its expected resolution time",
        category="environment",  # the NGSI-LD Alert categories have no civic-service one
    )
    if rule is None:  # disabled by an operator
        return {"opened": 0, "resolved": 0}
    opened = 0
    for row in late:
        if raise_alert(
            conn,
            rule,
            subject=f"civic_request:{row.id}",
            message=f"Complaint {row.id} ({row.service_code}, {row.department}) is overdue "
            f"since {format_optional(row.expected_at)}",
            now=now,
        ):
            opened += 1
    late_subjects = {f"civic_request:{row.id}" for row in late}
    a = t.alerts
    still_open = conn.execute(
        select(a.c.subject).where(a.c.rule_id == rule.id, a.c.resolved_at.is_(None))
    ).scalars()
    stale = [s for s in still_open if s not in late_subjects]
    resolved = 0
    for alert_id in _open_alerts(conn, [rule.id], stale).values():
        _resolve(conn, alert_id, now, None, "the complaint is no longer overdue")
        resolved += 1
    return {"opened": opened, "resolved": resolved}


def periodic(engine: Any, settings: Any) -> None:
    """``serve``'s timer: overdue-complaint alerts."""
    with engine.begin() as conn:
        overdue_alerts(conn)

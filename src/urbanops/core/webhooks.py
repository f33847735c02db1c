"""Webhooks: alert events POSTed to subscribers, signed, retried, logged.

Each subscription keeps its own cursor over ``alert_events`` and delivers events in order, one at
a time: an event is retried (exponential backoff, 1 s doubling to 10 min) until the receiver
answers 2xx, and every attempt is written to ``webhook_deliveries`` with its status or error, so
a failing receiver is visible (``failures``, ``last_error``) instead of silently losing alerts.

Requests carry ``X-UrbanOps-Signature: sha256=<hex>``, the HMAC-SHA256 of the exact body with
the subscription's secret; receivers compare it in constant time before trusting the body.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import orjson
from sqlalchemy import Connection, Engine, insert, select, update

from urbanops.core.alerting import alert_event_public, alert_events_after
from urbanops.core.events import current_cursor
from urbanops.core.timeutil import format_optional
from urbanops.errors import NotFoundError, ValidationError
from urbanops.storage import tables as t

EVENTS = ("alert.opened", "alert.acknowledged", "alert.resolved")
SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}
TIMEOUT_S = 5.0
MAX_BACKOFF_S = 600


def sign(secret: str, body: bytes) -> str:
    """The signature header value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def create_subscription(conn: Connection, body: Any) -> dict[str, Any]:
    """Validate and store a subscription; returns it with its secret (shown this once)."""
    if not isinstance(body, dict):
        raise ValidationError("expected a JSON object")
    unknown = set(body) - {"url", "secret", "events", "min_severity"}
    if unknown:
        raise ValidationError(f"unknown field(s) {sorted(unknown)}", field=sorted(unknown)[0])
    url = body.get("url")
    if not isinstance(url, str) or len(url) > 2000:
        raise ValidationError("url: required, at most 2000 characters", field="url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("url: must be an http:// or https:// URL with a host", field="url")
    secret = body.get("secret") or secrets.token_urlsafe(32)
    if not isinstance(secret, str) or not 16 <= len(secret) <= 200:
        raise ValidationError("secret: 16 to 200 characters", field="secret")
    events = body.get("events", list(EVENTS))
    if not isinstance(events, list) or not events or any(e not in EVENTS for e in events):
        raise ValidationError(f"events: a non-empty list of {', '.join(EVENTS)}", field="events")
    severity = body.get("min_severity", "info")
    if severity not in SEVERITY_RANK:
        raise ValidationError("min_severity: info, warning or critical", field="min_severity")
    start = current_cursor(conn).alert_event  # only events from now on
    sid = int(
        conn.execute(
            insert(t.webhook_subscriptions)
            .values(
                url=url,
                secret=secret,
                events=events,
                min_severity=severity,
                enabled=True,
                cursor=start,
                failures=0,
                created_at=datetime.now(UTC),
            )
            .returning(t.webhook_subscriptions.c.id)
        ).scalar_one()
    )
    return {**public(conn, sid), "secret": secret}


def public(conn: Connection, sid: int) -> dict[str, Any]:
    w = t.webhook_subscriptions
    row = conn.execute(select(w).where(w.c.id == sid)).first()
    if row is None:
        raise NotFoundError(f"webhook subscription {sid} does not exist")
    return {
        "id": row.id,
        "url": row.url,
        "events": row.events,
        "min_severity": row.min_severity,
        "enabled": row.enabled,
        "failures": row.failures,
        "last_error": row.last_error,
        "next_attempt_at": format_optional(row.next_attempt_at),
    }


def _next_event(conn: Connection, cursor: int) -> Any:
    return conn.execute(alert_events_after(cursor).limit(1)).first()


def deliver_due(engine: Engine, *, now: datetime | None = None, max_events: int = 100) -> int:
    """Deliver what is due for every enabled subscription; returns successful deliveries."""
    now = now or datetime.now(UTC)
    w = t.webhook_subscriptions
    with engine.connect() as conn:
        subs = conn.execute(select(w).where(w.c.enabled.is_(True))).all()
    delivered = 0
    for sub in subs:
        if sub.next_attempt_at is not None and sub.next_attempt_at > now:
            continue
        delivered += _deliver_subscription(engine, sub, now, max_events)
    return delivered


def _deliver_subscription(engine: Engine, sub: Any, now: datetime, max_events: int) -> int:
    w = t.webhook_subscriptions
    cursor, done, failures = int(sub.cursor), 0, int(sub.failures)
    for _ in range(max_events):
        with engine.connect() as conn:
            ev = _next_event(conn, cursor)
        if ev is None:
            break
        kind = f"alert.{ev.action}"
        if kind not in sub.events or SEVERITY_RANK[ev.severity] < SEVERITY_RANK[sub.min_severity]:
            cursor = int(ev.id)
            with engine.begin() as conn:
                conn.execute(update(w).where(w.c.id == sub.id).values(cursor=cursor))
            continue
        body = orjson.dumps({"event": kind, "event_id": ev.id, **alert_event_public(ev)})
        status, error = _post(sub.url, body, sub.secret, kind, ev.id)
        ok = status is not None and 200 <= status < 300
        attempt = failures + 1
        with engine.begin() as conn:
            conn.execute(
                insert(t.webhook_deliveries).values(
                    subscription_id=sub.id,
                    alert_event_id=ev.id,
                    attempt=attempt,
                    at=now,
                    status_code=status,
                    error=error,
                    delivered=ok,
                )
            )
            if ok:
                cursor = int(ev.id)
                conn.execute(
                    update(w)
                    .where(w.c.id == sub.id)
                    .values(cursor=cursor, failures=0, next_attempt_at=None)
                )
                done += 1
                failures = 0
            else:
                failures += 1
                backoff = min(2 ** (failures - 1), MAX_BACKOFF_S)
                conn.execute(
                    update(w)
                    .where(w.c.id == sub.id)
                    .values(
                        failures=failures,
                        last_error=error or f"HTTP {status}",
                        next_attempt_at=now + timedelta(seconds=backoff),
                    )
                )
                break
    return done


def _post(
    url: str, body: bytes, secret: str, kind: str, event_id: int
) -> tuple[int | None, str | None]:
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "UrbanOps-webhook/1",
            "X-UrbanOps-Event": kind,
            "X-UrbanOps-Delivery": str(event_id),
            "X-UrbanOps-Signature": sign(secret, body),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            return int(response.status), None
    except urllib.error.HTTPError as exc:
        return int(exc.code), f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"

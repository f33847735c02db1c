"""Alerts that a domain raises from its own analysis (a heat-wave advisory, a flood warning).

They live in the same tables as rule alerts, with the same lifecycle (open, acknowledged,
resolved), history, SSE events, webhooks and NGSI-LD export. Each kind of domain alert is a
rule of kind ``"domain"`` (created on first use, disabled like any rule); the rule engine
never evaluates such rules against observations, the domain opens and resolves their alerts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from urbanops.core import alerting
from urbanops.storage import tables as t

DOMAIN_KIND = "domain"


def domain_rule(
    conn: Connection, name: str, *, severity: str, message: str, category: str = "environment"
) -> alerting.Rule | None:
    """The rule for alerts called ``name`` (created when missing); None when it is disabled."""
    r = t.alert_rules
    row = conn.execute(select(r).where(r.c.name == name)).first()
    if row is None:
        now = datetime.now(UTC)
        conn.execute(
            insert(r).values(
                name=name,
                kind=DOMAIN_KIND,
                scope_kind="domain",
                scope_value=name[:255],
                params={},
                severity=severity,
                message=message,
                enabled=True,
                created_at=now,
                updated_at=now,
                category=category,
                scope={"domain": name},
            )
        )
        alerting.bump_rules_version(conn)
        row = conn.execute(select(r).where(r.c.name == name)).first()
    assert row is not None
    if not row.enabled:
        return None
    return alerting.Rule(
        row.id, row.name, row.kind, row.scope_kind, row.scope_value, dict(row.params),
        row.severity, row.message, dict(row.scope or {}),
    )  # fmt: skip


def raise_alert(
    conn: Connection,
    rule: alerting.Rule,
    *,
    subject: str,
    message: str,
    zone_id: int | None = None,
    value: float | None = None,
    observed_at: datetime | None = None,
    now: datetime | None = None,
) -> int | None:
    """Open an alert of ``rule`` about ``subject`` unless one is already unresolved; returns
    the new alert's id (None when one was open)."""
    if alerting._open_alerts(conn, [rule.id], [subject]):
        return None
    return alerting._insert_alert(
        conn, rule, subject=subject, datastream_id=None, zone_id=zone_id, value=value,
        observed_at=observed_at, message=message, now=now or datetime.now(UTC),
    )  # fmt: skip


def clear_alert(
    conn: Connection, rule: alerting.Rule, *, subject: str, note: str, now: datetime | None = None
) -> int | None:
    """Resolve the unresolved alert of ``rule`` about ``subject``, if any."""
    found: dict[Any, int] = alerting._open_alerts(conn, [rule.id], [subject])
    alert_id = found.get((rule.id, subject))
    if alert_id is None:
        return None
    alerting._resolve(conn, alert_id, now or datetime.now(UTC), None, note)
    return alert_id

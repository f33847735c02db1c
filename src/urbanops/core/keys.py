"""API keys with roles: admin, operator, viewer, device.

A key is ``uo_<prefix>_<secret>``: the prefix (public, indexed) finds the row, the SHA-256 of the
whole key is compared in constant time. Keys are 190 bits of randomness, so a fast hash is the
right tool (a slow password hash protects low-entropy secrets, which these are not). The key itself
is shown once when it is created and never stored or logged.

=========  ==================================================================================
role       may
=========  ==================================================================================
admin      everything, including managing keys
operator   read everything; create, change and delete any sensing entity
viewer     read everything
device     write observations to the datastreams of its own Thing (``--thing``); read public data
=========  ==================================================================================
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from urbanops.errors import AuthenticationError, NotFoundError, ValidationError
from urbanops.storage import tables as t

ROLES = ("admin", "operator", "viewer", "device")


@dataclass(frozen=True)
class Principal:
    """Who is calling: a role, the key's id, and for device keys their Thing."""

    role: str
    key_id: int | None = None
    thing_id: int | None = None

    @property
    def can_read_all(self) -> bool:
        return self.role in ("admin", "operator", "viewer")

    @property
    def can_write_entities(self) -> bool:
        return self.role in ("admin", "operator")

    @property
    def can_write_observations(self) -> bool:
        return self.role in ("admin", "operator", "device")


ANONYMOUS = Principal("anonymous")


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(
    conn: Connection, role: str, *, thing_id: int | None = None, name: str = ""
) -> tuple[int, str]:
    """Create a key and return ``(key_id, key)``; the key is not retrievable later.

    Raises
    ------
    ValidationError
        Unknown role, a device key without a Thing, or a Thing given for another role.
    NotFoundError
        The Thing does not exist.
    """
    if role not in ROLES:
        raise ValidationError(
            f"unknown role {role!r}; choose one of {', '.join(ROLES)}", field="role"
        )
    if role == "device" and thing_id is None:
        raise ValidationError(
            "a device key needs --thing ID (the Thing it writes for)", field="thing"
        )
    if role != "device" and thing_id is not None:
        raise ValidationError("only device keys are bound to a Thing", field="thing")
    if (
        thing_id is not None
        and conn.execute(select(t.things.c.id).where(t.things.c.id == thing_id)).first() is None
    ):
        raise NotFoundError(f"Things({thing_id}) does not exist", field="thing")
    if len(name) > 255:
        raise ValidationError("name longer than 255 characters", field="name")
    prefix = secrets.token_hex(6)
    key = f"uo_{prefix}_{secrets.token_urlsafe(24)}"
    key_id = conn.execute(
        insert(t.api_keys)
        .values(
            prefix=prefix,
            key_hash=_hash(key),
            role=role,
            thing_id=thing_id,
            name=name,
            created_at=datetime.now(UTC),
        )
        .returning(t.api_keys.c.id)
    ).scalar_one()
    return int(key_id), key


def list_keys(conn: Connection) -> list[dict[str, Any]]:
    """All keys without their secrets."""
    k = t.api_keys
    rows = conn.execute(
        select(
            k.c.id, k.c.prefix, k.c.role, k.c.thing_id, k.c.name, k.c.created_at, k.c.revoked_at
        ).order_by(k.c.id)
    ).mappings()
    return [dict(r) for r in rows]


def revoke_key(conn: Connection, key_id: int) -> None:
    """Revoke a key (kept for the audit trail, never accepted again)."""
    k = t.api_keys
    res = conn.execute(
        update(k)
        .where(k.c.id == key_id, k.c.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    if res.rowcount == 0:
        raise NotFoundError(f"no active key with id {key_id}")


def authenticate(conn: Connection, key: str) -> Principal:
    """The principal of a presented key, or AuthenticationError (401)."""
    parts = key.split("_")
    if len(key) > 200 or len(parts) < 3 or parts[0] != "uo":
        raise AuthenticationError("invalid API key")
    k = t.api_keys
    row = conn.execute(
        select(k.c.id, k.c.key_hash, k.c.role, k.c.thing_id, k.c.revoked_at).where(
            k.c.prefix == parts[1]
        )
    ).first()
    if row is None or not hmac.compare_digest(row.key_hash, _hash(key)):
        raise AuthenticationError("invalid API key")
    if row.revoked_at is not None:
        raise AuthenticationError("this API key has been revoked")
    return Principal(row.role, row.id, row.thing_id)

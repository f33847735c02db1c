"""Request dependencies: settings, database engine, the caller's principal, bounded bodies."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

import orjson
from fastapi import Depends, Request
from sqlalchemy import Engine

from urbanops.core.keys import ANONYMOUS, Principal, authenticate
from urbanops.errors import (
    AuthenticationError,
    PayloadTooLargeError,
    PermissionDeniedError,
    ValidationError,
)
from urbanops.settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_engine(request: Request) -> Engine:
    return request.app.state.engine  # type: ignore[no-any-return]


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]


def _key_from_header(header: str) -> str:
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme == "bearer" and value:
        return value
    if scheme == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise AuthenticationError("malformed Basic credentials") from None
        _, sep, password = decoded.partition(":")
        if sep and password:
            return password
    raise AuthenticationError(
        "send the API key as 'Authorization: Bearer <key>' or as the password of HTTP Basic"
    )


def get_principal(request: Request, engine: EngineDep) -> Principal:
    """The caller: anonymous without credentials, 401 on bad ones."""
    header = request.headers.get("authorization")
    if not header:
        return ANONYMOUS
    key = _key_from_header(header)
    with engine.connect() as conn:
        return authenticate(conn, key)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_reader(principal: Principal, what: str) -> None:
    """Reading ``what`` (alerts, the event stream...) needs a key that may read everything."""
    if principal.role == "anonymous":
        raise AuthenticationError(f"{what} needs an API key")
    if not principal.can_read_all:
        raise PermissionDeniedError(f"a {principal.role} key cannot read {what}")


def require_entity_writer(principal: Principal, action: str = "change entities") -> None:
    """An operator or admin key (``action`` words the refusal)."""
    if principal.role == "anonymous":
        raise AuthenticationError(f"an API key is needed to {action}")
    if not principal.can_write_entities:
        raise PermissionDeniedError(f"a {principal.role} key cannot {action}")


def require_observation_writer(principal: Principal) -> None:
    if principal.role == "anonymous":
        raise AuthenticationError("writing needs an API key")
    if not principal.can_write_observations:
        raise PermissionDeniedError(f"a {principal.role} key cannot write observations")


def require_admin(principal: Principal) -> None:
    if principal.role == "anonymous":
        raise AuthenticationError("this needs an admin API key")
    if principal.role != "admin":
        raise PermissionDeniedError("this needs an admin API key")


async def read_json(request: Request, settings: Settings, *, optional: bool = False) -> Any:
    """The request body as JSON, bounded in size; strict (no NaN, no trailing garbage).

    With ``optional``, an empty body is None instead of an error.
    """
    limit = settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):
            raise ValidationError("invalid Content-Length header")
        if int(declared) > limit:
            raise PayloadTooLargeError(f"body larger than {limit} bytes")
    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if ctype not in ("application/json", "application/geo+json", "text/plain", ""):
        raise ValidationError(
            f"expected a JSON body (Content-Type application/json), got {ctype!r}"
        )
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"body larger than {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    if not body.strip():
        if optional:
            return None
        raise ValidationError("empty body; expected JSON")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ValidationError(f"malformed JSON: {exc}") from None

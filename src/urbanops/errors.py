"""Errors raised by UrbanOps.

Each error also subclasses a builtin so callers that do not know UrbanOps can still catch it
(``except ValueError``). The HTTP adapter maps them to RFC 9457 problem+json responses and the
CLI prints one line and exits non-zero.
"""

from __future__ import annotations


class UrbanOpsError(Exception):
    """Base class of every error UrbanOps raises on purpose."""

    status: int = 400
    title: str = "Bad request"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class ValidationError(UrbanOpsError, ValueError):
    """Input that is malformed, mistyped or out of range."""

    status = 400
    title = "Invalid input"


class QueryError(UrbanOpsError, ValueError):
    """A query option (``$filter``, ``$top``...) that cannot be parsed or is not allowed."""

    status = 400
    title = "Invalid query option"


class NotFoundError(UrbanOpsError, LookupError):
    """An entity that does not exist."""

    status = 404
    title = "Not found"


class ConflictError(UrbanOpsError, ValueError):
    """A write that conflicts with what is stored (e.g. deleting a referenced entity)."""

    status = 409
    title = "Conflict"


class AuthenticationError(UrbanOpsError, PermissionError):
    """No credentials, or credentials that match no active key (HTTP 401)."""

    status = 401
    title = "Unauthorized"


class PermissionDeniedError(UrbanOpsError, PermissionError):
    """A valid key whose role does not allow the action (HTTP 403)."""

    status = 403
    title = "Forbidden"


class PayloadTooLargeError(UrbanOpsError, ValueError):
    """A request body over the configured limit (HTTP 413)."""

    status = 413
    title = "Payload too large"


class UnavailableError(UrbanOpsError, RuntimeError):
    """A service that is not configured or not ready here (HTTP 503)."""

    status = 503
    title = "Service unavailable"

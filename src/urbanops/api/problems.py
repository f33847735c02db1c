"""RFC 9457 problem+json responses for every error the API returns."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from urbanops.errors import UrbanOpsError

log = logging.getLogger("urbanops.api")

PROBLEM = "application/problem+json"


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A problem+json response; ``field`` names the offending input when known."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if field:
        body["field"] = field
    return Response(orjson.dumps(body), status_code=status, media_type=PROBLEM, headers=headers)


def install(app: FastAPI) -> None:
    """Register the exception handlers on ``app``."""

    @app.exception_handler(UrbanOpsError)
    async def _urbanops(_: Request, exc: UrbanOpsError) -> Response:
        headers = (
            {"WWW-Authenticate": 'Bearer, Basic realm="urbanops"'} if exc.status == 401 else None
        )
        return problem(exc.status, exc.title, exc.detail, field=exc.field, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        first = errors[0] if errors else {}
        loc = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "path", "body"))
        msg = first.get("msg", "invalid request")
        return problem(400, "Invalid input", f"{loc}: {msg}" if loc else msg, field=loc or None)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        titles = {404: "Not found", 405: "Method not allowed"}
        return problem(
            exc.status_code,
            titles.get(exc.status_code, "Error"),
            str(exc.detail),
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> Response:
        log.exception("unexpected error: %s", type(exc).__name__)
        return problem(500, "Internal server error", "an unexpected error occurred; see the log")

"""JSON responses serialised with orjson (fast, and strict: no NaN)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


def json_response(
    data: Any,
    status: int = 200,
    headers: dict[str, str] | None = None,
    media_type: str = "application/json",
) -> Response:
    """``data`` as a JSON response."""
    return Response(orjson.dumps(data), status_code=status, media_type=media_type, headers=headers)

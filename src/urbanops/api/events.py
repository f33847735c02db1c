"""``GET /api/v1/events``: Server-Sent Events of alerts and new observations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from urbanops.api.deps import EngineDep, PrincipalDep, require_reader
from urbanops.api.sse import sse_response
from urbanops.core.events import (
    Cursor,
    current_cursor,
    datastreams_in_scope,
    parse_cursor,
    poll,
)
from urbanops.core.latest import parse_id_list

router = APIRouter(prefix="/api/v1", tags=["Events"])


@router.get(
    "/events",
    summary="Live alerts and observations (Server-Sent Events)",
    response_class=StreamingResponse,
)
async def events(
    request: Request,
    engine: EngineDep,
    principal: PrincipalDep,
    alerts: bool = True,
    datastreams: Annotated[str | None, Query(max_length=200_000)] = None,
    observed_property: Annotated[str | None, Query(max_length=255)] = None,
    zone: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    last_event_id: Annotated[str | None, Header(max_length=60)] = None,
    since: Annotated[
        str | None, Query(max_length=60, description="a cursor, as Last-Event-ID")
    ] = None,
) -> StreamingResponse:
    """Stream events as they are stored.

    Alerts (``alert.opened``, ``alert.acknowledged``, ``alert.resolved``) unless
    ``alerts=false``; new observations (``observation``) of the datastreams selected by
    ``datastreams=1,2``, ``observed_property`` and/or ``zone`` (all must match). Each event's id
    is a cursor: reconnect with ``Last-Event-ID`` (browsers do it by themselves) to resume after
    it. A comment line is sent every 15 s to keep proxies from closing the stream.
    """
    require_reader(principal, "the event stream")
    ids = parse_id_list(datastreams, limit=10_000) if datastreams is not None else None
    resume = last_event_id or since

    def setup() -> tuple[Cursor, list[int] | None]:
        with engine.connect() as conn:
            streams = datastreams_in_scope(
                conn, datastreams=ids, observed_property=observed_property, zone=zone
            )
            cursor = parse_cursor(resume) if resume else current_cursor(conn)
        return cursor, streams

    cursor, streams = await run_in_threadpool(setup)

    def fetch() -> list[tuple[str, str, bytes]]:
        with engine.connect() as conn:
            return poll(conn, cursor, alerts=alerts, streams=streams)

    return sse_response(request, fetch)

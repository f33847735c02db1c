"""Server-Sent Events responses: poll a source, stream what it returns, keep the line alive."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from urbanops.core.events import format_sse

POLL_S = 0.25
HEARTBEAT_S = 15.0


def sse_response(
    request: Request,
    fetch: Callable[[], list[tuple[str, str, bytes]]],
    *,
    poll_s: float = POLL_S,
    heartbeat_s: float = HEARTBEAT_S,
) -> StreamingResponse:
    """Stream ``(id, event, data)`` batches from ``fetch`` (run in a thread) until the client
    leaves; ``fetch`` keeps its own cursor. An empty batch waits ``poll_s``; a comment line
    every ``heartbeat_s`` of silence keeps proxies from closing the stream."""

    async def stream() -> AsyncIterator[bytes]:
        yield b"retry: 2000\n\n"
        idle = 0.0
        while not await request.is_disconnected():
            batch = await run_in_threadpool(fetch)
            for event_id, kind, data in batch:
                yield format_sse(event_id, kind, data)
            if batch:
                idle = 0.0
                continue
            await asyncio.sleep(poll_s)
            idle += poll_s
            if idle >= heartbeat_s:
                idle = 0.0
                yield b": keep-alive\n\n"

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )

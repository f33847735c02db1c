"""Ingest status: counters and dead letters of the live data plane."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select
from starlette.responses import Response

from urbanops.api.deps import EngineDep, PrincipalDep, require_entity_writer, require_reader
from urbanops.api.responses import json_response
from urbanops.core.timeutil import format_time
from urbanops.ingest.store import stats
from urbanops.storage import tables as t

router = APIRouter(prefix="/api/v1/ingest", tags=["Ingest"])


@router.get("/stats", summary="Messages, readings stored, duplicates and dead letters per source")
def ingest_stats(engine: EngineDep, principal: PrincipalDep) -> Response:
    require_reader(principal, "ingest status")
    with engine.connect() as conn:
        return json_response(stats(conn))


@router.get("/dead-letters", summary="Refused messages with the reason, newest first")
def dead_letters(
    engine: EngineDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> Response:
    require_entity_writer(principal, "read dead letters")
    d = t.ingest_dead_letters
    stmt = select(d.c.id, d.c.received_at, d.c.source, d.c.topic, d.c.payload, d.c.reason)
    if before_id is not None:
        stmt = stmt.where(d.c.id < before_id)
    stmt = stmt.order_by(d.c.id.desc()).limit(limit)
    with engine.connect() as conn:
        rows = [
            {
                "id": i,
                "received_at": format_time(at),
                "source": src,
                "topic": topic,
                "payload": payload,
                "reason": reason,
            }
            for i, at, src, topic, payload, reason in conn.execute(stmt)
        ]
    return json_response({"value": rows})

"""``GET /api/v1/jobs/{id}``: state and progress of long work."""

from __future__ import annotations

from fastapi import APIRouter, Path
from starlette.responses import Response

from urbanops.api.deps import EngineDep, PrincipalDep, require_reader
from urbanops.api.responses import json_response
from urbanops.core.jobs import get_job

router = APIRouter(prefix="/api/v1", tags=["Jobs"])


@router.get("/jobs/{job_id}", summary="A job: state, progress (0-1), message, result links")
def job(
    engine: EngineDep, principal: PrincipalDep, job_id: int = Path(..., ge=1, le=2**31 - 1)
) -> Response:
    require_reader(principal, "jobs")
    with engine.connect() as conn:
        return json_response(get_job(conn, job_id))

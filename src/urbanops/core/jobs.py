"""Long work as jobs: a state, a progress bar and a result, stored so any process can read them.

``POST`` of long work answers 202 with a job id; ``GET /api/v1/jobs/{id}`` shows ``queued``,
``running`` (progress 0-1 with a message), ``succeeded`` (with result links) or ``failed`` (with
the reason). Jobs run on a small local thread pool of the API process (:class:`JobRunner`); heavy
jobs hand their own inner work to Dask when ``URBANOPS_DASK_ADDRESS`` is set. A job that was
running when its process stopped stays ``running`` with an old ``updated_at``; clients can tell
it by that.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from urbanops.core.timeutil import format_optional, format_time
from urbanops.errors import NotFoundError, UrbanOpsError
from urbanops.storage import tables as t

log = logging.getLogger("urbanops.jobs")
QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"
Progress = Callable[[float, str], None]


def create_job(conn: Connection, kind: str, *, key_id: int | None = None) -> int:
    now = datetime.now(UTC)
    return int(
        conn.execute(
            insert(t.jobs)
            .values(
                kind=kind,
                state=QUEUED,
                progress=0.0,
                message="queued",
                created_at=now,
                updated_at=now,
                key_id=key_id,
            )
            .returning(t.jobs.c.id)
        ).scalar_one()
    )


def set_job(engine: Engine, job_id: int, **values: Any) -> None:
    values["updated_at"] = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(update(t.jobs).where(t.jobs.c.id == job_id).values(**values))


def job_public(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "state": row.state,
        "progress": round(float(row.progress), 4),
        "message": row.message,
        "created_at": format_time(row.created_at),
        "started_at": format_optional(row.started_at),
        "finished_at": format_optional(row.finished_at),
        "updated_at": format_time(row.updated_at),
        "result": row.result,
        "error": row.error,
    }


def get_job(conn: Connection, job_id: int) -> dict[str, Any]:
    row = conn.execute(select(t.jobs).where(t.jobs.c.id == job_id)).first()
    if row is None:
        raise NotFoundError(f"job {job_id} does not exist")
    return job_public(row)


class JobRunner:
    """Runs jobs on a bounded thread pool and records their progress (at most twice a second)."""

    def __init__(self, engine: Engine, workers: int = 1) -> None:
        self.engine = engine
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="urbanops-job")

    def submit(self, job_id: int, work: Callable[[Progress], dict[str, Any]]) -> None:
        self.pool.submit(self._run, job_id, work)

    def _run(self, job_id: int, work: Callable[[Progress], dict[str, Any]]) -> None:
        now = datetime.now(UTC)
        set_job(self.engine, job_id, state=RUNNING, started_at=now, message="started")
        last = [0.0]
        lock = threading.Lock()

        def progress(fraction: float, message: str) -> None:
            with lock:
                if time.monotonic() - last[0] < 0.5 and fraction < 1.0:
                    return
                last[0] = time.monotonic()
            set_job(self.engine, job_id, progress=max(0.0, min(1.0, fraction)), message=message)

        try:
            result = work(progress)
        except UrbanOpsError as exc:
            set_job(
                self.engine,
                job_id,
                state=FAILED,
                error=exc.detail,
                message="failed",
                finished_at=datetime.now(UTC),
            )
            return
        except Exception:
            log.exception("job %s failed", job_id)
            set_job(
                self.engine,
                job_id,
                state=FAILED,
                error="internal error (see the server log)",
                message="failed",
                finished_at=datetime.now(UTC),
            )
            return
        set_job(
            self.engine,
            job_id,
            state=SUCCEEDED,
            progress=1.0,
            message="done",
            result=result,
            finished_at=datetime.now(UTC),
        )

    def shutdown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)

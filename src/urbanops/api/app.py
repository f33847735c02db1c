"""The FastAPI application: SensorThings, the dashboard read path, and each domain's router."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.responses import RedirectResponse

from urbanops import __version__
from urbanops.api import alerts, events, ingest, latest, problems, sta
from urbanops.settings import Settings, get_settings
from urbanops.storage.engine import make_engine

log = logging.getLogger("urbanops.api")

DESCRIPTION = """
UrbanOps: open smart-city operations.

* **SensorThings API 1.1** (Sensing) at `/sta/v1.1`: Things, Locations, Datastreams,
  Observations... with `$filter $orderby $top $skip $count $select $expand` and the
  `CreateObservations` dataArray extension.
* **Dashboard read path**: `/api/v1/latest` (newest reading of up to 10,000 datastreams).

Authenticate with `Authorization: Bearer <key>` or HTTP Basic with the key as the password.
Errors are RFC 9457 problem+json.
"""


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Background work of the API process: the staleness check of alert rules."""
    stop = threading.Event()
    interval = app.state.settings.alert_check_interval_s
    thread = None
    if interval > 0:
        thread = threading.Thread(
            target=_staleness_loop,
            args=(app, stop, interval),
            name="urbanops-staleness",
            daemon=True,
        )
        thread.start()
    yield
    stop.set()
    if thread is not None:
        thread.join(timeout=5)


def _staleness_loop(app: FastAPI, stop: threading.Event, interval_s: float) -> None:
    from urbanops.core.alerting import evaluate_staleness

    while not stop.wait(interval_s):
        try:
            with app.state.engine.begin() as conn:
                evaluate_staleness(conn)
        except Exception:  # keep checking; a failed round is logged and retried
            log.exception("staleness check failed")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application for ``settings`` (default: from the environment)."""
    settings = settings or get_settings()
    app = FastAPI(
        title="UrbanOps",
        version=__version__,
        description=DESCRIPTION,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = make_engine(settings.sqlalchemy_url)
    problems.install(app)
    app.include_router(sta.router)
    app.include_router(latest.router)
    app.include_router(ingest.router)
    app.include_router(alerts.router)
    app.include_router(events.router)
    from urbanops.domains import ALL

    for domain in ALL:
        if domain.router is not None:
            app.include_router(domain.router)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    return app

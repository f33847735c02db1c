"""The FastAPI application: SensorThings, the dashboard read path, and each domain's router."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from urbanops import __version__
from urbanops.api import alerts, events, ingest, jobs, latest, problems, sta, webhooks
from urbanops.settings import Settings, get_settings
from urbanops.storage.engine import make_engine

log = logging.getLogger("urbanops.api")

DESCRIPTION = """
UrbanOps: open smart-city operations.

* **SensorThings API 1.1** (Sensing) at `/sta/v1.1`: Things, Locations, Datastreams,
  Observations... with `$filter $orderby $top $skip $count $select $expand` and the
  `CreateObservations` dataArray extension.
* **Dashboard read path**: `/api/v1/latest` (newest reading of up to 10,000 datastreams),
  `/api/v1/map/sensors` (every located sensor, in columns), `/api/v1/summary`, `/api/v1/me`.
* **Dashboard** at `/`.

Authenticate with `Authorization: Bearer <key>` or HTTP Basic with the key as the password.
Errors are RFC 9457 problem+json.
"""


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Background work: staleness checks and webhook deliveries, in one process at a time."""
    from urbanops.core.lease import Lease

    stop = threading.Event()
    settings = app.state.settings
    lease = Lease(app.state.engine, settings.data_dir)
    threads = []
    if settings.alert_check_interval_s > 0:
        threads.append(
            threading.Thread(
                target=_every,
                args=(stop, settings.alert_check_interval_s, _check_staleness, app, lease),
                name="urbanops-staleness",
                daemon=True,
            )
        )
    if settings.webhook_interval_s > 0:
        threads.append(
            threading.Thread(
                target=_every,
                args=(stop, settings.webhook_interval_s, _deliver_webhooks, app, lease),
                name="urbanops-webhooks",
                daemon=True,
            )
        )
    from urbanops.domains import ALL, load

    for domain in ALL:  # domains' fast timers (the taxi dispatcher's batches)
        interval = getattr(settings, domain.tick_interval or "", 0) if domain.tick else 0
        if interval and interval > 0:
            threads.append(
                threading.Thread(
                    target=_every,
                    args=(stop, interval, _domain_tick(load(domain.tick), domain.name), app, lease),
                    name=f"urbanops-{domain.name}",
                    daemon=True,
                )
            )
    for thread in threads:
        thread.start()
    publisher = app.state.stored_publisher
    if publisher is not None:
        publisher.start()
    yield
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
    if publisher is not None:
        publisher.stop()
    app.state.jobs.shutdown()
    lease.release()


_LEASE_LOCK = threading.Lock()


def _every(stop: threading.Event, interval_s: float, task: Any, app: FastAPI, lease: Any) -> None:
    while not stop.wait(interval_s):
        with _LEASE_LOCK:
            held = lease.acquire()
        if not held:  # another process does this work
            continue
        try:
            task(app)
        except Exception:  # keep going; a failed round is logged and retried
            log.exception("background task %s failed", task.__name__)


def _check_staleness(app: FastAPI) -> None:
    from urbanops.core.alerting import evaluate_staleness
    from urbanops.domains import ALL, load

    with app.state.engine.begin() as conn:
        evaluate_staleness(conn)
    for domain in ALL:  # domains' own timed work (parking sessions from sensors...)
        if domain.periodic:
            try:
                load(domain.periodic)(app.state.engine, app.state.settings)
            except Exception:
                log.exception("periodic work of %s failed", domain.name)


def _domain_tick(function: Any, name: str) -> Any:
    """A timer task that runs a domain's ``tick(engine, settings)``."""

    def task(app: FastAPI) -> None:
        function(app.state.engine, app.state.settings)

    task.__name__ = f"{name}_tick"
    return task


def _deliver_webhooks(app: FastAPI) -> None:
    from urbanops.core.webhooks import deliver_due

    deliver_due(app.state.engine)


def _stored_publisher(settings: Settings) -> Any:
    """Observations written over HTTP are published on the stored topic when MQTT is set up."""
    if not (settings.mqtt_url and settings.mqtt_republish):
        return None
    from urbanops.core.stored_feed import StoredPublisher

    return StoredPublisher(
        settings.mqtt_url,
        client_id=settings.mqtt_client_id,
        username=settings.mqtt_username,
        password=settings.mqtt_password.get_secret_value() if settings.mqtt_password else None,
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application for ``settings`` (default: from the environment)."""
    settings = settings or get_settings()
    app = FastAPI(
        title="UrbanOps",
        version=__version__,
        description=DESCRIPTION,
        docs_url="/docs",
        redoc_url=None,
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.engine = make_engine(settings.sqlalchemy_url)
    app.state.stored_publisher = _stored_publisher(settings)
    from urbanops.core.jobs import JobRunner

    app.state.jobs = JobRunner(app.state.engine)
    problems.install(app)
    app.include_router(sta.router)
    app.include_router(latest.router)
    app.include_router(ingest.router)
    app.include_router(alerts.router)
    app.include_router(events.router)
    app.include_router(webhooks.router)
    app.include_router(jobs.router)
    from urbanops.domains import ALL, load

    for domain in ALL:
        if domain.router is not None:
            app.include_router(load(domain.router))

    from urbanops.web.dashboard.routes import router as dashboard

    app.include_router(dashboard)  # the city dashboard at /
    return app

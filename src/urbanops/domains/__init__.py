"""City-service domains. Each registers itself in :data:`ALL` (router, CLI sub-app, tables).

A domain names its parts as ``"module:attribute"`` strings, imported only when needed: the API
imports the routers, the CLI the sub-apps, so ``urbanops --help`` does not load FastAPI. Adding a
domain is adding its folder and one line here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module
from typing import Any


def load(spec: str | None) -> Any:
    """The object a ``"module:attribute"`` spec names (None stays None)."""
    if spec is None:
        return None
    module, _, attr = spec.partition(":")
    return getattr(import_module(module), attr)


@dataclass(frozen=True)
class Domain:
    """What a domain contributes to the platform."""

    name: str
    router: str | None = None
    cli: str | None = None
    tables: str | None = None
    # ``"module:function"`` run with (engine, settings) on the background timer of ``serve``
    periodic: str | None = None
    # ``"module:function"`` run with (engine, settings) every ``settings.<tick_interval>`` s
    tick: str | None = None
    tick_interval: str | None = None
    alert_rules: list[Any] = field(default_factory=list)


ALL: list[Domain] = [
    Domain(
        "thermal",
        router="urbanops.domains.thermal.api:router",
        cli="urbanops.domains.thermal.cli:app",
        tables="urbanops.domains.thermal.tables:thermal_surveys",
    ),
    Domain("drone", cli="urbanops.domains.drone.cli:app"),
    Domain("heat", router="urbanops.domains.heat.api:router", cli="urbanops.domains.heat.cli:app"),
    Domain(
        "parking",
        router="urbanops.domains.parking.api:router",
        cli="urbanops.domains.parking.cli:app",
        tables="urbanops.domains.parking.tables:parking_bays",
        periodic="urbanops.domains.parking.sessions:periodic",
    ),
    Domain(
        "taxi",
        router="urbanops.domains.taxi.api:router",
        cli="urbanops.domains.taxi.cli:app",
        tables="urbanops.domains.taxi.tables:taxi_vehicles",
        tick="urbanops.domains.taxi.service:tick",
        tick_interval="taxi_batch_s",
    ),
    Domain(
        "civic",
        router="urbanops.domains.civic.api:router",
        cli="urbanops.domains.civic.cli:app",
        tables="urbanops.domains.civic.tables:civic_requests",
        periodic="urbanops.domains.civic.complaints:periodic",
    ),
]

"""City-service domains. Each registers itself in :data:`ALL` (router, CLI sub-app, tables).

A domain names its parts as ``"module:attribute"`` strings, imported only when needed: the API
imports the routers, the CLI the sub-apps, so ``urbanops --help`` does not load FastAPI. Adding a
domain is adding its folder and one line here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

from urbanops.core.layers import MapLayer


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
    # Layers of the dashboard's city map, drawn from the public API (see core.layers)
    layers: tuple[MapLayer, ...] = ()


ALL: list[Domain] = [
    Domain(
        "thermal",
        router="urbanops.domains.thermal.api:router",
        cli="urbanops.domains.thermal.cli:app",
        tables="urbanops.domains.thermal.tables:thermal_surveys",
        layers=(
            MapLayer(
                "thermal.findings",
                {"en": "Pipe findings (thermal survey)", "ko": "열배관 이상 지점 (열화상)"},
                "features",
                "/api/v1/thermal/findings",
                colour_by="severity",
                colours={"high": "#d7191c", "medium": "#fdae61", "low": "#2c7bb6"},
                label="kind",
                refresh_s=300,
            ),
        ),
    ),
    Domain("drone", cli="urbanops.domains.drone.cli:app"),
    Domain(
        "heat",
        router="urbanops.domains.heat.api:router",
        cli="urbanops.domains.heat.cli:app",
        layers=(
            MapLayer(
                "heat.apparent_temp",
                {"en": "Heat map (apparent temperature)", "ko": "폭염 지도 (체감온도)"},
                "tiles",
                "/api/v1/heat/tiles/apparent_temp/{z}/{x}/{y}.png",
                legend="/api/v1/heat/legend/apparent_temp.png",
                prepare="/api/v1/heat/map",
                extent="tiles.apparent_temp",
                refresh_s=600,
            ),
        ),
    ),
    Domain(
        "parking",
        router="urbanops.domains.parking.api:router",
        cli="urbanops.domains.parking.cli:app",
        tables="urbanops.domains.parking.tables:parking_bays",
        periodic="urbanops.domains.parking.sessions:periodic",
        layers=(
            MapLayer(
                "parking.bays",
                {"en": "Shared parking bays", "ko": "공유 주차면"},
                "features",
                "/api/v1/parking/bays.geojson",
                colour_by="status",
                colours={"free": "#1a9641", "occupied": "#d7191c", "closed": "#636363"},
                label="name",
                needs_key=False,
                refresh_s=30,
            ),
        ),
    ),
    Domain(
        "taxi",
        router="urbanops.domains.taxi.api:router",
        cli="urbanops.domains.taxi.cli:app",
        tables="urbanops.domains.taxi.tables:taxi_vehicles",
        tick="urbanops.domains.taxi.service:tick",
        tick_interval="taxi_batch_s",
        layers=(
            MapLayer(
                "taxi.fleet",
                {"en": "Taxis and waiting riders", "ko": "택시와 대기 승객"},
                "features",
                "/api/v1/taxi/map.geojson",
                colour_by="state",
                colours={
                    "idle": "#1a9641",
                    "en_route": "#fdae61",
                    "occupied": "#2c7bb6",
                    "requested": "#d7191c",
                    "matched": "#e66101",
                    "arriving": "#e66101",
                },
                label="kind",
                refresh_s=10,
            ),
        ),
    ),
    Domain(
        "civic",
        router="urbanops.domains.civic.api:router",
        cli="urbanops.domains.civic.cli:app",
        tables="urbanops.domains.civic.tables:civic_requests",
        periodic="urbanops.domains.civic.complaints:periodic",
        layers=(
            MapLayer(
                "civic.complaints",
                {"en": "Residents' complaints (Open311)", "ko": "민원 (Open311)"},
                "features",
                "/open311/v2/requests.json",
                colour_by="status",
                colours={"open": "#d7191c", "closed": "#1a9641"},
                label="service_name",
                needs_key=False,
                refresh_s=60,
            ),
        ),
    ),
]

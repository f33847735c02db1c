"""A small pipe network in Seongnam with four kinds of restricted zone (written per test)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, Point, Polygon, box, mapping

#: Metric origin of the fixture: near Seongnam city hall, in EPSG:5186.
_TO_LL = Transformer.from_crs("EPSG:5186", "EPSG:4326", always_xy=True)
_TO_M = Transformer.from_crs("EPSG:4326", "EPSG:5186", always_xy=True)
X0, Y0 = _TO_M.transform(127.1265, 37.4200)


def to_ll(geom: Any) -> Any:
    return shapely.transform(geom, _TO_LL.transform, interleaved=False)


def local(x: float, y: float) -> tuple[float, float]:
    """Longitude, latitude of a point ``x, y`` metres east and north of the origin."""
    return _TO_LL.transform(X0 + x, Y0 + y)


def grid_lines(n: int = 3, length_m: float = 1500.0, spacing_m: float = 500.0) -> list[LineString]:
    """Streets of a grid (metres, EPSG:5186): n east-west and n north-south."""
    lines = []
    for i in range(n):
        c = i * spacing_m
        lines.append(LineString([(X0, Y0 + c), (X0 + length_m, Y0 + c)]))
        lines.append(LineString([(X0 + c, Y0), (X0 + c, Y0 + length_m)]))
    return lines


def fc(features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features}


def feature(geom: Any, **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": props, "geometry": mapping(to_ll(geom))}


def zones_fixture() -> list[dict[str, Any]]:
    """Zones in metric coordinates with their GeoJSON properties."""
    bow = Polygon(
        [
            (X0 + 1400, Y0 + 900),
            (X0 + 1600, Y0 + 1100),
            (X0 + 1600, Y0 + 900),
            (X0 + 1400, Y0 + 1100),
        ]
    )
    return [
        # always in force: sits on the crossing at (500, 500)
        feature(Point(X0 + 500, Y0 + 500).buffer(150), id="Z-AIR", name="air base sector"),
        # in force at night only, over the middle of the northern street
        feature(
            box(X0 + 700, Y0 + 950, X0 + 900, Y0 + 1050),
            id="Z-NIGHT",
            name="night helipad",
            active_hours="22:00-06:00",
        ),
        # below the survey height: flown over
        feature(Point(X0 + 1200, Y0 + 0).buffer(80), id="Z-LOW", name="crane", ceiling_m=50),
        # a bow tie on the eastern end of the northern street: repaired with a warning
        feature(bow, id="Z-BOW", name="drawn badly"),
    ]


@pytest.fixture
def site(tmp_path: Path) -> dict[str, Any]:
    """Network, zones and home written as GeoJSON in ``tmp_path``."""
    net = tmp_path / "pipes.geojson"
    net.write_text(json.dumps(fc([feature(ln, id=f"P{i}") for i, ln in enumerate(grid_lines())])))
    zones = tmp_path / "zones.geojson"
    zones.write_text(json.dumps(fc(zones_fixture())))
    lon, lat = local(-60, -60)
    return {"network": net, "zones": zones, "home": f"{lon:.7f},{lat:.7f}", "dir": tmp_path}

"""The pipe network to survey: lines from any vector file in any CRS, in a metric CRS."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from pyproj import CRS, Transformer
from shapely.geometry import LineString, MultiLineString
from shapely.geometry.base import BaseGeometry

from urbanops.core import vector
from urbanops.errors import ValidationError


class NetworkError(ValidationError):
    """A pipe network that cannot be planned over."""


MAX_FEATURES = 200_000
MAX_EXTENT_M = 100_000.0
MAX_LENGTH_M = 5_000_000.0


@dataclass(frozen=True)
class Network:
    """Pipes merged into lines, in ``crs`` (metres)."""

    lines: list[LineString]
    crs: CRS
    source_crs: CRS

    @property
    def length_m(self) -> float:
        return float(sum(ln.length for ln in self.lines))

    @property
    def geometry(self) -> BaseGeometry:
        return MultiLineString(self.lines)


def _parts(geom: BaseGeometry) -> list[LineString]:
    return [g for g in shapely.get_parts(geom) if isinstance(g, LineString) and not g.is_empty]


def read_network(path: Path, *, metric_crs: str | None = "EPSG:5186") -> Network:
    """Read pipes (LineString/MultiLineString features) and project them to a metric CRS.

    Parameters
    ----------
    path
        GeoJSON (EPSG:4326 unless it names another CRS), GeoPackage or Shapefile in any CRS.
    metric_crs
        The city's metric CRS, used when it covers the network; otherwise the UTM zone of
        the network's centre.

    Raises
    ------
    NetworkError
        No lines, something other than lines, coordinates that cannot be placed, or a network
        larger than one plan should hold (100 km across, 5,000 km of pipe).
    """
    shapes, _rows, src_crs = vector.read_layer(path, "network", error=NetworkError)
    if len(shapes) > MAX_FEATURES:
        raise NetworkError(f"{path.name}: {len(shapes)} features; at most {MAX_FEATURES}")
    src = src_crs or CRS.from_epsg(4326)
    lines: list[LineString] = []
    for i, geom in enumerate(shapes):
        if geom is None or geom.is_empty:
            continue
        if geom.geom_type not in ("LineString", "MultiLineString"):
            raise NetworkError(
                f"{path.name}: feature {i} is a {geom.geom_type}; the network must be lines",
                field="network",
            )
        lines.extend(_parts(geom))
    if not lines:
        raise NetworkError(f"{path.name}: the network has no pipes", field="network")
    geo = shapely.multilinestrings(lines)
    if src.is_geographic:
        lon0, lat0, lon1, lat1 = geo.bounds
        if not (-180 <= lon0 <= lon1 <= 180 and -90 <= lat0 <= lat1 <= 90):
            raise NetworkError(
                f"{path.name}: coordinates outside longitude/latitude range (a projected "
                "file without its CRS?)",
                field="network",
            )
        to_geo = None
    else:
        to_geo = Transformer.from_crs(src, CRS.from_epsg(4326), always_xy=True)
    c = geo.centroid
    lon, lat = (c.x, c.y) if to_geo is None else to_geo.transform(c.x, c.y)
    if not (np.isfinite(lon) and np.isfinite(lat)):
        raise NetworkError(f"{path.name}: the network cannot be placed on Earth", field="network")
    crs = vector.metric_crs_for(lon, lat, metric_crs)
    to_metric = Transformer.from_crs(src, crs, always_xy=True)
    metric = shapely.transform(geo, to_metric.transform, interleaved=False)
    x0, y0, x1, y1 = metric.bounds
    if not np.isfinite([x0, y0, x1, y1]).all():
        raise NetworkError(f"{path.name}: coordinates that cannot be projected", field="network")
    if max(x1 - x0, y1 - y0) > MAX_EXTENT_M:
        raise NetworkError(
            f"{path.name}: the network spans {max(x1 - x0, y1 - y0) / 1000:.0f} km; plan at most "
            f"{MAX_EXTENT_M / 1000:.0f} km across at once",
            field="network",
        )
    if metric.length > MAX_LENGTH_M:
        raise NetworkError(f"{path.name}: more than {MAX_LENGTH_M / 1000:.0f} km of pipe")
    merged = shapely.line_merge(shapely.unary_union(metric))
    out = [ln for ln in _parts(merged) if ln.length > 0]
    if not out:
        raise NetworkError(f"{path.name}: the network has no length", field="network")
    return Network(lines=out, crs=crs, source_crs=src)

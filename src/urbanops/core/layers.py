"""Map layers that domains contribute to the dashboard, described as data.

The dashboard draws every layer from the public API with a few generic renderers, so a domain
adds a layer to the city map by declaring one :class:`MapLayer` in ``urbanops.domains.ALL``:
no JavaScript to write. See docs/dashboard.md ("Adding a domain's layer").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

#: How the dashboard reads ``url``: ``features`` accepts a GeoJSON FeatureCollection, a JSON
#: list of NGSI-LD keyValues entities with ``location``, or ``{"value": [...]}`` / a list of
#: objects with ``lon``/``lat`` (or ``long``/``lat``, or ``position: {lon, lat}``);
#: ``tiles`` is an XYZ template with ``{z}/{x}/{y}``.
LayerKind = Literal["features", "tiles"]


@dataclass(frozen=True)
class MapLayer:
    """One switchable layer of the city map.

    Parameters
    ----------
    id
        Unique, ``domain.name`` style (``"parking.bays"``).
    title
        Label per language (``{"en": ..., "ko": ...}``).
    kind
        ``"features"`` or ``"tiles"`` (see :data:`LayerKind`).
    url
        Path of the public API that serves it (the dashboard adds the key when signed in).
    colour_by
        Feature property whose value picks the colour from ``colours``.
    colours
        Value -> CSS colour; other values are grey.
    label
        Feature property shown as the feature's title in its details.
    legend
        Path of a legend image (tiles).
    prepare
        Path to GET once before drawing (e.g. one that builds the layer's current map).
    extent
        Dotted path, in the ``prepare`` answer, to ``{"bounds": [w, s, e, n], "zooms": [min,
        max]}``: tiles are asked for only there (no requests for tiles that do not exist).
    needs_key
        True when anonymous callers get 401 (the layer is hidden in public mode).
    refresh_s
        Reload period; 0 = load once.
    visible
        Shown when the dashboard opens.
    opacity
        For tiles.
    """

    id: str
    title: dict[str, str]
    kind: LayerKind
    url: str
    colour_by: str | None = None
    colours: dict[str, str] = field(default_factory=dict)
    label: str | None = None
    legend: str | None = None
    prepare: str | None = None
    extent: str | None = None
    needs_key: bool = True
    refresh_s: float = 60.0
    visible: bool = False
    opacity: float = 0.7

    def public(self) -> dict[str, Any]:
        """The JSON form the dashboard reads."""
        return asdict(self)

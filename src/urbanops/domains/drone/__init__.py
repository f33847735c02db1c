"""Drone survey missions over the pipe network that keep out of restricted airspace.

The public API is imported lazily (``from urbanops.domains.drone import plan_mission``), so
importing the package loads nothing heavy.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Zone": "airspace",
    "read_zones": "airspace",
    "Camera": "cameras",
    "builtin_cameras": "cameras",
    "get_camera": "cameras",
    "Network": "network",
    "read_network": "network",
    "MissionPlan": "plan",
    "PlanError": "plan",
    "PlanOptions": "plan",
    "plan_mission": "plan",
    "write_outputs": "export",
    "read_weather": "windows",
    "assess": "windows",
    "WindowCriteria": "windows",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f"urbanops.domains.drone.{_EXPORTS[name]}"), name)
    raise AttributeError(name)

"""Compare two inspections of the same network: what is new, grown, unchanged or gone."""

from __future__ import annotations

import math
from typing import Any

#: Findings closer than this (metres) are the same place in both surveys.
MATCH_M = 3.0
#: A finding has grown when its excess rose by this much, or its area by this fraction.
GROWN_DELTA_C = 0.5
GROWN_AREA = 0.25


def _metres(a: dict[str, Any], b: dict[str, Any]) -> float:
    """Distance between two lon/lat points (equirectangular; exact enough under 1 km)."""
    lat = math.radians((a["lat"] + b["lat"]) / 2)
    dx = math.radians(b["lon"] - a["lon"]) * math.cos(lat) * 6_371_000
    dy = math.radians(b["lat"] - a["lat"]) * 6_371_000
    return math.hypot(dx, dy)


def compare(
    old: list[dict[str, Any]], new: list[dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """Match findings by place (nearest pairs first, within :data:`MATCH_M`).

    Returns ``new``, ``grown``, ``unchanged`` (each with the matched old id and the changes) and
    ``resolved`` (old findings no longer seen).
    """
    pairs = sorted(
        (d, i, j)
        for i, o in enumerate(old)
        for j, n in enumerate(new)
        if (d := _metres(o, n)) <= MATCH_M
    )
    used_old: set[int] = set()
    used_new: set[int] = set()
    out: dict[str, list[dict[str, Any]]] = {"new": [], "grown": [], "unchanged": [], "resolved": []}
    for d, i, j in pairs:
        if i in used_old or j in used_new:
            continue
        used_old.add(i)
        used_new.add(j)
        o, n = old[i], new[j]
        d_excess = float(n.get("delta_t_c") or 0) - float(o.get("delta_t_c") or 0)
        area_o = float(o.get("area_m2") or 0)
        d_area = (float(n.get("area_m2") or 0) - area_o) / area_o if area_o > 0 else 0.0
        item = {
            **n,
            "old_id": o.get("id"),
            "moved_m": round(d, 2),
            "delta_t_change_c": round(d_excess, 2),
            "area_change": round(d_area, 3),
        }
        grown = d_excess >= GROWN_DELTA_C or d_area >= GROWN_AREA
        out["grown" if grown else "unchanged"].append(item)
    out["new"] = [n for j, n in enumerate(new) if j not in used_new]
    out["resolved"] = [o for i, o in enumerate(old) if i not in used_old]
    return out

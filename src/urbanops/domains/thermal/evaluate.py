"""Score an inspection against a generated scene's ground truth.

A leak counts as found when a finding (any kind: a crew visits every finding) lies within
``max(2.5 m, 2 x depth)`` of it (the pit a crew opens). A finding is a false alarm when it is
near no leak and on no stretch of degraded insulation (within 2 m of the stretch). Recall is
reported for leaks whose peak surface excess is at least ``min_peak_c`` (1.5 deg C by default:
what a crew is asked to find) and that the mosaic imaged (not under its nodata border); false
alarms per km of pipe in the scene.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from shapely.geometry import LineString, Point


@dataclass
class Score:
    leaks: int = 0
    found: int = 0
    found_as_leak: int = 0
    false_alarms: int = 0
    findings: int = 0
    pipe_km: float = 0.0

    def add(self, other: Score) -> None:
        self.leaks += other.leaks
        self.found += other.found
        self.found_as_leak += other.found_as_leak
        self.false_alarms += other.false_alarms
        self.findings += other.findings
        self.pipe_km += other.pipe_km

    @property
    def recall(self) -> float:
        return self.found / self.leaks if self.leaks else float("nan")

    @property
    def false_alarms_per_km(self) -> float:
        return self.false_alarms / self.pipe_km if self.pipe_km else float("nan")


def score(
    truth: dict[str, Any], points: list[tuple[float, float, str]], *, min_peak_c: float = 1.5
) -> Score:
    """``points`` are findings as (x, y, kind) in the scene's CRS."""
    leaks = truth["leaks"]
    stretches = [LineString([s["start"], s["end"]]) for s in truth["insulation"]]
    out = Score(pipe_km=truth["pipe_length_m"] / 1000, findings=len(points))
    for lk in leaks:
        if lk["peak_c"] < min_peak_c or not lk.get("imaged", True):
            continue
        out.leaks += 1
        radius = max(2.5, 2.0 * lk["depth_m"])
        near = [k for x, y, k in points if math.hypot(x - lk["x"], y - lk["y"]) <= radius]
        out.found += bool(near)
        out.found_as_leak += "leak" in near
    for x, y, _kind in points:
        near_leak = any(
            math.hypot(x - lk["x"], y - lk["y"]) <= max(2.5, 2.0 * lk["depth_m"]) for lk in leaks
        )
        on_stretch = any(s.distance(Point(x, y)) <= 2.0 for s in stretches)
        out.false_alarms += not (near_leak or on_stretch)
    return out

"""Correct the network map's position of each pipe with the lids found on it.

Network maps place pipes a metre or so off their true line (drawn from old plans, digitised at
small scales). That blurs the strongest cue a leak has, its nearness to the pipe: the score's
distance term must allow for the map's error, which lets texture bumps a metre off the pipe
score like a leak on it. Heating chambers and manhole covers sit on their pipe, and the lids of
the registered ones are found in the image (``known``) to within a pixel or two. Where a pipe
has such lids, the lateral offset between the mapped line and the lids is the map's error
there: the median offset shifts the pipe's line (``shapely`` offset curve, positive = to the
left of the line's direction). A lid counts for a pipe when it lies within ``align_reach_m`` of
it and not that close to another pipe (at crossings and junctions a chamber belongs to
several). Pipes without lids keep their mapped line.

One offset per network feature: a map's features are usually the stretches between chambers
or junctions, over which the error of a drawing is nearly a shift. The corridors searched are
not moved (they already allow for the map's error); the correction is used to measure each
candidate's distance to its pipe, and it is reported per pipe in ``coverage.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import shapely
from shapely import STRtree
from shapely.geometry import Point

from urbanops.domains.thermal.models import InspectParams, Pipe


@dataclass(frozen=True)
class PipeOffset:
    """The correction of one pipe's mapped line."""

    offset_m: float  # lateral, positive to the left of the line's direction
    lids: int  # how many lids it rests on (0: the mapped line is kept)


def pipe_offsets(
    pipes: list[Pipe], lids_xy: list[tuple[float, float]], params: InspectParams
) -> list[PipeOffset]:
    """The offset of each pipe's true line from its mapped one, from lids found on it."""
    out: list[PipeOffset] = []
    reach = params.align_reach_m
    points = [Point(x, y) for x, y in lids_xy]
    if not points or not pipes:
        return [PipeOffset(0.0, 0) for _ in pipes]
    lines = [p.line for p in pipes]
    # (lid, pipe) pairs within reach, from a spatial index: a city's survey has thousands of
    # pipes and lids.
    lid_idx, pipe_idx = STRtree(lines).query(points, predicate="dwithin", distance=reach)
    pipes_near = np.bincount(lid_idx, minlength=len(points))
    for i, line in enumerate(lines):
        mine = lid_idx[(pipe_idx == i) & (pipes_near[lid_idx] == 1)]
        sides = [_signed_offset(line, points[j]) for j in sorted(set(mine.tolist()))]
        out.append(PipeOffset(float(np.median(sides)), len(sides)) if sides else PipeOffset(0.0, 0))
    return out


def _signed_offset(line: shapely.LineString, pt: Point) -> float:
    """Distance of ``pt`` from ``line``, positive when it lies to the left of the direction."""
    s = line.project(pt)
    a = line.interpolate(max(0.0, s - 0.5))
    b = line.interpolate(min(line.length, s + 0.5))
    foot = line.interpolate(s)
    cross = (b.x - a.x) * (pt.y - foot.y) - (b.y - a.y) * (pt.x - foot.x)
    d = foot.distance(pt)
    return d if cross >= 0 else -d


def corrected(pipes: list[Pipe], offsets: list[PipeOffset]) -> list[Pipe]:
    """The pipes with their lines shifted by their offsets (unchanged where there is none)."""
    out = []
    for p, off in zip(pipes, offsets, strict=True):
        if off.lids == 0:
            out.append(p)
            continue
        if abs(off.offset_m) < 1e-6:
            out.append(replace(p, lids=off.lids))
            continue
        shifted = shapely.offset_curve(p.line, off.offset_m)
        if shifted.is_empty or shifted.geom_type != "LineString":
            out.append(p)  # a line too bent to shift by that much: kept as mapped
            continue
        out.append(replace(p, line=shifted, lids=off.lids))
    return out

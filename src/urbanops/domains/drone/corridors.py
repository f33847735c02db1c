"""Corridor flight lines over pipes, camera positions along them, and the coverage they give.

A pipe is imaged from lines flown along it at the survey altitude. One line directly over the
pipe images a strip as wide as the image footprint; where the corridor to image (the pipe and
its uncertainty either side) is wider than that, parallel lines are flown at the footprint
width times ``1 - side overlap`` apart. Lines are cut where they would enter an obstacle
(restricted zones grown by the safety margin). Along a line the camera fires every
``trigger_m`` metres of flight (``footprint along x (1 - forward overlap)``), and once more at
the line's end so the last stretch before a zone is imaged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry
from shapely.ops import substring


@dataclass(frozen=True)
class FlightLine:
    """A survey line (metres), flown in either direction."""

    coords: np.ndarray  # (k, 2)
    offset_m: float = 0.0  # signed distance from the pipe

    @property
    def length_m(self) -> float:
        return float(np.hypot(*np.diff(self.coords, axis=0).T).sum())

    @property
    def start(self) -> np.ndarray:
        return self.coords[0]

    @property
    def end(self) -> np.ndarray:
        return self.coords[-1]


def passes(corridor_m: float, footprint_across_m: float, side_overlap: float) -> list[float]:
    """Offsets (metres from the pipe) of the parallel lines that image a corridor.

    Examples
    --------
    >>> passes(20, 64, 0.3)
    [0.0]
    >>> [round(o, 1) for o in passes(120, 64, 0.3)]
    [-22.4, 22.4]
    """
    if corridor_m <= footprint_across_m:
        return [0.0]
    spacing = footprint_across_m * (1 - side_overlap)
    n = math.ceil((corridor_m - footprint_across_m) / spacing) + 1
    return [(i - (n - 1) / 2) * spacing for i in range(n)]


def _lines(geom: BaseGeometry) -> list[LineString]:
    return [g for g in shapely.get_parts(shapely.line_merge(geom)) if isinstance(g, LineString)]


def flight_lines(
    pipes: list[LineString],
    obstacles: BaseGeometry,
    *,
    offsets_m: list[float],
    simplify_m: float = 1.0,
    min_length_m: float = 2.0,
    max_length_m: float = math.inf,
) -> list[FlightLine]:
    """The survey lines over ``pipes`` that stay out of ``obstacles``.

    Parameters
    ----------
    offsets_m
        Offsets of the parallel passes (:func:`passes`).
    simplify_m
        Lines follow the pipe within this tolerance (fewer waypoints).
    min_length_m
        Pieces shorter than this between two obstacles are not flown (their pipe is imaged from
        the neighbouring lines' end shots or counted as not covered).
    max_length_m
        Longer lines are cut into equal pieces (a line must fit one battery).
    """
    out: list[FlightLine] = []
    for pipe in pipes:
        base = pipe.simplify(simplify_m) if simplify_m > 0 else pipe
        for off in offsets_m:
            line = base if off == 0 else shapely.offset_curve(base, off, join_style="round")
            if line.is_empty:
                continue
            free = line if obstacles.is_empty else line.difference(obstacles)
            for part in _lines(free):
                if part.length < min_length_m:
                    continue
                for piece in _cut(part, max_length_m):
                    xy = np.asarray(piece.coords)[:, :2]
                    out.append(FlightLine(coords=xy, offset_m=float(off)))
    return out


def _cut(line: LineString, max_length_m: float) -> list[LineString]:
    if line.length <= max_length_m:
        return [line]
    k = math.ceil(line.length / max_length_m)
    step = line.length / k
    return [substring(line, i * step, (i + 1) * step) for i in range(k)]


def shot_positions(coords: np.ndarray, trigger_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Camera positions (n, 2) and headings (radians, east = 0) along a line.

    Shots every ``trigger_m`` from the start, and one at the end.
    """
    seg = np.diff(coords, axis=0)
    seg_len = np.hypot(seg[:, 0], seg[:, 1])
    keep = seg_len > 0
    seg, seg_len = seg[keep], seg_len[keep]
    if len(seg) == 0:
        return coords[:1].copy(), np.zeros(1)
    cum = np.concatenate([[0.0], np.cumsum(seg_len)])
    total = cum[-1]
    s = np.arange(0.0, total, trigger_m)
    if total - s[-1] > 1e-6:
        s = np.append(s, total)
    k = np.clip(np.searchsorted(cum, s, side="right") - 1, 0, len(seg) - 1)
    frac = ((s - cum[k]) / seg_len[k])[:, None]
    start = coords[:-1][keep]
    pos = start[k] + seg[k] * frac
    heading = np.arctan2(seg[k, 1], seg[k, 0])
    return pos, heading


def footprints(
    positions: np.ndarray, headings: np.ndarray, across_m: float, along_m: float
) -> np.ndarray:
    """Ground footprints (shapely polygons) of nadir images at ``positions``."""
    ca, sa = np.cos(headings)[:, None], np.sin(headings)[:, None]
    u = np.array([-1, 1, 1, -1, -1]) * along_m / 2  # along track
    v = np.array([-1, -1, 1, 1, -1]) * across_m / 2  # across track
    x = positions[:, 0:1] + u * ca - v * sa
    y = positions[:, 1:2] + u * sa + v * ca
    return shapely.polygons(np.stack([x, y], axis=-1))


@dataclass(frozen=True)
class Coverage:
    """How much of the pipe the shots image."""

    pipe_m: float  # pipe length considered (outside zones)
    covered_m: float
    uncovered: list[LineString]

    @property
    def fraction(self) -> float:
        return self.covered_m / self.pipe_m if self.pipe_m > 0 else 1.0


def coverage(pipes: BaseGeometry, shots: np.ndarray, *, step_m: float = 0.5) -> Coverage:
    """Length of ``pipes`` inside at least one footprint, sampled every ``step_m``.

    ``shots`` are footprint polygons (:func:`footprints`). Each pipe is sampled at the
    midpoints of ``step_m`` pieces; a piece counts as covered when its midpoint lies in a
    footprint. Runs of uncovered pieces are returned as lines (for the map).
    """
    parts = [g for g in shapely.get_parts(pipes) if isinstance(g, LineString) and g.length > 0]
    total = float(sum(p.length for p in parts))
    if not parts:
        return Coverage(0.0, 0.0, [])
    tree = shapely.STRtree(shots) if len(shots) else None
    covered = 0.0
    gaps: list[LineString] = []
    for line in parts:
        n = max(1, math.ceil(line.length / step_m))
        piece = line.length / n
        mids = shapely.line_interpolate_point(line, (np.arange(n) + 0.5) * piece)
        hit = np.zeros(n, dtype=bool)
        if tree is not None:
            idx, _ = tree.query(mids, predicate="within")
            hit[idx] = True
        covered += hit.sum() * piece
        if not hit.all():
            edges = np.flatnonzero(np.diff(np.concatenate([[1], hit.astype(int), [1]])))
            for a, b in zip(edges[::2], edges[1::2], strict=True):
                gaps.append(substring(line, a * piece, b * piece))
    return Coverage(total, covered, gaps)

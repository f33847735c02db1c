"""Plan a survey of a pipe network: altitude, lines, sorties, transits, coverage, checks.

:func:`plan_mission` is the library entry point behind ``urbanops drone plan``. It ties the
pieces together and owns the time question: which zones are in force depends on when each
sortie flies, and when each sortie flies depends on the plan. The plan starts with the zones in
force at the start time, schedules the sorties (battery swaps between them), and plans again
with the zones in force at any moment of the schedule until that set stops growing; a zone
that only opens after the last landing does not shape the plan.

Every leg of the result (climb, transits, survey lines, return) is checked against the zones
in force before the plan is returned; a violation is a bug and raises.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import shapely
from pyproj import CRS, Transformer
from shapely.geometry import MultiPolygon, Point
from shapely.geometry.base import BaseGeometry

from urbanops.domains.drone.airspace import Zone, active_zones, obstacles
from urbanops.domains.drone.cameras import Camera
from urbanops.domains.drone.corridors import (
    Coverage,
    FlightLine,
    coverage,
    flight_lines,
    footprints,
    passes,
    shot_positions,
)
from urbanops.domains.drone.network import Network
from urbanops.domains.drone.routing import (
    FlightModel,
    Problem,
    Sortie,
    improve_vrp,
    nearest_neighbour,
    order_ortools,
    split,
    total_distance_m,
)
from urbanops.domains.drone.transit import TransitGraph
from urbanops.errors import ValidationError


class PlanError(ValidationError):
    """A survey that cannot be planned as asked (the message says why and what would work)."""


Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class PlanOptions:
    """What the operator chooses (defaults suit a DJI M300-class drone at night)."""

    gsd_m: float = 0.10
    side_overlap: float = 0.3
    forward_overlap: float | None = None  # None: same as side
    corridor_m: float = 20.0
    ceiling_m: float = 150.0
    min_altitude_m: float = 20.0
    zone_margin_m: float = 10.0
    vertical_margin_m: float = 10.0
    endurance_min: float = 30.0
    reserve: float = 0.25
    survey_speed_ms: float = 8.0
    transit_speed_ms: float = 12.0
    battery_swap_min: float = 10.0
    search_s: float = 4.0
    start: datetime | None = None

    def check(self) -> None:
        """Refuse values no plan can use, naming the option."""

        def bad(name: str, value: float, why: str) -> None:
            raise PlanError(f"--{name.replace('_', '-')} {value:g}: {why}", field=name)

        if not math.isfinite(self.gsd_m) or self.gsd_m <= 0:
            bad("gsd", self.gsd_m, "the ground sampling distance must be above 0 m/pixel")
        if self.gsd_m > 5:
            bad("gsd", self.gsd_m, "above 5 m/pixel a thermal image shows no pipe")
        for name in ("side_overlap", "forward_overlap"):
            v = getattr(self, name)
            if v is not None and not (0 <= v < 1):
                bad("overlap" if name == "side_overlap" else name, v, "must be in [0, 1)")
        checks = [
            ("corridor_m", self.corridor_m, 0, 2000),
            ("ceiling_m", self.ceiling_m, 1, 10_000),
            ("zone_margin_m", self.zone_margin_m, 1, 1000),
            ("vertical_margin_m", self.vertical_margin_m, 0, 1000),
            ("endurance_min", self.endurance_min, 1, 24 * 60),
            ("reserve", self.reserve, 0, 0.9),
            ("survey_speed_ms", self.survey_speed_ms, 0.5, 50),
            ("transit_speed_ms", self.transit_speed_ms, 0.5, 50),
            ("battery_swap_min", self.battery_swap_min, 0, 24 * 60),
            ("search_s", self.search_s, 0.2, 600),
        ]
        for name, v, lo, hi in checks:
            if not (math.isfinite(v) and lo <= v <= hi):
                bad(name, v, f"must be between {lo:g} and {hi:g}")


@dataclass
class PlannedSortie:
    """A sortie with its path (metres) and schedule."""

    number: int
    sortie: Sortie
    path: np.ndarray  # (k, 2) home .. home
    kinds: list[str]  # per segment of path: "transit" or "survey"
    line_starts: list[int]  # path vertex index where each line starts (camera on)
    line_ends: list[int]  # ... and ends (camera off)
    start: datetime
    end: datetime


@dataclass
class MissionPlan:
    """Everything the outputs need."""

    crs: CRS
    camera: Camera
    options: PlanOptions
    home_xy: np.ndarray
    home_lonlat: tuple[float, float]
    home_alt_m: float
    altitude_m: float
    gsd_m: float
    footprint_m: tuple[float, float]
    trigger_m: float
    offsets_m: list[float]
    network: Network
    zones: list[Zone]
    in_force: list[Zone]
    obstacles: BaseGeometry
    lines: list[FlightLine]
    sorties: list[PlannedSortie]
    excluded: dict[int, str]
    coverage: Coverage
    authorisation: list[tuple[Zone, BaseGeometry]]  # zone, pipe under it
    baseline_m: float  # nearest-neighbour total distance over the same lines
    warnings: list[str] = field(default_factory=list)

    @property
    def authorisation_m(self) -> float:
        """Pipe length under zones in force (counted once where zones overlap)."""
        if not self.authorisation:
            return 0.0
        return float(shapely.union_all([g for _, g in self.authorisation]).length)

    @property
    def distance_m(self) -> float:
        return total_distance_m([s.sortie for s in self.sorties])

    def to_lonlat(self) -> Transformer:
        return Transformer.from_crs(self.crs, CRS.from_epsg(4326), always_xy=True)


def survey_altitude_m(camera: Camera, options: PlanOptions) -> float:
    """Height above ground that gives the asked GSD, refused above the ceiling or too low."""
    alt = camera.altitude_for_gsd_m(options.gsd_m)
    if alt > options.ceiling_m:
        best = camera.gsd_m(options.ceiling_m)
        raise PlanError(
            f"a GSD of {options.gsd_m:g} m with the {camera.key} needs {alt:.0f} m above "
            f"ground, above the {options.ceiling_m:g} m ceiling; the best GSD reachable under it "
            f"is {best:.3f} m (ask for --gsd {math.ceil(best * 1000) / 1000:g} or more)",
            field="gsd",
        )
    if alt < options.min_altitude_m:
        finest = camera.gsd_m(options.min_altitude_m)
        raise PlanError(
            f"a GSD of {options.gsd_m:g} m with the {camera.key} means flying {alt:.1f} m above "
            f"ground, below the {options.min_altitude_m:g} m minimum (trees, poles, buildings); "
            f"the finest GSD at that height is {finest:.3f} m",
            field="gsd",
        )
    return alt


def _home(home_lonlat: tuple[float, float], crs: CRS) -> np.ndarray:
    lon, lat = home_lonlat
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise PlanError(f"--home {lon:g},{lat:g}: not a longitude,latitude pair", field="home")
    t = Transformer.from_crs(CRS.from_epsg(4326), crs, always_xy=True)
    x, y = t.transform(lon, lat)
    if not (math.isfinite(x) and math.isfinite(y)):
        raise PlanError(f"--home {lon:g},{lat:g}: cannot be placed in {crs.name}", field="home")
    return np.array([x, y])


def _sortie_path(
    problem: Problem, sortie: Sortie
) -> tuple[np.ndarray, list[str], list[int], list[int]]:
    tm = problem.transits
    pts: list[np.ndarray] = [problem.home[None, :]]
    kinds: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    here = 0

    def add(seq: np.ndarray, kind: str) -> None:
        pts.append(seq[1:])
        kinds.extend([kind] * (len(seq) - 1))

    for v in sortie.visits:
        add(tm.path(here, problem.entry(v)), "transit")
        coords = problem.lines[v.line].coords
        coords = coords[::-1] if v.reverse else coords
        starts.append(sum(len(p) for p in pts) - 1)
        add(coords, "survey")
        ends.append(sum(len(p) for p in pts) - 1)
        here = problem.exit(v)
    add(tm.path(here, 0), "transit")
    path = np.vstack(pts)
    return path, kinds, starts, ends


def _schedule(
    problem: Problem, sorties: list[Sortie], start: datetime, swap_s: float
) -> list[PlannedSortie]:
    out = []
    t = start
    for n, s in enumerate(sorties, 1):
        path, kinds, starts, ends = _sortie_path(problem, s)
        end = t + timedelta(seconds=s.time_s)
        out.append(PlannedSortie(n, s, path, kinds, starts, ends, t, end))
        t = end + timedelta(seconds=swap_s)
    return out


def _schedule_end(sorties: list[Sortie], start: datetime, swap_s: float) -> datetime:
    total = sum(s.time_s for s in sorties) + swap_s * max(0, len(sorties) - 1)
    return start + timedelta(seconds=total)


def violations(
    sorties: list[PlannedSortie], zones: list[Zone], altitude_m: float, vertical_margin_m: float
) -> list[str]:
    """Legs that enter a zone in force (at that sortie's time and the flight's altitude)."""
    found = []
    for ps in sorties:
        live = active_zones(
            zones, altitude_m, ps.start, ps.end, vertical_margin_m=vertical_margin_m
        )
        if not live:
            continue
        tree = shapely.STRtree([z.polygon for z in live])
        segs = shapely.linestrings(np.stack([ps.path[:-1], ps.path[1:]], axis=1))
        seg_i, zone_i = tree.query(segs, predicate="intersects")
        for a, b in zip(seg_i, zone_i, strict=True):
            found.append(f"sortie {ps.number} leg {a} enters zone {live[b].id}")
        home = Point(ps.path[0])
        for z in live:
            if z.polygon.intersects(home):
                found.append(f"sortie {ps.number} takes off inside zone {z.id}")
    return found


def plan_mission(
    network: Network,
    zones: list[Zone],
    camera: Camera,
    home_lonlat: tuple[float, float],
    options: PlanOptions,
    *,
    home_alt_m: float = 0.0,
    progress: Progress | None = None,
) -> MissionPlan:
    """Plan the survey of ``network`` from ``home_lonlat`` keeping out of ``zones``.

    Parameters
    ----------
    network
        Pipes in a metric CRS (:func:`~urbanops.domains.drone.network.read_network`).
    zones
        Restricted zones in the same CRS (:func:`~urbanops.domains.drone.airspace.read_zones`).
    camera
        The payload (:func:`~urbanops.domains.drone.cameras.get_camera`).
    home_lonlat
        Take-off and landing point (longitude, latitude).
    options
        GSD, overlaps, margins, battery, speeds, start time.

    Raises
    ------
    PlanError
        GSD out of reach, home inside a zone, nothing left to fly.
    """
    say = progress or (lambda f, m: None)
    options.check()
    crs = network.crs
    start = options.start or datetime.now().astimezone()
    if start.tzinfo is None:
        raise PlanError("the start time needs a time zone", field="start")
    alt = survey_altitude_m(camera, options)
    across, along = camera.footprint_m(alt)
    fwd = options.side_overlap if options.forward_overlap is None else options.forward_overlap
    trigger_m = along * (1 - fwd)
    survey_speed = options.survey_speed_ms
    warnings: list[str] = []
    max_speed = trigger_m / camera.min_interval_s
    if survey_speed > max_speed:
        warnings.append(
            f"survey speed lowered from {survey_speed:g} to {max_speed:.1f} m/s: the "
            f"{camera.key} takes a still at most every {camera.min_interval_s:g} s and shots are "
            f"{trigger_m:.1f} m apart"
        )
        survey_speed = max_speed
    home = _home(home_lonlat, crs)
    offsets = passes(options.corridor_m, across, options.side_overlap)
    model = FlightModel(
        altitude_m=alt,
        survey_speed_ms=survey_speed,
        transit_speed_ms=options.transit_speed_ms,
        endurance_s=options.endurance_min * 60,
        reserve=options.reserve,
    )
    max_line_m = 0.25 * model.budget_s * survey_speed
    swap_s = options.battery_swap_min * 60

    def live_between(t0: datetime, t1: datetime) -> list[Zone]:
        return active_zones(zones, alt, t0, t1, vertical_margin_m=options.vertical_margin_m)

    considered = live_between(start, start)
    home_pt = Point(home)
    for z in live_between(start, start + timedelta(days=1)):
        if z.polygon.intersects(home_pt):
            raise PlanError(
                f"the home point {home_lonlat[0]:.6f},{home_lonlat[1]:.6f} lies inside zone "
                f"{z.id!r} ({z.name}, {z.describe_time()}); take off outside it",
                field="home",
            )
    for attempt in range(6):
        say(0.1 + 0.1 * attempt, f"planning around {len(considered)} zones in force")
        obs = obstacles(considered, options.zone_margin_m)
        if not obs.is_empty and obs.intersects(home_pt):
            near = min(considered, key=lambda z: z.polygon.distance(home_pt))
            raise PlanError(
                f"the home point is {near.polygon.distance(home_pt):.1f} m from zone {near.id!r}, "
                f"inside the {options.zone_margin_m:g} m safety margin; take off further away "
                "or lower --zone-margin-m",
                field="home",
            )
        lines = flight_lines(network.lines, obs, offsets_m=offsets, max_length_m=max_line_m)
        if not lines:
            raise PlanError(
                f"nothing to fly: all {network.length_m / 1000:.2f} km of pipe lie under zones in "
                "force (or within their margin); it all needs authorisation",
                field="airspace",
            )
        graph = TransitGraph(obs, eps_m=min(0.05, options.zone_margin_m * 0.1))
        say(0.2 + 0.1 * attempt, f"transit distances between {len(lines)} lines")
        problem = Problem.build(lines, home, model, graph)
        if not problem.flyable:
            reasons = sorted(set(problem.excluded.values()))
            raise PlanError(
                f"no line can be flown from this home point: {'; '.join(reasons)}", field="home"
            )
        # The nearest-neighbour plan is quick and usually longer than the optimised one: the
        # zones in force before it would end are avoided from the start, so that the costly
        # search below runs once in the common case.
        baseline = nearest_neighbour(problem)
        rough_end = _schedule_end(baseline, start, swap_s)
        grown = live_between(start, rough_end)
        ids = {z.id for z in considered}
        if attempt < 5 and not all(z.id in ids for z in grown):
            considered = considered + [z for z in grown if z.id not in ids]
            continue
        say(0.4, f"ordering {len(problem.flyable)} lines (OR-Tools)")
        tour = order_ortools(problem, time_limit_s=options.search_s / 3)
        sorties = split(problem, tour)
        sorties = improve_vrp(problem, sorties, time_limit_s=options.search_s * 2 / 3)
        if total_distance_m(baseline) < total_distance_m(sorties):
            sorties = baseline
        planned = _schedule(problem, sorties, start, swap_s)
        grown = live_between(start, planned[-1].end)
        ids = {z.id for z in considered}
        if all(z.id in ids for z in grown):
            break
        considered = considered + [z for z in grown if z.id not in ids]
    else:
        raise PlanError("the zones in force kept changing with the schedule; plan a shorter day")

    say(0.85, "coverage and checks")
    flown = [lines[v.line] for s in sorties for v in s.visits]
    pos, head = [], []
    for ln in flown:
        p, h = shot_positions(ln.coords, trigger_m)
        pos.append(p)
        head.append(h)
    shots = (
        footprints(np.vstack(pos), np.concatenate(head), across, along)
        if pos
        else np.array([], dtype=object)
    )
    zone_union = (
        shapely.unary_union([z.polygon for z in considered]) if considered else MultiPolygon()
    )
    pipes = network.geometry
    outside = pipes.difference(zone_union) if not zone_union.is_empty else pipes
    cov = coverage(outside, shots)
    authorisation = []
    for z in considered:
        under = pipes.intersection(z.polygon)
        if under.length > 0:
            authorisation.append((z, under))
    bad = violations(planned, zones, alt, options.vertical_margin_m)
    if bad:  # pragma: no cover - the construction above prevents it
        raise RuntimeError("planned legs enter zones: " + "; ".join(bad[:5]))
    if problem.excluded:
        km = sum(problem.lines[i].length_m for i in problem.excluded) / 1000
        warnings.append(
            f"{len(problem.excluded)} line(s), {km:.2f} km, not flown: "
            + "; ".join(sorted(set(problem.excluded.values())))
        )
    say(1.0, "planned")
    return MissionPlan(
        crs=crs,
        camera=camera,
        options=options,
        home_xy=home,
        home_lonlat=home_lonlat,
        home_alt_m=home_alt_m,
        altitude_m=alt,
        gsd_m=camera.gsd_m(alt),
        footprint_m=(across, along),
        trigger_m=trigger_m,
        offsets_m=offsets,
        network=network,
        zones=zones,
        in_force=considered,
        obstacles=obs,
        lines=lines,
        sorties=planned,
        excluded=dict(problem.excluded),
        coverage=cov,
        authorisation=authorisation,
        baseline_m=total_distance_m(baseline),
        warnings=warnings,
    )

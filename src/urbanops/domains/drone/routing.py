"""Order survey lines into sorties: OR-Tools routing, then an optimal split by battery.

Each line may be flown either way. The order is found as one tour from home over all lines
(a travelling-salesman problem where each line is a pair of nodes, one per direction, and
exactly one of the pair is visited: an OR-Tools disjunction), by OR-Tools' guided local
search within a time limit. The tour is then cut into sorties that each fit one battery by
Prins' split (2004): a shortest path over the tour's positions, exact for that order. Every
sortie starts and ends at home; transits between lines go around obstacles
(:mod:`~urbanops.domains.drone.transit`).

The baseline that crews use by hand, nearest neighbour (always fly to the closest line end
next; go home when the next line would not leave enough battery to come back), is
:func:`nearest_neighbour`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from urbanops.core.either_way import UNREACHABLE, decode, either_way_model, guided_search
from urbanops.domains.drone.corridors import FlightLine
from urbanops.domains.drone.transit import TransitGraph, TransitMatrix
from urbanops.errors import ValidationError


class RoutingError(ValidationError):
    """Lines that no sortie can fly."""


@dataclass(frozen=True)
class FlightModel:
    """How long flying takes (a multirotor survey at constant height).

    Attributes
    ----------
    altitude_m
        Survey and transit height above ground (climb and descent over home).
    survey_speed_ms, transit_speed_ms
        Ground speeds along lines (camera firing) and between them.
    climb_ms, descent_ms
        Vertical speeds.
    turn_s
        Time lost slowing, turning and settling at each line start.
    endurance_s
        Flight time of one battery in survey conditions.
    reserve
        Fraction of the endurance kept unused (wind, a go-around, landing): a sortie plans
        its own return to home and must still end with this much left.
    """

    altitude_m: float
    survey_speed_ms: float = 8.0
    transit_speed_ms: float = 12.0
    climb_ms: float = 3.0
    descent_ms: float = 2.0
    turn_s: float = 6.0
    endurance_s: float = 30 * 60.0
    reserve: float = 0.25

    @property
    def budget_s(self) -> float:
        return self.endurance_s * (1 - self.reserve)

    @property
    def fixed_s(self) -> float:
        return self.altitude_m / self.climb_ms + self.altitude_m / self.descent_ms

    def time_s(self, transit_m: float, survey_m: float, n_lines: int) -> float:
        return (
            self.fixed_s
            + transit_m / self.transit_speed_ms
            + survey_m / self.survey_speed_ms
            + n_lines * self.turn_s
        )


@dataclass(frozen=True)
class Visit:
    """Line ``line`` flown from its start (or from its end when ``reverse``)."""

    line: int
    reverse: bool = False


@dataclass
class Sortie:
    """One battery: home, lines in order, home."""

    visits: list[Visit]
    transit_m: float
    survey_m: float
    time_s: float

    @property
    def distance_m(self) -> float:
        return self.transit_m + self.survey_m


@dataclass
class Problem:
    """Lines, home and the transit distances between every line end and home."""

    lines: list[FlightLine]
    home: np.ndarray
    model: FlightModel
    transits: TransitMatrix
    lengths: np.ndarray = field(init=False)
    excluded: dict[int, str] = field(default_factory=dict)  # line -> why it is not flown

    def __post_init__(self) -> None:
        self.lengths = np.array([ln.length_m for ln in self.lines])
        d = self.transits.distance_m
        for i, length in enumerate(self.lengths):
            s, e = 1 + 2 * i, 2 + 2 * i
            if not (np.isfinite(d[0, s]) and np.isfinite(d[0, e])):
                self.excluded[i] = "unreachable from home without crossing a zone"
                continue
            best = min(d[0, s] + d[e, 0], d[0, e] + d[s, 0])
            if self.model.time_s(best, length, 1) > self.model.budget_s:
                self.excluded[i] = "too far from home for one battery"

    @classmethod
    def build(
        cls, lines: list[FlightLine], home: np.ndarray, model: FlightModel, graph: TransitGraph
    ) -> Problem:
        pts = [np.asarray(home, dtype=float)]
        for ln in lines:
            pts += [ln.start, ln.end]
        return cls(
            lines=lines,
            home=np.asarray(home, float),
            model=model,
            transits=graph.matrix(np.array(pts)),
        )

    @property
    def flyable(self) -> list[int]:
        return [i for i in range(len(self.lines)) if i not in self.excluded]

    @staticmethod
    def entry(v: Visit) -> int:
        return 2 + 2 * v.line if v.reverse else 1 + 2 * v.line

    @staticmethod
    def exit(v: Visit) -> int:
        return 1 + 2 * v.line if v.reverse else 2 + 2 * v.line

    def sortie(self, visits: list[Visit]) -> Sortie:
        d = self.transits.distance_m
        transit = 0.0
        here = 0
        for v in visits:
            transit += d[here, self.entry(v)]
            here = self.exit(v)
        transit += d[here, 0]
        survey = float(sum(self.lengths[v.line] for v in visits))
        time_s = self.model.time_s(transit, survey, len(visits))
        return Sortie(visits, float(transit), survey, time_s)


def split(problem: Problem, tour: list[Visit]) -> list[Sortie]:
    """Cut a tour into battery-sized sorties with the least total distance (Prins' split)."""
    d = problem.transits.distance_m
    m = problem.model
    n = len(tour)
    ent = np.array([problem.entry(v) for v in tour], dtype=int)
    ext = np.array([problem.exit(v) for v in tour], dtype=int)
    length = problem.lengths[[v.line for v in tour]] if n else np.zeros(0)
    best = np.full(n + 1, np.inf)
    best[0] = 0.0
    back = np.zeros(n + 1, dtype=int)
    for i in range(n):
        if not np.isfinite(best[i]):
            continue
        transit = d[0, ent[i]]
        survey = 0.0
        for j in range(i, n):
            if j > i:
                transit += d[ext[j - 1], ent[j]]
            survey += length[j]
            home = d[ext[j], 0]
            if m.time_s(transit + home, survey, j - i + 1) > m.budget_s:
                break
            cost = best[i] + transit + survey + home + m.fixed_s * m.transit_speed_ms
            if cost < best[j + 1]:
                best[j + 1] = cost
                back[j + 1] = i
    if n and not np.isfinite(best[n]):
        raise RoutingError("a line does not fit in one battery")
    cuts = []
    j = n
    while j > 0:
        cuts.append((back[j], j))
        j = back[j]
    return [problem.sortie(tour[a:b]) for a, b in reversed(cuts)]


def order_ortools(problem: Problem, *, time_limit_s: float = 3.0) -> list[Visit]:
    """One tour from home over every flyable line, each line in its better direction."""
    lines = problem.flyable
    if not lines:
        return []
    # Node 0 is home; node 1 + 2k flies lines[k] forwards, node 2 + 2k backwards.
    pidx = [0]
    for i in lines:
        pidx += [1 + 2 * i, 2 + 2 * i]
    pidx_a = np.array(pidx)
    d = problem.transits.distance_m
    # arc a -> b: from a's exit to b's entry, plus b's length (decimetres, integers)
    exit_pt = np.array([0] + [p for i in lines for p in (2 + 2 * i, 1 + 2 * i)])
    entry_pt = pidx_a
    length = np.concatenate([[0.0], np.repeat(problem.lengths[lines], 2)])
    cost = d[np.ix_(exit_pt, entry_pt)] + length[None, :]
    big = UNREACHABLE
    cost_dm = np.where(np.isfinite(cost), np.rint(cost * 10), big).astype(np.int64)
    np.fill_diagonal(cost_dm, 0)
    cost_dm[:, 0] = np.where(np.isfinite(d[exit_pt, 0]), np.rint(d[exit_pt, 0] * 10), big)

    cost_dm = np.minimum(cost_dm, UNREACHABLE)
    manager, routing, _ = either_way_model(cost_dm, len(lines), 1)
    solution = routing.SolveWithParameters(guided_search(time_limit_s))
    if solution is None:
        raise RoutingError("OR-Tools found no tour over the lines")
    tour = [Visit(lines[k], back) for k, back in decode(manager, routing, solution, 0)]
    return tour


def improve_vrp(
    problem: Problem, sorties: list[Sortie], *, time_limit_s: float = 3.0
) -> list[Sortie]:
    """Improve sorties as a vehicle-routing problem (one vehicle per battery).

    Starts from ``sorties`` (a feasible solution) and lets OR-Tools' guided local search move
    lines between sorties, reverse them and reorder them, under each battery's time budget.
    """
    lines = problem.flyable
    if not lines or not sorties:
        return sorties
    m = problem.model
    node_of = {}
    for k, i in enumerate(lines):
        node_of[(i, False)] = 1 + 2 * k
        node_of[(i, True)] = 2 + 2 * k
    exit_pt = np.array([0] + [p for i in lines for p in (2 + 2 * i, 1 + 2 * i)])
    entry_pt = np.array([0] + [p for i in lines for p in (1 + 2 * i, 2 + 2 * i)])
    length = np.concatenate([[0.0], np.repeat(problem.lengths[lines], 2)])
    d = problem.transits.distance_m[np.ix_(exit_pt, entry_pt)]
    big = UNREACHABLE
    fin = np.isfinite(d)
    cost = np.where(fin, np.rint((d + length[None, :]) * 10), big).astype(np.int64)
    tsec = d / m.transit_speed_ms + length[None, :] / m.survey_speed_ms
    tsec = tsec + np.where(np.arange(len(length)) > 0, m.turn_s, 0.0)[None, :]
    time_ds = np.where(fin, np.ceil(tsec * 10), big).astype(np.int64)
    np.fill_diagonal(cost, 0)
    np.fill_diagonal(time_ds, 0)

    n_vehicles = len(sorties) + 2
    manager, routing, _ = either_way_model(np.minimum(cost, UNREACHABLE), len(lines), n_vehicles)
    tcb = routing.RegisterTransitMatrix(time_ds.tolist())
    capacity = int((m.budget_s - m.fixed_s) * 10)
    routing.AddDimension(tcb, 0, capacity, True, "time")
    params = guided_search(time_limit_s, first_solution=False)
    routes = [[node_of[(v.line, v.reverse)] for v in s.visits] for s in sorties]
    routes += [[] for _ in range(n_vehicles - len(routes))]
    routing.CloseModelWithParameters(params)
    start = routing.ReadAssignmentFromRoutes(routes, True)
    if start is None:
        return sorties
    solution = routing.SolveFromAssignmentWithParameters(start, params)
    if solution is None:
        return sorties
    out = []
    for veh in range(n_vehicles):
        visits = [Visit(lines[k], back) for k, back in decode(manager, routing, solution, veh)]
        if visits:
            out.append(problem.sortie(visits))
    flown = sorted(v.line for s in out for v in s.visits)
    if flown != sorted(lines) or any(s.time_s > m.budget_s + 1e-6 for s in out):
        return sorties  # never hand back something worse than what came in
    return out if total_distance_m(out) < total_distance_m(sorties) else sorties


def nearest_neighbour(problem: Problem) -> list[Sortie]:
    """Baseline: fly to the nearest unflown line end; go home when the battery says so."""
    d = problem.transits.distance_m
    m = problem.model
    left = set(problem.flyable)
    sorties: list[Sortie] = []
    while left:
        here, transit, survey, visits = 0, 0.0, 0.0, []
        while True:
            cand = np.array(sorted(left))
            starts = np.concatenate([1 + 2 * cand, 2 + 2 * cand])
            ends = np.concatenate([2 + 2 * cand, 1 + 2 * cand])
            lens = np.concatenate([problem.lengths[cand]] * 2)
            go = d[here, starts]
            t = m.time_s(transit + go + d[ends, 0], survey + lens, len(visits) + 1)
            ok = np.isfinite(go) & (t <= m.budget_s)
            if not ok.any():
                break
            k = int(np.argmin(np.where(ok, go, np.inf)))
            line = int(cand[k % len(cand)])
            v = Visit(line, k >= len(cand))
            transit += go[k]
            survey += problem.lengths[line]
            here = problem.exit(v)
            visits.append(v)
            left.discard(line)
            if not left:
                break
        if not visits:
            raise RoutingError("a line does not fit in one battery")
        sorties.append(problem.sortie(visits))
    return sorties


def total_distance_m(sorties: list[Sortie]) -> float:
    """Flight distance of all sorties, transits and returns included."""
    return float(sum(s.distance_m for s in sorties))


def plan_sorties(problem: Problem, *, time_limit_s: float = 3.0) -> list[Sortie]:
    """Sorties over every flyable line: OR-Tools tour then optimal split; never worse than
    the nearest-neighbour baseline (which is returned if it happens to be shorter)."""
    tour = order_ortools(problem, time_limit_s=time_limit_s)
    sorties = split(problem, tour)
    nn = nearest_neighbour(problem)
    return nn if total_distance_m(nn) < total_distance_m(sorties) else sorties

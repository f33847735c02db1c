"""Heat-wave response: cooling-shelter coverage, new sites, welfare checks, spraying routes.

- **Coverage**: a vulnerable person (e.g. an elderly person living alone) is covered when a
  cooling shelter lies within the walking distance. Without a street network the walking
  distance is the straight-line distance times a detour factor (1.3, a common urban value).
- **New shelters**: the maximal covering location problem (Church & ReVelle 1974): choose
  ``p`` candidate sites that cover the most *uncovered* people, weighted by heat at their
  homes when a heat map is given. The greedy solution (the classic ``1 - 1/e`` heuristic) is
  the baseline and the starting point of an exact mixed-integer programme (SCIP, bundled with
  OR-Tools). People are aggregated to 25 m cells, and cells reached by the same candidates
  into one demand, first: the same coverage, far fewer variables.
- **Welfare checks**: people ranked by heat at home, uncovered first; cells of the heat map
  ranked by heat times the number of vulnerable people in them.
- **Spraying routes**: the hottest road segments (top share by heat along them) are ordered
  into routes for the trucks (OR-Tools vehicle routing, each segment in either direction,
  transits along the road network), each route within the tank's spraying length.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from urbanops.errors import ValidationError


class ResponseError(ValidationError):
    """Inputs a response plan cannot use."""


Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class ShelterPlan:
    """Chosen sites and the coverage before and after."""

    chosen: np.ndarray  # candidate indices
    greedy: np.ndarray  # candidate indices of the greedy baseline
    people: int
    weight_total: float
    covered_before: float  # weight covered by existing shelters
    covered_after: float
    covered_after_greedy: float
    covered_people_before: int
    covered_people_after: int
    optimal: bool
    person_covered_after: np.ndarray = field(repr=False)  # bool per person


def aggregate(
    xy: np.ndarray, w: np.ndarray, cell_m: float = 25.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """People summed into ``cell_m`` cells: cell centres, weights, and each person's cell."""
    key = np.floor(xy / cell_m).astype(np.int64)
    uniq, inverse = np.unique(key, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    weight = np.bincount(inverse, weights=w, minlength=len(uniq))
    return (uniq + 0.5) * cell_m, weight, inverse


def _covered_by(points: np.ndarray, sites: np.ndarray, radius_m: float) -> np.ndarray:
    if len(sites) == 0:
        return np.zeros(len(points), dtype=bool)
    d, _ = cKDTree(sites).query(points, k=1, distance_upper_bound=radius_m)
    return np.isfinite(d)


def plan_shelters(
    people_xy: np.ndarray,
    people_w: np.ndarray,
    shelters_xy: np.ndarray,
    candidates_xy: np.ndarray,
    *,
    walk_m: float = 500.0,
    detour: float = 1.3,
    new_sites: int = 10,
    time_limit_s: float = 10.0,
) -> ShelterPlan:
    """Choose ``new_sites`` candidates that cover the most uncovered weight (MCLP)."""
    if not (0 < walk_m <= 10_000):
        raise ResponseError(f"--walk-m {walk_m:g}: use 0 to 10000 m")
    if not (1.0 <= detour <= 3.0):
        raise ResponseError(f"--detour {detour:g}: use 1 to 3")
    if new_sites < 0 or new_sites > len(candidates_xy):
        raise ResponseError(f"--new {new_sites}: between 0 and the {len(candidates_xy)} candidates")
    if len(people_xy) == 0:
        raise ResponseError("no vulnerable people to cover")
    radius = walk_m / detour
    cells, cw, inverse = aggregate(people_xy, people_w)
    before = _covered_by(cells, shelters_xy, radius)
    open_cells = np.flatnonzero(~before)
    tree = cKDTree(candidates_xy) if len(candidates_xy) else None
    # per open cell: the candidates within reach
    cover_sets: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * len(open_cells)
    if tree is not None and len(open_cells):
        cover_sets = [
            np.asarray(lst, dtype=np.int64)
            for lst in tree.query_ball_point(cells[open_cells], radius)
        ]
    # cells reached by exactly the same candidates are one demand for the model
    groups: dict[tuple[int, ...], float] = {}
    for s_, wgt in zip(cover_sets, cw[open_cells], strict=True):
        if len(s_):
            key = tuple(sorted(int(j) for j in s_))
            groups[key] = groups.get(key, 0.0) + float(wgt)
    sets = [np.asarray(k, dtype=np.int64) for k in groups]
    weights = np.fromiter(groups.values(), dtype=float, count=len(groups))
    greedy = _greedy(sets, weights, new_sites, len(candidates_xy))
    chosen, optimal = greedy, False
    if sets and new_sites > 0:
        chosen, optimal = _mip(sets, weights, new_sites, len(candidates_xy), greedy, time_limit_s)

    def gain(sel: np.ndarray) -> np.ndarray:
        return (
            _covered_by(cells, candidates_xy[sel], radius)
            if len(sel)
            else np.zeros(len(cells), bool)
        )

    after = before | gain(chosen)
    after_g = before | gain(greedy)
    person_after = after[inverse]
    return ShelterPlan(
        chosen=np.sort(chosen),
        greedy=np.sort(greedy),
        people=len(people_xy),
        weight_total=float(cw.sum()),
        covered_before=float(cw[before].sum()),
        covered_after=float(cw[after].sum()),
        covered_after_greedy=float(cw[after_g].sum()),
        covered_people_before=int(before[inverse].sum()),
        covered_people_after=int(person_after.sum()),
        optimal=optimal,
        person_covered_after=person_after,
    )


def _greedy(sets: list[np.ndarray], w: np.ndarray, p: int, n_cand: int) -> np.ndarray:
    """Add the candidate covering the most uncovered weight, ``p`` times (lazy updates)."""
    if p == 0 or not sets:
        return np.zeros(0, dtype=np.int64)
    rows = np.concatenate([np.full(len(s), i) for i, s in enumerate(sets)])
    cols = np.concatenate(sets) if rows.size else np.zeros(0, dtype=np.int64)
    if rows.size == 0:
        return np.zeros(0, dtype=np.int64)
    from scipy.sparse import csr_matrix

    a = csr_matrix((np.ones(len(rows)), (cols, rows)), shape=(n_cand, len(sets)))
    live = w.astype(float).copy()
    chosen: list[int] = []
    for _ in range(p):
        gains = a @ live
        if chosen:
            gains[chosen] = -1
        j = int(np.argmax(gains))
        if gains[j] <= 0:
            break
        chosen.append(j)
        live[a[j].indices] = 0.0
    return np.asarray(chosen, dtype=np.int64)


def _mip(
    sets: list[np.ndarray], w: np.ndarray, p: int, n_cand: int, hint: np.ndarray, limit_s: float
) -> tuple[np.ndarray, bool]:
    """MCLP as a mixed-integer programme (SCIP, bundled with OR-Tools): binary sites, coverage
    variables relaxed to [0, 1] (integral at the optimum). Falls back to ``hint``."""
    from ortools.linear_solver import pywraplp

    solver = pywraplp.Solver.CreateSolver("SCIP") or pywraplp.Solver.CreateSolver("CBC")
    if solver is None:
        return hint, False
    x = [solver.BoolVar(f"x{j}") for j in range(n_cand)]
    y = [solver.NumVar(0.0, 1.0, f"y{i}") for i in range(len(sets))]
    for i, s_ in enumerate(sets):
        solver.Add(y[i] <= sum(x[int(j)] for j in s_))
    solver.Add(sum(x) <= p)
    solver.Maximize(sum(float(w[i]) * y[i] for i in range(len(sets))))
    solver.SetTimeLimit(int(max(0.5, limit_s) * 1000))
    chosen_hint = {int(j) for j in hint}
    solver.SetHint(x, [1.0 if j in chosen_hint else 0.0 for j in range(n_cand)])
    status = solver.Solve()
    if status not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        return hint, False
    sel = np.array([j for j in range(n_cand) if x[j].solution_value() > 0.5], dtype=np.int64)
    return sel, status == pywraplp.Solver.OPTIMAL


def welfare_priority(heat_c: np.ndarray, covered: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Order of people for welfare checks: uncovered first, then hottest, then heaviest."""
    h = np.where(np.isfinite(heat_c), heat_c, -np.inf)
    return np.lexsort((-weight, -h, covered.astype(int)))

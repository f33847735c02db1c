"""Routing over items that can be served in either direction (lines flown, roads sprayed).

Node 0 is the depot; item ``k`` is the node pair ``1 + 2k`` (one direction) and ``2 + 2k``
(the other), of which a disjunction visits exactly one (or none, at a penalty larger than any
route, when capacities cannot hold every item). Costs are an integer matrix (decimetres) that
OR-Tools reads once (``RegisterTransitMatrix``), not a Python callback per arc.
"""

from __future__ import annotations

from typing import Any

import numpy as np

UNREACHABLE = 10**9


def either_way_model(cost: np.ndarray, n_items: int, vehicles: int) -> tuple[Any, Any, int]:
    """OR-Tools manager, routing model and cost callback for ``cost`` ((1 + 2n) square, int)."""
    from ortools.constraint_solver import pywrapcp

    manager = pywrapcp.RoutingIndexManager(len(cost), vehicles, 0)
    routing = pywrapcp.RoutingModel(manager)
    cb = routing.RegisterTransitMatrix(cost.tolist())
    routing.SetArcCostEvaluatorOfAllVehicles(cb)
    penalty = int(min(cost[cost < UNREACHABLE].sum() + 1, 2**60))
    for k in range(n_items):
        routing.AddDisjunction(
            [manager.NodeToIndex(1 + 2 * k), manager.NodeToIndex(2 + 2 * k)], penalty, 1
        )
    return manager, routing, cb


def guided_search(time_limit_s: float, *, first_solution: bool = True) -> Any:
    """Search parameters: cheapest-arc start (unless seeded), guided local search, time limit."""
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    params = pywrapcp.DefaultRoutingSearchParameters()
    if first_solution:
        params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    params.time_limit.FromMilliseconds(max(100, int(time_limit_s * 1000)))
    return params


def decode(manager: Any, routing: Any, solution: Any, vehicle: int) -> list[tuple[int, bool]]:
    """The items a vehicle serves, in order, as (item, reversed)."""
    out = []
    index = solution.Value(routing.NextVar(routing.Start(vehicle)))
    while not routing.IsEnd(index):
        k, back = divmod(manager.IndexToNode(index) - 1, 2)
        out.append((k, bool(back)))
        index = solution.Value(routing.NextVar(index))
    return out

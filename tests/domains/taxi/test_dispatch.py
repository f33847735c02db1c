"""Batch assignment is optimal over its candidates; constraints and priorities hold."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from urbanops.domains.taxi.dispatch import (
    Candidates,
    DispatchOptions,
    candidates,
    match_batch,
    match_greedy,
)
from urbanops.domains.taxi.eta import EtaModel
from urbanops.errors import ValidationError

OPTS = DispatchOptions(max_pickup_s=600, k=8)


def _dense_optimum(cand: Candidates, n_req: int, n_veh: int) -> tuple[int, float]:
    """Matched count and total ETA by a dense Hungarian solve (the reference)."""
    big = 1e6
    cost = np.full((n_req, n_veh + n_req), big)
    cost[cand.request, cand.vehicle] = cand.eta_s
    cost[np.arange(n_req), n_veh + np.arange(n_req)] = big / 2
    rows, cols = linear_sum_assignment(cost)
    real = cols < n_veh
    return int(real.sum()), float(cost[rows[real], cols[real]].sum())


@pytest.mark.parametrize("seed", range(5))
def test_batch_is_the_optimal_assignment_of_its_candidates(model: EtaModel, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = model.network.n_nodes
    req = rng.integers(0, n, 40)
    veh = rng.integers(0, n, 25)
    cand = candidates(model, req, veh, options=OPTS)
    r, v, eta = match_batch(cand, req.size, veh.size, options=OPTS)
    count, total = _dense_optimum(cand, req.size, veh.size)
    assert r.size == count
    assert eta.sum() == pytest.approx(total, abs=0.5)
    assert len(set(r.tolist())) == r.size and len(set(v.tolist())) == v.size
    # The returned ETA is that of the pair
    assert np.allclose(eta, model.pair_time_s(veh[v], req[r]), atol=1e-3)


def test_candidates_are_the_k_nearest_by_driving_time(model: EtaModel) -> None:
    rng = np.random.default_rng(7)
    n = model.network.n_nodes
    req, veh = rng.integers(0, n, 10), rng.integers(0, n, 200)
    cand = candidates(model, req, veh, options=DispatchOptions(k=3, max_pickup_s=3600))
    for i in range(10):
        mine = cand.eta_s[cand.request == i]
        assert mine.size == 3
        every = np.sort(model.pair_time_s(veh, np.full(veh.size, req[i])))
        # k best of the 12 straight-line nearest: never better than the true best three
        assert np.all(np.sort(mine) >= every[:3] - 1e-3)
        assert mine.min() <= every[:3].max() + 60


def test_batch_beats_first_come_first_served_on_a_crossing() -> None:
    """Two riders, two cabs: FCFS gives the first rider the cab the second one needed."""
    cand = Candidates(
        request=np.array([0, 0, 1]),
        vehicle=np.array([0, 1, 0]),
        eta_s=np.array([60.0, 90.0, 70.0], dtype=np.float32),
    )
    rb, _, eb = match_batch(cand, 2, 2, options=OPTS)
    rg, vg, _ = match_greedy(cand, 2, 2, options=OPTS)
    assert rb.size == 2 and eb.sum() == pytest.approx(160.0)
    assert rg.size == 1 and vg.tolist() == [0]  # rider 1 left waiting


def test_wheelchair_and_party_size_constraints(model: EtaModel) -> None:
    rng = np.random.default_rng(1)
    n = model.network.n_nodes
    req, veh = rng.integers(0, n, 30), rng.integers(0, n, 30)
    wheel = np.zeros(30, bool)
    wheel[:10] = True
    party = np.ones(30, int)
    party[10:15] = 6
    accessible = np.zeros(30, bool)
    accessible[:5] = True
    seats = np.full(30, 4)
    seats[25:] = 7
    cand = candidates(
        model,
        req,
        veh,
        options=OPTS,
        req_wheelchair=wheel,
        req_party=party,
        veh_accessible=accessible,
        veh_capacity=seats,
    )
    r, v, _ = match_batch(cand, 30, 30, options=OPTS)
    assert np.all(accessible[v[wheel[r]]])
    assert np.all(seats[v] >= party[r])
    assert (wheel[r]).sum() <= 5


def test_priority_rider_wins_a_contested_cab() -> None:
    cand = Candidates(
        request=np.array([0, 1]),
        vehicle=np.array([0, 0]),
        eta_s=np.array([100.0, 150.0], dtype=np.float32),
    )
    r, _, _ = match_batch(cand, 2, 1, options=OPTS, req_priority=np.array([False, True]))
    assert r.tolist() == [1]
    r, _, _ = match_batch(cand, 2, 1, options=OPTS)
    assert r.tolist() == [0]


def test_equal_pickup_times_go_to_the_cab_idle_longest() -> None:
    cand = Candidates(
        request=np.array([0, 0]),
        vehicle=np.array([0, 1]),
        eta_s=np.array([120.0, 120.0], dtype=np.float32),
    )
    for idle, want in (([10.0, 900.0], 1), ([900.0, 10.0], 0)):
        _, v, _ = match_batch(cand, 1, 2, options=OPTS, veh_idle_s=np.array(idle))
        assert v.tolist() == [want]
        _, v, _ = match_greedy(cand, 1, 2, options=OPTS, veh_idle_s=np.array(idle))
        assert v.tolist() == [want]


def test_no_cab_beyond_the_maximum_pickup_time(model: EtaModel) -> None:
    rng = np.random.default_rng(2)
    n = model.network.n_nodes
    opts = DispatchOptions(max_pickup_s=60, k=8)
    req, veh = rng.integers(0, n, 50), rng.integers(0, n, 50)
    cand = candidates(model, req, veh, options=opts)
    r, v, eta = match_batch(cand, 50, 50, options=opts)
    assert np.all(eta <= 60)
    assert np.all(model.pair_time_s(veh[v], req[r]) <= 60)


def test_empty_inputs() -> None:
    empty = Candidates(np.empty(0, int), np.empty(0, int), np.empty(0, np.float32))
    assert match_batch(empty, 3, 0, options=OPTS)[0].size == 0
    assert match_greedy(empty, 0, 3, options=OPTS)[0].size == 0


@pytest.mark.parametrize(
    "kwargs", [{"max_pickup_s": 5}, {"k": 0}, {"k": 100}, {"priority_bonus_s": -1}]
)
def test_options_are_bounded(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        DispatchOptions(**kwargs)  # type: ignore[arg-type]


def test_a_long_wait_earns_a_contested_cab() -> None:
    """The waiting credit: a rider passed over for minutes wins against a fresh, closer one."""
    cand = Candidates(
        request=np.array([0, 1]),
        vehicle=np.array([0, 0]),
        eta_s=np.array([300.0, 100.0], dtype=np.float32),
    )
    waited = np.array([400.0, 0.0])
    r, _, _ = match_batch(cand, 2, 1, options=OPTS, req_waited_s=waited)
    assert r.tolist() == [0]
    pure = DispatchOptions(age_weight=0.0)
    r, _, _ = match_batch(cand, 2, 1, options=pure, req_waited_s=waited)
    assert r.tolist() == [1]

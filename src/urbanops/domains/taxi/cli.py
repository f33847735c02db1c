"""``urbanops taxi``: road network, demand, and the dispatch simulator."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from urbanops.cli.common import err, out
from urbanops.cli.common import fail as _fail
from urbanops.errors import UrbanOpsError

app = typer.Typer(help="Public taxi dispatch: network, demand, simulation.", no_args_is_help=True)


@contextmanager
def _bar() -> Iterator[Callable[[float, str], None]]:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("starting", total=1.0)

        def progress(fraction: float, message: str) -> None:
            bar.update(task, completed=fraction, description=message)

        yield progress


def _cache_dir() -> Path:
    from urbanops.settings import get_settings

    return get_settings().data_dir / "cache" / "taxi"


def _model(network: Path, speeds: Path | None, progress: Callable[[float, str], None]):  # type: ignore[no-untyped-def]
    from urbanops.domains.taxi.eta import EtaModel
    from urbanops.domains.taxi.network import read_network

    progress(0.0, "reading the network")
    net = read_network(network, observed_speeds=speeds)
    return EtaModel.build(net, cache_dir=_cache_dir(), progress=progress)


@app.command("network")
def network_cmd(
    network: Annotated[Path, typer.Argument(help=".osm.pbf, .osm or .graphml")],
    speeds: Annotated[
        Path | None, typer.Option("--speeds", help="Observed link speeds CSV way_id,speed_kmh")
    ] = None,
) -> None:
    """Summarise a road network and build (and cache) its travel-time table."""
    try:
        with _bar() as progress:
            model = _model(network, speeds, progress)
    except UrbanOpsError as exc:
        _fail(exc.detail)
        return
    net = model.network
    west, south, east, north = net.bounds()
    out.print(
        json.dumps(
            {
                "source": net.source,
                "crs": net.crs,
                "nodes": net.n_nodes,
                "directed_edges": net.n_edges,
                "junctions": model.n_junctions,
                "road_km": round(float(net.length_m.sum()) / 1000, 1),
                "dropped_disconnected_nodes": net.info.get("dropped_nodes", 0),
                "bounds": [round(west, 6), round(south, 6), round(east, 6), round(north, 6)],
            },
            indent=2,
        ),
        highlight=False,
    )


@app.command("generate")
def generate_cmd(
    bounds: Annotated[str, typer.Option("--bounds", help="WEST,SOUTH,EAST,NORTH in degrees")],
    out_path: Annotated[Path, typer.Option("--out", help="GraphML file to write")],
    spacing_m: Annotated[float, typer.Option("--spacing-m", help="Block size, m")] = 350.0,
    river_lat: Annotated[
        float | None, typer.Option("--river-lat", help="Latitude of a river crossed by bridges")
    ] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Generate a street-grid city (GraphML) for tests at scale (see docs/taxi.md)."""
    from urbanops.domains.taxi.network import write_graphml
    from urbanops.domains.taxi.synthetic import generate_city

    try:
        parts = [float(p) for p in bounds.split(",")]
        if len(parts) != 4:
            raise ValueError
    except ValueError:
        _fail(f"--bounds {bounds!r}: expected WEST,SOUTH,EAST,NORTH")
        return
    try:
        net = generate_city(
            (parts[0], parts[1], parts[2], parts[3]),
            spacing_m=spacing_m,
            river_lat=river_lat,
            seed=seed,
        )
    except UrbanOpsError as exc:
        _fail(exc.detail)
        return
    write_graphml(net, out_path)
    out.print(f"wrote {out_path} ({net.n_nodes:,} nodes, {net.n_edges:,} edges)", highlight=False)


@app.command("demand")
def demand_cmd(
    profile: Annotated[
        Path, typer.Option("--profile", help="Taxi trip record CSV (NYC TLC columns)")
    ],
    places: Annotated[
        list[Path], typer.Option("--places", help="Places CSV (lon/lat) or OSM extract; repeat")
    ],
    count: Annotated[int, typer.Option("--count", help="Number of requests")],
    out_path: Annotated[Path, typer.Option("--out", help="Requests CSV to write")],
    day: Annotated[str, typer.Option("--date", help="Local date simulated, YYYY-MM-DD")] = (
        "2026-07-01"
    ),
    wheelchair_share: Annotated[float, typer.Option("--wheelchair-share")] = 0.01,
    network: Annotated[
        Path | None,
        typer.Option("--network", help="Keep only places within 150 m of this road network"),
    ] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Build a day of requests: times and distances from real taxi trips, places from real stops."""
    import numpy as np

    from urbanops.domains.taxi import demand

    try:
        try:
            when = date.fromisoformat(day)
        except ValueError:
            raise UrbanOpsError(f"--date {day!r}: expected YYYY-MM-DD") from None
        chunks = []
        for path in places:
            if path.name.lower().endswith((".pbf", ".osm")):
                chunks.append(demand.places_from_osm(path))
            else:
                chunks.append(demand.read_places(path))
        spots = np.concatenate(chunks)
        if network is not None:
            from urbanops.domains.taxi.eta import MAX_SNAP_M

            with _bar() as progress:
                model = _model(network, None, progress)
            _, dist = model.snap_xy(*model.to_xy(spots[:, 0], spots[:, 1]))
            spots = spots[dist <= MAX_SNAP_M]
            if spots.shape[0] < 2:
                raise UrbanOpsError(f"fewer than two places lie on the network {network.name}")
        trips = demand.generate_trips(
            demand.read_profile(profile),
            spots,
            count=count,
            day=when,
            wheelchair_share=wheelchair_share,
            seed=seed,
        )
    except UrbanOpsError as exc:
        _fail(exc.detail)
        return
    trips.to_csv(out_path, index=False)
    out.print(f"wrote {len(trips):,} requests to {out_path}", highlight=False)


@app.command("simulate")
def simulate_cmd(
    network: Annotated[Path, typer.Option("--network", help=".osm.pbf, .osm or .graphml")],
    trips: Annotated[Path, typer.Option("--trips", help="Requests CSV")],
    fleet: Annotated[int, typer.Option("--fleet", help="Number of cabs")],
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder")],
    policy: Annotated[str, typer.Option("--policy", help="batch or greedy")] = "batch",
    accessible_share: Annotated[
        float, typer.Option("--accessible-share", help="Wheelchair-accessible share of the fleet")
    ] = 0.1,
    batch_s: Annotated[float, typer.Option("--batch-s", help="Seconds between batches")] = 5.0,
    max_pickup_s: Annotated[float, typer.Option("--max-pickup-s")] = 600.0,
    speeds: Annotated[
        Path | None, typer.Option("--speeds", help="Observed link speeds CSV way_id,speed_kmh")
    ] = None,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Drop bad requests instead of refusing")
    ] = False,
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Replay the requests with a fleet on the network; write metrics.json and plots."""
    from urbanops.domains.taxi.dispatch import DispatchOptions
    from urbanops.domains.taxi.simulate import read_trips, simulate, write_outputs
    from urbanops.settings import get_settings

    if policy not in ("batch", "greedy"):
        _fail(f"--policy {policy!r}: expected batch or greedy")
        return
    try:
        options = DispatchOptions(max_pickup_s=max_pickup_s)
        with _bar() as progress:
            model = _model(network, speeds, progress)
            progress(0.0, "reading requests")
            trip_set = read_trips(
                trips, model, tz=get_settings().city_timezone, skip_invalid=skip_invalid
            )
            result = simulate(
                model,
                trip_set,
                fleet=fleet,
                policy=policy,  # type: ignore[arg-type]
                accessible_share=accessible_share,
                options=options,
                batch_s=batch_s,
                seed=seed,
                progress=progress,
            )
            write_outputs(result, out_dir)
    except UrbanOpsError as exc:
        _fail(exc.detail)
        return
    m = result.metrics
    out.print(
        f"{m['policy']}: {m['requests']:,} requests, mean wait {m['mean_wait_s']} s, "
        f"p90 {m['p90_wait_s']} s, unserved {100 * float(m['unserved_share']):.1f} %, "  # type: ignore[arg-type]
        f"utilisation {100 * float(m['utilisation']):.1f} %, declines {m['declines']} "  # type: ignore[arg-type]
        f"-> {out_dir}/metrics.json",
        highlight=False,
    )

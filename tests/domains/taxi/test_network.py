"""Road graph from real OSM data, and table ETAs equal to Dijkstra on the full graph."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import sparse
from scipy.sparse.csgraph import connected_components, dijkstra

from urbanops.domains.taxi.eta import EtaModel, OffNetworkError
from urbanops.domains.taxi.network import (
    RoadNetwork,
    parse_maxspeed_kmh,
    read_network,
    write_graphml,
)
from urbanops.domains.taxi.synthetic import generate_city
from urbanops.errors import ValidationError


def _graph(net: RoadNetwork, weight: np.ndarray) -> sparse.csr_matrix:
    return sparse.csr_matrix((weight, (net.u, net.v)), shape=(net.n_nodes, net.n_nodes))


def test_helsinki_is_one_strongly_connected_drivable_graph(network: RoadNetwork) -> None:
    assert network.n_nodes > 1500 and network.n_edges > 2500
    assert network.crs == "EPSG:32635"  # UTM 35N holds Helsinki
    n, _ = connected_components(_graph(network, network.length_m), connection="strong")
    assert n == 1
    assert network.length_m.max() <= 50.0 + 1e-6  # long segments were split
    assert network.speed_kmh.min() >= 5 and network.speed_kmh.max() <= 70  # a 5 km/h zone exists
    west, south, east, north = network.bounds()
    assert 24.9 < west < east < 25.0 and 60.1 < south < north < 60.2


def test_one_way_streets_have_one_direction(pbf: Path, network: RoadNetwork) -> None:
    import osmium

    one_way: set[int] = set()
    for obj in osmium.FileProcessor(str(pbf)).with_filter(osmium.filter.KeyFilter("highway")):
        if obj.is_way() and obj.tags.get("oneway") == "yes":
            one_way.add(obj.id)
    assert one_way
    edges = {
        (int(a), int(b))
        for a, b, w in zip(network.u, network.v, network.way_id, strict=True)
        if w in one_way
    }
    assert edges
    # Either direction may exist through a parallel two-way way, but not along the same way
    reverse = {(b, a) for a, b in edges}
    assert len(edges & reverse) == 0


def test_table_etas_equal_dijkstra_on_the_full_graph(network: RoadNetwork, model: EtaModel) -> None:
    rng = np.random.default_rng(3)
    src = rng.integers(0, network.n_nodes, 40)
    dst = rng.integers(0, network.n_nodes, (40, 150))
    ref_t = dijkstra(_graph(network, network.time_s), indices=src)
    ref_m = dijkstra(_graph(network, network.length_m), indices=src)
    a = np.repeat(src[:, None], 150, axis=1).ravel()
    got_t = model.pair_time_s(a, dst.ravel()).reshape(dst.shape)
    got_m = model.pair_distance_m(a, dst.ravel()).reshape(dst.shape)
    want_t = ref_t[np.arange(40)[:, None], dst]
    want_m = ref_m[np.arange(40)[:, None], dst]
    # Whole seconds and tens of metres, rounded up, on the junction-to-junction part
    assert np.all(got_t >= want_t - 1e-3) and np.all(got_t <= want_t + 1.0 + 1e-3)
    assert np.all(got_m >= want_m - 1e-2) and np.all(got_m <= want_m + 10.0 + 1e-2)
    assert model.n_junctions < network.n_nodes / 3  # chains were contracted


def test_observed_speeds_replace_class_speeds(network: RoadNetwork, tmp_path: Path) -> None:
    way = int(network.way_id[0])
    csv = tmp_path / "speeds.csv"
    csv.write_text(f"way_id,speed_kmh\n{way},5\n")
    from urbanops.domains.taxi.network import read_observed_speeds

    slow = network.with_speeds(read_observed_speeds(csv))
    hit = network.way_id == way
    assert np.all(slow.speed_kmh[hit] == 5.0)
    assert np.all(slow.speed_kmh[~hit] == network.speed_kmh[~hit])
    assert slow.key() != network.key()
    csv.write_text("way_id,speed_kmh\n1,900\n")
    with pytest.raises(ValidationError, match="outside 1-150"):
        read_observed_speeds(csv)
    csv.write_text("way,speed\n1,9\n")
    with pytest.raises(ValidationError, match="way_id,speed_kmh"):
        read_observed_speeds(csv)


def test_graphml_round_trip_keeps_the_travel_times(tmp_path: Path) -> None:
    net = generate_city((127.10, 37.38, 127.13, 37.40), spacing_m=300, seed=2)
    path = write_graphml(net, tmp_path / "city.graphml")
    again = read_network(path)
    assert again.length_m.sum() == pytest.approx(net.length_m.sum(), rel=1e-4)
    a, b = EtaModel.build(net), EtaModel.build(again)
    rng = np.random.default_rng(0)
    i, j = rng.integers(0, net.n_nodes, 300), rng.integers(0, net.n_nodes, 300)
    ti = a.pair_time_s(i, j)
    tj = b.pair_time_s(b.snap(net.lon[i], net.lat[i]), b.snap(net.lon[j], net.lat[j]))
    assert np.allclose(ti, tj, atol=2.0)


def test_generated_city_river_is_crossed_only_at_bridges() -> None:
    net = generate_city((127.10, 37.38, 127.16, 37.42), spacing_m=300, river_lat=37.40, seed=1)
    model = EtaModel.build(net)
    north = model.snap(127.1305, 37.4035)
    south = model.snap(127.1305, 37.3965)
    straight_m = 780.0
    assert model.pair_distance_m(south, north)[0] > straight_m  # a detour to a bridge
    n, _ = connected_components(_graph(net, net.length_m), connection="strong")
    assert n == 1


def test_snap_refuses_positions_off_the_network(model: EtaModel) -> None:
    node = model.snap(24.9445, 60.1700)
    assert node.shape == (1,)
    with pytest.raises(OffNetworkError, match="off the network"):
        model.snap(24.96, 60.150)  # in the sea off Helsinki's harbour
    with pytest.raises(OffNetworkError, match="not a lon/lat"):
        model.snap(float("nan"), 60.17)
    with pytest.raises(OffNetworkError, match="not a lon/lat"):
        model.snap(200.0, 60.17)


def test_table_size_is_bounded(network: RoadNetwork) -> None:
    with pytest.raises(ValidationError, match="crop the extract"):
        EtaModel.build(network, max_junctions=100)


def test_table_is_cached_on_disk(network: RoadNetwork, tmp_path: Path) -> None:
    first = EtaModel.build(network, cache_dir=tmp_path)
    files = list(tmp_path.glob("eta-*.npz"))
    assert len(files) == 1
    second = EtaModel.build(network, cache_dir=tmp_path)
    assert np.array_equal(first.table_s, second.table_s)


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"\x00garbage" * 10, "bad.osm.pbf", "not a readable OSM file"),
        (b"<graphml", "bad.graphml", "not readable GraphML"),
        (b"{}", "net.json", "expected .osm.pbf"),
        (
            b"<?xml version='1.0'?><osm version='0.6'><node id='1' lat='60.1' lon='24.9'/></osm>",
            "empty.osm",
            "no drivable roads",
        ),
    ],
)
def test_bad_network_files(tmp_path: Path, content: bytes, name: str, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValidationError, match=message):
        read_network(path)


def test_missing_network_file(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="not found"):
        read_network(tmp_path / "nope.osm.pbf")


def test_maxspeed_parsing() -> None:
    assert parse_maxspeed_kmh("50") == 50
    assert parse_maxspeed_kmh("30 mph") == pytest.approx(48.28, abs=0.01)
    assert parse_maxspeed_kmh("signals") is None
    assert parse_maxspeed_kmh(None) is None


def test_demo_writes_a_network_that_dispatch_finds(tmp_path: Path) -> None:
    from urbanops.demo.load import write_demo_taxi_network
    from urbanops.domains.taxi.service import get_model, network_path
    from urbanops.settings import Settings

    settings = Settings(data_dir=tmp_path)
    assert network_path(settings) is None
    path = write_demo_taxi_network(tmp_path)
    assert path is not None and path.is_file()
    assert write_demo_taxi_network(tmp_path) is None  # never overwritten
    assert network_path(settings) == path
    model = get_model(settings)
    assert 300 < model.n_junctions < 5000
    west, south, east, north = model.network.bounds()
    assert 127.09 < west < east < 127.14 and 37.34 < south < north < 37.40

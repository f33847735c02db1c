"""``urbanops taxi network | generate | demand | simulate`` end to end, and bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.conftest import SHARED_DATA
from urbanops.cli.main import app
from urbanops.domains.taxi.eta import EtaModel

NYC = SHARED_DATA / "mobility" / "nyc_tlc_taxis_2019-03_sample.csv"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    from urbanops.settings import get_settings

    monkeypatch.setenv("URBANOPS_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def run(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, ["taxi", *args])
    return res.exit_code, res.output


def test_network_summary_and_cached_table(data_dir: Path, pbf: Path) -> None:
    code, out = run("network", str(pbf))
    assert code == 0, out
    info = json.loads(out)
    assert info["junctions"] > 200 and info["road_km"] > 30
    assert list((data_dir / "cache" / "taxi").glob("eta-*.npz"))


@pytest.mark.skipif(not NYC.is_file(), reason="shared data absent")
def test_demand_then_simulate_both_policies(data_dir: Path, pbf: Path) -> None:
    trips = data_dir / "trips.csv"
    code, out = run(
        "demand", "--profile", str(NYC), "--places", str(pbf), "--network", str(pbf),
        "--count", "600", "--date", "2026-07-01", "--out", str(trips),
    )  # fmt: skip
    assert code == 0, out
    frame = pd.read_csv(trips)
    assert len(frame) == 600
    for policy in ("batch", "greedy"):
        out_dir = data_dir / policy
        code, out = run(
            "simulate", "--network", str(pbf), "--trips", str(trips), "--fleet", "15",
            "--policy", policy, "--accessible-share", "0.2", "--out", str(out_dir),
            "--skip-invalid",
        )  # fmt: skip
        assert code == 0, out
        assert f"{policy}:" in out
        metrics = json.loads((out_dir / "metrics.json").read_text())
        for key in ("mean_wait_s", "p90_wait_s", "unserved_share", "utilisation"):
            assert key in metrics
        assert {"earnings_gini", "declines"} <= set(metrics)
        assert (out_dir / "waits.png").is_file()


def test_generate_writes_graphml_that_simulate_reads(data_dir: Path) -> None:
    city = data_dir / "city.graphml"
    code, out = run("generate", "--bounds", "127.10,37.38,127.13,37.40", "--out", str(city))
    assert code == 0, out
    code, out = run("network", str(city))
    assert code == 0 and json.loads(out)["junctions"] > 20


def test_bad_input_is_one_line_and_non_zero(data_dir: Path, pbf: Path, model: EtaModel) -> None:
    trips = data_dir / "trips.csv"
    net = model.network
    pd.DataFrame(
        {
            "request_time": ["2026-07-01T08:00:00"],
            "pickup_lon": [24.96],  # the sea
            "pickup_lat": [60.15],
            "dropoff_lon": [net.lon[5]],
            "dropoff_lat": [net.lat[5]],
        }
    ).to_csv(trips, index=False)
    cases = [
        (["simulate", "--network", str(pbf), "--trips", str(trips), "--fleet", "3", "--out", "o"],
         "off the network"),
        (["simulate", "--network", str(pbf), "--trips", str(trips), "--fleet", "3", "--out", "o",
          "--policy", "random"], "--policy"),
        (["simulate", "--network", str(data_dir / "none.pbf"), "--trips", str(trips), "--fleet",
          "3", "--out", "o"], "not found"),
        (["simulate", "--network", str(pbf), "--trips", str(trips), "--fleet", "0", "--out", "o",
          "--skip-invalid"], "no valid requests"),
        (["generate", "--bounds", "1,2,3", "--out", "x.graphml"], "--bounds"),
        (["demand", "--profile", str(trips), "--places", str(trips), "--count", "5", "--out",
          "d.csv"], "needs lon and lat"),
    ]  # fmt: skip
    for args, words in cases:
        code, out = run(*args)
        assert code == 1, (args, out)
        assert "error:" in out and words in out, (args, out)
    assert not (data_dir / "o").exists()

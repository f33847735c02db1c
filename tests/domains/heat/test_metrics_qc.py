"""Heat metrics against the published reference values; quality control on known faults."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from urbanops.domains.heat import qc
from urbanops.domains.heat.metrics import (
    apparent_temperature_kma,
    heat_index_nws,
    wbgt,
    wet_bulb_stull,
)
from urbanops.domains.heat.observations import read_observations

from .conftest import AT


@pytest.mark.parametrize(
    ("ta", "rh", "at"),
    [(30, 50, 29.53), (30, 70, 31.29), (33, 55, 32.98), (35, 60, 35.46), (31, 80, 33.12)],
)
def test_kma_apparent_temperature_reference(ta: float, rh: float, at: float) -> None:
    assert float(apparent_temperature_kma(ta, rh)) == pytest.approx(at, abs=0.005)


@pytest.mark.parametrize(("ta", "rh", "hi"), [(35, 60, 45.05), (30, 70, 35.04)])
def test_nws_heat_index_reference(ta: float, rh: float, hi: float) -> None:
    assert float(heat_index_nws(ta, rh)) == pytest.approx(hi, abs=0.005)


def test_stull_wet_bulb_published_example() -> None:
    # Stull (2011): T = 20 deg C, RH = 50 % gives Tw = 13.7 deg C
    assert float(wet_bulb_stull(20, 50)) == pytest.approx(13.7, abs=0.05)


def test_wbgt_with_and_without_globe() -> None:
    # BoM: 0.567 Ta + 0.393 e + 3.94, e = 21.2 hPa at 30 deg C and 50 %
    estimate = float(wbgt(30, 50))
    assert estimate == pytest.approx(0.567 * 30 + 0.393 * 21.2 + 3.94, abs=0.05)
    measured = wbgt([30, 30], [50, 50], globe_c=[45, 55])
    assert float(measured[0]) == pytest.approx(0.7 * float(wet_bulb_stull(30, 50)) + 0.2 * 45 + 3)
    assert measured[1] - measured[0] == pytest.approx(2.0)  # 0.2 per degree of globe
    assert float(wbgt(30, 50, globe_c=np.nan)) == pytest.approx(estimate)


def test_heat_index_is_the_simple_formula_when_cool() -> None:
    assert float(heat_index_nws(20, 50)) == pytest.approx(19.5, abs=0.6)


def test_qc_flags_each_known_fault(stations: dict[str, Any]) -> None:
    obs = read_observations(stations["path"])
    checked = qc.quality_control(obs)
    by_station = checked.groupby("station_id")["flags"].agg(
        lambda f: np.bitwise_or.reduce(f.to_numpy())
    )
    names = {v: k for k, v in qc.NAMES.items()}
    for sid, fault in stations["bad"].items():
        assert by_station[sid] & names[fault], (sid, fault, by_station[sid])
    good = [s for s in by_station.index if s not in stations["bad"]]
    flagged_good = [s for s in good if by_station[s] & qc.EXCLUDING]
    assert len(flagged_good) <= 2  # clean stations are (almost) never excluded
    # nothing is deleted: every row is still there, with its flags
    assert len(checked) == len(obs)


def test_duplicate_rows_and_shared_positions(stations: dict[str, Any]) -> None:
    df = stations["df"].copy()
    extra = df[df.station_id == "S010"].copy()
    extra["station_id"] = "S010-twin"  # same place, another station
    again = df[(df.station_id == "S011") & (df.time == AT.isoformat())]
    df = pd.concat([df, extra, again])
    path = stations["dir"] / "dups.csv"
    df.to_csv(path, index=False)
    checked = qc.quality_control(read_observations(path))
    s11 = checked[(checked.station_id == "S011") & (checked.time == pd.Timestamp(AT))]
    assert sorted((s11["flags"] & qc.DUPLICATE).astype(bool).tolist()) == [False, True]
    twins = checked[checked.station_id.isin(["S010", "S010-twin"])]
    assert (twins["flags"] & qc.SHARED_POSITION).all()
    assert not (twins["flags"] & (qc.EXCLUDING & ~qc.OUTLIER & 0xFFFF)).any()
